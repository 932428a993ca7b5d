// Package bench measures chat-service's WebSocket fan-out and the memory
// of idle connections against a real server process on loopback. The
// benchmarks are bounded in connections and time and run only when asked:
//
//	go test -run '^$' -bench . -benchtime 1x ./internal/bench
//
// BENCH_CLIENTS, BENCH_RATE, BENCH_DURATION and BENCH_IDLE_CONNS override
// the targets (1000 clients, 200 msg/s, 10s; 10000 idle connections).
package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/chat-service/app"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/authn/authntest"
	"github.com/parleychat/parley/platform/testkit"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// serverBinary builds chat-service once per run.
func serverBinary(b *testing.B) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "chat-bench")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "chat-service")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/parleychat/parley/chat-service")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	return binPath
}

type server struct {
	url string
	ws  string
	pid int
}

// startServer runs the chat-service binary as its own process, so its RSS
// and CPU are its own. BENCH_INPROCESS=1 runs it inside the benchmark
// instead, so that -cpuprofile sees the server too.
func startServer(b *testing.B, env map[string]string) *server {
	b.Helper()
	port := testkit.FreePort(b)
	if os.Getenv("BENCH_INPROCESS") != "" {
		env["PORT"], env["DATA_DIR"], env["LOG_LEVEL"] = strconv.Itoa(port), b.TempDir(), "warn"
		svc := testkit.Start(b, "chat-service", app.Run, env)
		return &server{url: svc.URL, ws: "ws://127.0.0.1:" + strconv.Itoa(port) + "/ws", pid: os.Getpid()}
	}
	cmd := exec.Command(serverBinary(b))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "PORT=" + strconv.Itoa(port), "DATA_DIR=" + b.TempDir(), "LOG_LEVEL=warn"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &server{url: "http://127.0.0.1:" + strconv.Itoa(port), ws: "ws://127.0.0.1:" + strconv.Itoa(port) + "/ws", pid: cmd.Process.Pid}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	testkit.WaitReady(b, s.url, nil)
	return s
}

