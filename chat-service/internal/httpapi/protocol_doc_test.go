package httpapi

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// protocolDoc is the WebSocket protocol's description.
var protocolDoc = filepath.Join("..", "..", "..", "docs", "PROTOCOL.md")

// TestProtocolDocumentsEveryFrame fails when docs/PROTOCOL.md lacks an
// example of a frame type the server sends (the chat.Event* constants and
// the frames ws.go and the hub answer with) or a row for a frame type a
// client may send (knownTypes).
func TestProtocolDocumentsEveryFrame(t *testing.T) {
	b, err := os.ReadFile(protocolDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)

	server := []string{"ready", "ack", "pong", "error", "subscribed"}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("..", "chat", "events.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if !strings.HasPrefix(name.Name, "Event") || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					v, _ := strconv.Unquote(lit.Value)
					server = append(server, v)
				}
			}
		}
	}
	if len(server) < 10 {
		t.Fatalf("found only %v in chat/events.go", server)
	}
	for _, typ := range server {
		if !strings.Contains(doc, `{"type": "`+typ+`"`) {
			t.Errorf("docs/PROTOCOL.md has no example of the server frame %q: add one under \"Server → client\"", typ)
		}
	}
	for _, typ := range slices.Sorted(maps.Keys(knownTypes)) {
		if !strings.Contains(doc, "| `"+typ+"` |") || !strings.Contains(doc, `{"type": "`+typ+`"`) {
			t.Errorf("docs/PROTOCOL.md lacks the client frame %q: add a row to the \"Client → server\" table and an example", typ)
		}
	}
}
