package broker

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/parleychat/parley/platform/testkit"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, subject string
		want             bool
	}{
		{"chat.room.1", "chat.room.1", true},
		{"chat.room.*", "chat.room.1", true},
		{"chat.room.*", "chat.room.1.x", false},
		{"chat.>", "chat.room.1", true},
		{"chat.>", "chat", false},
		{"chat.room.2", "chat.room.1", false},
		{"chat.room", "chat.room.1", false},
	}
	for _, tt := range tests {
		if got := Match(strings.Split(tt.pattern, "."), strings.Split(tt.subject, ".")); got != tt.want {
			t.Errorf("Match(%q, %q) = %v", tt.pattern, tt.subject, got)
		}
	}
}

type collector struct {
	mu   sync.Mutex
	got  []string
	cond chan struct{}
}

func newCollector() *collector { return &collector{cond: make(chan struct{}, 1024)} }

func (c *collector) handle(subject string, data []byte) {
	c.mu.Lock()
	c.got = append(c.got, subject+"="+string(data))
	c.mu.Unlock()
	c.cond <- struct{}{}
}

func (c *collector) wait(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		c.mu.Lock()
		if len(c.got) >= n {
			out := append([]string(nil), c.got...)
			c.mu.Unlock()
			return out
		}
		c.mu.Unlock()
		select {
		case <-c.cond:
		case <-deadline:
			t.Fatalf("got %d messages, want %d", len(c.got), n)
		}
	}
}

// conformance runs the same checks on every implementation: two brokers
// stand for two replicas.
func conformance(t *testing.T, a, b Broker) {
	ctx := context.Background()
	all, one := newCollector(), newCollector()
	unsubAll, err := b.Subscribe("t.room.>", all.handle)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Subscribe("t.room.2", one.handle); err != nil {
		t.Fatal(err)
	}
	if nb, ok := b.(*NATS); ok {
		_ = nb.nc.Flush() // make sure the interest reached the server
	}
	for i := 0; i < 50; i++ {
		if err := a.Publish(ctx, fmt.Sprintf("t.room.%d", i%3), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	got := all.wait(t, 50)
	for i, m := range got {
		if want := fmt.Sprintf("t.room.%d=%d", i%3, i); m != want {
			t.Fatalf("message %d = %q, want %q (order must be kept)", i, m, want)
		}
	}
	if n := len(one.wait(t, 16)); n != 16 {
		t.Fatalf("room 2 got %d", n)
	}
	unsubAll()
	if err := a.Check(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestMemory(t *testing.T) {
	m := NewMemory()
	conformance(t, m, m)
	_ = m.Close()
	if err := m.Publish(context.Background(), "x", nil); err != ErrClosed {
		t.Fatalf("publish after close: %v", err)
	}
}

func TestNATS(t *testing.T) {
	srv, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	defer srv.Shutdown()
	if !srv.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats not ready")
	}
	a, err := NewNATS(srv.ClientURL(), "a")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := NewNATS(srv.ClientURL(), "b")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	conformance(t, a, b)
	// A replica's own subscribers get its events once: delivered locally,
	// not echoed back by the server.
	conformance(t, a, a)
	self := newCollector()
	if _, err := a.Subscribe("t.self", self.handle); err != nil {
		t.Fatal(err)
	}
	_ = a.nc.Flush()
	if err := a.Publish(context.Background(), "t.self", []byte("x")); err != nil {
		t.Fatal(err)
	}
	// After the flush the server has handled x (and sent any echo of it);
	// b's message reaches a's subscription after that echo would have.
	_ = a.nc.Flush()
	if err := b.Publish(context.Background(), "t.self", []byte("z")); err != nil {
		t.Fatal(err)
	}
	if got := self.wait(t, 2); got[0] != "t.self=x" || got[1] != "t.self=z" {
		t.Fatalf("own subscriber got %v, want x once then z", got)
	}

	srv.Shutdown()
	// While the server is away, local subscribers still get their events.
	if err := a.Publish(context.Background(), "t.self", []byte("y")); err != nil {
		t.Fatal(err)
	}
	if got := self.wait(t, 3); len(got) != 3 || got[2] != "t.self=y" {
		t.Fatalf("local delivery without the server: %v", got)
	}
	testkit.Eventually(t, "Check fails after the server stopped", 5*time.Second, func() bool {
		return a.Check(context.Background()) != nil
	})
}
