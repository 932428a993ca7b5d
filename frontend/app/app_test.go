package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/parleychat/parley/frontend/app"
	"github.com/parleychat/parley/platform/testkit"
)

func fetch(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestServesTheEmbeddedApp(t *testing.T) {
	svc := testkit.Start(t, "frontend", app.Run, map[string]string{})

	resp, index := fetch(t, svc.URL+"/rooms/42")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("deep link: %d %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	refs := regexp.MustCompile(`"(/assets/[0-9a-f]{12}/[^"]+)"`).FindAllStringSubmatch(index, -1)
	if len(refs) < 2 {
		t.Fatalf("index.html references %d versioned assets, want the script and the stylesheet:\n%s", len(refs), index)
	}
	for _, m := range refs {
		resp, _ := fetch(t, svc.URL+m[1])
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d", m[1], resp.StatusCode)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s Cache-Control = %q", m[1], cc)
		}
	}

	resp, body := fetch(t, svc.URL+"/config.json")
	var cfg map[string]any
	if err := json.Unmarshal([]byte(body), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["api_base_url"] != "http://127.0.0.1:5000" || cfg["chat_ws_url"] != "ws://127.0.0.1:5003/ws" ||
		fmt.Sprint(cfg["chat_ws_urls"]) != "[ws://127.0.0.1:5003/ws]" {
		t.Errorf("derived config = %v", cfg)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("config.json Cache-Control = %q", resp.Header.Get("Cache-Control"))
	}

	for _, p := range []string{"/healthz", "/readyz", "/health", "/metrics"} {
		resp, _ := fetch(t, svc.URL+p)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d", p, resp.StatusCode)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s lacks the security headers", p)
		}
	}
	resp, _ = fetch(t, svc.URL+"/assets/nope/app.js.map")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing asset = %d", resp.StatusCode)
	}
}

func TestConfiguredURLs(t *testing.T) {
	svc := testkit.Start(t, "frontend", app.Run, map[string]string{
		"API_BASE_URL": "https://api.parley.test",
		"CHAT_WS_URL":  "wss://chat.parley.test/ws",
	})
	resp, body := fetch(t, svc.URL+"/config.json")
	if !strings.Contains(body, `"api_base_url":"https://api.parley.test"`) || !strings.Contains(body, `"chat_ws_url":"wss://chat.parley.test/ws"`) {
		t.Errorf("config.json = %s", body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "connect-src 'self' https://api.parley.test wss://chat.parley.test;") ||
		!strings.Contains(csp, "img-src 'self' data: blob: https://api.parley.test;") {
		t.Errorf("CSP = %s", csp)
	}
}

func TestSeveralChatURLs(t *testing.T) {
	svc := testkit.Start(t, "frontend", app.Run, map[string]string{
		"API_BASE_URL": "https://api.parley.test",
		"CHAT_WS_URL":  "wss://chat-1.parley.test/ws, wss://chat-2.parley.test:8443/ws,wss://chat-1.parley.test/ws",
	})
	resp, body := fetch(t, svc.URL+"/config.json")
	var cfg struct {
		WS   string   `json:"chat_ws_url"`
		WSes []string `json:"chat_ws_urls"`
	}
	if err := json.Unmarshal([]byte(body), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.WS != "wss://chat-1.parley.test/ws" || strings.Join(cfg.WSes, ",") != "wss://chat-1.parley.test/ws,wss://chat-2.parley.test:8443/ws" {
		t.Errorf("config.json = %s", body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "connect-src 'self' https://api.parley.test wss://chat-1.parley.test wss://chat-2.parley.test:8443;") {
		t.Errorf("CSP = %s", csp)
	}
}

func TestInvalidConfigIsOneLine(t *testing.T) {
	cases := map[string]map[string]string{
		"API_BASE_URL": {"API_BASE_URL": "not a url"},
		"CHAT_WS_URL":  {"CHAT_WS_URL": "http://chat:5003/ws"},
		`CHAT_WS_URL: entry 2 of 2: must be an absolute ws or wss URL without query (got "chat-b:5003")`: {"CHAT_WS_URL": "ws://chat-a:5003/ws, chat-b:5003"},
		"PORT":       {"PORT": "eighty"},
		"LOG_FORMAT": {"LOG_FORMAT": "xml"},
	}
	for name, env := range cases {
		err := app.Run(context.Background(), []string{"frontend"}, testkit.Env(env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), name) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %v, want one line naming it", name, err)
		}
	}
}

func TestHealthcheckSubcommand(t *testing.T) {
	svc := testkit.Start(t, "frontend", app.Run, map[string]string{})
	var out bytes.Buffer
	env := testkit.Env(map[string]string{"PORT": strconv.Itoa(svc.Port)})
	if err := app.Run(context.Background(), []string{"frontend", "healthcheck"}, env, &out); err != nil {
		t.Fatalf("healthcheck of a running server: %v", err)
	}
	if strings.TrimSpace(out.String()) != "ok" {
		t.Errorf("healthcheck printed %q", out.String())
	}
	free := testkit.Env(map[string]string{"PORT": strconv.Itoa(testkit.FreePort(t))})
	if err := app.Run(context.Background(), []string{"frontend", "healthcheck"}, free, io.Discard); err == nil {
		t.Error("healthcheck of nothing succeeded")
	}
}
