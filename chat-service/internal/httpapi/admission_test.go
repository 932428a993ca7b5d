package httpapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// shedHint is the close reason of a socket shed under load.
type shedHint struct {
	Code         string `json:"code"`
	RetryAfterMS int64  `json:"retry_after_ms"`
}

// admitted dials a socket and reports whether the replica kept it: a
// ready frame after auth (true), or a 1013 close carrying a parseable
// overloaded hint (false, with the hint). Anything else fails the test.
func admitted(t *testing.T, h *harness, u user) (*wsClient, bool, shedHint) {
	t.Helper()
	c, _, err := h.dial(nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	// The auth frame may race the server's close: a write error then is
	// expected, and the close frame is still read below.
	_ = c.conn.WriteJSON(map[string]any{"type": "auth", "token": u.token})
	for f := range c.frames {
		if f["type"] == "ready" {
			return c, true, shedHint{}
		}
	}
	err = <-c.closed
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseTryAgainLater {
		t.Fatalf("socket ended with %v, want ready or close 1013", err)
	}
	var hint shedHint
	if err := json.Unmarshal([]byte(ce.Text), &hint); err != nil || hint.Code != "overloaded" {
		t.Fatalf("1013 reason %q is not {\"code\":\"overloaded\",...}: %v", ce.Text, err)
	}
	if hint.RetryAfterMS < 1000 || hint.RetryAfterMS > 5000 {
		t.Fatalf("retry_after_ms %d outside 1000..5000", hint.RetryAfterMS)
	}
	return c, false, hint
}

// eventually dials until a socket is admitted, or fails at the deadline.
func eventually(t *testing.T, h *harness, u user, what string) *wsClient {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if c, ok, _ := admitted(t, h, u); ok {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("no socket admitted within 10s %s", what)
		}
		<-tick.C
	}
}

// shedCount reads chat_ws_connections_shed_total{reason} from /metrics.
func shedCount(t *testing.T, h *harness, reason string) int {
	t.Helper()
	_, raw, _ := h.call("GET", "/metrics", user{}, nil)
	prefix := fmt.Sprintf("chat_ws_connections_shed_total{reason=%q} ", reason)
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			var n float64
			fmt.Sscan(v, &n)
			return int(n)
		}
	}
	t.Fatalf("/metrics has no %s", prefix)
	return 0
}

// TestWSAdmissionShedsStorm: a flood of sockets past the admission bucket
// is accepted and closed with 1013 and a jittered retry hint, the admitted
// ones work, and once the bucket refills a new socket is admitted.
func TestWSAdmissionShedsStorm(t *testing.T) {
	h := start(t, map[string]string{"WS_ADMIT_RATE": "1", "WS_ADMIT_BURST": "3", "WS_MAX_CONNS_PER_USER": "1000"})
	alice := h.user(1, "alice")
	const flood = 40
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		kept  []*wsClient
		hints = map[int64]bool{}
	)
	for range flood {
		wg.Go(func() {
			c, ok, hint := admitted(t, h, alice)
			mu.Lock()
			defer mu.Unlock()
			if ok {
				kept = append(kept, c)
			} else {
				hints[hint.RetryAfterMS] = true
			}
		})
	}
	wg.Wait()
	shed := flood - len(kept)
	// 3 in the burst, plus at most a few refilled while the flood ran.
	if len(kept) < 3 || shed < flood/2 {
		t.Fatalf("%d of %d sockets admitted, want the burst (3) and the rest mostly shed", len(kept), flood)
	}
	if len(hints) < 2 {
		t.Fatalf("%d shed sockets all got the same retry hint %v: not jittered", shed, hints)
	}
	if got := shedCount(t, h, "rate"); got != shed {
		t.Fatalf("chat_ws_connections_shed_total{reason=\"rate\"} = %d, want %d", got, shed)
	}
	for _, c := range kept {
		c.subscribe(1, nil)
	}
	c := eventually(t, h, alice, "after the bucket refills")
	c.subscribe(1, nil)
}

// TestWSAdmissionPendingCap: sockets that have not yet authenticated and
// subscribed hold the pending slots; a socket past them is shed, and one
// finishing its subscribe frees a slot.
func TestWSAdmissionPendingCap(t *testing.T) {
	h := start(t, map[string]string{"WS_ADMIT_MAX_PENDING": "2"})
	alice := h.user(1, "alice")
	a, _, err := h.dial(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := h.dial(nil)
	if err != nil {
		t.Fatal(err)
	}
	// a and b are still unauthenticated: a third socket is shed.
	if _, ok, _ := admitted(t, h, alice); ok {
		t.Fatal("a socket past WS_ADMIT_MAX_PENDING=2 was admitted")
	}
	if shedCount(t, h, "pending") < 1 {
		t.Fatal("the pending shed was not counted")
	}
	// Authentication alone keeps the slot; the subscribe after it frees it.
	a.send(map[string]any{"type": "auth", "token": alice.token})
	a.expect("ready")
	a.subscribe(1, nil)
	c := eventually(t, h, alice, "after a pending socket subscribed")
	c.subscribe(1, nil)
	// Closing a pending socket frees its slot too.
	b.conn.Close()
	d := eventually(t, h, alice, "after a pending socket closed")
	d.subscribe(1, nil)
}

// TestWSAdmissionMaxConns: WS_MAX_CONNS caps the replica's open sockets.
func TestWSAdmissionMaxConns(t *testing.T) {
	h := start(t, map[string]string{"WS_MAX_CONNS": "2"})
	alice := h.user(1, "alice")
	a := h.connect(alice)
	a.subscribe(1, nil)
	b := h.connect(alice)
	b.subscribe(1, nil)
	if _, ok, _ := admitted(t, h, alice); ok {
		t.Fatal("a socket past WS_MAX_CONNS=2 was admitted")
	}
	if shedCount(t, h, "max_conns") < 1 {
		t.Fatal("the max_conns shed was not counted")
	}
	a.conn.Close()
	c := eventually(t, h, alice, "after an open socket closed")
	c.subscribe(1, nil)
}
