package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/parleychat/parley/platform/testkit"

	"github.com/parleychat/parley/user-service/app"
)

func TestInvalidConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		mention string
	}{
		{"port", map[string]string{"PORT": "99999"}, "PORT"},
		{"port text", map[string]string{"PORT": "http"}, "PORT"},
		{"stats timeout", map[string]string{"STATS_TIMEOUT": "soon"}, "STATS_TIMEOUT"},
		{"stats timeout negative", map[string]string{"STATS_TIMEOUT": "-1s"}, "STATS_TIMEOUT"},
		{"stats timeout huge", map[string]string{"STATS_TIMEOUT": "10m"}, "STATS_TIMEOUT"},
		{"chat url", map[string]string{"CHAT_SERVICE_URL": "chat:5003"}, "CHAT_SERVICE_URL"},
		{"auth url", map[string]string{"AUTH_SERVICE_URL": "ftp://auth"}, "AUTH_SERVICE_URL"},
		{"jwks url", map[string]string{"JWKS_URL": "not a url"}, "JWKS_URL"},
		{"database url scheme", map[string]string{"DATABASE_URL": "mysql://db/users"}, "DATABASE_URL"},
		{"database postgres", map[string]string{"DATABASE_URL": "postgres://u:secret@db:port/users"}, "DATABASE_URL"},
		{"log level", map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{"log format", map[string]string{"LOG_FORMAT": "xml"}, "LOG_FORMAT"},
		{"trusted proxies", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,gateway"}, "TRUSTED_PROXIES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["DATA_DIR"] = t.TempDir()
			err := app.Run(context.Background(), []string{"user-service"}, testkit.Env(tt.env), io.Discard)
			if err == nil {
				t.Fatal("Run accepted invalid config")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.mention) || strings.Contains(msg, "\n") || strings.Contains(msg, "secret") {
				t.Fatalf("error %q should be one line naming %s (and no secrets)", msg, tt.mention)
			}
		})
	}
}

func TestHealthcheckSubcommand(t *testing.T) {
	h := start(t, nil)
	var out bytes.Buffer
	env := testkit.Env(map[string]string{"PORT": strconv.Itoa(h.svc.Port)})
	if err := app.Run(context.Background(), []string{"user-service", "healthcheck"}, env, &out); err != nil {
		t.Fatalf("healthcheck against a running service: %v", err)
	}
	if strings.TrimSpace(out.String()) != "ok" {
		t.Fatalf("healthcheck printed %q", out.String())
	}
	down := testkit.Env(map[string]string{"PORT": strconv.Itoa(testkit.FreePort(t))})
	if err := app.Run(context.Background(), []string{"user-service", "healthcheck"}, down, io.Discard); err == nil {
		t.Fatal("healthcheck passed with nothing listening")
	}
	bad := testkit.Env(map[string]string{"PORT": "nope"})
	if err := app.Run(context.Background(), []string{"user-service", "healthcheck"}, bad, io.Discard); err == nil || !strings.Contains(err.Error(), "PORT") {
		t.Fatalf("healthcheck with a bad PORT: %v", err)
	}
}

func TestHealthChatServiceIsNotCritical(t *testing.T) {
	closed := fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(t))
	h := start(t, map[string]string{"CHAT_SERVICE_URL": closed}) // Start waits for /readyz 200

	resp := h.request(http.MethodGet, "/health", "", nil)
	var rep struct {
		Status  string                       `json:"status"`
		Service string                       `json:"service"`
		Version string                       `json:"version"`
		Checks  map[string]map[string]string `json:"checks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	if rep.Service != "user-service" || rep.Version != app.Version || rep.Checks["database"]["status"] != "ok" || rep.Checks["chat-service"]["status"] != "fail" {
		t.Fatalf("health = %+v", rep)
	}
	if r := h.request(http.MethodGet, "/readyz", "", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("readyz = %d with chat-service down", r.StatusCode)
	}

	// With chat-service up every check passes.
	ok := start(t, nil)
	ok.call(http.MethodGet, "/health", "", nil, http.StatusOK, &rep)
	for name, c := range rep.Checks {
		if c["status"] != "ok" {
			t.Fatalf("check %s = %v", name, c)
		}
	}
	if r := ok.request(http.MethodGet, "/metrics", "", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("metrics = %d", r.StatusCode)
	}
}

// TestRestartKeepsData runs the service twice on one data directory.
func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	h := start(t, map[string]string{"DATA_DIR": dir})
	tok := h.token(1, "ann")
	h.call(http.MethodPut, "/profiles/1", tok, `{"bio":"persisted"}`, http.StatusOK, nil)
	h.call(http.MethodPut, "/settings/me", tok, `{"theme":"dark"}`, http.StatusOK, nil)
	if err := h.svc.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	h2 := start(t, map[string]string{"DATA_DIR": dir})
	tok2 := h2.token(1, "ann")
	var p profileView
	h2.call(http.MethodGet, "/profiles/me", tok2, nil, http.StatusOK, &p)
	var s settingsView
	h2.call(http.MethodGet, "/settings/me", tok2, nil, http.StatusOK, &s)
	if p.Bio != "persisted" || s.Theme != "dark" {
		t.Fatalf("after restart: %+v %+v", p, s)
	}
}
