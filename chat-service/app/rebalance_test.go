package app_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/chat-service/app"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/authn/authntest"
	"github.com/parleychat/parley/platform/sqldb/sqldbtest"
	"github.com/parleychat/parley/platform/testkit"
)

// metricValue reads one unlabelled series from a service's /metrics.
func metricValue(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("%s/metrics has no %s", url, name)
	return 0
}

// mover is a receiving client that behaves like the SPA on a rebalance:
// closed with 1012 {"code":"rebalance","retry_after_ms":N}, it waits N ms
// and reconnects — to the URL next() gives, standing in for the Service's
// choice — resuming room 1 after the last seq it holds without a gap.
// Any other close ends it.
type mover struct {
	t    *testing.T
	name string
	tok  string
	next func() string

	mu    sync.Mutex
	ids   map[int64]int // message id → times seen, over every connection
	seqs  map[int64]bool
	dups  int // seen twice on one connection, or at or before its after_seq
	moves int
	hints []int64
	conn  *websocket.Conn
	stop  bool
}

// start connects to url and returns once room 1 is subscribed; the mover
// then runs on its own until it is closed with something else than a
// rebalance or stopped.
func (m *mover) start(url string, done *sync.WaitGroup) {
	m.t.Helper()
	subbed := make(chan error, 1)
	done.Add(1)
	go func() {
		defer done.Done()
		m.run(url, subbed)
	}()
	select {
	case err := <-subbed:
		if err != nil {
			m.t.Fatalf("%s: %v", m.name, err)
		}
	case <-time.After(15 * time.Second):
		m.t.Fatalf("%s: not subscribed within 15s", m.name)
	}
}

func (m *mover) run(url string, subbed chan error) {
	dialFailures := 0
	for {
		code, reason, err := m.session(url, subbed)
		var dialErr *net.OpError
		if subbed == nil && errors.As(err, &dialErr) && dialErr.Op == "dial" && dialFailures < 100 {
			// Moved to a replica still starting (its heartbeat can come
			// before its listener): retry, as a client's backoff would.
			dialFailures++
			<-time.After(100 * time.Millisecond)
			continue
		}
		dialFailures = 0
		subbed = nil
		if err != nil {
			m.t.Errorf("%s: %v", m.name, err)
			return
		}
		var r struct {
			Code         string `json:"code"`
			RetryAfterMS int64  `json:"retry_after_ms"`
		}
		m.mu.Lock()
		stopped := m.stop
		m.mu.Unlock()
		if stopped || code != websocket.CloseServiceRestart || json.Unmarshal([]byte(reason), &r) != nil || r.Code != "rebalance" {
			return
		}
		m.mu.Lock()
		m.moves++
		m.hints = append(m.hints, r.RetryAfterMS)
		m.mu.Unlock()
		// The client honours the hint: its behaviour under test, not a
		// synchronisation of the test.
		<-time.After(time.Duration(r.RetryAfterMS) * time.Millisecond)
		url = m.next()
	}
}

// session is one connection: it returns the close code and reason.
func (m *mover) session(url string, subbed chan error) (int, string, error) {
	after := m.contiguous()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(url, "http")+"/ws", nil)
	if err != nil {
		if subbed != nil {
			subbed <- err
		}
		return 0, "", fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	m.mu.Lock()
	m.conn = conn
	stopped := m.stop
	m.mu.Unlock()
	if stopped {
		return 0, "", nil
	}
	if err := conn.WriteJSON(map[string]any{"type": "auth", "token": m.tok}); err != nil {
		return 0, "", err
	}
	onConn := map[int64]int{}
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				return ce.Code, ce.Text, nil
			}
			m.mu.Lock()
			stopped := m.stop
			m.mu.Unlock()
			if stopped {
				return 0, "", nil
			}
			return 0, "", fmt.Errorf("read: %w", err)
		}
		var f struct {
			Type    string `json:"type"`
			RoomID  int64  `json:"room_id"`
			Message *struct {
				ID     int64 `json:"id"`
				RoomID int64 `json:"room_id"`
				Seq    int64 `json:"seq"`
			} `json:"message"`
		}
		if err := json.Unmarshal(data, &f); err != nil {
			return 0, "", fmt.Errorf("bad frame %s", data)
		}
		switch f.Type {
		case "ready":
			if err := conn.WriteJSON(map[string]any{"type": "subscribe", "room_id": 1, "after_seq": after}); err != nil {
				return 0, "", err
			}
		case "subscribed":
			if subbed != nil {
				subbed <- nil
				subbed = nil
			}
		case "message":
			if f.Message.RoomID != 1 {
				continue
			}
			m.mu.Lock()
			m.ids[f.Message.ID]++
			m.seqs[f.Message.Seq] = true
			if onConn[f.Message.ID]++; onConn[f.Message.ID] > 1 || f.Message.Seq <= after {
				m.dups++
			}
			m.mu.Unlock()
		case "error":
			return 0, "", fmt.Errorf("error frame %s", data)
		}
	}
}

