package chat

import "strings"

// MaxMentionNames bounds the distinct @names one message resolves.
const MaxMentionNames = 50

// ParseMentions finds the @mentions of a body: the lower-cased usernames
// it names and whether it names the room (@room or @here). A mention is
// "@" at the start or after a character that cannot be in a username (so
// an e-mail address is none), followed by username characters
// ([A-Za-z0-9_.-]) not followed by a non-ASCII letter; trailing dots end
// the sentence, not the name.
func ParseMentions(body string) (names []string, room bool) {
	for i := 0; i < len(body); i++ {
		if body[i] != '@' || (i > 0 && isNameByte(body[i-1])) {
			continue
		}
		j := i + 1
		for j < len(body) && isNameByte(body[j]) {
			j++
		}
		name := strings.ToLower(strings.TrimRight(body[i+1:j], "."))
		i = j - 1
		switch {
		case name == "" || j < len(body) && body[j] >= 0x80:
			// Nothing, or a word going on in letters no username has.
		case name == "room" || name == "here":
			room = true
		case len(names) < MaxMentionNames && !contains(names, name):
			names = append(names, name)
		}
	}
	return names, room
}

func isNameByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '.' || b == '-'
}

func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}
