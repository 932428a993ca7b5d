package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/authn/authntest"
	"github.com/parleychat/parley/platform/testkit"

	"github.com/parleychat/parley/user-service/app"
)

// harness is one running user-service with a token issuer, a fake
// chat-service and a fake auth-service account list.
type harness struct {
	t    testing.TB
	svc  *testkit.Service
	is   *authntest.Issuer
	chat *fakeChat
	auth *fakeAuth
	http *http.Client
}

// fakeAuth stands in for auth-service's GET /accounts: the accounts it
// holds, in id order; failing makes it answer 503.
type fakeAuth struct {
	*httptest.Server
	mu       sync.Mutex
	accounts []fakeAccount
	failing  bool
	requests []*http.Request
}

type fakeAccount struct {
	ID        int64     `json:"id"`
	Username  string    `json:"username"`
	CreatedAt time.Time `json:"created_at"`
}

func newFakeAuth(t testing.TB) *fakeAuth {
	t.Helper()
	f := &fakeAuth{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.requests = append(f.requests, r.Clone(r.Context()))
		if r.URL.Path != "/accounts" {
			http.NotFound(w, r)
			return
		}
		if f.failing {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
		page := []fakeAccount{}
		for _, a := range f.accounts {
			if a.ID > after {
				page = append(page, a)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"accounts": page, "next_cursor": nil})
	}))
	t.Cleanup(f.Close)
	return f
}

// add registers accounts with auth-service.
func (f *fakeAuth) add(accounts ...fakeAccount) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.accounts = append(f.accounts, accounts...)
}

func (f *fakeAuth) setFailing(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failing = on
}

// calls returns the requests auth-service received so far.
func (f *fakeAuth) calls() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// fakeChat stands in for chat-service's GET /users/:id/stats.
type fakeChat struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
	// answer writes the stats answer; nil means a normal one.
	answer func(w http.ResponseWriter, r *http.Request)
}

func newFakeChat(t testing.TB, answer func(w http.ResponseWriter, r *http.Request)) *fakeChat {
	t.Helper()
	f := &fakeChat{answer: answer}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.WriteHeader(http.StatusOK)
			return
		}
		f.mu.Lock()
		f.requests = append(f.requests, r.Clone(r.Context()))
		f.mu.Unlock()
		if f.answer != nil {
			f.answer(w, r)
			return
		}
		if r.URL.Path != "/users/7/stats" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"user_id":7,"messages_sent":42,"rooms_created":3,"rooms_joined":5,"last_active_at":"2025-06-01T12:30:00Z"}`)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeChat) lastRequest(t *testing.T) *http.Request {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		t.Fatal("chat-service was not called")
	}
	return f.requests[len(f.requests)-1]
}

// start runs user-service against a fresh database; extra env overrides
// the defaults.
func start(t testing.TB, extra map[string]string) *harness {
	t.Helper()
	is := authntest.New(t)
	chat := newFakeChat(t, nil)
	auth := newFakeAuth(t)
	env := map[string]string{
		"DATA_DIR":         t.TempDir(),
		"JWKS_URL":         is.JWKSURL,
		"AUTH_SERVICE_URL": auth.URL,
		"CHAT_SERVICE_URL": chat.URL,
		"STATS_TIMEOUT":    "300ms",
		"LOG_LEVEL":        "debug",
	}
	maps.Copy(env, extra)
	svc := testkit.Start(t, "user-service", app.Run, env)
	return &harness{t: t, svc: svc, is: is, chat: chat, auth: auth, http: &http.Client{Timeout: 10 * time.Second}}
}

func (h *harness) token(id int64, name string) string {
	return h.is.Token(h.t, id, name, authn.RoleUser, 10*time.Minute)
}

func (h *harness) adminToken(id int64, name string) string {
	return h.is.Token(h.t, id, name, authn.RoleAdmin, 10*time.Minute)
}

// request sends a request; body may be nil, a []byte, a string or any
// value to encode as JSON.
func (h *harness) request(method, path, token string, body any, header ...string) *http.Response {
	h.t.Helper()
	var (
		r           io.Reader
		contentType string
	)
	switch b := body.(type) {
	case nil:
	case []byte:
		r, contentType = bytes.NewReader(b), "application/json"
	case string:
		r, contentType = strings.NewReader(b), "application/json"
	case io.Reader:
		r = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		r, contentType = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, h.svc.URL+path, r)
	if err != nil {
		h.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := h.http.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	h.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// call sends a request, checks the status and decodes the JSON answer
// into out (when not nil).
func (h *harness) call(method, path, token string, body any, wantStatus int, out any) *http.Response {
	h.t.Helper()
	resp := h.request(method, path, token, body)
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	if resp.StatusCode != wantStatus {
		h.t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, raw, wantStatus)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			h.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return resp
}

// errorBody is the JSON error envelope.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// wantError checks an answer is the JSON error envelope with the status
// and code.
func wantError(t *testing.T, resp *http.Response, status int, code string) {
	t.Helper()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("status = %d %s, want %d %s", resp.StatusCode, raw, status, code)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error content type = %q (%s)", ct, raw)
	}
	var e errorBody
	if err := json.Unmarshal(raw, &e); err != nil || e.Error.Code != code || e.Error.Message == "" {
		t.Fatalf("error body = %s, want code %s", raw, code)
	}
}

// profileView is the profile JSON.
type profileView struct {
	ID          int64     `json:"id"`
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name"`
	Bio         string    `json:"bio"`
	StatusText  string    `json:"status_text"`
	AvatarURL   string    `json:"avatar_url"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// keysOf is the sorted key set of a JSON object.
func keysOf(t *testing.T, raw []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not a JSON object: %s", raw)
	}
	return slices.Sorted(maps.Keys(m))
}

// multipartBody builds a multipart/form-data body with one file field.
func multipartBody(t testing.TB, field, filename, partType string, data []byte) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.WriteField("note", "ignored"); err != nil {
		t.Fatal(err)
	}
	hdr := make(map[string][]string)
	hdr["Content-Disposition"] = []string{`form-data; name="` + field + `"; filename="` + filename + `"`}
	hdr["Content-Type"] = []string{partType}
	w, err := mw.CreatePart(hdr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf, mw.FormDataContentType()
}

// upload sends PUT /profiles/:id/avatar.
func (h *harness) upload(id int64, token, field, filename, partType string, data []byte) *http.Response {
	h.t.Helper()
	body, ct := multipartBody(h.t, field, filename, partType, data)
	return h.request(http.MethodPut, "/profiles/"+strconv.FormatInt(id, 10)+"/avatar", token, io.Reader(body), "Content-Type", ct)
}

func decodeJSON(t *testing.T, raw []byte, out any) {
	t.Helper()
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
