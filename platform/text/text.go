// Package text holds the rules for user-supplied text that every service
// applies (docs/ARCHITECTURE.md, "Text rules"): text is stored
// NFC-normalised; names refuse characters that make them display as
// something they are not; bodies refuse control characters; emptiness
// ignores invisible characters.
package text

import (
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// NFC returns s in Unicode normalisation form C, so "e\u0301" and "é" are
// stored, compared and searched as the same text.
func NFC(s string) string { return norm.NFC.String(s) }

// FoldKey returns the key under which two names count as the same name
// (public room names are unique by it): Unicode's compatibility caseless
// match (Unicode §3.13, D146: NFKD(Fold(NFKD(Fold(NFD(s)))))), stored in
// NFC. Full case folding, unlike strings.ToLower, matches "STRASSE" with
// "straße", "ΟΔΟΣ" with "οδος" (final sigma) and "ǅ" with "ǆ"; the
// compatibility step matches "ｇｅｎｅｒａｌ" (fullwidth) and "ﬁle" (ligature)
// with their plain letters, which would otherwise pass for each other in a
// room list. Keys are for comparing, never for showing.
func FoldKey(s string) string {
	// A cases.Caser keeps state between calls: one per call.
	k := cases.Fold().String(norm.NFD.String(s))
	k = cases.Fold().String(norm.NFKD.String(k))
	return norm.NFC.String(norm.NFKD.String(k))
}

// Blank reports whether s is empty once whitespace and format characters
// (Unicode Cf: zero-width spaces and joiners, bidi marks, BOM) are removed:
// such a body or name shows nothing.
func Blank(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool {
		return !unicode.IsSpace(r) && !unicode.Is(unicode.Cf, r)
	}) < 0
}

// NameProblem returns what makes s unfit as a name (a username, display
// name or room name), or "" when nothing does: control characters,
// bidirectional embeddings, overrides and isolates (U+202A–U+202E,
// U+2066–U+2069), and invisible characters (U+200B, U+200C, U+2060,
// U+FEFF, and U+200D outside an emoji sequence) — each lets one name pass
// for another ("Genera\u200bl" beside "General").
func NameProblem(s string) string {
	runes := []rune(s)
	for i, r := range runes {
		switch {
		case unicode.IsControl(r):
			return "control characters"
		case IsBidiControl(r):
			return "bidirectional control characters"
		case r == 0x200B || r == 0x200C || r == 0x2060 || r == 0xFEFF:
			return "invisible characters"
		case r == 0x200D:
			if i == 0 || i == len(runes)-1 || !isEmojiPart(runes[i-1]) || !isEmojiPart(runes[i+1]) {
				return "invisible characters"
			}
		}
	}
	return ""
}

// BodyProblem returns what makes s unfit as a message body, or "": NUL and
// the C0 controls other than tab and newline (DEL and C1 too), which no
// client needs and some break terminals and logs. Callers turn "\r\n"
// into "\n" first (CleanLines).
func BodyProblem(s string) string {
	for _, r := range s {
		if r == '\t' || r == '\n' {
			continue
		}
		if r == 0 {
			return "NUL characters"
		}
		if unicode.IsControl(r) {
			return "control characters"
		}
	}
	return ""
}

// CleanLines turns Windows and old-Mac line endings into "\n".
func CleanLines(s string) string {
	if !strings.ContainsRune(s, '\r') {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// HasControl reports whether s holds a control character (NUL included):
// a search query or other single-line parameter with one is refused.
func HasControl(s string) bool { return strings.IndexFunc(s, unicode.IsControl) >= 0 }

// IsBidiControl reports the bidirectional embeddings, overrides and isolates
// (U+202A–U+202E, U+2066–U+2069), which make text display in another order.
func IsBidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}

// isEmojiPart reports the characters a zero-width joiner may join in an
// emoji sequence (👩‍💻, 🏳️‍🌈): pictographs, symbols, variation selectors and
// skin-tone modifiers.
func isEmojiPart(r rune) bool {
	return unicode.Is(unicode.So, r) || (r >= 0xFE00 && r <= 0xFE0F) || (r >= 0x1F3FB && r <= 0x1F3FF) ||
		(r >= 0x1F000 && r <= 0x1FAFF) || (r >= 0x2600 && r <= 0x27BF)
}
