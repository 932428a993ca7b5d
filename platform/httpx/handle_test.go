package httpx

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/logx"
)

func TestHandle(t *testing.T) {
	var logs bytes.Buffer
	e := NewEngine(Options{Service: "test", Logger: logx.New(&logs, "test", "debug", "json")})
	e.GET("/ok", Handle(func(c *gin.Context) (any, error) {
		return gin.H{"n": 1}, nil
	}))
	e.GET("/header", Handle(func(c *gin.Context) (any, error) {
		if c.Query("fail") != "" {
			return nil, apperr.NotFound("thing_not_found", "no such thing")
		}
		c.Header("Cache-Control", "no-store")
		return []int{1, 2}, nil
	}))
	e.POST("/things", HandleAs(http.StatusCreated, func(c *gin.Context) (any, error) {
		var req createReq
		if err := BindJSON(c, &req); err != nil {
			return nil, err
		}
		return req, nil
	}))
	e.DELETE("/things/:id", HandleAs(http.StatusNoContent, func(c *gin.Context) (any, error) {
		if _, err := ParamID(c, "id"); err != nil {
			return nil, err
		}
		return gin.H{"ignored": true}, nil
	}))
	// One handler answering 201 or 200 by outcome, and a plain body: a
	// Reply must not change the status of the next request.
	e.PUT("/members/:id", Handle(func(c *gin.Context) (any, error) {
		switch c.Param("id") {
		case "new":
			return Reply{Status: http.StatusCreated, Body: gin.H{"created": true}}, nil
		case "gone":
			return Reply{Status: http.StatusNoContent, Body: gin.H{"ignored": true}}, nil
		}
		return gin.H{"created": false}, nil
	}))
	e.GET("/fail", Handle(func(c *gin.Context) (any, error) {
		return gin.H{"partial": true}, errors.New("disk on fire: secret detail")
	}))
	e.GET("/slow", Handle(func(c *gin.Context) (any, error) {
		return nil, apperr.RateLimited("slow down", 7)
	}))

	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string // exact body
		header                   map[string]string
	}{
		{"200 JSON", "GET", "/ok", "", 200, `{"n":1}`, map[string]string{"Content-Type": "application/json; charset=utf-8"}},
		{"header on success", "GET", "/header", "", 200, `[1,2]`, map[string]string{"Cache-Control": "no-store"}},
		{"no header on error", "GET", "/header?fail=1", "", 404, `{"error":{"code":"thing_not_found","message":"no such thing"}}`, map[string]string{"Cache-Control": ""}},
		{"HandleAs 201", "POST", "/things", `{"name":"a","age":3}`, 201, `{"name":"a","age":3}`, nil},
		{"bind error", "POST", "/things", `{"name":""}`, 422, `{"error":{"code":"name_required","message":"name is required"}}`, nil},
		{"204 writes nothing", "DELETE", "/things/4", "", 204, ``, map[string]string{"Content-Type": ""}},
		{"204 handler error", "DELETE", "/things/x", "", 404, `{"error":{"code":"not_found","message":"id \"x\" does not exist"}}`, nil},
		{"Reply 201", "PUT", "/members/new", "", 201, `{"created":true}`, nil},
		{"plain after Reply", "PUT", "/members/old", "", 200, `{"created":false}`, nil},
		{"Reply 204", "PUT", "/members/gone", "", 204, ``, nil},
		{"internal error hidden", "GET", "/fail", "", 500, `{"error":{"code":"internal","message":"internal error"}}`, nil},
		{"Retry-After", "GET", "/slow", "", 429, `{"error":{"code":"rate_limited","message":"slow down"}}`, map[string]string{"Retry-After": "7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(e, tt.method, tt.path, tt.body)
			if w.Code != tt.status || w.Body.String() != tt.want {
				t.Fatalf("%s %s = %d %q, want %d %q", tt.method, tt.path, w.Code, w.Body.String(), tt.status, tt.want)
			}
			for k, v := range tt.header {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
	if !strings.Contains(logs.String(), "secret detail") {
		t.Errorf("internal error not logged: %s", logs.String())
	}
}

func TestCaller(t *testing.T) {
	type who struct{ Name string }
	e := NewEngine(Options{Service: "test"})
	resolved := 0
	g := e.Group("", Caller(func(c *gin.Context) (who, error) {
		resolved++
		if c.GetHeader("X-Name") == "" {
			return who{}, apperr.Unauthenticated("missing_token", "who are you?")
		}
		return who{Name: c.GetHeader("X-Name")}, nil
	}))
	g.GET("/me", Handle(func(c *gin.Context) (any, error) {
		return CallerOf[who](c), nil
	}))
	e.GET("/unwired", Handle(func(c *gin.Context) (any, error) {
		return CallerOf[who](c), nil
	}))

	if w := do(e, "GET", "/me", "", "X-Name", "ada"); w.Code != 200 || w.Body.String() != `{"Name":"ada"}` {
		t.Fatalf("resolved caller: %d %s", w.Code, w.Body)
	}
	if w := do(e, "GET", "/me", ""); w.Code != 401 || w.Body.String() != `{"error":{"code":"missing_token","message":"who are you?"}}` {
		t.Fatalf("refused caller: %d %s", w.Code, w.Body)
	}
	if resolved != 2 {
		t.Fatalf("resolved %d times for 2 requests", resolved)
	}
	// A route without Caller is a wiring bug: a 500, not a zero caller.
	if w := do(e, "GET", "/unwired", ""); w.Code != 500 || errCode(t, w) != "internal" {
		t.Fatalf("unwired route: %d %s", w.Code, w.Body)
	}
}
