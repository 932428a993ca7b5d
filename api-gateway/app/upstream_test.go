package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/api-gateway/app"
	"github.com/parleychat/parley/platform/testkit"
)

func TestUpstreamDown(t *testing.T) {
	down := "http://127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	// A long upstream timeout: a quick 503 must come from the refused
	// connection, not from a timer.
	f := startFixture(t, map[string]string{"CHAT_SERVICE_URL": down, "UPSTREAM_TIMEOUT": "1m"})
	tok := f.token(t)

	for _, m := range []string{"GET", "POST", "DELETE"} {
		res := f.do(t, request{method: m, path: "/api/chat/rooms", token: tok, header: map[string]string{"Origin": testOrigin}})
		res.wantStatus(t, http.StatusServiceUnavailable)
		if code := res.errorCode(t); code != "upstream_unavailable" {
			t.Fatalf("code %q", code)
		}
		if strings.Contains(string(res.body), "127.0.0.1") {
			t.Fatalf("error leaks the internal address: %s", res.body)
		}
		if res.Header.Get("Access-Control-Allow-Origin") != testOrigin {
			t.Fatalf("503 without CORS")
		}
	}
	// The other services still work, and the gateway stays ready.
	f.do(t, request{path: "/api/users/profiles/me", token: tok}).wantStatus(t, 200)
	f.do(t, request{path: "/readyz"}).wantStatus(t, 200)
}

func TestUpstreamSlow(t *testing.T) {
	f := startFixture(t, map[string]string{"UPSTREAM_TIMEOUT": "200ms"})
	res := f.do(t, request{path: "/api/chat/slow", token: f.token(t)})
	res.wantStatus(t, http.StatusGatewayTimeout)
	if code := res.errorCode(t); code != "upstream_timeout" {
		t.Fatalf("code %q", code)
	}
	// The gateway is not stuck: the next request is served.
	f.do(t, request{path: "/api/chat/rooms", token: f.token(t)}).wantStatus(t, 200)
}

func TestUpstreamClosesConnection(t *testing.T) {
	// A service that accepts and then drops the connection without answering.
	f := startFixture(t, nil)
	f.chat.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	})
	res := f.do(t, request{path: "/api/chat/rooms", token: f.token(t)})
	res.wantStatus(t, http.StatusServiceUnavailable)
	if code := res.errorCode(t); code != "upstream_unavailable" {
		t.Fatalf("code %q", code)
	}
}

func getHealth(t *testing.T, f *fixture) (int, map[string]any) {
	t.Helper()
	res := f.do(t, request{path: "/health"})
	var body map[string]any
	if err := json.Unmarshal(res.body, &body); err != nil {
		t.Fatalf("health body %s: %v", res.body, err)
	}
	return res.StatusCode, body
}

func TestHealthAggregate(t *testing.T) {
	down := "http://127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	f := startFixture(t, nil)

	t.Run("all up", func(t *testing.T) {
		status, body := getHealth(t, f)
		if status != 200 || body["status"] != "ok" || body["service"] != "api-gateway" || body["version"] == nil {
			t.Fatalf("status %d body %v", status, body)
		}
		services := body["services"].(map[string]any)
		for _, name := range []string{"auth", "user", "chat"} {
			s, ok := services[name].(map[string]any)
			if !ok || s["status"] != "ok" || s["version"] != "test-"+name {
				t.Fatalf("%s: %v", name, services[name])
			}
			if _, ok := s["latency_ms"].(float64); !ok {
				t.Fatalf("%s: no latency_ms: %v", name, s)
			}
		}
	})

	t.Run("one degraded", func(t *testing.T) {
		f.user.health.Store(http.StatusServiceUnavailable)
		defer f.user.health.Store(http.StatusOK)
		status, body := getHealth(t, f)
		if status != 503 || body["status"] != "degraded" {
			t.Fatalf("status %d body %v", status, body)
		}
		services := body["services"].(map[string]any)
		user := services["user"].(map[string]any)
		if user["status"] != "degraded" || user["http_status"] != float64(503) || !strings.Contains(user["error"].(string), "503") {
			t.Fatalf("user: %v", user)
		}
		if services["auth"].(map[string]any)["status"] != "ok" {
			t.Fatalf("auth: %v", services["auth"])
		}
		checks := body["checks"].(map[string]any)
		if checks["user"].(map[string]any)["status"] != "fail" {
			t.Fatalf("checks: %v", checks)
		}
	})

	t.Run("one down", func(t *testing.T) {
		g := startFixture(t, map[string]string{"CHAT_SERVICE_URL": down})
		status, body := getHealth(t, g)
		if status != 503 || body["status"] != "degraded" {
			t.Fatalf("status %d body %v", status, body)
		}
		chat := body["services"].(map[string]any)["chat"].(map[string]any)
		if chat["status"] != "down" || chat["error"] != "connection refused" {
			t.Fatalf("chat: %v", chat)
		}
		// Readiness is the gateway's own: still ready.
		g.do(t, request{path: "/readyz"}).wantStatus(t, 200)
		g.do(t, request{path: "/healthz"}).wantStatus(t, 200)
	})

	t.Run("one slow", func(t *testing.T) {
		g := startFixture(t, map[string]string{"HEALTH_TIMEOUT": "150ms"})
		g.auth.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		})
		status, body := getHealth(t, g)
		auth := body["services"].(map[string]any)["auth"].(map[string]any)
		if status != 503 || auth["status"] != "down" || !strings.Contains(auth["error"].(string), "no answer within") {
			t.Fatalf("status %d auth %v", status, auth)
		}
	})
}

