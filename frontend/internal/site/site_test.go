package site

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/parleychat/parley/platform/httpx"
)

var testFS = fstest.MapFS{
	"index.html":      {Data: []byte(`<!doctype html><link rel="stylesheet" href="/assets/app.css"><script type="module" src="/assets/app.js"></script>`)},
	"assets/app.js":   {Data: []byte(`import { x } from "./lib/x.js";` + "\n" + strings.Repeat("console.log(x);\n", 100))},
	"assets/lib/x.js": {Data: []byte(`export const x = 1;`)},
	"assets/app.css":  {Data: []byte(`body { color: red }`)},
	"assets/logo.svg": {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)},
}

func newTestServer(t *testing.T, cfg Config) (*Site, http.Handler) {
	t.Helper()
	s, err := New(testFS, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := httpx.NewEngine(httpx.Options{Service: "frontend"})
	s.Register(e)
	return s, e
}

func get(t *testing.T, h http.Handler, method, target string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		if k == "Host" {
			r.Host = v
			continue
		}
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestIndexIsVersionedAndRevalidated(t *testing.T) {
	s, h := newTestServer(t, Config{})
	for _, p := range []string{"/", "/index.html", "/rooms/3", "/profile", "/users/12", "/admin"} {
		w := get(t, h, http.MethodGet, p, nil)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s = %d", p, w.Code)
		}
		if cc := w.Header().Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s Cache-Control = %q, want no-cache", p, cc)
		}
		if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s Content-Type = %q", p, ct)
		}
		body := w.Body.String()
		if !strings.Contains(body, `src="/assets/`+s.Version()+`/app.js"`) || !strings.Contains(body, `href="/assets/`+s.Version()+`/app.css"`) {
			t.Errorf("GET %s: asset references not versioned: %s", p, body)
		}
	}
	if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(s.Version()) {
		t.Errorf("version %q is not a short hash", s.Version())
	}
}

func TestVersionFollowsContent(t *testing.T) {
	a, err := New(testFS, Config{})
	if err != nil {
		t.Fatal(err)
	}
	changed := fstest.MapFS{}
	for k, v := range testFS {
		changed[k] = v
	}
	changed["assets/lib/x.js"] = &fstest.MapFile{Data: []byte(`export const x = 2;`)}
	b, err := New(changed, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Version() == b.Version() {
		t.Fatal("changing an imported module did not change the asset version")
	}
	again, _ := New(testFS, Config{})
	if again.Version() != a.Version() {
		t.Fatal("version is not deterministic")
	}
}

func TestAssetsAreImmutableUnderTheirVersion(t *testing.T) {
	s, h := newTestServer(t, Config{})
	cases := []struct {
		path, ctype string
	}{
		{"/assets/" + s.Version() + "/app.js", "text/javascript; charset=utf-8"},
		{"/assets/" + s.Version() + "/lib/x.js", "text/javascript; charset=utf-8"},
		{"/assets/" + s.Version() + "/app.css", "text/css; charset=utf-8"},
		{"/assets/" + s.Version() + "/logo.svg", "image/svg+xml"},
	}
	for _, tc := range cases {
		w := get(t, h, http.MethodGet, tc.path, nil)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s = %d", tc.path, w.Code)
		}
		if got := w.Header().Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s Cache-Control = %q", tc.path, got)
		}
		if got := w.Header().Get("Content-Type"); got != tc.ctype {
			t.Errorf("GET %s Content-Type = %q, want %q", tc.path, got, tc.ctype)
		}
		if w.Header().Get("ETag") == "" {
			t.Errorf("GET %s has no ETag", tc.path)
		}
	}
	// Another version's URL still works but is never pinned.
	w := get(t, h, http.MethodGet, "/assets/0123456789ab/app.js", nil)
	if w.Code != http.StatusOK || w.Header().Get("Cache-Control") != "no-cache" {
		t.Errorf("stale version: %d %q", w.Code, w.Header().Get("Cache-Control"))
	}
}