// rssKiB is a process's resident set size.
func rssKiB(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

// cpuSeconds is a process's user+system CPU time.
func cpuSeconds(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	ut, _ := strconv.ParseFloat(fields[11], 64)
	st, _ := strconv.ParseFloat(fields[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// hist is a log-scale latency histogram: bucket i holds latencies around
// 10µs·1.05^i, so percentiles are within 5%.
type hist [400]int64

func bucketOf(d time.Duration) int {
	us := float64(d) / float64(time.Microsecond)
	if us <= 10 {
		return 0
	}
	i := int(math.Log(us/10) / math.Log(1.05))
	return min(i, len(hist{})-1)
}

func (h *hist) add(d time.Duration) { h[bucketOf(d)]++ }

func (h *hist) merge(o *hist) {
	for i := range h {
		h[i] += o[i]
	}
}

func (h *hist) quantile(q float64) time.Duration {
	var total int64
	for _, n := range h {
		total += n
	}
	if total == 0 {
		return 0
	}
	target, seen := int64(math.Ceil(q*float64(total))), int64(0)
	for i, n := range h {
		if seen += n; seen >= target {
			return time.Duration(10 * math.Pow(1.05, float64(i+1)) * float64(time.Microsecond))
		}
	}
	return 0
}

type wsConn struct {
	conn *websocket.Conn
	wmu  sync.Mutex
}

func (c *wsConn) send(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.conn.WriteJSON(v)
}

// dialAuth opens an authenticated connection, optionally subscribed to
// room 1, and reads until the server confirms.
func dialAuth(url, token string, subscribe bool) (*wsConn, error) {
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	conn, _, err := d.Dial(url, nil)
	if err != nil {
		return nil, err
	}
	c := &wsConn{conn: conn}
	want := "ready"
	if err := c.send(map[string]any{"type": "auth", "token": token}); err != nil {
		conn.Close()
		return nil, err
	}
	if subscribe {
		want = "subscribed"
		if err := c.send(map[string]any{"type": "subscribe", "room_id": 1}); err != nil {
			conn.Close()
			return nil, err
		}
	}
	_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			conn.Close()
			return nil, err
		}
		if bytes.Contains(data, []byte(`"type":"`+want+`"`)) {
			_ = conn.SetReadDeadline(time.Time{})
			return c, nil
		}
		if bytes.HasPrefix(data, []byte(`{"type":"error"`)) {
			conn.Close()
			return nil, fmt.Errorf("%s", data)
		}
	}
}

// connectAll opens n connections with bounded parallelism; user i%users
// owns connection i.
func connectAll(b *testing.B, url string, tokens []string, n int, subscribe bool) []*wsConn {
	b.Helper()
	conns := make([]*wsConn, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := dialAuth(url, tokens[i%len(tokens)], subscribe)
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d connections failed; first: %v", f, n, firstErr.Load())
	}
	b.Cleanup(func() {
		for _, c := range conns {
			c.conn.Close()
		}
	})
	return conns
}

func tokens(b *testing.B, is *authntest.Issuer, first int64, n int) []string {
	out := make([]string, n)
	for i := range out {
		id := first + int64(i)
		out[i] = is.Token(b, id, "user"+strconv.FormatInt(id, 10), authn.RoleUser, time.Hour)
	}
	return out
}

var bodyMarker = []byte(`"body":"t=`)

// BenchmarkFanout: N clients subscribed to one room, a few senders posting
// R messages per second over WebSocket; every client receives every
// message. It reports deliveries per second and end-to-end latency (send
// frame written → message frame read) percentiles.
func BenchmarkFanout(b *testing.B) {
	nClients := envInt("BENCH_CLIENTS", 1000)
	rate := envInt("BENCH_RATE", 200)
	duration := envDuration("BENCH_DURATION", 10*time.Second)
	const nSenders = 10
	is := authntest.New(b)
	env := map[string]string{"JWKS_URL": is.JWKSURL, "SEND_RATE": "100000", "SEND_BURST": "100000", "USER_RATE_LIMIT_RPS": "1000000", "USER_RATE_LIMIT_BURST": "1000000", "ALLOWED_ORIGINS": "*"}
	if d := os.Getenv("BENCH_WRITE_DELAY"); d != "" {
		env["WS_WRITE_DELAY"] = d
	}
	srv := startServer(b, env)
	pid := srv.pid

	conns := connectAll(b, srv.ws, tokens(b, is, 1000, 100), nClients, true)
	senders := connectAll(b, srv.ws, tokens(b, is, 1, nSenders), nSenders, false)

	var (
		delivered atomic.Int64
		closedBad atomic.Int64
		measuring atomic.Bool
		hmu       sync.Mutex
		total     hist
		readers   sync.WaitGroup
	)
	for _, c := range conns {
		readers.Add(1)
		go func() {
			defer readers.Done()
			var h hist
			buf := make([]byte, 0, 4096)
			defer func() {
				hmu.Lock()
				total.merge(&h)
				hmu.Unlock()
			}()
			for {
				_, r, err := c.conn.NextReader()
				if err != nil {
					if ce, ok := err.(*websocket.CloseError); ok && ce.Code != websocket.CloseNormalClosure {
						closedBad.Add(1)
					}
					return
				}
				buf = buf[:0]
				for {
					if len(buf) == cap(buf) {
						buf = append(buf, 0)[:len(buf)]
					}
					n, err := r.Read(buf[len(buf):cap(buf)])
					buf = buf[:len(buf)+n]
					if err == io.EOF {
						break
					}
					if err != nil {
						return
					}
				}
				if !bytes.HasPrefix(buf, []byte(`{"type":"message"`)) {
					continue
				}
				i := bytes.Index(buf, bodyMarker)
				if i < 0 {
					continue
				}
				j := i + len(bodyMarker)
				k := j + bytes.IndexByte(buf[j:], '"')
				sent, _ := strconv.ParseInt(string(buf[j:k]), 10, 64)
				if measuring.Load() {
					h.add(time.Duration(time.Now().UnixNano() - sent))
					delivered.Add(1)
				}
			}
		}()
	}
	// Senders drain their own frames (acks) so they are never slow.
	for _, s := range senders {
		go func() {
			for {
				if _, _, err := s.conn.NextReader(); err != nil {
					return
				}
			}
		}()
	}

	ctx, cancel := context.WithCancel(context.Background())
	var sent atomic.Int64
	var sendWG sync.WaitGroup
	for si, s := range senders {
		sendWG.Add(1)
		go func() {
			defer sendWG.Done()
			tick := time.NewTicker(time.Second * time.Duration(nSenders) / time.Duration(rate))
			defer tick.Stop()
			for n := 0; ; n++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				err := s.send(map[string]any{"type": "send", "room_id": 1,
					"body": "t=" + strconv.FormatInt(time.Now().UnixNano(), 10), "client_msg_id": fmt.Sprintf("b%d-%d", si, n)})
				if err != nil {
					return
				}
				if measuring.Load() {
					sent.Add(1)
				}
			}
		}()
	}

	b.ResetTimer()
	warm := time.After(2 * time.Second)
	<-warm
	self := os.Getpid()
	cpu0, self0, t0 := cpuSeconds(pid), cpuSeconds(self), time.Now()
	measuring.Store(true)
	// Per-second deliveries show whether a backlog grows or drains.
	var perSecond []string
	sec := time.NewTicker(time.Second)
	last := int64(0)
	for end := time.After(duration); ; {
		select {
		case <-sec.C:
			d := delivered.Load()
			perSecond = append(perSecond, strconv.FormatInt((d-last)/1000, 10)+"k")
			last = d
			continue
		case <-end:
		}
		break
	}
	sec.Stop()
	measuring.Store(false)
	elapsed, cpu, clientCPU := time.Since(t0), cpuSeconds(pid)-cpu0, cpuSeconds(self)-self0
	cancel()
	sendWG.Wait()
	b.StopTimer()
	got := delivered.Load()
	for _, c := range conns {
		c.conn.Close()
	}
	readers.Wait()

	perSec := float64(got) / elapsed.Seconds()
	expected := float64(sent.Load()) * float64(nClients)
	b.ReportMetric(perSec, "deliveries/s")
	b.ReportMetric(float64(sent.Load())/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(total.quantile(0.50).Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(total.quantile(0.99).Microseconds())/1000, "p99_ms")
	b.ReportMetric(cpu/elapsed.Seconds(), "server_cores")
	b.Logf("%d clients, %d msg/s target: sent %d, delivered %d of %d expected (%.1f%%) in %v = %.0f deliveries/s (per second: %s); latency p50 %v p90 %v p99 %v max %v; CPU: server %.2f cores, load clients %.2f cores; server RSS %d MiB; slow/closed clients %d",
		nClients, rate, sent.Load(), got, int64(expected), 100*float64(got)/max(expected, 1), elapsed.Round(time.Millisecond), perSec, strings.Join(perSecond, " "),
		total.quantile(0.5), total.quantile(0.9), total.quantile(0.99), total.quantile(1), cpu/elapsed.Seconds(), clientCPU/elapsed.Seconds(), rssKiB(pid)/1024, closedBad.Load())
}

// BenchmarkIdleConnections opens N authenticated WebSocket connections that
// then stay quiet, and reports the server's resident memory per connection.
func BenchmarkIdleConnections(b *testing.B) {
	n := envInt("BENCH_IDLE_CONNS", 10000)
	is := authntest.New(b)
	srv := startServer(b, map[string]string{"JWKS_URL": is.JWKSURL, "ALLOWED_ORIGINS": "*"})
	pid := srv.pid
	toks := tokens(b, is, 1, 100)
	// Warm the server (JWKS fetched, users seen) before the baseline.
	connectAll(b, srv.ws, toks, len(toks), false)
	settle := func() int64 {
		<-time.After(5 * time.Second)
		return rssKiB(pid)
	}
	base := settle()
	b.ResetTimer()
	start := time.Now()
	conns := connectAll(b, srv.ws, toks, n, false)
	connectTime := time.Since(start)
	// Keep answering pings like a real client would.
	for _, c := range conns {
		go func() {
			for {
				if _, _, err := c.conn.NextReader(); err != nil {
					return
				}
			}
		}()
	}
	after := settle()
	b.StopTimer()
	perConn := float64(after-base) / float64(n)
	b.ReportMetric(perConn, "KiB/conn")
	b.ReportMetric(float64(after)/1024, "server_rss_MiB")
	b.Logf("%d idle authenticated connections in %v: server RSS %d MiB → %d MiB, %.1f KiB per connection",
		n, connectTime.Round(time.Millisecond), base/1024, after/1024, perConn)
}
