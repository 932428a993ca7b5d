package avatar

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultCSP is the Content-Security-Policy sent with every avatar. A
// generated SVG holds no script, but an SVG opened directly is a document:
// the policy and the sandbox make sure nothing in one can ever run or load.
const DefaultCSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"

// palette holds background colours that all keep white text readable
// (contrast ratio of 4.5 or more).
var palette = [...]string{
	"#1d4ed8", "#b91c1c", "#15803d", "#7e22ce", "#be185d", "#0e7490",
	"#b45309", "#4338ca", "#047857", "#c2410c", "#6d28d9", "#0369a1",
}

// Colour is the default avatar background for a user id: stable, and spread
// so that neighbouring ids get different colours.
func Colour(id int64) string {
	x := uint64(id)
	// splitmix64 finaliser: cheap and mixes every input bit.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return palette[x%uint64(len(palette))]
}

// Initial is the letter drawn on a default avatar: the first character of
// the display name when it is a letter or digit, else that of the username,
// else "?". Only the first character counts, so "(bob)" does not draw "B".
func Initial(displayName, username string) string {
	for _, s := range []string{displayName, username} {
		r, _ := utf8.DecodeRuneInString(strings.TrimSpace(s))
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return string(unicode.ToUpper(r))
		}
	}
	return "?"
}

// Default draws the default avatar: the initial in white on the user's
// colour, as a small SVG. The same inputs always give the same bytes, so
// the ETag is stable.
func Default(id int64, initial string) Image {
	r, _ := utf8.DecodeRuneInString(initial)
	if r == utf8.RuneError || !(unicode.IsLetter(r) || unicode.IsDigit(r)) {
		r = '?'
	}
	var b strings.Builder
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128" role="img" aria-label="`)
	b.WriteString(escapeXML(string(r)))
	b.WriteString(`"><rect width="128" height="128" fill="`)
	b.WriteString(Colour(id))
	b.WriteString(`"/><text x="64" y="64" dy="0.35em" text-anchor="middle" fill="#ffffff" font-size="64" font-weight="600" `)
	b.WriteString(`font-family="system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif">`)
	b.WriteString(escapeXML(string(r)))
	b.WriteString(`</text></svg>`)
	data := []byte(b.String())
	return Image{ContentType: SVG, Data: data, Hash: Hash(data), Width: 128, Height: 128}
}

// escapeXML makes text safe inside an XML attribute or element. Only
// letters and digits reach it today; escaping anyway keeps it safe if that
// ever changes.
func escapeXML(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&#39;")
		default:
			if r >= 0x20 { // control characters have no place in XML text
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}