func TestMissingFilesAre404(t *testing.T) {
	s, h := newTestServer(t, Config{})
	for _, p := range []string{
		"/assets/" + s.Version() + "/nope.js",
		"/assets/" + s.Version() + "/",
		"/assets/app.js", // unversioned
		"/assets/" + s.Version() + "/../index.html",
		"/favicon.ico",
		"/robots.txt",
		"/rooms/3/pic.png",
		"/api/chat/rooms",
		"/ws",
	} {
		w := get(t, h, http.MethodGet, p, nil)
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, w.Code)
			continue
		}
		if !strings.Contains(w.Body.String(), `"error"`) {
			t.Errorf("GET %s body %q is not the JSON error envelope", p, w.Body.String())
		}
		if w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s 404 lacks nosniff", p)
		}
	}
	if w := get(t, h, http.MethodPost, "/rooms/3", nil); w.Code == http.StatusOK {
		t.Errorf("POST to an app route answered 200")
	}
	if w := get(t, h, http.MethodPost, "/", nil); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST / = %d, want 405", w.Code)
	}
}

func TestGzipAndConditionalRequests(t *testing.T) {
	s, h := newTestServer(t, Config{})
	p := "/assets/" + s.Version() + "/app.js"
	plain := get(t, h, http.MethodGet, p, nil)
	zipped := get(t, h, http.MethodGet, p, map[string]string{"Accept-Encoding": "br, gzip"})
	if zipped.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("no gzip for a gzip client")
	}
	zr, err := gzip.NewReader(zipped.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if !bytes.Equal(unzipped, plain.Body.Bytes()) {
		t.Fatal("gzipped body differs from plain body")
	}
	if zipped.Header().Get("ETag") == plain.Header().Get("ETag") {
		t.Error("gzip and identity representations share an ETag")
	}
	if w := get(t, h, http.MethodGet, p, map[string]string{"Accept-Encoding": "gzip;q=0"}); w.Header().Get("Content-Encoding") != "" {
		t.Error("gzip sent although q=0")
	}
	w := get(t, h, http.MethodGet, p, map[string]string{"If-None-Match": plain.Header().Get("ETag")})
	if w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Errorf("If-None-Match: %d with %d bytes, want 304 empty", w.Code, w.Body.Len())
	}
	idx := get(t, h, http.MethodGet, "/", nil)
	if w := get(t, h, http.MethodGet, "/rooms/9", map[string]string{"If-None-Match": `W/` + idx.Header().Get("ETag")}); w.Code != http.StatusNotModified {
		t.Errorf("index revalidation = %d, want 304", w.Code)
	}
	head := get(t, h, http.MethodHead, p, nil)
	if head.Code != http.StatusOK || head.Body.Len() != 0 || head.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD: %d, %d bytes, length %q", head.Code, head.Body.Len(), head.Header().Get("Content-Length"))
	}
}

