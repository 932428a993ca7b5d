package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/api-gateway/app"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/authn/authntest"
	"github.com/parleychat/parley/platform/testkit"
)

// seen is what an echo upstream received, as it answers it.
type seen struct {
	Service    string              `json:"service"`
	Method     string              `json:"method"`
	Path       string              `json:"path"`
	RequestURI string              `json:"request_uri"`
	Query      string              `json:"query"`
	Host       string              `json:"host"`
	Header     map[string][]string `json:"header"`
	BodyLen    int                 `json:"body_len"`
	BodyErr    string              `json:"body_err,omitempty"`
}

// echoService is a stand-in for one Parley service: it answers every
// request with what it received, and its /health with a settable status.
// It also sets the headers a real service sets (CORS, request id, nosniff),
// so tests can check the gateway neither leaks nor duplicates them.
type echoService struct {
	name   string
	srv    *httptest.Server
	health atomic.Int32 // status of GET /health
	hits   atomic.Int64 // requests other than /health
	// release unblocks /slow handlers when the test ends.
	release chan struct{}
}

func newEchoService(t *testing.T, name string) *echoService {
	t.Helper()
	e := &echoService{name: name, release: make(chan struct{})}
	e.health.Store(http.StatusOK)
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(func() {
		close(e.release)
		e.srv.Close()
	})
	return e
}

func (e *echoService) URL() string { return e.srv.URL }

func (e *echoService) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if r.URL.Path == "/health" {
		status := int(e.health.Load())
		w.WriteHeader(status)
		word := "ok"
		if status != http.StatusOK {
			word = "degraded"
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"status": word, "service": e.name, "version": "test-" + e.name})
		return
	}
	e.hits.Add(1)
	if r.URL.Path == "/slow" {
		select {
		case <-r.Context().Done():
		case <-e.release:
		}
		return
	}
	n, err := io.Copy(io.Discard, r.Body)
	s := seen{
		Service: e.name, Method: r.Method, Path: r.URL.Path, RequestURI: r.RequestURI,
		Query: r.URL.RawQuery, Host: r.Host, Header: r.Header, BodyLen: int(n),
	}
	if err != nil {
		s.BodyErr = err.Error()
	}
	// What a service with its own CORS and security middleware would add.
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Set("X-Request-ID", r.Header.Get("X-Request-ID"))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Vary", "Origin, Accept-Encoding")
	h.Set("Cache-Control", "private, max-age=60")
	h.Set("X-Upstream", e.name)
	_ = json.NewEncoder(w).Encode(s)
}

// fixture is a gateway in front of three echo services.
type fixture struct {
	gw               *testkit.Service
	auth, user, chat *echoService
	issuer           *authntest.Issuer
	env              map[string]string
}

const testOrigin = "http://app.example.test"

// startFixture starts echo services and a gateway; extra overrides env.
func startFixture(t *testing.T, extra map[string]string) *fixture {
	t.Helper()
	f := &fixture{
		auth:   newEchoService(t, "auth"),
		user:   newEchoService(t, "user"),
		chat:   newEchoService(t, "chat"),
		issuer: authntest.New(t),
	}
	f.env = map[string]string{
		"AUTH_SERVICE_URL": f.auth.URL(),
		"USER_SERVICE_URL": f.user.URL(),
		"CHAT_SERVICE_URL": f.chat.URL(),
		"JWKS_URL":         f.issuer.JWKSURL,
		"ALLOWED_ORIGINS":  testOrigin + ",http://localhost:8080",
		"LOG_LEVEL":        "debug",
	}
	maps.Copy(f.env, extra)
	f.gw = testkit.Start(t, "api-gateway", app.Run, maps.Clone(f.env))
	return f
}

func (f *fixture) token(t *testing.T) string {
	t.Helper()
	return f.issuer.Token(t, 42, "alice", authn.RoleUser, 15*time.Minute)
}

// request is one call to the gateway.
type request struct {
	method string
	path   string
	header map[string]string
	body   io.Reader
	token  string
}

type response struct {
	*http.Response
	body []byte
}

var client = &http.Client{Timeout: 30 * time.Second}

func (f *fixture) do(t *testing.T, r request) response {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodGet
	}
	req, err := http.NewRequest(r.method, f.gw.URL+r.path, r.body)
	if err != nil {
		t.Fatal(err)
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", r.method, r.path, err)
	}
	return response{resp, b}
}

// seen decodes an echo upstream's answer.
func (r response) seen(t *testing.T) seen {
	t.Helper()
	var s seen
	if err := json.Unmarshal(r.body, &s); err != nil || s.Service == "" {
		t.Fatalf("status %d: not an upstream echo: %s", r.StatusCode, r.body)
	}
	return s
}

// errorCode decodes the JSON error envelope and checks its content type.
func (r response) errorCode(t *testing.T) string {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !bytes.HasPrefix([]byte(ct), []byte("application/json")) {
		t.Fatalf("status %d: error content type %q, body %s", r.StatusCode, ct, r.body)
	}
	var b struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &b); err != nil || b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("status %d: not a JSON error envelope: %s", r.StatusCode, r.body)
	}
	return b.Error.Code
}

func (r response) wantStatus(t *testing.T, want int) {
	t.Helper()
	if r.StatusCode != want {
		t.Fatalf("status %d, want %d; body %s", r.StatusCode, want, r.body)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
