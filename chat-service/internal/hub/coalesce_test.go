package hub

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/broker"
)

// wsPair serves one hub connection and dials it: the server side as a
// *Conn, the client side as a gorilla client.
func wsPair(t *testing.T, h *Hub) (*Conn, *websocket.Conn) {
	t.Helper()
	accepted := make(chan *Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c, err := h.Accept(ws)
		if err != nil {
			t.Error(err)
			return
		}
		accepted <- c
		// Play the reader's part: read until the client goes, then finish.
		go func() {
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					c.Finish(websocket.CloseNormalClosure, "")
					return
				}
			}
		}()
	}))
	t.Cleanup(srv.Close)
	client, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return <-accepted, client
}

// readType reads the next frame and returns its "type" and message seq.
func readType(t *testing.T, ws *websocket.Conn) (string, int64) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	return frameType(t, data)
}

// frameType returns a frame's "type" and message seq.
func frameType(t *testing.T, data []byte) (string, int64) {
	t.Helper()
	var f struct {
		Type    string `json:"type"`
		Message struct {
			Seq int64 `json:"seq"`
		} `json:"message"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("frame %q: %v", data, err)
	}
	return f.Type, f.Message.Seq
}

func publishMsg(t *testing.T, h *Hub, room, seq int64) {
	t.Helper()
	err := h.Publish(context.Background(), chat.Event{Type: chat.EventMessage, RoomID: room, Seq: seq,
		Frame: chat.MessageFrame{Type: chat.EventMessage, Message: chat.Message{ID: seq, RoomID: room, Seq: seq, Body: "hi"}}})
	if err != nil {
		t.Fatal(err)
	}
}

func queued(c *Conn) (queued int, flushPending bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue), c.flushPending
}

// subscribedPair starts a hub with opts (an in-memory broker, presence
// timers out of the way), connects user 7 and subscribes it to room 1,
// reading the "subscribed" and "presence" frames that answer.
func subscribedPair(t *testing.T, opts Options) (*Hub, *Conn, *websocket.Conn) {
	t.Helper()
	opts.Broker, opts.PresenceHeartbeat, opts.PresenceTTL = broker.NewMemory(), time.Hour, 2*time.Hour
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	c, client := wsPair(t, h)
	h.Authenticate(c, 7, "zed", "")
	if err := h.Subscribe(context.Background(), c, 1, nil, 0, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"subscribed", "presence"} {
		if typ, _ := readType(t, client); typ != want {
			t.Fatalf("frame %q, want %q", typ, want)
		}
	}
	return h, c, client
}

// TestAdaptiveCoalescing: with a write-coalescing window far longer than
// the test, a broadcast to a connection that has been quiet for the window
// is written at once (it could not arrive otherwise), while one to a
// connection that just wrote is held for the flusher; a direct frame
// (an ack, an error) is never held and carries the held broadcasts with it,
// in order.
func TestAdaptiveCoalescing(t *testing.T) {
	clk := &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	h, c, client := subscribedPair(t, Options{Now: clk.Now, WriteDelay: time.Hour})

	// Quiet for longer than the window: written at once.
	clk.advance(2 * time.Hour)
	publishMsg(t, h, 1, 1)
	if typ, seq := readType(t, client); typ != "message" || seq != 1 {
		t.Fatalf("got %s %d, want message 1", typ, seq)
	}

	// Busy (it just wrote): held for the flusher, an hour away.
	publishMsg(t, h, 1, 2)
	publishMsg(t, h, 1, 3)
	if n, held := queued(c); n != 2 || !held {
		t.Fatalf("queue %d, flush pending %v; want 2 frames held", n, held)
	}

	// A direct frame wakes the writer: the held broadcasts go first.
	c.PushJSON(map[string]string{"type": "pong"})
	for _, want := range []int64{2, 3} {
		if typ, seq := readType(t, client); typ != "message" || seq != want {
			t.Fatalf("got %s %d, want message %d", typ, seq, want)
		}
	}
	if typ, _ := readType(t, client); typ != "pong" {
		t.Fatalf("got %s, want pong", typ)
	}
}

// TestCoalescingOff: a zero window never holds a frame.
func TestCoalescingOff(t *testing.T) {
	h, c, client := subscribedPair(t, Options{})
	for seq := int64(1); seq <= 20; seq++ {
		publishMsg(t, h, 1, seq)
		if _, held := queued(c); held {
			t.Fatal("a frame was held with coalescing off")
		}
	}
	for want := int64(1); want <= 20; want++ {
		if typ, seq := readType(t, client); typ != "message" || seq != want {
			t.Fatalf("got %s %d, want message %d", typ, seq, want)
		}
	}
}
