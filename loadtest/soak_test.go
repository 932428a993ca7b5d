package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gateway "github.com/parleychat/parley/api-gateway/app"
	auth "github.com/parleychat/parley/auth-service/app"
	chat "github.com/parleychat/parley/chat-service/app"
	"github.com/parleychat/parley/platform/testkit"
)

// replicas is auth, the gateway and two chat replicas sharing one SQLite
// file and fanning out through an embedded NATS, as bench/run.sh runs them.
type replicas struct {
	gateway *testkit.Service
	chat    [2]*testkit.Service
	env     [2]map[string]string
	ws      [2]string
}

func startReplicas(t *testing.T) *replicas {
	t.Helper()
	dir := t.TempDir()
	natsURL := testkit.StartNATS(t)
	pAuth, pGW := testkit.FreePort(t), testkit.FreePort(t)
	authURL := fmt.Sprintf("http://127.0.0.1:%d", pAuth)
	r := &replicas{}
	chatPorts := [2]int{testkit.FreePort(t), testkit.FreePort(t)}
	testkit.Start(t, "auth-service", auth.Run, map[string]string{"PORT": strconv.Itoa(pAuth), "DATA_DIR": filepath.Join(dir, "auth"), "LOG_LEVEL": "warn",
		"BCRYPT_COST": "4", "ADMIN_PASSWORD": "admin-password-for-tests",
		"REGISTER_RATE_IP_BURST": "100000", "REGISTER_RATE_IP_INTERVAL": "1ms", "LOGIN_RATE_IP_BURST": "100000", "LOGIN_RATE_IP_INTERVAL": "1ms"})
	for i := range r.chat {
		r.env[i] = map[string]string{"PORT": strconv.Itoa(chatPorts[i]), "DATA_DIR": filepath.Join(dir, "chat"), "LOG_LEVEL": "warn",
			"DATABASE_URL": "sqlite://" + filepath.Join(dir, "chat.db"), "NATS_URL": natsURL,
			"AUTH_SERVICE_URL": authURL, "USER_SERVICE_URL": authURL,
			"SEND_RATE": "1000", "SEND_BURST": "1000", "USER_RATE_LIMIT_RPS": "100000", "USER_RATE_LIMIT_BURST": "100000"}
		// One after the other: the first creates the schema.
		r.chat[i] = testkit.Start(t, "chat-service", chat.Run, r.env[i])
		r.ws[i] = fmt.Sprintf("ws://127.0.0.1:%d/ws", chatPorts[i])
	}
	r.gateway = testkit.Start(t, "api-gateway", gateway.Run, map[string]string{"PORT": strconv.Itoa(pGW), "LOG_LEVEL": "warn",
		"AUTH_SERVICE_URL": authURL, "USER_SERVICE_URL": authURL, "CHAT_SERVICE_URL": r.chat[0].URL,
		"RATE_LIMIT_RPS": "100000", "RATE_LIMIT_BURST": "100000"})
	return r
}

// restart stops replica i as SIGTERM does (readiness fails, sockets close
// with 1012) and starts it again on the same port and database.
func (r *replicas) restart(t *testing.T, i int) {
	t.Helper()
	if err := r.chat[i].Stop(); err != nil {
		t.Errorf("replica %d: shutdown: %v", i, err)
	}
	r.chat[i] = testkit.Start(t, "chat-service", chat.Run, r.env[i])
}

// signalWriter closes seen the first time a write contains want.
type signalWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestSoakRollingRestart runs the soak command with 200 clients (20 users
// sharing them) over two chat replicas and restarts both, one after the
// other, while the senders send: every client reconnects, resumes after
// the last seq it holds and re-sends what was not acknowledged, and in the
// end no acknowledged message is missing anywhere and none was stored
// twice. Timing is never asserted.
func TestSoakRollingRestart(t *testing.T) {
	r := startReplicas(t)
	users := filepath.Join(t.TempDir(), "users.json")
	stderr := &signalWriter{want: "sending at", seen: make(chan struct{})}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"soak", "-target", "parley-rolling", "-gateway", r.gateway.URL, "-ws", r.ws[0] + "," + r.ws[1],
			"-users", users, "-clients", "200", "-distinct-users", "20", "-senders", "10", "-rate", "40", "-duration", "6s",
			"-catch-up", "60s", "-max-backoff", "2s", "-quiet"}, &out, stderr)
	}()
	select {
	case <-stderr.seen:
	case err := <-done:
		t.Fatalf("soak ended before sending: %v\n%s", err, stderr.String())
	}
	for i := range r.chat {
		began := time.Now()
		r.restart(t, i)
		t.Logf("replica %d restarted in %v", i, time.Since(began).Round(time.Millisecond))
	}
	if err := <-done; err != nil {
		t.Fatalf("soak: %v\n%s", err, stderr.String())
	}
	var rec Record
	if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
		t.Fatalf("soak printed %q: %v", out.String(), err)
	}
	m := rec.Metrics
	t.Logf("soak: %s", strings.TrimSpace(stderr.String()))
	for k, v := range m {
		if strings.HasPrefix(k, "outage") {
			t.Logf("%s = %v", k, v)
		}
	}
	wantZero(t, rec, "lost", "duplicates", "not_resumed", "unacked", "refused", "bad_frames")
	if m["caught_up"] != 1 || !rec.Clean {
		t.Errorf("not caught up or not clean: %+v", m)
	}
	if m["acked"] == 0 || m["expected"] < m["acked"]*200*0.9 {
		t.Errorf("acked %v messages, expected %v deliveries: want ~200 per message", m["acked"], m["expected"])
	}
	// Every client was on one of the two replicas when it restarted.
	if m["reconnected"] != 200 || m["resumed"] != 200 {
		t.Errorf("reconnected %v, resumed %v: want all 200", m["reconnected"], m["resumed"])
	}
	if m["close_1012"] == 0 {
		t.Errorf("no 1012 close counted: %+v", m)
	}
	if m["outages"] < 2 || m["resume_max_ms"] <= 0 {
		t.Errorf("outages %v, resume max %v ms: want one per replica", m["outages"], m["resume_max_ms"])
	}
}
