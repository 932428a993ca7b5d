package text_test

import (
	"testing"

	"golang.org/x/text/unicode/norm"

	"github.com/parleychat/parley/platform/text"
)

func TestNFC(t *testing.T) {
	if got := text.NFC("caf" + "e\u0301"); got != "café" {
		t.Fatalf("NFC = %q", got)
	}
}

func TestBlank(t *testing.T) {
	for s, want := range map[string]bool{
		"": true, "  \n\t": true, "\u200b\u200b": true, "\u200d\ufeff \u2060": true, "\u202e": true,
		"a": false, " \u200b.": false, "🙂": false,
	} {
		if got := text.Blank(s); got != want {
			t.Errorf("Blank(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestNameProblem(t *testing.T) {
	ok := []string{"General", "café", "Team 🚀", "👩\u200d💻 devs", "🏳\ufe0f\u200d🌈", "日本語"}
	for _, s := range ok {
		if p := text.NameProblem(s); p != "" {
			t.Errorf("NameProblem(%q) = %q, want none", s, p)
		}
	}
	bad := map[string]string{
		"Genera\u200bl":  "invisible characters",
		"a\u200cb":       "invisible characters",
		"a\u2060b":       "invisible characters",
		"\ufeffGeneral":  "invisible characters",
		"ab\u200dc":      "invisible characters",
		"\u200d🚀":        "invisible characters",
		"admin\u202etxt": "bidirectional control characters",
		"x\u2066y\u2069": "bidirectional control characters",
		"tab\there":      "control characters",
		"nul\x00":        "control characters",
		"esc\x1b[31mred": "control characters",
		"line\nbreak":    "control characters",
		"c1\u0085":       "control characters",
	}
	for s, want := range bad {
		if got := text.NameProblem(s); got != want {
			t.Errorf("NameProblem(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestBodyProblem(t *testing.T) {
	for _, s := range []string{"hello", "line\nbreak\tand tab", "🙂 \u200b ok"} {
		if p := text.BodyProblem(s); p != "" {
			t.Errorf("BodyProblem(%q) = %q", s, p)
		}
	}
	for s, want := range map[string]string{"a\x00b": "NUL characters", "\x1b[2J": "control characters", "bell\a": "control characters", "cr\r": "control characters", "del\x7f": "control characters"} {
		if got := text.BodyProblem(s); got != want {
			t.Errorf("BodyProblem(%q) = %q, want %q", s, got, want)
		}
	}
	if got := text.CleanLines("a\r\nb\rc\n"); got != "a\nb\nc\n" {
		t.Fatalf("CleanLines = %q", got)
	}
}

func TestHasControl(t *testing.T) {
	if !text.HasControl("a\x00b") || !text.HasControl("\x1b") || text.HasControl("plain words é") {
		t.Fatal("HasControl")
	}
}

func TestFoldKey(t *testing.T) {
	same := [][]string{
		{"General", "general", "GENERAL", "gEnErAl"},
		{"Straße", "STRASSE", "strasse"},
		{"ΟΔΟΣ", "οδος", "Οδοσ"},
		{"ǅemal", "ǄEMAL", "ǆemal"},
		{"café", "CAFE\u0301", "Cafe\u0301"},
		{"ｇｅｎｅｒａｌ", "General"},
		{"ﬁle", "FILE"},
		{"Kelvin", "\u212Aelvin"}, // KELVIN SIGN
		{"Ⅻ club", "xii CLUB"},
		{"İstanbul", "i\u0307stanbul"},
	}
	for _, group := range same {
		want := text.FoldKey(group[0])
		for _, s := range group[1:] {
			if got := text.FoldKey(s); got != want {
				t.Errorf("FoldKey(%q) = %q, want %q as for %q", s, got, want, group[0])
			}
		}
		if !norm.NFC.IsNormalString(want) {
			t.Errorf("FoldKey(%q) = %q is not NFC", group[0], want)
		}
	}
	differ := [][2]string{{"General", "Generals"}, {"café", "cafe"}, {"ı", "i"}, {"Team 🚀", "Team 🚁"}, {"日本", "日本語"}}
	for _, p := range differ {
		if text.FoldKey(p[0]) == text.FoldKey(p[1]) {
			t.Errorf("FoldKey(%q) = FoldKey(%q) = %q, want them apart", p[0], p[1], text.FoldKey(p[0]))
		}
	}
	if got := text.FoldKey("General"); got != "general" {
		t.Errorf("FoldKey(General) = %q", got)
	}
}
