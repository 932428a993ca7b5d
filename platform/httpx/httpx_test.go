package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/logx"
)

type createReq struct {
	Name string `json:"name"`
	Age  int    `json:"age"`
}

func (r *createReq) Validate() error {
	if strings.TrimSpace(r.Name) == "" {
		return apperr.Validation("name_required", "name is required")
	}
	return nil
}

func newTestEngine(t *testing.T, logs io.Writer) *gin.Engine {
	t.Helper()
	e := NewEngine(Options{Service: "test", Logger: logx.New(logs, "test", "debug", "json"), Registry: prometheus.NewRegistry(), MaxBodyBytes: 64})
	e.POST("/things", func(c *gin.Context) {
		var req createReq
		if err := BindJSON(c, &req); err != nil {
			Error(c, err)
			return
		}
		c.JSON(http.StatusCreated, req)
	})
	e.GET("/things/:id", func(c *gin.Context) {
		id, err := ParamID(c, "id")
		if err != nil {
			Error(c, err)
			return
		}
		c.JSON(200, gin.H{"id": id})
	})
	e.GET("/panic", func(c *gin.Context) { panic("kaboom") })
	e.GET("/fail", func(c *gin.Context) { Error(c, errors.New("db exploded: secret detail")) })
	e.GET("/slow-down", func(c *gin.Context) { Error(c, apperr.RateLimited("too many", 3)) })
	return e
}

func do(e http.Handler, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.ServeHTTP(w, req)
	return w
}

func errCode(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var b apperr.Body
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		t.Fatalf("not a JSON error body: %q", w.Body.String())
	}
	return b.Error.Code
}

func TestBindAndErrors(t *testing.T) {
	e := newTestEngine(t, io.Discard)
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"ok", "POST", "/things", `{"name":"a","age":3}`, 201, ""},
		{"malformed", "POST", "/things", `{"name":`, 400, "invalid_json"},
		{"not json", "POST", "/things", `hello`, 400, "invalid_json"},
		{"empty", "POST", "/things", ``, 400, "invalid_json"},
		{"array", "POST", "/things", `[1,2]`, 400, "invalid_json"},
		{"two objects", "POST", "/things", `{"name":"a"}{"name":"b"}`, 400, "invalid_json"},
		{"wrong type", "POST", "/things", `{"name":"a","age":"old"}`, 422, "invalid_field"},
		{"validation", "POST", "/things", `{"name":"   "}`, 422, "name_required"},
		{"oversize", "POST", "/things", `{"name":"` + strings.Repeat("x", 100) + `"}`, 413, "body_too_large"},
		{"bad id", "GET", "/things/abc", "", 404, "not_found"},
		{"negative id", "GET", "/things/-1", "", 404, "not_found"},
		{"good id", "GET", "/things/12", "", 200, ""},
		{"no route", "GET", "/nope", "", 404, "not_found"},
		{"no method", "DELETE", "/things", "", 405, "method_not_allowed"},
		{"panic", "GET", "/panic", "", 500, "internal"},
		{"internal", "GET", "/fail", "", 500, "internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(e, tt.method, tt.path, tt.body, "Content-Type", "application/json")
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body.String())
			}
			if tt.code != "" && errCode(t, w) != tt.code {
				t.Fatalf("code %s, want %s", errCode(t, w), tt.code)
			}
			if strings.Contains(w.Body.String(), "secret detail") || strings.Contains(w.Body.String(), "kaboom") {
				t.Fatalf("internal detail leaked: %s", w.Body.String())
			}
		})
	}
	// An undeclared (chunked) oversize body is caught while reading.
	req := httptest.NewRequest("POST", "/things", io.MultiReader(strings.NewReader(`{"name":"`), strings.NewReader(strings.Repeat("y", 200)+`"}`)))
	req.ContentLength = -1
	w := httptest.NewRecorder()
	e.ServeHTTP(w, req)
	if w.Code != 413 {
		t.Fatalf("chunked oversize: %d %s", w.Code, w.Body.String())
	}
	w = do(e, "GET", "/slow-down", "")
	if w.Code != 429 || w.Header().Get("Retry-After") != "3" {
		t.Fatalf("rate limited: %d Retry-After=%q", w.Code, w.Header().Get("Retry-After"))
	}
}

