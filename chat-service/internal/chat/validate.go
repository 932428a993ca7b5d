package chat

import (
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/text"
)

// CleanBody checks a message body and returns it as stored: line endings
// made "\n", NFC-normalised. It must show something (whitespace and
// invisible format characters alone are empty), hold no NUL or other
// control character but tab and newline, and be at most MaxBodyRunes code
// points.
func CleanBody(body string) (string, error) {
	body = text.NFC(text.CleanLines(body))
	if text.Blank(body) {
		return "", apperr.Validation("empty_body", "message body must not be empty")
	}
	if p := text.BodyProblem(body); p != "" {
		return "", apperr.Validation("invalid_body", "message body must not contain "+p)
	}
	if n := utf8.RuneCountInString(body); n > MaxBodyRunes {
		return "", apperr.Validation("body_too_long", "message body is "+strconv.Itoa(n)+" characters; the limit is "+strconv.Itoa(MaxBodyRunes))
	}
	return body, nil
}

// ValidateClientMsgID accepts "" (no idempotency) or up to 64 printable
// ASCII characters without spaces (UUIDs, nanoids, counters).
func ValidateClientMsgID(id string) error {
	if len(id) > MaxClientMsgIDLen {
		return apperr.Validation("invalid_client_msg_id", "client_msg_id must be at most 64 characters")
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return apperr.Validation("invalid_client_msg_id", "client_msg_id must be printable ASCII without spaces")
		}
	}
	return nil
}

// CleanRoomName trims and NFC-normalises a room name and checks it: 1–64
// code points that show something, without the control, bidi or invisible
// characters that would let it pass for another room's name.
func CleanRoomName(name string) (string, error) {
	name = text.NFC(strings.TrimSpace(name))
	if text.Blank(name) {
		return "", apperr.Validation("invalid_name", "room name must not be empty")
	}
	if utf8.RuneCountInString(name) > MaxRoomNameRunes {
		return "", apperr.Validation("invalid_name", "room name must be at most 64 characters")
	}
	if p := text.NameProblem(name); p != "" {
		return "", apperr.Validation("invalid_name", "room name must not contain "+p)
	}
	return name, nil
}

// CleanDescription trims and NFC-normalises a room description and checks
// it: at most 500 code points, no control characters but newlines.
func CleanDescription(d string) (string, error) {
	d = text.NFC(strings.TrimSpace(text.CleanLines(d)))
	if text.BodyProblem(d) != "" {
		return "", apperr.Validation("invalid_description", "description must not contain control characters")
	}
	if utf8.RuneCountInString(d) > MaxDescriptionRunes {
		return "", apperr.Validation("invalid_description", "description must be at most 500 characters")
	}
	return d, nil
}

// CleanUsername trims a username supplied by a client (for an invite or a
// DM) and checks it loosely: auth-service owns the real rules.
func CleanUsername(u string) (string, error) {
	u = strings.TrimSpace(u)
	if utf8.RuneCountInString(u) > MaxUsernameRunes || strings.IndexFunc(u, unicode.IsControl) >= 0 {
		return "", apperr.Validation("invalid_username", "username must be at most 64 characters without control characters")
	}
	return u, nil
}

// ValidateEmoji accepts a reaction: 1–32 bytes that are either one emoji
// (a pictograph with optional presentation selector, skin tone and tags, a
// flag, a keycap, or a ZWJ sequence of those) or a shortcode like :party_parrot:.
func ValidateEmoji(e string) error {
	bad := apperr.Validation("invalid_emoji", "reaction must be one emoji or a :shortcode: of at most 32 bytes")
	if len(e) == 0 || len(e) > 32 || !utf8.ValidString(e) {
		return bad
	}
	if isShortcode(e) || isEmojiSequence([]rune(e)) {
		return nil
	}
	return bad
}

