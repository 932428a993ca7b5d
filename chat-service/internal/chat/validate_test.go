package chat

import (
	"fmt"
	"github.com/parleychat/parley/platform/apperr"
	"strings"
	"testing"
)

func TestValidateEmoji(t *testing.T) {
	cases := []struct {
		in string
		ok bool
	}{
		{"👍", true},
		{"👍🏽", true},
		{"❤️", true},
		{"❤", true},
		{"🇫🇷", true},
		{"#️⃣", true},
		{"1⃣", true},
		{"👨‍👩‍👧", true},
		{"🏳️‍🌈", true},
		{"🏴󠁧󠁢󠁳󠁣󠁴󠁿", true},
		{":tada:", true},
		{":+1:", true},
		{":party_parrot-2:", true},
		{"", false},
		{"a", false},
		{"1", false},
		{"ok", false},
		{"👍👍", false},
		{"👍 ", false},
		{"🇫", false},
		{"\u200d👍", false},
		{"👍\u200d", false},
		{"::", false},
		{":Tada:", false},
		{":ta da:", false},
		{"<script>", false},
		{":" + strings.Repeat("a", 31) + ":", false},
		{"🏽", false},
	}
	for _, c := range cases {
		if err := ValidateEmoji(c.in); (err == nil) != c.ok {
			t.Errorf("ValidateEmoji(%q) = %v, want ok=%v", c.in, err, c.ok)
		}
	}
}

func TestCleanBody(t *testing.T) {
	cases := []struct {
		in string
		ok bool
	}{
		{"hi", true},
		{" hi ", true},
		{"", false},
		{" \n\t ", false},
		{"\u200b\u200b\ufeff", false}, // only invisible characters
		{"a\x00b", false},
		{"\x1b[31mred", false},
		{"tab\tand\nnewline", true},
		{strings.Repeat("é", MaxBodyRunes), true},
		{strings.Repeat("é", MaxBodyRunes+1), false},
		{strings.Repeat("😀", MaxBodyRunes), true},
	}
	for _, c := range cases {
		if _, err := CleanBody(c.in); (err == nil) != c.ok {
			t.Errorf("CleanBody(%.20q) = %v, want ok=%v", c.in, err, c.ok)
		}
	}
	if got, _ := CleanBody("cafe\u0301\r\nok"); got != "café\nok" {
		t.Errorf("CleanBody stores %q, want NFC with \\n line ends", got)
	}
}

func TestSearchWords(t *testing.T) {
	cases := map[string]string{
		"hello":                  `[hello]`,
		"hello world":            `[hello world]`,
		`say "hi" OR NOT x*`:     `[say "hi" OR NOT x*]`,
		"  a  ":                  `[a]`,
		strings.Repeat("w ", 20): "[" + strings.TrimSpace(strings.Repeat("w ", 16)) + "]",
	}
	for in, want := range cases {
		if got, err := SearchWords(in); err != nil || fmt.Sprint(got) != want {
			t.Errorf("SearchWords(%q) = %q, %v; want %s", in, got, err, want)
		}
	}
	if _, err := SearchWords("   "); err == nil {
		t.Error("blank query accepted")
	}
	if _, err := SearchWords(strings.Repeat("a", MaxSearchRunes+1)); err == nil {
		t.Error("long query accepted")
	}
	for _, q := range []string{"a\x00b", "\x1b", "x\ny"} {
		_, err := SearchWords(q)
		if e, ok := apperr.From(err); !ok || e.Code != "invalid_query" || e.Status() != 400 {
			t.Errorf("SearchWords(%q) = %v, want 400 invalid_query", q, err)
		}
	}
}

func TestCleanRoomName(t *testing.T) {
	for in, ok := range map[string]bool{
		"general":               true,
		"  spaced  ":            true,
		"":                      false,
		"   ":                   false,
		"a\nb":                  false,
		"Genera\u200bl":         false,
		"admin\u202etxt":        false,
		"\u200b\u200b":          false,
		"Team 👩\u200d💻":         true,
		strings.Repeat("x", 64): true,
		strings.Repeat("x", 65): false,
	} {
		if _, err := CleanRoomName(in); (err == nil) != ok {
			t.Errorf("CleanRoomName(%q) = %v, want ok=%v", in, err, ok)
		}
	}
}

// FuzzClientText: bodies, room names and search queries from clients never
// panic the validators, and whatever is accepted is stored NFC-normalised
// without control characters but tab and newline.
func FuzzClientText(f *testing.F) {
	for _, s := range []string{"hello", "Genera\u200bl", "a\x00b", "\x1b[2J", "e\u0301", "👩\u200d💻", "  ", "\r\n", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if body, err := CleanBody(s); err == nil {
			for _, r := range body {
				if r < 0x20 && r != '\t' && r != '\n' {
					t.Fatalf("CleanBody(%q) kept %U", s, r)
				}
			}
		}
		if name, err := CleanRoomName(s); err == nil && strings.ContainsAny(name, "\x00\n\u200b\u202e") {
			t.Fatalf("CleanRoomName(%q) = %q", s, name)
		}
		if words, err := SearchWords(s); err == nil {
			for _, w := range words {
				if strings.ContainsRune(w, 0) {
					t.Fatalf("SearchWords(%q) kept NUL", s)
				}
			}
		} else if e, ok := apperr.From(err); !ok || e.Status() >= 500 {
			t.Fatalf("SearchWords(%q) = %v, not a client error", s, err)
		}
	})
}
