package text_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parleychat/parley/platform/text"
)

// FuzzRules checks the rules' invariants on arbitrary input: they never
// panic, NFC is idempotent, an accepted name or body holds no control
// character, and normalising a visible name never blanks it.
func FuzzRules(f *testing.F) {
	for _, s := range []string{"General", "Genera\u200bl", "👩\u200d💻", "a\x00b", "e\u0301", "\u202e", "\r\n", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := text.NFC(s)
		if text.NFC(n) != n {
			t.Fatalf("NFC not idempotent on %q", s)
		}
		if text.NameProblem(s) == "" && text.HasControl(s) {
			t.Fatalf("name %q accepted with a control character", s)
		}
		if text.BodyProblem(text.CleanLines(s)) == "" {
			for _, r := range text.CleanLines(s) {
				if r == 0 || (r < 0x20 && r != '\t' && r != '\n') {
					t.Fatalf("body %q accepted with %U", s, r)
				}
			}
		}
		// FoldKey is idempotent, NFC, and equal for NFC-equivalent input
		// and for any change of case.
		if utf8.ValidString(s) {
			k := text.FoldKey(s)
			if text.FoldKey(k) != k || text.NFC(k) != k || text.FoldKey(n) != k || text.FoldKey(strings.ToUpper(s)) != text.FoldKey(strings.ToUpper(k)) {
				t.Fatalf("FoldKey(%q) = %q: not idempotent, not NFC, or not stable under NFC", s, k)
			}
		}
		// A name that passes and shows something keeps showing it after
		// normalisation.
		if utf8.ValidString(s) && text.NameProblem(s) == "" && !text.Blank(s) && text.Blank(n) {
			t.Fatalf("NFC made %q blank", s)
		}
	})
}