func TestConfigJSON(t *testing.T) {
	cases := []struct {
		name    string
		cfg     Config
		header  map[string]string
		tls     bool
		api, ws string
	}{
		{"derived from host", Config{}, map[string]string{"Host": "chat.example.com:8080"}, false,
			"http://chat.example.com:5000", "ws://chat.example.com:5003/ws"},
		{"derived without port", Config{}, map[string]string{"Host": "Chat.Example.com"}, false,
			"http://chat.example.com:5000", "ws://chat.example.com:5003/ws"},
		{"derived https via proxy", Config{}, map[string]string{"Host": "chat.example.com", "X-Forwarded-Proto": "https"}, false,
			"https://chat.example.com:5000", "wss://chat.example.com:5003/ws"},
		{"derived https via TLS", Config{}, map[string]string{"Host": "10.0.0.5:8080"}, true,
			"https://10.0.0.5:5000", "wss://10.0.0.5:5003/ws"},
		{"ipv6 host", Config{}, map[string]string{"Host": "[::1]:8080"}, false,
			"http://[::1]:5000", "ws://[::1]:5003/ws"},
		{"hostile host", Config{}, map[string]string{"Host": `evil"; script-src *`}, false,
			"http://localhost:5000", "ws://localhost:5003/ws"},
		{"configured", Config{APIBaseURL: "https://api.example.com/", ChatWSURL: "wss://ws.example.com/ws"},
			map[string]string{"Host": "other.example.com"}, false,
			"https://api.example.com", "wss://ws.example.com/ws"},
		{"half configured", Config{APIBaseURL: "http://gw.local:30000"}, map[string]string{"Host": "node1:30080"}, false,
			"http://gw.local:30000", "ws://node1:5003/ws"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, h := newTestServer(t, tc.cfg)
			r := httptest.NewRequest(http.MethodGet, "/config.json", nil)
			for k, v := range tc.header {
				if k == "Host" {
					r.Host = v
				} else {
					r.Header.Set(k, v)
				}
			}
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d", w.Code)
			}
			if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
			var got struct {
				API  string   `json:"api_base_url"`
				WS   string   `json:"chat_ws_url"`
				WSes []string `json:"chat_ws_urls"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			var keys map[string]any
			_ = json.Unmarshal(w.Body.Bytes(), &keys)
			if got.API != tc.api || got.WS != tc.ws || len(got.WSes) != 1 || got.WSes[0] != tc.ws || len(keys) != 3 {
				t.Errorf("config = %s, want api %s ws [%s]", w.Body.String(), tc.api, tc.ws)
			}
			csp := w.Header().Get("Content-Security-Policy")
			if !strings.Contains(csp, "connect-src 'self' "+origin(tc.api)+" "+origin(tc.ws)+";") {
				t.Errorf("CSP connect-src does not name %s and %s: %s", tc.api, tc.ws, csp)
			}
		})
	}
}

func TestConfigJSONWithSeveralChatURLs(t *testing.T) {
	_, h := newTestServer(t, Config{
		APIBaseURL: "http://gw.local:5000",
		ChatWSURL:  " ws://chat-a.local:5003/ws , wss://chat-b.local/ws/,,ws://chat-a.local:5003/ws, ws://gw.local:5000/ws",
	})
	w := get(t, h, http.MethodGet, "/config.json", map[string]string{"Host": "page.local"})
	var got struct {
		WS   string   `json:"chat_ws_url"`
		WSes []string `json:"chat_ws_urls"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := []string{"ws://chat-a.local:5003/ws", "wss://chat-b.local/ws", "ws://gw.local:5000/ws"}
	if got.WS != want[0] || strings.Join(got.WSes, " ") != strings.Join(want, " ") {
		t.Errorf("config = %s, want chat_ws_url %s and chat_ws_urls %v", w.Body.String(), want[0], want)
	}
	// Every WebSocket origin once, the gateway's not repeated.
	csp := w.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "; connect-src 'self' http://gw.local:5000 ws://chat-a.local:5003 wss://chat-b.local ws://gw.local:5000;") {
		t.Errorf("CSP connect-src = %s", csp)
	}
	// The index page carries the same policy.
	if idx := get(t, h, http.MethodGet, "/", nil); idx.Header().Get("Content-Security-Policy") != csp {
		t.Errorf("index CSP = %s", idx.Header().Get("Content-Security-Policy"))
	}
}

func TestChatWSURLs(t *testing.T) {
	good := map[string][]string{
		"":                                  nil,
		"  ":                                nil,
		"ws://a:5003/ws":                    {"ws://a:5003/ws"},
		"ws://a/ws/, wss://b/ws":            {"ws://a/ws", "wss://b/ws"},
		"wss://b/ws,ws://a/ws,wss://b/ws/,": {"wss://b/ws", "ws://a/ws"},
		" ws://a:1/ws ,\tws://a:2/ws\n":     {"ws://a:1/ws", "ws://a:2/ws"},
	}
	for raw, want := range good {
		got, err := ChatWSURLs(raw)
		if err != nil || strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("ChatWSURLs(%q) = %v, %v; want %v", raw, got, err, want)
		}
	}
	bad := map[string]string{
		"http://chat:5003/ws":              `"http://chat:5003/ws"`,
		"ws://a/ws, chat:5003":             `entry 2 of 2`,
		"ws://a/ws,ws://b/ws,/ws":          `entry 3 of 3: must be an absolute ws or wss URL without query (got "/ws")`,
		"ws://a/ws?x=1,ws://b/ws":          `entry 1 of 2`,
		"wss://user:pw@chat/ws, ws://b/ws": `entry 1 of 2`,
		",":                                `lists no URL`,
	}
	for raw, want := range bad {
		_, err := ChatWSURLs(raw)
		if err == nil {
			t.Errorf("ChatWSURLs(%q) accepted", raw)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "config: CHAT_WS_URL: ") || !strings.Contains(msg, want) || strings.Contains(msg, "\n") {
			t.Errorf("ChatWSURLs(%q) error %q, want one config line with %q", raw, msg, want)
		}
		if err := (Config{ChatWSURL: raw}).Validate(); err == nil {
			t.Errorf("Validate accepted CHAT_WS_URL=%q", raw)
		}
		if _, err := New(testFS, Config{ChatWSURL: raw}); err == nil {
			t.Errorf("New accepted CHAT_WS_URL=%q", raw)
		}
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	s, h := newTestServer(t, Config{APIBaseURL: "http://gw:5000", ChatWSURL: "ws://chat:5003/ws"})
	want := map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"X-Frame-Options":        "DENY",
		"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; " +
			"img-src 'self' data: blob: http://gw:5000; connect-src 'self' http://gw:5000 ws://chat:5003; " +
			"font-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; " +
			"frame-ancestors 'none'; form-action 'self'",
	}
	for _, p := range []string{"/", "/rooms/1", "/config.json", "/assets/" + s.Version() + "/app.js", "/missing.js"} {
		w := get(t, h, http.MethodGet, p, nil)
		for k, v := range want {
			if got := w.Header().Get(k); got != v {
				t.Errorf("GET %s %s = %q, want %q", p, k, got, v)
			}
		}
		if pp := w.Header().Get("Permissions-Policy"); !strings.Contains(pp, "camera=()") {
			t.Errorf("GET %s Permissions-Policy = %q", p, pp)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	bad := []Config{
		{APIBaseURL: "gateway:5000"},
		{APIBaseURL: "ws://gateway:5000"},
		{APIBaseURL: "/api"},
		{ChatWSURL: "http://chat:5003/ws"},
		{ChatWSURL: "wss://user:pw@chat/ws"},
		{APIBaseURL: "http://gw:5000/?x=1"},
		{ChatWSURL: "ws://chat-a:5003/ws,http://chat-b:5003/ws"},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		} else if !strings.HasPrefix(err.Error(), "config: ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("error %q is not one config line", err)
		}
	}
	good := []Config{{}, {APIBaseURL: "https://api.example.com", ChatWSURL: "wss://chat.example.com/ws"},
		{ChatWSURL: "wss://chat-1.example.com/ws, wss://chat-2.example.com/ws"}}
	for _, c := range good {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v refused: %v", c, err)
		}
	}
}

func TestIsAppRoute(t *testing.T) {
	cases := map[string]bool{
		"/": true, "/rooms/3": true, "/login": true, "/users/john.doe": true, "/search": true,
		"/app.js": false, "/x/y.css": false, "/api/x": false, "/ws": false, "/assets/x": false,
		"/.well-known/jwks.json": false, "/wp-login.php": false,
	}
	for p, want := range cases {
		if got := isAppRoute(p); got != want {
			t.Errorf("isAppRoute(%q) = %v, want %v", p, got, want)
		}
	}
}