func (m *mover) contiguous() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := int64(0)
	for m.seqs[s+1] {
		s++
	}
	return s
}

// missing counts the ids the mover never saw; dupes the ids seen more than
// once across its connections (after dedupe by id the SPA shows each once,
// but the resume must not need it).
func (m *mover) missing(ids []int64) (missing, dupes int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range ids {
		switch n := m.ids[id]; {
		case n == 0:
			missing++
		case n > 1:
			dupes++
		}
	}
	return missing, dupes
}

// TestRebalanceAfterScaleOut opens 200 sockets on replica A while it is
// alone (it never rebalances: no peer), then starts replica B, as an HPA
// scale-out would: A asks a bounded share of its sockets per round to move
// (1012 rebalance with a jittered hint) until it is within the slack of
// the mean, the clients resume on B with after_seq, and every message a
// sender posts during the move reaches every client exactly once. Once
// balanced, several more rounds on both replicas move nothing.
func TestRebalanceAfterScaleOut(t *testing.T) {
	const (
		sockets   = 200
		users     = 20 // 10 sockets each, under WS_MAX_CONNS_PER_USER
		maxSends  = 3000
		sendEvery = 20 * time.Millisecond
	)
	natsURL := testkit.StartNATS(t)
	is := authntest.New(t)
	db := "sqlite://" + sqldbtest.SQLite(t, "chat.db").Path
	env := func() map[string]string {
		return map[string]string{
			"DATABASE_URL": db, "JWKS_URL": is.JWKSURL, "NATS_URL": natsURL, "LOG_LEVEL": "warn",
			"SEND_RATE": "1000", "SEND_BURST": "1000", "USER_RATE_LIMIT_RPS": "100000", "USER_RATE_LIMIT_BURST": "100000",
			"PRESENCE_HEARTBEAT": "100ms", "PRESENCE_TTL": "1s",
			"WS_REBALANCE_INTERVAL": "300ms", "WS_REBALANCE_RETRY_MAX": "200ms",
		}
	}
	a := testkit.Start(t, "chat-a", app.Run, env())
	// B's address is known before it starts: A may move sockets to it as
	// soon as B's first heartbeat arrives, before Start returns.
	bEnv := env()
	bEnv["PORT"] = strconv.Itoa(testkit.FreePort(t))
	bURL := "http://127.0.0.1:" + bEnv["PORT"]
	var b *testkit.Service
	var live sync.WaitGroup
	var movers []*mover
	t.Cleanup(func() {
		for _, m := range movers {
			m.mu.Lock()
			m.stop = true
			if m.conn != nil {
				m.conn.Close()
			}
			m.mu.Unlock()
		}
		live.Wait()
	})
	for i := range sockets {
		u := int64(i%users + 1)
		name := fmt.Sprintf("user%d", u)
		m := &mover{t: t, name: fmt.Sprintf("%s/%d", name, i), tok: is.Token(t, u, name, authn.RoleUser, time.Hour),
			next: func() string { return bURL }, ids: map[int64]int{}, seqs: map[int64]bool{}}
		movers = append(movers, m)
		m.start(a.URL, &live)
	}

	// Alone, A never rebalances, however many sockets it holds.
	rounds := metricValue(t, a.URL, "chat_ws_rebalance_rounds_total")
	testkit.Eventually(t, "A's rebalance rounds while alone", 10*time.Second, func() bool {
		return metricValue(t, a.URL, "chat_ws_rebalance_rounds_total") >= rounds+3
	})
	if n := metricValue(t, a.URL, "chat_ws_rebalanced_total"); n != 0 {
		t.Fatalf("A alone asked %v sockets to move", n)
	}

	// Scale-out: B starts with nothing; a sender on B posts while A sheds.
	b = testkit.Start(t, "chat-b", app.Run, bEnv)
	scaled := time.Now()
	sender := newClient(t, "sender", is.Token(t, 99, "sender", authn.RoleUser, time.Hour))
	sender.connect(b.URL, 0)
	stopSend := make(chan struct{})
	sent := make(chan int)
	go func() {
		n := 0
		tick := time.NewTicker(sendEvery)
		defer func() { tick.Stop(); sent <- n }()
		for ; n < maxSends; n++ {
			select {
			case <-stopSend:
				return
			case <-tick.C:
			}
			if err := sender.write(map[string]any{"type": "send", "room_id": 1, "body": fmt.Sprintf("move %d", n), "client_msg_id": fmt.Sprintf("move-%d", n)}); err != nil {
				t.Errorf("send: %v", err)
				return
			}
		}
	}()

	conns := func(s *testkit.Service) float64 { return metricValue(t, s.URL, "chat_ws_connections") }
	clientMoves := func() int {
		n := 0
		for _, m := range movers {
			m.mu.Lock()
			n += m.moves
			m.mu.Unlock()
		}
		return n
	}
	// Balanced: A within the slack of the mean, every socket it asked to
	// move closed and landed.
	testkit.Eventually(t, "A within the slack of the mean", 60*time.Second, func() bool {
		ca, cb := conns(a), conns(b)
		return ca <= 1.2*(ca+cb)/2 && ca+cb == sockets+1 && float64(clientMoves()) == metricValue(t, a.URL, "chat_ws_rebalanced_total")
	})
	moved := metricValue(t, a.URL, "chat_ws_rebalanced_total")
	took := time.Since(scaled)
	close(stopSend)
	n := <-sent
	testkit.Eventually(t, "every send acknowledged", 30*time.Second, func() bool { return len(sender.ackedIDs()) == n })
	acked := sender.ackedIDs()
	ca, cb := conns(a), conns(b)
	t.Logf("balanced %v after B started: A %v sockets, B %v (with the sender); %v asked to move; %d messages sent meanwhile", took.Round(10*time.Millisecond), ca, cb, moved, n)

	// Bounded: never more than A's excess over the mean (100) moved, at
	// most 10% of A's sockets a round.
	if moved < 1 || moved > sockets/2 {
		t.Errorf("A asked %v sockets to move, want 1..%d", moved, sockets/2)
	}
	for _, m := range movers {
		m.mu.Lock()
		for _, h := range m.hints {
			if h < 0 || h > 200 {
				t.Errorf("%s: retry_after_ms %d outside 0..200", m.name, h)
			}
		}
		m.mu.Unlock()
	}

	// Zero loss, zero duplicates while sockets moved.
	if n < 10 {
		t.Errorf("only %d messages sent during the move", n)
	}
	for _, m := range movers {
		testkit.Eventually(t, m.name+" has every acknowledged message", 30*time.Second, func() bool {
			missing, _ := m.missing(acked)
			return missing == 0
		})
		if _, dupes := m.missing(acked); dupes != 0 {
			t.Errorf("%s saw %d messages twice", m.name, dupes)
		}
		m.mu.Lock()
		if m.dups != 0 {
			t.Errorf("%s: %d duplicates on a connection or before its after_seq", m.name, m.dups)
		}
		m.mu.Unlock()
	}

	// Balanced: several more rounds on both replicas move nothing.
	ra, rb := metricValue(t, a.URL, "chat_ws_rebalance_rounds_total"), metricValue(t, b.URL, "chat_ws_rebalance_rounds_total")
	testkit.Eventually(t, "five more rounds on each replica", 20*time.Second, func() bool {
		return metricValue(t, a.URL, "chat_ws_rebalance_rounds_total") >= ra+5 && metricValue(t, b.URL, "chat_ws_rebalance_rounds_total") >= rb+5
	})
	if got := metricValue(t, a.URL, "chat_ws_rebalanced_total"); got != moved {
		t.Errorf("A moved %v more sockets once balanced", got-moved)
	}
	if got := metricValue(t, b.URL, "chat_ws_rebalanced_total"); got != 0 {
		t.Errorf("B moved %v sockets", got)
	}
	if got := metricValue(t, a.URL, "chat_ws_cluster_connections"); got != sockets+1 {
		t.Errorf("A's view of the cluster: %v sockets, want %d", got, sockets+1)
	}
	if got := metricValue(t, b.URL, "chat_ws_cluster_replicas"); got != 2 {
		t.Errorf("B's view of the cluster: %v replicas, want 2", got)
	}
	if c := conns(a); c != ca {
		t.Errorf("A's sockets changed from %v to %v once balanced", ca, c)
	}
}
