package sqlite

import (
	"strings"
	"testing"
)

func TestFTSQuery(t *testing.T) {
	cases := map[string]string{
		"hello":              `"hello"*`,
		"hello world":        `"hello" "world"*`,
		`say "hi" OR NOT x*`: `"say" """hi""" "OR" "NOT" "x*"*`,
	}
	for in, want := range cases {
		if got := FTSQuery(strings.Fields(in)); got != want {
			t.Errorf("FTSQuery(%q) = %q; want %q", in, got, want)
		}
	}
}