func TestMetrics(t *testing.T) {
	f := startFixture(t, nil)
	tok := f.token(t)
	f.do(t, request{path: "/api/chat/rooms", token: tok}).wantStatus(t, 200)
	f.do(t, request{path: "/api/users/profiles/me", token: tok}).wantStatus(t, 200)
	f.do(t, request{path: "/api/chat/rooms"}).wantStatus(t, 401)
	res := f.do(t, request{path: "/metrics"})
	res.wantStatus(t, 200)
	for _, want := range []string{
		`gateway_upstream_requests_total{status="200",upstream="chat"} 1`,
		`gateway_upstream_requests_total{status="200",upstream="user"} 1`,
		`gateway_upstream_request_duration_seconds_count{upstream="chat"} 1`,
		`gateway_auth_rejected_total{code="missing_token"} 1`,
		`http_request_duration_seconds_count{method="GET",route="/api/chat/*path",service="api-gateway",status="2xx"} 1`,
	} {
		if !bytes.Contains(res.body, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestInvalidConfigNamesTheVariable(t *testing.T) {
	tests := []struct {
		name, value string
	}{
		{"PORT", "http"},
		{"AUTH_SERVICE_URL", "ftp://auth"},
		{"USER_SERVICE_URL", "not a url"},
		{"CHAT_SERVICE_URL", "ws://chat:5003"},
		{"JWKS_URL", "/relative/jwks.json"},
		{"ALLOWED_ORIGINS", "http://localhost:8080,https://app.example/path"},
		{"ALLOWED_ORIGINS", "localhost:8080"},
		{"RATE_LIMIT_RPS", "-1"},
		{"RATE_LIMIT_RPS", "lots"},
		{"RATE_LIMIT_BURST", "0"},
		{"TRUSTED_PROXIES", "10.0.0.0/8,300.1.1.1/8"},
		{"MAX_BODY_BYTES", "2MB"},
		{"UPSTREAM_TIMEOUT", "0s"},
		{"UPSTREAM_TIMEOUT", "10"},
		{"HEALTH_TIMEOUT", "soon"},
		{"TOKEN_CACHE_SIZE", "-5"},
		{"LOG_LEVEL", "loud"},
		{"LOG_FORMAT", "xml"},
	}
	for _, tc := range tests {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			env := map[string]string{tc.name: tc.value, "PORT": "0"}
			if tc.name == "PORT" {
				env["PORT"] = tc.value
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := app.Run(ctx, []string{"api-gateway"}, testkit.Env(env), &bytes.Buffer{})
			if err == nil {
				t.Fatal("Run accepted the config")
			}
			if msg := err.Error(); !strings.Contains(msg, tc.name) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q does not name %s on one line", msg, tc.name)
			}
		})
	}
}

func TestHealthcheckSubcommand(t *testing.T) {
	f := startFixture(t, nil)
	ctx := context.Background()
	var out bytes.Buffer
	err := app.Run(ctx, []string{"api-gateway", "healthcheck"}, testkit.Env(map[string]string{"PORT": strconv.Itoa(f.gw.Port)}), &out)
	if err != nil || strings.TrimSpace(out.String()) != "ok" {
		t.Fatalf("healthcheck of a running gateway: %v %q", err, out.String())
	}
	free := strconv.Itoa(testkit.FreePort(t))
	if err := app.Run(ctx, []string{"api-gateway", "healthcheck"}, testkit.Env(map[string]string{"PORT": free}), &out); err == nil {
		t.Fatal("healthcheck of nothing succeeded")
	}
}

func TestShutdownDrains(t *testing.T) {
	f := startFixture(t, nil)
	if err := f.gw.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := client.Get(f.gw.URL + "/healthz"); err == nil {
		t.Fatal("gateway still answering after Stop")
	}
}

// rawExchange writes raw bytes to the gateway and reads until it closes the
// connection, failing if it is still open after 10 s.
func rawExchange(t *testing.T, f *fixture, raw string) string {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.gw.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("connection still held after 10s (%v); got %q", err, b)
	}
	return string(b)
}

func TestTricklingClientCannotHoldConnection(t *testing.T) {
	// Exchange cap 600ms, connection deadlines 700ms.
	f := startFixture(t, map[string]string{"UPSTREAM_TIMEOUT": "100ms"})
	t.Run("refused request with an unsent body", func(t *testing.T) {
		got := rawExchange(t, f, "POST /api/chat/rooms HTTP/1.1\r\nHost: gw\r\nContent-Length: 100000\r\n\r\n0123456789")
		if !strings.HasPrefix(got, "HTTP/1.1 401 ") {
			t.Fatalf("answer %q", got)
		}
	})
	t.Run("proxied request with a stalled upload", func(t *testing.T) {
		got := rawExchange(t, f, "POST /api/chat/rooms HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer "+f.token(t)+
			"\r\nContent-Length: 100000\r\n\r\n0123456789")
		if !strings.HasPrefix(got, "HTTP/1.1 504 ") || !strings.Contains(got, "upstream_timeout") {
			t.Fatalf("answer %q", got)
		}
	})
}