func isShortcode(s string) bool {
	if len(s) < 3 || s[0] != ':' || s[len(s)-1] != ':' {
		return false
	}
	for _, c := range []byte(s[1 : len(s)-1]) {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '+' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

const (
	zwj        = 0x200D
	vs16       = 0xFE0F
	keycapMark = 0x20E3
	tagCancel  = 0xE007F
	modifierLo = 0x1F3FB
	modifierHi = 0x1F3FF
	regionalLo = 0x1F1E6
	regionalHi = 0x1F1FF
	tagLo      = 0xE0020
	tagHi      = 0xE007E
)

// isEmojiSequence follows the shape of UTS #51 emoji ZWJ sequences.
func isEmojiSequence(rs []rune) bool {
	i := 0
	for {
		n := emojiElement(rs[i:])
		if n == 0 {
			return false
		}
		i += n
		if i == len(rs) {
			return true
		}
		if rs[i] != zwj || i+1 == len(rs) {
			return false
		}
		i++
	}
}

// emojiElement is the length of the emoji element at the start of rs, or 0.
func emojiElement(rs []rune) int {
	if len(rs) == 0 {
		return 0
	}
	r := rs[0]
	switch {
	case isRegional(r):
		if len(rs) >= 2 && isRegional(rs[1]) {
			return 2
		}
		return 0
	case r == '#' || r == '*' || r >= '0' && r <= '9':
		i := 1
		if i < len(rs) && rs[i] == vs16 {
			i++
		}
		if i < len(rs) && rs[i] == keycapMark {
			return i + 1
		}
		return 0
	case isPictographic(r):
		i := 1
		if i < len(rs) && rs[i] == vs16 {
			i++
		}
		if i < len(rs) && rs[i] >= modifierLo && rs[i] <= modifierHi {
			i++
		}
		if i < len(rs) && rs[i] >= tagLo && rs[i] <= tagHi {
			for i < len(rs) && rs[i] >= tagLo && rs[i] <= tagHi {
				i++
			}
			if i == len(rs) || rs[i] != tagCancel {
				return 0
			}
			i++
		}
		return i
	}
	return 0
}

func isRegional(r rune) bool { return r >= regionalLo && r <= regionalHi }

// pictographic is Unicode's Extended_Pictographic property (emoji-data.txt),
// as sorted inclusive ranges.
var pictographic = [][2]rune{
	{0x00A9, 0x00A9}, {0x00AE, 0x00AE}, {0x203C, 0x203C}, {0x2049, 0x2049},
	{0x2122, 0x2122}, {0x2139, 0x2139}, {0x2194, 0x2199}, {0x21A9, 0x21AA},
	{0x231A, 0x231B}, {0x2328, 0x2328}, {0x2388, 0x2388}, {0x23CF, 0x23CF},
	{0x23E9, 0x23F3}, {0x23F8, 0x23FA}, {0x24C2, 0x24C2}, {0x25AA, 0x25AB},
	{0x25B6, 0x25B6}, {0x25C0, 0x25C0}, {0x25FB, 0x25FE}, {0x2600, 0x2605},
	{0x2607, 0x2612}, {0x2614, 0x2685}, {0x2690, 0x2705}, {0x2708, 0x2712},
	{0x2714, 0x2714}, {0x2716, 0x2716}, {0x271D, 0x271D}, {0x2721, 0x2721},
	{0x2728, 0x2728}, {0x2733, 0x2734}, {0x2744, 0x2744}, {0x2747, 0x2747},
	{0x274C, 0x274C}, {0x274E, 0x274E}, {0x2753, 0x2755}, {0x2757, 0x2757},
	{0x2763, 0x2767}, {0x2795, 0x2797}, {0x27A1, 0x27A1}, {0x27B0, 0x27B0},
	{0x27BF, 0x27BF}, {0x2934, 0x2935}, {0x2B05, 0x2B07}, {0x2B1B, 0x2B1C},
	{0x2B50, 0x2B50}, {0x2B55, 0x2B55}, {0x3030, 0x3030}, {0x303D, 0x303D},
	{0x3297, 0x3297}, {0x3299, 0x3299}, {0x1F000, 0x1F0FF}, {0x1F10D, 0x1F10F},
	{0x1F12F, 0x1F12F}, {0x1F16C, 0x1F171}, {0x1F17E, 0x1F17F}, {0x1F18E, 0x1F18E},
	{0x1F191, 0x1F19A}, {0x1F1AD, 0x1F1E5}, {0x1F201, 0x1F20F}, {0x1F21A, 0x1F21A},
	{0x1F22F, 0x1F22F}, {0x1F232, 0x1F23A}, {0x1F23C, 0x1F23F}, {0x1F249, 0x1F3FA},
	{0x1F400, 0x1F53D}, {0x1F546, 0x1F64F}, {0x1F680, 0x1F6FF}, {0x1F774, 0x1F77F},
	{0x1F7D5, 0x1F7FF}, {0x1F80C, 0x1F80F}, {0x1F848, 0x1F84F}, {0x1F85A, 0x1F85F},
	{0x1F888, 0x1F88F}, {0x1F8AE, 0x1F8FF}, {0x1F90C, 0x1F93A}, {0x1F93C, 0x1F945},
	{0x1F947, 0x1FAFF}, {0x1FC00, 0x1FFFD},
}

func isPictographic(r rune) bool {
	i := sort.Search(len(pictographic), func(i int) bool { return pictographic[i][1] >= r })
	return i < len(pictographic) && pictographic[i][0] <= r
}

// SearchWords checks a search query and splits it into at most 16 words.
// Stores match every word, taken literally (no operators), and the last
// one as a prefix for search-as-you-type.
func SearchWords(q string) ([]string, error) {
	if text.HasControl(q) {
		return nil, apperr.Invalid("invalid_query", "search query must not contain control characters")
	}
	q = text.NFC(strings.TrimSpace(q))
	if q == "" {
		return nil, apperr.Invalid("invalid_query", "query parameter q is required")
	}
	if utf8.RuneCountInString(q) > MaxSearchRunes {
		return nil, apperr.Validation("invalid_query", "search query must be at most 256 characters")
	}
	words := strings.Fields(q)
	if len(words) > 16 {
		words = words[:16]
	}
	return words, nil
}
