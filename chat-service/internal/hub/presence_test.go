package hub

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/platform/broker"
	"github.com/parleychat/parley/platform/testkit"
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

// names is who the hub holds online in room now (its merged live view),
// sorted.
func names(h *Hub, room int64) string {
	h.presence.mu.Lock()
	defer h.presence.mu.Unlock()
	var out []string
	if rp := h.presence.rooms[room]; rp != nil {
		for _, u := range rp.live {
			out = append(out, u.name)
		}
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

func announce(t *testing.T, b broker.Broker, m presenceMsg) {
	t.Helper()
	data, _ := json.Marshal(m)
	if err := b.Publish(context.Background(), subjectPresence, data); err != nil {
		t.Fatal(err)
	}
}

// recorder keeps what one replica publishes on the presence subject.
type recorder struct {
	mu   sync.Mutex
	rep  string
	msgs []presenceMsg
}

func record(t *testing.T, b broker.Broker, rep string) *recorder {
	r := &recorder{rep: rep}
	unsub, err := b.Subscribe(subjectPresence, func(_ string, data []byte) {
		var m presenceMsg
		_ = json.Unmarshal(data, &m)
		if m.Rep == rep {
			r.mu.Lock()
			r.msgs = append(r.msgs, m)
			r.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unsub)
	return r
}

// wait polls until ok holds for what was recorded.
func (r *recorder) wait(t *testing.T, what string, ok func([]presenceMsg) bool) {
	t.Helper()
	testkit.Eventually(t, what, 5*time.Second, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return ok(r.msgs)
	})
}

func hashOf(pairs ...presenceChange) uint64 {
	var h uint64
	for _, c := range pairs {
		h ^= pairHash(c.Room, c.User, c.Name)
	}
	return h
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
	sent := record(t, b, "a")

	h.presence.add(1, 10, "zed")
	h.presence.add(1, 10, "zed") // second connection: no new announcement
	amy, zed := presenceChange{Room: 1, User: 20, Name: "amy", On: true}, presenceChange{Room: 1, User: 10, Name: "zed", On: true}
	announce(t, b, presenceMsg{Kind: "d", Rep: "b", Seq: 1, Ch: []presenceChange{amy}})
	announce(t, b, presenceMsg{Kind: "d", Rep: "b", Seq: 2, Ch: []presenceChange{zed}})
	if got := names(h, 1); got != "amy,zed" {
		t.Fatalf("online = %q", got)
	}
	// A digest that matches asks for nothing; an old seq is ignored.
	announce(t, b, presenceMsg{Kind: "hb", Rep: "b", Seq: 2, N: 2, Hash: hashOf(amy, zed)})
	announce(t, b, presenceMsg{Kind: "d", Rep: "b", Seq: 1, Ch: []presenceChange{{Room: 1, User: 20}}})
	if got := names(h, 1); got != "amy,zed" {
		t.Fatalf("after an old delta = %q", got)
	}
	// Our own announcements coming back are ignored: the local set is exact.
	announce(t, b, presenceMsg{Kind: "d", Rep: "a", Seq: 99, Ch: []presenceChange{{Room: 1, User: 99, Name: "ghost", On: true}}})
	if got := names(h, 1); got != "amy,zed" {
		t.Fatalf("own echo changed presence: %q", got)
	}
	// A set answer replaces what the replica said before.
	bea := presenceChange{Room: 1, User: 21, Name: "bea"}
	announce(t, b, presenceMsg{Kind: "set", Rep: "b", To: "a", Seq: 7, Part: 0, Ch: []presenceChange{bea}})
	announce(t, b, presenceMsg{Kind: "set", Rep: "b", To: "a", Seq: 7, Part: 1, Last: true, Ch: []presenceChange{{Room: 2, User: 22, Name: "cy"}}})
	if got := names(h, 1); got != "bea,zed" {
		t.Fatalf("after set = %q", got)
	}
	if got := names(h, 2); got != "cy" {
		t.Fatalf("room 2 after set = %q", got)
	}

	// A crashed replica sends nothing more: its users are gone after the TTL.
	clk.advance(10 * time.Second)
	announce(t, b, presenceMsg{Kind: "d", Rep: "c", Seq: 1, Ch: []presenceChange{{Room: 1, User: 30, Name: "cat", On: true}}})
	h.presence.sweep()
	if got := names(h, 1); got != "bea,cat,zed" {
		t.Fatalf("before TTL = %q", got)
	}
	clk.advance(6 * time.Second)
	h.presence.sweep()
	if got := names(h, 1); got != "cat,zed" {
		t.Fatalf("after b's TTL = %q", got)
	}
	if got := names(h, 2); got != "" {
		t.Fatalf("room 2 after b's TTL = %q", got)
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
	// A sync request from a new replica makes this one send it its set,
	// after numbered deltas of every change.
	h.presence.add(3, 11, "yan")
	announce(t, b, presenceMsg{Kind: "sync", Rep: "d"})
	sent.wait(t, "set for d", func(ms []presenceMsg) bool {
		for _, m := range ms {
			if m.Kind == "set" && m.To == "d" && m.Last && len(m.Ch) == 1 && m.Ch[0].Name == "yan" {
				return true
			}
		}
		return false
	})
	sent.mu.Lock()
	var deltas []string
	var seqs []uint64
	setSeq := uint64(0)
	for _, m := range sent.msgs {
		if m.Kind == "set" {
			setSeq = m.Seq
		}
		if m.Kind == "d" && m.Seq != 99 { // 99: the echo the test sent
			seqs = append(seqs, m.Seq)
			for _, c := range m.Ch {
				on := "off"
				if c.On {
					on = "on"
				}
				deltas = append(deltas, c.Name+" "+on)
			}
		}
	}
	sent.mu.Unlock()
	if got := strings.Join(deltas, ","); got != "zed on, off,yan on" {
		t.Fatalf("deltas = %v", got)
	}
	for i, s := range seqs {
		if s != uint64(i+1) {
			t.Fatalf("delta seqs = %v, want 1, 2, ...", seqs)
		}
	}
	if setSeq != uint64(len(seqs)) {
		t.Fatalf("set answered at seq %d after deltas %v", setSeq, seqs)
	}
}

// TestPresenceDigestMismatchResyncs runs two hubs on an embedded NATS
// server. Replica b loses one of a's deltas: a's next digest no longer
// matches b's view, b asks a alone for its set, and b converges. A replica
// publishing a digest unlike what b holds is asked the same way.
func TestPresenceDigestMismatchResyncs(t *testing.T) {
	url := testkit.StartNATS(t)
	newHub := func(id string) (*Hub, broker.Broker) {
		br, err := broker.NewNATS(url, id)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { br.Close() })
		h, err := New(Options{Broker: br, ReplicaID: id, PresenceHeartbeat: 50 * time.Millisecond, PresenceTTL: time.Minute, PresenceFlush: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close(context.Background()) })
		return h, br
	}
	a, brA := newHub("a")
	b, _ := newHub("b")
	fromA := record(t, brA, "a")
	fromB := record(t, brA, "b")

	a.presence.add(1, 10, "ann")
	testkit.Eventually(t, "b sees ann", 5*time.Second, func() bool { return names(b, 1) == "ann" })

	// b drops a's next delta, as a lossy link would.
	var dropped sync.Once
	lost := make(chan struct{})
	b.presence.mu.Lock()
	b.presence.dropIn = func(m presenceMsg) bool {
		hit := false
		if m.Rep == "a" && m.Kind == "d" {
			dropped.Do(func() { hit = true; close(lost) })
		}
		return hit
	}
	b.presence.mu.Unlock()
	a.presence.add(1, 11, "bob")
	<-lost
	if got := names(b, 1); got != "ann" {
		t.Fatalf("b after the lost delta = %q", got)
	}
	// No further delta: only a's digest can reveal the loss.
	fromB.wait(t, "b asks a to resync", func(ms []presenceMsg) bool {
		return slices.ContainsFunc(ms, func(m presenceMsg) bool { return m.Kind == "rs" && m.To == "a" })
	})
	fromA.wait(t, "a answers b with its set", func(ms []presenceMsg) bool {
		return slices.ContainsFunc(ms, func(m presenceMsg) bool { return m.Kind == "set" && m.To == "b" && m.Last })
	})
	testkit.Eventually(t, "b converges", 5*time.Second, func() bool { return names(b, 1) == "ann,bob" })
	// A resync is targeted: it does not make a answer anyone else.
	fromA.mu.Lock()
	for _, m := range fromA.msgs {
		if m.Kind == "set" && m.To != "b" {
			t.Errorf("a sent its set to %q", m.To)
		}
		if m.Kind == "hb" && len(m.Ch) != 0 {
			t.Errorf("a heartbeat carries a set: %+v", m)
		}
	}
	fromA.mu.Unlock()

	// A digest unlike b's view of its sender (here a made-up replica that
	// claims a user b never heard of) makes b ask that replica only.
	announce(t, brA, presenceMsg{Kind: "hb", Rep: "z", Seq: 0, N: 1, Hash: 12345})
	fromB.wait(t, "b asks z to resync", func(ms []presenceMsg) bool {
		return slices.ContainsFunc(ms, func(m presenceMsg) bool { return m.Kind == "rs" && m.To == "z" })
	})
	// z answers; b takes its set.
	announce(t, brA, presenceMsg{Kind: "set", Rep: "z", To: "b", Seq: 0, Last: true, Ch: []presenceChange{{Room: 1, User: 12, Name: "cy"}}})
	testkit.Eventually(t, "b takes z's set", 5*time.Second, func() bool { return names(b, 1) == "ann,bob,cy" })
	// a got z's answer too? No: it was meant for b.
	if got := names(a, 1); got != "ann,bob" {
		t.Fatalf("a took a set meant for b: %q", got)
	}
}
