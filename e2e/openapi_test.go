package e2e

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/pb33f/libopenapi"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	gatewayapp "github.com/parleychat/parley/api-gateway/app"
	authapp "github.com/parleychat/parley/auth-service/app"
	chatapp "github.com/parleychat/parley/chat-service/app"
	userapp "github.com/parleychat/parley/user-service/app"
)

// openAPISource is the document's source, as the gateway embeds it.
const (
	openAPISource = "../api-gateway/internal/openapi/openapi.yaml"
	openAPIName   = "api-gateway/internal/openapi/openapi.yaml"
)

// undocumented are the routes the services register that the gateway does
// not expose, each with the reason. Anything else a service registers must
// be in the document.
var undocumented = map[string]string{
	"GET /api/auth/internal/revocations":        "the revocation feed is for the services; the gateway answers 404 for /api/<service>/internal/…",
	"POST /api/auth/internal/tokens/introspect": "personal access token introspection is for the services; the gateway answers 404 for /api/<service>/internal/…",
	"GET /api/chat/ws":                          "the WebSocket, which the gateway refuses to proxy (400 upgrade_not_supported): clients connect to chat-service directly, see docs/PROTOCOL.md",
}

// probes are the routes every service registers for the cluster; the
// gateway answers 404 for /api/<service>/<probe> and documents its own.
var probePaths = []string{"/healthz", "/readyz", "/health", "/metrics"}

// serviceRoutes are the services behind the gateway, by the prefix it
// strips before forwarding.
var serviceRoutes = []struct {
	prefix string
	routes func() gin.RoutesInfo
}{
	{"/api/auth", authapp.Routes},
	{"/api/users", userapp.Routes},
	{"/api/chat", chatapp.Routes},
}

// openAPIPath turns a gin path into an OpenAPI one (":id" → "{id}").
func openAPIPath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, ":") || strings.HasPrefix(s, "*") {
			segs[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(segs, "/")
}

// registeredRoutes is every route a client can reach through the gateway,
// as "METHOD /path", with the explicitly undocumented ones set apart.
func registeredRoutes(t *testing.T) (exposed, hidden map[string]bool) {
	t.Helper()
	exposed, hidden = map[string]bool{}, map[string]bool{}
	for _, s := range serviceRoutes {
		for _, r := range s.routes() {
			key := r.Method + " " + openAPIPath(s.prefix+r.Path)
			switch {
			case slices.Contains(probePaths, r.Path):
				hidden[key] = true
			case undocumented[key] != "":
				hidden[key] = true
			default:
				exposed[key] = true
			}
		}
	}
	gw, err := gatewayapp.Routes()
	if err != nil {
		t.Fatal(err)
	}
	forwarded := map[string]bool{}
	for _, r := range gw {
		if strings.HasSuffix(r.Path, "/*path") {
			forwarded[strings.TrimSuffix(r.Path, "/*path")] = true
			continue
		}
		exposed[r.Method+" "+openAPIPath(r.Path)] = true
	}
	// A fourth forwarded prefix would be a service this test does not read.
	var prefixes []string
	for _, s := range serviceRoutes {
		prefixes = append(prefixes, s.prefix)
	}
	for p := range forwarded {
		if !slices.Contains(prefixes, p) {
			t.Errorf("the gateway forwards %s/*, which this test does not list in serviceRoutes", p)
		}
	}
	return exposed, hidden
}

// loadOpenAPI parses an OpenAPI 3.1 document (YAML or JSON).
func loadOpenAPI(t *testing.T, src []byte) (libopenapi.Document, *v3.Document) {
	t.Helper()
	doc, err := libopenapi.NewDocument(src)
	if err != nil {
		t.Fatalf("parse the OpenAPI document: %v", err)
	}
	if v := doc.GetVersion(); v != "3.1.0" {
		t.Fatalf("OpenAPI version %q, want 3.1.0", v)
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("build the OpenAPI model: %v", err)
	}
	return doc, &m.Model
}

// documentedRoutes is every operation of the document as "METHOD /path".
func documentedRoutes(m *v3.Document) map[string]*v3.Operation {
	out := map[string]*v3.Operation{}
	for path, item := range m.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			out[strings.ToUpper(method)+" "+path] = op
		}
	}
	return out
}

// TestOpenAPICoversEveryRoute fails when a service registers a route the
// OpenAPI document lacks, or the document describes a route nobody
// registers. To add a route, describe it under paths: in
// api-gateway/internal/openapi/openapi.yaml and regenerate docs/API.md.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	src, err := os.ReadFile(openAPISource)
	if err != nil {
		t.Fatal(err)
	}
	_, model := loadOpenAPI(t, src)
	documented := documentedRoutes(model)
	exposed, hidden := registeredRoutes(t)

	var missing, stale, leaked []string
	for r := range exposed {
		if documented[r] == nil {
			missing = append(missing, r)
		}
	}
	for r := range documented {
		if !exposed[r] {
			if hidden[r] {
				leaked = append(leaked, r)
			} else {
				stale = append(stale, r)
			}
		}
	}
	for r := range undocumented {
		if !hidden[r] {
			t.Errorf("undocumented lists %q, which no service registers: remove it from the list", r)
		}
	}
	slices.Sort(missing)
	slices.Sort(stale)
	slices.Sort(leaked)
	for _, r := range missing {
		t.Errorf("route %s is registered but not in the OpenAPI document: describe it in %s (then go test ./internal/openapi -update in api-gateway for docs/API.md), or list it in undocumented with the reason the gateway hides it", r, openAPIName)
	}
	for _, r := range stale {
		t.Errorf("route %s is in the OpenAPI document but no service registers it: remove it from %s or register it", r, openAPIName)
	}
	for _, r := range leaked {
		t.Errorf("route %s is one the gateway hides (%s) but the OpenAPI document describes it", r, undocumented[r])
	}
	if !t.Failed() {
		t.Logf("%d documented routes, %d registered routes not exposed by the gateway", len(documented), len(hidden))
	}
}