func TestRequestIDEchoedAndLogged(t *testing.T) {
	var logs bytes.Buffer
	e := newTestEngine(t, &logs)
	w := do(e, "GET", "/things/5", "", HeaderRequestID, "abc-123")
	if w.Header().Get(HeaderRequestID) != "abc-123" {
		t.Fatalf("request id not echoed: %q", w.Header().Get(HeaderRequestID))
	}
	if !strings.Contains(logs.String(), `"req_id":"abc-123"`) {
		t.Fatalf("access log lacks req_id: %s", logs.String())
	}
	w = do(e, "GET", "/things/5", "", HeaderRequestID, "bad id with spaces\n")
	if got := w.Header().Get(HeaderRequestID); len(got) != 32 {
		t.Fatalf("invalid id not replaced: %q", got)
	}
	logs.Reset()
	do(e, "GET", "/fail", "", HeaderRequestID, "r-fail")
	var sawError bool
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["level"] == slog.LevelError.String() && m["req_id"] == "r-fail" {
			sawError = true
		}
	}
	if !sawError {
		t.Fatalf("internal error not logged with req_id: %s", logs.String())
	}
}

func TestClientForwardsRequestID(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Get(HeaderRequestID) }))
	defer srv.Close()
	req, _ := http.NewRequestWithContext(logx.WithRequestID(t.Context(), "hop-1"), "GET", srv.URL, nil)
	resp, err := NewClient(0).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got != "hop-1" {
		t.Fatalf("upstream saw request id %q", got)
	}
}

func TestClampLimit(t *testing.T) {
	for in, want := range map[int64]int{-5: 50, 0: 50, 1: 1, 50: 50, 200: 200, 201: 200, 1 << 40: 200} {
		if got := ClampLimit(in); got != want {
			t.Errorf("ClampLimit(%d) = %d, want %d", in, got, want)
		}
	}
}

func TestUnavailableDependencyIs503(t *testing.T) {
	down := errors.New("dial tcp: connection refused")
	e := NewEngine(Options{})
	e.GET("/x", func(c *gin.Context) {
		Error(c, apperr.Unavailable("database_unavailable", "the database is unavailable; try again shortly", fmt.Errorf("find user: %w", down)))
	})
	e.GET("/y", func(c *gin.Context) { Error(c, errors.New("bug")) })
	if w := do(e, "GET", "/x", ""); w.Code != 503 || errCode(t, w) != "database_unavailable" {
		t.Fatalf("outage = %d %s", w.Code, w.Body.String())
	}
	if w := do(e, "GET", "/y", ""); w.Code != 500 {
		t.Fatalf("bug = %d", w.Code)
	}
}

func TestGetJSONStatusError(t *testing.T) {
	for _, tt := range []struct {
		status   int
		body     string
		wantCode string
	}{
		{404, `{"error":{"code":"profile_not_found","message":"no user"}}`, "profile_not_found"},
		{404, `404 page not found`, ""},
		{503, `{"error":{"code":"unavailable","message":"down"}}`, "unavailable"},
		{500, ``, ""},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tt.status)
			_, _ = w.Write([]byte(tt.body))
		}))
		var dst map[string]any
		err := GetJSON(t.Context(), NewClient(time.Second), srv.URL, "", 1<<10, &dst)
		srv.Close()
		var se *StatusError
		if !errors.As(err, &se) || se.Status != tt.status || se.Code != tt.wantCode {
			t.Errorf("%d %q: err = %#v, want StatusError{%d %q}", tt.status, tt.body, err, tt.status, tt.wantCode)
		}
	}
}
