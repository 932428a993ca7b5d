package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	gateway "github.com/parleychat/parley/api-gateway/app"
	auth "github.com/parleychat/parley/auth-service/app"
	chat "github.com/parleychat/parley/chat-service/app"
	"github.com/parleychat/parley/platform/testkit"
)

// stack is auth, chat and the gateway in this process on loopback ports,
// configured the way bench/run.sh configures the binaries.
type stack struct {
	gateway, auth, chat *testkit.Service
	ws                  string
	dir                 string
}

// startStack starts the stack; chatEnv adds NAME, value pairs to
// chat-service's environment.
func startStack(t *testing.T, chatEnv ...string) *stack {
	t.Helper()
	dir := t.TempDir()
	ports := map[string]int{}
	for _, name := range []string{"auth", "chat", "gateway"} {
		ports[name] = testkit.FreePort(t)
	}
	url := func(name string) string { return fmt.Sprintf("http://127.0.0.1:%d", ports[name]) }
	env := func(name string, extra ...string) map[string]string {
		m := map[string]string{
			"PORT": strconv.Itoa(ports[name]), "DATA_DIR": filepath.Join(dir, name), "LOG_LEVEL": "warn",
			"AUTH_SERVICE_URL": url("auth"), "CHAT_SERVICE_URL": url("chat"), "USER_SERVICE_URL": url("auth"),
		}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	s := &stack{dir: dir, ws: fmt.Sprintf("ws://127.0.0.1:%d/ws", ports["chat"])}
	s.auth = testkit.Start(t, "auth-service", auth.Run, env("auth", "BCRYPT_COST", "4", "ADMIN_PASSWORD", "admin-password-for-tests",
		"REGISTER_RATE_IP_BURST", "100000", "REGISTER_RATE_IP_INTERVAL", "1ms", "LOGIN_RATE_IP_BURST", "100000", "LOGIN_RATE_IP_INTERVAL", "1ms"))
	s.chat = testkit.Start(t, "chat-service", chat.Run, env("chat", append([]string{"SEND_RATE", "1000", "SEND_BURST", "1000", "USER_RATE_LIMIT_RPS", "100000", "USER_RATE_LIMIT_BURST", "100000"}, chatEnv...)...))
	s.gateway = testkit.Start(t, "api-gateway", gateway.Run, env("gateway", "RATE_LIMIT_RPS", "100000", "RATE_LIMIT_BURST", "100000"))
	return s
}

// runRecord runs a loadtest command and decodes the record it prints.
func runRecord(t *testing.T, args ...string) Record {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run(ctx, append(args, "-quiet"), &out, &errb); err != nil {
		t.Fatalf("loadtest %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	var r Record
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("loadtest %s printed %q: %v", args[0], out.String(), err)
	}
	return r
}

func wantZero(t *testing.T, r Record, metrics ...string) {
	t.Helper()
	for _, m := range metrics {
		v, ok := r.Metrics[m]
		if !ok {
			t.Errorf("%s: no metric %s", r.Scenario, m)
		} else if v != 0 {
			t.Errorf("%s/%s: %s = %v, want 0", r.Scenario, r.Target, m, v)
		}
	}
}

// TestSmoke drives the real stack with a few clients for a few seconds:
// every message must reach every recipient exactly once. Timing is never
// asserted (speed lives in bench/run.sh and docs/BENCHMARKS.md).
func TestSmoke(t *testing.T) {
	s := startStack(t)
	results := filepath.Join(t.TempDir(), "results.jsonl")
	users := filepath.Join(t.TempDir(), "users.json")
	pid := strconv.Itoa(os.Getpid())

	fan := runRecord(t, "fanout", "-target", "parley", "-gateway", s.gateway.URL, "-ws", s.ws, "-users", users,
		"-clients", "24", "-rooms", "3", "-senders", "6", "-rate", "60", "-duration", "1s", "-warmup", "200ms", "-settle", "100ms", "-pid", pid)
	wantZero(t, fan, "lost", "duplicates", "unexpected", "late", "send_errors", "unanswered", "disconnects")
	if !fan.Clean || fan.Metrics["delivered"] == 0 || fan.Metrics["delivered"] != fan.Metrics["expected"] {
		t.Errorf("fan-out: clean=%v delivered %v of %v", fan.Clean, fan.Metrics["delivered"], fan.Metrics["expected"])
	}
	// 3 rooms of 8 clients, 2 senders each: every accepted message is
	// expected by the 8 clients of its room.
	if fan.Metrics["expected"] != fan.Metrics["accepted"]*8 {
		t.Errorf("expected %v deliveries for %v messages, want 8 each", fan.Metrics["expected"], fan.Metrics["accepted"])
	}

	// Two endpoints (here the same server twice, standing for two
	// replicas), receivers on the second only: latency and CPU are split by
	// endpoint and process, and still nothing is lost or repeated.
	split := runRecord(t, "fanout", "-target", "parley-split", "-gateway", s.gateway.URL, "-ws", s.ws+","+s.ws, "-remote", "-users", users,
		"-clients", "12", "-senders", "2", "-rate", "20", "-duration", "1s", "-warmup", "0s", "-settle", "100ms", "-pid", pid+","+pid)
	wantZero(t, split, "lost", "duplicates", "unexpected", "late", "send_errors", "unanswered", "disconnects")
	if split.Metrics["delivered"] == 0 || split.Metrics["delivered"] != split.Metrics["expected"] {
		t.Errorf("split fan-out: delivered %v of %v", split.Metrics["delivered"], split.Metrics["expected"])
	}
	for _, m := range []string{"p50_ms_ws0", "p99_ms_ws0", "p50_ms_ws1", "p99_ms_ws1", "server_cores_pid0", "server_cores_pid1"} {
		if _, ok := split.Metrics[m]; !ok {
			t.Errorf("split fan-out: no metric %s", m)
		}
	}
	var detail struct {
		ByURL []struct {
			Count int64 `json:"count"`
		} `json:"latency_by_url"`
	}
	if b, err := json.Marshal(split.Detail); err != nil || json.Unmarshal(b, &detail) != nil || len(detail.ByURL) != 2 {
		t.Fatalf("split fan-out: latency_by_url %+v (%v)", detail, err)
	}
	// With -remote only the 2 senders are on the first endpoint; the 10
	// receivers are all on the second.
	if got, all := detail.ByURL[0].Count*5, detail.ByURL[1].Count; got != all || all == 0 {
		t.Errorf("split fan-out: %d deliveries on the senders' endpoint, %d on the other, want 1:5", detail.ByURL[0].Count, all)
	}

	sat := runRecord(t, "saturate", "-target", "parley", "-gateway", s.gateway.URL, "-ws", s.ws, "-users", users,
		"-clients", "10", "-rates", "10,20", "-step", "500ms", "-settle", "100ms", "-p99-limit", "1m")
	if sat.Metrics["steps"] != 2 || !sat.Clean {
		t.Errorf("saturate: %v steps, clean %v: %+v", sat.Metrics["steps"], sat.Clean, sat.Metrics)
	}

	idle := runRecord(t, "idle", "-target", "parley", "-gateway", s.gateway.URL, "-ws", s.ws, "-users", users,
		"-clients", "20", "-settle", "200ms", "-pid", pid)
	if idle.Metrics["clients"] != 20 || !idle.Clean {
		t.Errorf("idle: %+v", idle.Metrics)
	}

	persist := runRecord(t, "persist", "-target", "parley", "-gateway", s.gateway.URL, "-ws", s.ws, "-users", users,
		"-clients", "6", "-rooms", "2", "-duration", "1s", "-warmup", "200ms")
	wantZero(t, persist, "send_errors")
	if persist.Metrics["persisted_per_s"] <= 0 {
		t.Errorf("persist: %+v", persist.Metrics)
	}

	hello := httptest.NewServer(helloHandler())
	defer hello.Close()
	h := runRecord(t, "http", "-target", "hello", "-url", hello.URL, "-workers", "4", "-duration", "500ms", "-warmup", "0s")
	helloURL, _ := url.Parse(hello.URL)
	proxy := httptest.NewServer(bareProxy(helloURL))
	defer proxy.Close()
	px := runRecord(t, "http", "-target", "proxy", "-url", proxy.URL+"/", "-workers", "4", "-duration", "500ms", "-warmup", "0s")
	if err := run(context.Background(), []string{"proxy", "-addr", "127.0.0.1:0", "-to", "http://192.0.2.1/"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("proxy accepted a non-loopback upstream")
	}
	me := runRecord(t, "http", "-target", "gateway", "-url", s.gateway.URL+"/api/auth/me", "-users", users, "-gateway", s.gateway.URL,
		"-workers", "4", "-duration", "500ms", "-warmup", "0s")
	for _, r := range []Record{h, px, me} {
		wantZero(t, r, "failed")
		if r.Metrics["requests"] == 0 {
			t.Errorf("http %s: no requests", r.Target)
		}
	}
	hist := runRecord(t, "history", "-target", "parley", "-gateway", s.gateway.URL, "-users", users, "-messages", "30", "-page", "10",
		"-workers", "2", "-duration", "300ms")
	wantZero(t, hist, "rooms_failed", "history_failed")

	login := runRecord(t, "login", "-target", "parley", "-gateway", s.gateway.URL, "-users", "2", "-workers", "2", "-duration", "500ms", "-cost", "4")
	wantZero(t, login, "failed")
	if login.Metrics["logins_per_s"] <= 0 || login.Metrics["bcrypt_per_s"] <= 0 {
		t.Errorf("login: %+v", login.Metrics)
	}

	raw := runRecord(t, "sqlite", "-target", "raw", "-dir", t.TempDir(), "-duration", "500ms")
	if raw.Metrics["commits_per_s"] <= 0 || !raw.Clean {
		t.Errorf("sqlite: %+v", raw.Metrics)
	}

	// The report reads what the runs wrote.
	f, err := os.Create(results)
	if err != nil {
		t.Fatal(err)
	}
	enc := json.NewEncoder(f)
	for _, r := range []Record{fan, sat, idle, persist, h, px, me, hist, login, raw} {
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	var md, errb bytes.Buffer
	png := filepath.Join(t.TempDir(), "chart.png")
	if err := run(context.Background(), []string{"report", "-results", results, "-chart", png}, &md, &errb); err != nil {
		t.Fatalf("report: %v\n%s", err, errb.String())
	}
	for _, want := range []string{"persistence: chat messages/s", "logins/s through the gateway", "| fanout | parley | p99_ms |", "| http | proxy | requests_per_s |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, md.String())
		}
	}
	if st, err := os.Stat(png); err != nil || st.Size() == 0 {
		t.Errorf("chart not written: %v", err)
	}
}

// TestGorillaProtocol runs the fan-out client against a hub that speaks
// like gorilla/websocket's examples/chat: no auth, every text frame
// broadcast to everyone, queued messages joined by '\n' in one frame.
func TestGorillaProtocol(t *testing.T) {
	srv := httptest.NewServer(newTestHub())
	defer srv.Close()
	ws := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	r := runRecord(t, "fanout", "-protocol", "gorilla", "-target", "gorilla", "-ws", ws, "-clients", "12", "-senders", "3",
		"-rate", "90", "-duration", "1s", "-warmup", "0s", "-settle", "0s")
	wantZero(t, r, "lost", "duplicates", "unexpected", "late", "send_errors", "disconnects")
	if r.Metrics["expected"] != r.Metrics["accepted"]*12 || r.Metrics["delivered"] != r.Metrics["expected"] || r.Metrics["delivered"] == 0 {
		t.Errorf("gorilla fan-out: %+v", r.Metrics)
	}
	if err := run(context.Background(), []string{"fanout", "-protocol", "gorilla", "-ws", "ws://192.0.2.1/ws", "-quiet"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("a non-loopback target was accepted")
	}
}

type testHub struct {
	mu      sync.Mutex
	clients map[chan []byte]bool
}

func newTestHub() *testHub { return &testHub{clients: map[chan []byte]bool{}} }

func (h *testHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		return
	}
	send := make(chan []byte, 4096)
	h.mu.Lock()
	h.clients[send] = true
	h.mu.Unlock()
	done := make(chan struct{})
	go func() { // the writer: coalesce what is queued into one frame
		defer close(done)
		for msg := range send {
			buf := append([]byte(nil), msg...)
			for n := len(send); n > 0; n-- {
				buf = append(append(buf, '\n'), <-send...)
			}
			if conn.WriteMessage(websocket.TextMessage, buf) != nil {
				return
			}
		}
	}()
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			break
		}
		h.mu.Lock()
		for c := range h.clients {
			c <- msg
		}
		h.mu.Unlock()
	}
	h.mu.Lock()
	delete(h.clients, send)
	h.mu.Unlock()
	close(send)
	<-done
	conn.Close()
}
