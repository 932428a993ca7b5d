package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/chat-service/app"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/authn/authntest"
	"github.com/parleychat/parley/platform/sqldb"
	"github.com/parleychat/parley/platform/sqldb/sqldbtest"
	"github.com/parleychat/parley/platform/testkit"
)

// client is a WebSocket client that records every message it sees, by id,
// and the seqs of room 1. Like the SPA it keeps what it saw across
// reconnects and resumes after the last seq it holds without a gap, so a
// message it saw beyond a gap comes again on resume; a duplicate is
// therefore counted per connection: an id twice on one connection, or a
// message at or before the after_seq the connection subscribed with.
type client struct {
	t    *testing.T
	name string
	tok  string
	conn *websocket.Conn

	mu     sync.Mutex
	ids    map[int64]int // id → times seen, over every connection
	seqs   map[int64]bool
	dups   int
	acked  []int64
	closed chan int // close code
	ready  chan struct{}
	subbed chan struct{}
}

func newClient(t *testing.T, name, tok string) *client {
	return &client{t: t, name: name, tok: tok, ids: map[int64]int{}, seqs: map[int64]bool{}}
}

// connect dials url, authenticates and subscribes to General after afterSeq.
func (c *client) connect(url string, afterSeq int64) {
	c.t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(url, "http")+"/ws", nil)
	if err != nil {
		c.t.Fatalf("%s dial: %v", c.name, err)
	}
	c.t.Cleanup(func() { conn.Close() })
	c.mu.Lock()
	c.conn = conn
	c.closed, c.ready, c.subbed = make(chan int, 1), make(chan struct{}), make(chan struct{})
	closed, ready, subbed := c.closed, c.ready, c.subbed
	c.mu.Unlock()
	go c.read(conn, afterSeq, closed, ready, subbed)
	c.write(map[string]any{"type": "auth", "token": c.tok})
	waitChan(c.t, ready, c.name+" ready")
	c.write(map[string]any{"type": "subscribe", "room_id": 1, "after_seq": afterSeq})
	waitChan(c.t, subbed, c.name+" subscribed")
}

func waitChan(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(15 * time.Second):
		t.Fatalf("no %s within 15s", what)
	}
}

func (c *client) write(v any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn.WriteJSON(v)
}

func (c *client) read(conn *websocket.Conn, afterSeq int64, closed chan int, ready, subbed chan struct{}) {
	onConn := map[int64]int{} // id → times seen on this connection
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			code := -1
			if ce, ok := err.(*websocket.CloseError); ok {
				code = ce.Code
			}
			closed <- code
			return
		}
		var f struct {
			Type    string `json:"type"`
			Message *struct {
				ID     int64 `json:"id"`
				RoomID int64 `json:"room_id"`
				Seq    int64 `json:"seq"`
			} `json:"message"`
		}
		if err := json.Unmarshal(data, &f); err != nil {
			c.t.Errorf("%s: bad frame %s", c.name, data)
			continue
		}
		switch f.Type {
		case "ready":
			close(ready)
		case "subscribed":
			close(subbed)
		case "message", "ack":
			c.mu.Lock()
			if f.Type == "ack" {
				c.acked = append(c.acked, f.Message.ID)
			} else if f.Message.RoomID == 1 {
				c.ids[f.Message.ID]++
				c.seqs[f.Message.Seq] = true
				if onConn[f.Message.ID]++; onConn[f.Message.ID] > 1 || f.Message.Seq <= afterSeq {
					c.dups++
				}
			}
			c.mu.Unlock()
		case "error":
			if !strings.Contains(string(data), "rate_limited") {
				c.t.Errorf("%s: %s", c.name, data)
			}
		}
	}
}

// contiguous is the highest seq s such that every seq 1..s was seen: the
// after_seq a resuming client sends.
func (c *client) contiguous() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := int64(0)
	for c.seqs[s+1] {
		s++
	}
	return s
}

func (c *client) hasAll(ids []int64) (missing int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if c.ids[id] == 0 {
			missing++
		}
	}
	return missing
}

// duplicates counts what the server sent twice on one connection or
// replayed at or before the connection's after_seq.
func (c *client) duplicates() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dups
}

func (c *client) ackedIDs() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int64(nil), c.acked...)
}

func onlineNames(t *testing.T, url, tok string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/rooms/1/online", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Online []struct{ Username string } `json:"online"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	var names []string
	for _, u := range body.Online {
		names = append(names, u.Username)
	}
	return strings.Join(names, ",")
}

// TestTwoReplicas runs two chat-service replicas on one database (a SQLite
// file, then a PostgreSQL database) and an embedded NATS server, with
// clients on both: every message reaches every client; a replica stopped
// gracefully mid-stream (the SIGTERM path: its sockets close with 1012)
// loses no acknowledged message once its clients resume on the other, and
// its users leave presence at once.
func TestTwoReplicas(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, target sqldb.Target) { testTwoReplicas(t, target.URL()) })
}

