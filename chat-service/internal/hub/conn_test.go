package hub

import (
	"errors"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func writing(c *Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writing
}

// waitIdle waits until c's writer has ended (an idle connection has none).
func waitIdle(t *testing.T, c *Conn) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for writing(c) {
		if time.Now().After(deadline) {
			t.Fatal("the writer still runs on an idle connection")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestIdleConnectionPingsWithoutAWriter: the writer runs only while there
// is something to write. An idle connection has none, yet it is pinged
// every PingPeriod, its frames still arrive in order after each ping, and a
// close still reaches the client with its code.
func TestIdleConnectionPingsWithoutAWriter(t *testing.T) {
	h, c, client := subscribedPair(t, Options{PingPeriod: 30 * time.Millisecond})
	waitIdle(t, c)

	pings := make(chan struct{}, 100)
	client.SetPingHandler(func(string) error {
		pings <- struct{}{}
		return nil
	})
	// The client reads on its own goroutine (gorilla runs the ping handler
	// inside reads); frames go to got.
	got := make(chan []byte, 100)
	closed := make(chan error, 1)
	go func() {
		for {
			_, data, err := client.ReadMessage()
			if err != nil {
				closed <- err
				return
			}
			got <- data
		}
	}()
	for i := range 3 {
		select {
		case <-pings:
		case <-time.After(10 * time.Second):
			t.Fatalf("ping %d did not arrive", i+1)
		}
	}
	waitIdle(t, c)

	for seq := int64(1); seq <= 5; seq++ {
		publishMsg(t, h, 1, seq)
	}
	for want := int64(1); want <= 5; want++ {
		select {
		case f := <-got:
			if typ, seq := frameType(t, f); typ != "message" || seq != want {
				t.Fatalf("got %s %d, want message %d", typ, seq, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("message %d did not arrive", want)
		}
	}
	waitIdle(t, c)

	c.CloseWith(CloseServiceRestart, "restart")
	select {
	case err := <-closed:
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != CloseServiceRestart {
			t.Fatalf("read ended with %v, want close 1012", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the close frame did not arrive")
	}
	select {
	case <-c.writerDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the writer did not finish after the close")
	}
}
