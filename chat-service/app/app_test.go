package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/chat-service/app"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/authn/authntest"
	"github.com/parleychat/parley/platform/testkit"
)

func TestRunServesAndShutsDown(t *testing.T) {
	is := authntest.New(t)
	svc := testkit.Start(t, "chat-service", app.Run, map[string]string{
		"DATA_DIR": t.TempDir(), "JWKS_URL": is.JWKSURL, "LOG_LEVEL": "warn",
	})
	req, _ := http.NewRequest(http.MethodGet, svc.URL+"/rooms", nil)
	req.Header.Set("Authorization", "Bearer "+is.Token(t, 1, "alice", authn.RoleUser, time.Minute))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Rooms []struct {
			Name     string `json:"name"`
			IsMember bool   `json:"is_member"`
		} `json:"rooms"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /rooms: %d %v", resp.StatusCode, err)
	}
	if len(body.Rooms) != 1 || body.Rooms[0].Name != "General" || !body.Rooms[0].IsMember {
		t.Fatalf("rooms = %+v", body.Rooms)
	}
	if err := svc.Stop(); err != nil {
		t.Fatal(err)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	cases := map[string]map[string]string{
		"SEND_RATE":                {"SEND_RATE": "fast"},
		"JWKS_URL":                 {"JWKS_URL": "not a url"},
		"PRESENCE_TTL":             {"PRESENCE_TTL": "1s", "PRESENCE_HEARTBEAT": "5s"},
		"DATABASE_URL":             {"DATABASE_URL": "mysql://x"},
		"NATS_URL":                 {"NATS_URL": "localhost"},
		"WS_QUEUE_SIZE":            {"WS_QUEUE_SIZE": "1"},
		"TRUSTED_PROXIES":          {"TRUSTED_PROXIES": "10.0.0.0/8,gateway"},
		"REVOCATIONS_URL":          {"REVOCATIONS_URL": "not a url"},
		"REVOCATION_POLL_INTERVAL": {"REVOCATION_POLL_INTERVAL": "soon"},
		"USER_SERVICE_URL":         {"USER_SERVICE_URL": "user-service:5002"},
		"DIRECTORY_TIMEOUT":        {"DIRECTORY_TIMEOUT": "1m"},
		"WS_REBALANCE":             {"WS_REBALANCE": "sometimes"},
		"WS_REBALANCE_SLACK":       {"WS_REBALANCE_SLACK": "0"},
		"WS_REBALANCE_INTERVAL":    {"WS_REBALANCE_INTERVAL": "0s"},
	}
	for name, env := range cases {
		t.Run(name, func(t *testing.T) {
			env["DATA_DIR"] = t.TempDir()
			env["PORT"] = strconv.Itoa(testkit.FreePort(t))
			err := app.Run(context.Background(), []string{"chat-service"}, testkit.Env(env), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), name) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Run = %v, want one line naming %s", err, name)
			}
		})
	}
}

func TestHealthcheckSubcommand(t *testing.T) {
	is := authntest.New(t)
	dir := t.TempDir()
	svc := testkit.Start(t, "chat-service", app.Run, map[string]string{"DATABASE_URL": "sqlite://" + filepath.Join(dir, "x.db"), "JWKS_URL": is.JWKSURL})
	var out bytes.Buffer
	env := testkit.Env(map[string]string{"PORT": strconv.Itoa(svc.Port)})
	if err := app.Run(context.Background(), []string{"chat-service", "healthcheck"}, env, &out); err != nil || strings.TrimSpace(out.String()) != "ok" {
		t.Fatalf("healthcheck: %v %q", err, out.String())
	}
	svc.Stop()
	if err := app.Run(context.Background(), []string{"chat-service", "healthcheck"}, env, &out); err == nil {
		t.Fatal("healthcheck passed with the service stopped")
	}
}
