package openapi

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/goccy/go-yaml"
)

var update = flag.Bool("update", false, "rewrite docs/API.md from openapi.yaml")

// apiPage is the human-readable page generated from the document.
var apiPage = filepath.Join("..", "..", "..", "docs", "API.md")

// TestAPIPageUpToDate fails when docs/API.md is not what openapi.yaml
// renders to; `go test ./internal/openapi -update` rewrites it.
func TestAPIPageUpToDate(t *testing.T) {
	got, err := renderMarkdown(source)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(apiPage, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(apiPage)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Fatal("docs/API.md is out of date with openapi.yaml: run `go test ./internal/openapi -update` in api-gateway and commit the result")
	}
}

func TestDocumentConverts(t *testing.T) {
	b, err := JSON()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `{"openapi":"3.1.0"`) {
		t.Fatalf("JSON starts %.40s", b)
	}
}

// ordered is a YAML mapping with its keys in document order.
type ordered = yaml.MapSlice

func get(v any, key string) any {
	m, _ := v.(ordered)
	for _, it := range m {
		if fmt.Sprint(it.Key) == key {
			return it.Value
		}
	}
	return nil
}

func str(v any, key string) string {
	s, _ := get(v, key).(string)
	return s
}

// refName is the last segment of a $ref.
func refName(v any) string {
	r := str(v, "$ref")
	return r[strings.LastIndex(r, "/")+1:]
}

// page renders the document; doc is the whole document, for $refs.
type page struct {
	doc ordered
	b   strings.Builder
}

func (p *page) f(format string, args ...any) { fmt.Fprintf(&p.b, format, args...) }

// resolve follows a $ref into components.
func (p *page) resolve(v any) any {
	r := str(v, "$ref")
	if r == "" {
		return v
	}
	var cur any = p.doc
	for _, seg := range strings.Split(strings.TrimPrefix(r, "#/"), "/") {
		cur = get(cur, seg)
	}
	return cur
}

// typeOf is a schema in one line: a link to a named schema, []T, a | b, an
// enum's values.
func (p *page) typeOf(s any) string {
	if r := str(s, "$ref"); r != "" {
		name := refName(s)
		return fmt.Sprintf("[%s](#%s)", name, slug(name))
	}
	if c := get(s, "const"); c != nil {
		return fmt.Sprintf("`%v`", c)
	}
	if e, ok := get(s, "enum").([]any); ok {
		var vs []string
		for _, v := range e {
			if v == nil {
				vs = append(vs, "null")
			} else {
				vs = append(vs, fmt.Sprintf("`%v`", v))
			}
		}
		return strings.Join(vs, " \\| ")
	}
	for _, k := range []string{"oneOf", "anyOf"} {
		if alts, ok := get(s, k).([]any); ok {
			var vs []string
			for _, a := range alts {
				vs = append(vs, p.typeOf(a))
			}
			return strings.Join(vs, " \\| ")
		}
	}
	switch t := get(s, "type").(type) {
	case string:
		if props, ok := get(s, "properties").(ordered); ok && t == "object" {
			var fs []string
			for _, it := range props {
				fs = append(fs, fmt.Sprintf("%v: %s", it.Key, p.typeOf(it.Value)))
			}
			return "`{` " + strings.Join(fs, ", ") + " `}`"
		}
		if t == "array" {
			return "[]" + p.typeOf(get(s, "items"))
		}
		if fm := str(s, "format"); fm != "" {
			return t + " (" + fm + ")"
		}
		return t
	case []any:
		var vs []string
		for _, v := range t {
			vs = append(vs, fmt.Sprint(v))
		}
		return strings.Join(vs, " \\| ")
	}
	if get(s, "allOf") != nil {
		return "object"
	}
	return "any"
}

// fields lists a schema's properties, following allOf.
func (p *page) fields(s any, required map[string]bool) []fieldRow {
	s = p.resolve(s)
	var out []fieldRow
	for _, part := range asList(get(s, "allOf")) {
		out = append(out, p.fields(part, required)...)
	}
	for _, r := range asList(get(s, "required")) {
		required[fmt.Sprint(r)] = true
	}
	props, _ := get(s, "properties").(ordered)
	for _, it := range props {
		out = append(out, fieldRow{name: fmt.Sprint(it.Key), typ: p.typeOf(it.Value), desc: str(it.Value, "description")})
	}
	return out
}

type fieldRow struct{ name, typ, desc string }

func asList(v any) []any { l, _ := v.([]any); return l }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

var methods = []string{"get", "head", "post", "put", "patch", "delete"}