func testTwoReplicas(t *testing.T, db string) {
	natsURL := testkit.StartNATS(t)
	is := authntest.New(t)
	env := func() map[string]string {
		return map[string]string{
			"DATABASE_URL": db, "JWKS_URL": is.JWKSURL, "NATS_URL": natsURL, "LOG_LEVEL": "warn",
			"SEND_RATE": "1000", "SEND_BURST": "1000", "USER_RATE_LIMIT_RPS": "100000", "USER_RATE_LIMIT_BURST": "100000",
			"PRESENCE_HEARTBEAT": "200ms", "PRESENCE_TTL": "1s",
		}
	}
	a := testkit.Start(t, "chat-a", app.Run, env())
	b := testkit.Start(t, "chat-b", app.Run, env())

	names := []string{"alice", "bob", "carol", "dave"}
	clients := make([]*client, len(names))
	for i, n := range names {
		clients[i] = newClient(t, n, is.Token(t, int64(i+1), n, authn.RoleUser, time.Hour))
		url := a.URL
		if i >= 2 {
			url = b.URL
		}
		clients[i].connect(url, 0)
	}
	onA, onB := clients[:2], clients[2:]
	testkit.Eventually(t, "presence across replicas", 10*time.Second, func() bool {
		return onlineNames(t, a.URL, clients[0].tok) == "alice,bob,carol,dave" && onlineNames(t, b.URL, clients[0].tok) == "alice,bob,carol,dave"
	})

	// Phase 1: everyone sends; everyone sees everything once.
	send := func(c *client, from, to int) {
		for i := from; i < to; i++ {
			if err := c.write(map[string]any{"type": "send", "room_id": 1, "body": fmt.Sprintf("%s %d", c.name, i), "client_msg_id": fmt.Sprintf("%s-%d", c.name, i)}); err != nil {
				return // the replica went away
			}
		}
	}
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() { defer wg.Done(); send(c, 0, 25) }()
	}
	wg.Wait()
	allAcked := func() []int64 {
		var ids []int64
		for _, c := range clients {
			ids = append(ids, c.ackedIDs()...)
		}
		return ids
	}
	testkit.Eventually(t, "100 acks", 15*time.Second, func() bool { return len(allAcked()) == 100 })
	for _, c := range clients {
		testkit.Eventually(t, c.name+" sees all 100", 15*time.Second, func() bool { return c.hasAll(allAcked()) == 0 })
		if d := c.duplicates(); d != 0 {
			t.Errorf("%s saw %d duplicates", c.name, d)
		}
	}

	// Phase 2: A's clients keep sending while B is stopped under B's clients.
	for _, c := range onA {
		wg.Add(1)
		go func() { defer wg.Done(); send(c, 25, 75) }()
	}
	for _, c := range onB {
		wg.Add(1)
		go func() { defer wg.Done(); send(c, 25, 75) }()
	}
	// Stop B gracefully mid-stream: some of its clients' sends are
	// acknowledged, the rest are still in flight.
	testkit.Eventually(t, "B's clients half way", 15*time.Second, func() bool {
		return len(onB[0].ackedIDs()) >= 35 && len(onB[1].ackedIDs()) >= 35
	})
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, c := range onB {
		select {
		case code := <-c.closed:
			if code != websocket.CloseServiceRestart {
				t.Errorf("%s closed with %d, want 1012", c.name, code)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("%s not closed", c.name)
		}
	}
	wg.Wait()
	// B said goodbye, so its users leave presence at once (a crash would
	// take PRESENCE_TTL; see the hub tests).
	testkit.Eventually(t, "B's users leave presence", 5*time.Second, func() bool {
		return onlineNames(t, a.URL, clients[0].tok) == "alice,bob"
	})

	// B's clients resume on A from what they saw without a gap.
	for _, c := range onB {
		c.connect(a.URL, c.contiguous())
	}
	testkit.Eventually(t, "A's senders acknowledged", 15*time.Second, func() bool {
		return len(onA[0].ackedIDs()) == 75 && len(onA[1].ackedIDs()) == 75
	})
	acked := allAcked()
	for _, c := range clients {
		t.Logf("%s: %d acknowledged sends", c.name, len(c.ackedIDs()))
	}
	for _, c := range clients {
		testkit.Eventually(t, c.name+" has every acknowledged message", 15*time.Second, func() bool { return c.hasAll(acked) == 0 })
		if d := c.duplicates(); d != 0 {
			t.Errorf("%s saw %d duplicates", c.name, d)
		}
		// No gaps either: every seq up to the newest seen is present.
		c.mu.Lock()
		maxSeq := int64(0)
		for s := range c.seqs {
			maxSeq = max(maxSeq, s)
		}
		c.mu.Unlock()
		if got := c.contiguous(); got != maxSeq {
			t.Errorf("%s: seqs contiguous to %d but saw %d", c.name, got, maxSeq)
		}
	}
	testkit.Eventually(t, "resumed users back in presence", 5*time.Second, func() bool {
		return onlineNames(t, a.URL, clients[0].tok) == "alice,bob,carol,dave"
	})
}
