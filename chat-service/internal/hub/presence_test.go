package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/platform/broker"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func names(h *Hub, room int64) string {
	var out []string
	for _, u := range h.Online(room) {
		out = append(out, u.Username)
	}
	return strings.Join(out, ",")
}

func announce(t *testing.T, b broker.Broker, m presenceMsg) {
	t.Helper()
	data, _ := json.Marshal(m)
	if err := b.Publish(context.Background(), subjectPresence, data); err != nil {
		t.Fatal(err)
	}
}

// TestPresenceAcrossReplicas drives one hub's presence with announcements
// from other (simulated) replicas on the same broker.
func TestPresenceAcrossReplicas(t *testing.T) {
	b := broker.NewMemory()
	clk := &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	h, err := New(Options{Broker: b, ReplicaID: "a", Now: clk.Now, PresenceHeartbeat: time.Hour, PresenceTTL: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())

	// What this replica announces.
	var mu sync.Mutex
	var sent []presenceMsg
	unsub, _ := b.Subscribe(subjectPresence, func(_ string, data []byte) {
		var m presenceMsg
		json.Unmarshal(data, &m)
		if m.Rep == "a" {
			mu.Lock()
			sent = append(sent, m)
			mu.Unlock()
		}
	})
	defer unsub()

	h.presence.add(1, 10, "zed")
	h.presence.add(1, 10, "zed") // second connection: no new announcement
	announce(t, b, presenceMsg{Kind: "delta", Rep: "b", Room: 1, User: 20, Name: "amy", On: true})
	announce(t, b, presenceMsg{Kind: "delta", Rep: "b", Room: 1, User: 10, Name: "zed", On: true})
	if got := names(h, 1); got != "amy,zed" {
		t.Fatalf("online = %q", got)
	}
	// A heartbeat replaces what the replica said before.
	announce(t, b, presenceMsg{Kind: "hb", Rep: "b", Set: []presenceRoom{{Room: 1, Users: nil}, {Room: 2, Users: nil}}})
	announce(t, b, presenceMsg{Kind: "hb", Rep: "b", Set: []presenceRoom{{Room: 2}}})
	announce(t, b, presenceMsg{Kind: "delta", Rep: "b", Room: 1, User: 21, Name: "bea", On: true})
	if got := names(h, 1); got != "bea,zed" {
		t.Fatalf("after heartbeat = %q", got)
	}
	// Our own announcements coming back are ignored: the local set is exact.
	announce(t, b, presenceMsg{Kind: "delta", Rep: "a", Room: 1, User: 99, Name: "ghost", On: true})
	if got := names(h, 1); got != "bea,zed" {
		t.Fatalf("own echo changed presence: %q", got)
	}

	// A crashed replica sends nothing more: its users are gone after the TTL.
	clk.advance(10 * time.Second)
	announce(t, b, presenceMsg{Kind: "delta", Rep: "c", Room: 1, User: 30, Name: "cat", On: true})
	if got := names(h, 1); got != "bea,cat,zed" {
		t.Fatalf("before TTL = %q", got)
	}
	clk.advance(6 * time.Second)
	if got := names(h, 1); got != "cat,zed" {
		t.Fatalf("after b's TTL = %q", got)
	}
	h.presence.sweep()
	h.presence.mu.Lock()
	_, kept := h.presence.remote["b"]
	h.presence.mu.Unlock()
	if kept {
		t.Fatal("sweep kept an expired replica")
	}
	// A replica that shuts down says bye and is dropped at once.
	announce(t, b, presenceMsg{Kind: "bye", Rep: "c"})
	if got := names(h, 1); got != "zed" {
		t.Fatalf("after bye = %q", got)
	}

	h.presence.remove(1, 10)
	if got := names(h, 1); got != "zed" {
		t.Fatalf("one of two connections closed: %q", got)
	}
	h.presence.remove(1, 10)
	if got := names(h, 1); got != "" {
		t.Fatalf("all connections closed: %q", got)
	}
	// A sync request from a new replica makes this one announce its set.
	h.presence.add(3, 11, "yan")
	announce(t, b, presenceMsg{Kind: "sync", Rep: "d"})
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		var kinds, deltas []string
		hbWithYan := false
		for _, m := range sent {
			kinds = append(kinds, m.Kind)
			if m.Kind == "delta" && m.User != 99 {
				deltas = append(deltas, fmt.Sprint(m.Room, m.User, m.On))
			}
			if m.Kind == "hb" && len(m.Set) == 1 && m.Set[0].Room == 3 && m.Set[0].Users[0].Username == "yan" {
				hbWithYan = true
			}
		}
		mu.Unlock()
		if hbWithYan {
			if got := strings.Join(deltas, ","); got != "1 10 true,1 10 false,3 11 true" {
				t.Fatalf("deltas = %v", got)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no heartbeat after sync; sent %v", kinds)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