func renderMarkdown(src []byte) (string, error) {
	var doc ordered
	if err := yaml.UnmarshalWithOptions(src, &doc, yaml.UseOrderedMap()); err != nil {
		return "", err
	}
	p := &page{doc: doc}
	info := get(doc, "info")
	p.f("# %s\n\n", str(info, "title"))
	p.f("<!-- Generated from api-gateway/internal/openapi/openapi.yaml by `go test ./internal/openapi -update` in api-gateway. Do not edit. -->\n\n")
	p.f("The OpenAPI %s document this page renders is served by the gateway at `GET /api/openapi.json` (no token needed). The WebSocket is described in [PROTOCOL.md](PROTOCOL.md).\n\n", str(doc, "openapi"))
	p.f("%s\n", strings.TrimSpace(str(info, "description")))

	globalAuth := get(doc, "security") != nil
	type op struct {
		method, path string
		o            any
		params       []any
	}
	byTag := map[string][]op{}
	for _, it := range get(doc, "paths").(ordered) {
		path := fmt.Sprint(it.Key)
		common := asList(get(it.Value, "parameters"))
		for _, m := range methods {
			o := get(it.Value, m)
			if o == nil {
				continue
			}
			tag := "other"
			if tags := asList(get(o, "tags")); len(tags) > 0 {
				tag = fmt.Sprint(tags[0])
			}
			byTag[tag] = append(byTag[tag], op{strings.ToUpper(m), path, o, append(slices.Clone(common), asList(get(o, "parameters"))...)})
		}
	}

	p.f("\n## Routes\n\n| method | path | token | summary |\n|---|---|---|---|\n")
	var tags []string
	for _, t := range asList(get(doc, "tags")) {
		tags = append(tags, str(t, "name"))
	}
	public := func(o any) bool {
		sec, set := get(o, "security"), false
		for _, it := range o.(ordered) {
			if it.Key == "security" {
				set = true
			}
		}
		if !set {
			return !globalAuth
		}
		return len(asList(sec)) == 0
	}
	for _, t := range tags {
		for _, o := range byTag[t] {
			tok := "yes"
			if public(o.o) {
				tok = "public"
			}
			p.f("| %s | [`%s`](#%s) | %s | %s |\n", o.method, o.path, slug(o.method+" "+o.path), tok, oneLine(str(o.o, "summary")))
		}
	}

	for _, t := range tags {
		var desc string
		for _, tg := range asList(get(doc, "tags")) {
			if str(tg, "name") == t {
				desc = str(tg, "description")
			}
		}
		p.f("\n## %s\n\n%s.\n", t, strings.ToUpper(desc[:1])+desc[1:])
		for _, o := range byTag[t] {
			p.f("\n### %s %s\n\n%s.", o.method, o.path, oneLine(str(o.o, "summary")))
			if public(o.o) {
				p.f(" Public: no token needed.")
			}
			p.f("\n")
			if d := str(o.o, "description"); d != "" {
				p.f("\n%s\n", strings.TrimSpace(d))
			}
			if len(o.params) > 0 {
				p.f("\nParameters:\n\n")
				for _, prm := range o.params {
					prm = p.resolve(prm)
					req := ""
					if b, _ := get(prm, "required").(bool); b && str(prm, "in") != "path" {
						req = ", required"
					}
					line := fmt.Sprintf("- `%s` (%s, %s%s)", str(prm, "name"), str(prm, "in"), p.typeOf(get(prm, "schema")), req)
					if d := oneLine(str(prm, "description")); d != "" {
						line += ": " + d
					}
					p.f("%s\n", line)
				}
			}
			if rb := get(o.o, "requestBody"); rb != nil {
				for _, ct := range get(rb, "content").(ordered) {
					p.f("\nRequest body (`%v`): %s\n", ct.Key, p.typeOf(get(ct.Value, "schema")))
					if get(get(ct.Value, "schema"), "$ref") == nil {
						p.fieldTable(get(ct.Value, "schema"))
					}
				}
			}
			p.f("\nResponses:\n\n")
			for _, r := range get(o.o, "responses").(ordered) {
				code := fmt.Sprint(r.Key)
				resp := p.resolve(r.Value)
				line := fmt.Sprintf("- `%s`", code)
				if code == "default" {
					line = "- other statuses"
				}
				if code == "default" {
					line += ":"
				}
				line += " " + oneLine(str(resp, "description"))
				if content, ok := get(resp, "content").(ordered); ok && len(content) > 0 {
					line += ": " + p.typeOf(get(content[0].Value, "schema"))
				}
				p.f("%s\n", line)
			}
		}
	}

	p.f("\n## Schemas\n")
	for _, it := range get(get(doc, "components"), "schemas").(ordered) {
		name := fmt.Sprint(it.Key)
		p.f("\n### %s\n", name)
		if d := oneLine(str(it.Value, "description")); d != "" {
			p.f("\n%s.\n", strings.ToUpper(d[:1])+strings.TrimSuffix(d[1:], "."))
		}
		if get(it.Value, "properties") == nil && get(it.Value, "allOf") == nil {
			p.f("\n%s\n", p.typeOf(it.Value))
			continue
		}
		p.fieldTable(it.Value)
	}
	return p.b.String(), nil
}

// fieldTable writes a schema's properties as a table.
func (p *page) fieldTable(s any) {
	required := map[string]bool{}
	rows := p.fields(s, required)
	if len(rows) == 0 {
		return
	}
	p.f("\n| field | type | required | description |\n|---|---|---|---|\n")
	for _, r := range rows {
		req := ""
		if required[r.name] {
			req = "yes"
		}
		p.f("| `%s` | %s | %s | %s |\n", r.name, r.typ, req, oneLine(r.desc))
	}
}
