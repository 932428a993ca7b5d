package chat

import (
	"fmt"
	"testing"
)

func TestParseMentions(t *testing.T) {
	cases := []struct {
		body  string
		names string
		room  bool
	}{
		{"hi @Bob and @carol.", "[bob carol]", false},
		{"@bob @BOB @bob", "[bob]", false},
		{"mail me at ann@example.com", "[]", false},
		{"@room please", "[]", true},
		{"(@here) and @dave-o, @e_f", "[dave-o e_f]", true},
		{"@ @. @@x", "[x]", false},
		{"no mentions", "[]", false},
		{"@Zoë and @zo", "[zo]", false},
	}
	for _, c := range cases {
		names, room := ParseMentions(c.body)
		if fmt.Sprint(names) != c.names && !(len(names) == 0 && c.names == "[]") || room != c.room {
			t.Errorf("ParseMentions(%q) = %v %v; want %s %v", c.body, names, room, c.names, c.room)
		}
	}
}
