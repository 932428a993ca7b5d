package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/authn"
)

func TestWSHandshake(t *testing.T) {
	h := start(t, nil)
	_, resp, err := h.dial(http.Header{"Origin": {"http://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("bad origin: %v %v", resp, err)
	}
	for _, origin := range []string{"http://app.example", "HTTP://APP.EXAMPLE/", ""} {
		hdr := http.Header{}
		if origin != "" {
			hdr.Set("Origin", origin)
		}
		if _, _, err := h.dial(hdr); err != nil {
			t.Fatalf("origin %q refused: %v", origin, err)
		}
	}
	status, raw, _ := h.call("GET", "/ws", user{}, nil)
	if status != 400 || errCode(raw) != "websocket_required" {
		t.Fatalf("plain GET /ws: %d %s", status, raw)
	}
}

func TestWSAuth(t *testing.T) {
	h := start(t, map[string]string{"WS_AUTH_TIMEOUT": "300ms"})
	alice := h.user(1, "alice")

	t.Run("no auth frame", func(t *testing.T) {
		c, _, _ := h.dial(nil)
		if code := c.closeCode(); code != 4401 {
			t.Fatalf("close code %d", code)
		}
	})
	for name, tok := range map[string]string{
		"forged":  alice.token[:len(alice.token)-6] + "AAAAAA",
		"expired": h.is.Token(t, 1, "alice", authn.RoleUser, -time.Hour),
		"empty":   "",
		"garbage": "not.a.jwt",
	} {
		t.Run(name, func(t *testing.T) {
			c, _, _ := h.dial(nil)
			c.send(map[string]any{"type": "auth", "token": tok})
			if code := c.closeCode(); code != 4401 {
				t.Fatalf("close code %d", code)
			}
		})
	}
	t.Run("frames before auth", func(t *testing.T) {
		c, _, _ := h.dial(nil)
		c.send(map[string]any{"type": "subscribe", "room_id": 1})
		c.expectError("unauthenticated")
		c.send(map[string]any{"type": "ping", "ref": "p1"})
		if f := c.expect("pong"); f["ref"] != "p1" {
			t.Fatalf("pong = %v", f)
		}
		c.send(map[string]any{"type": "auth", "token": alice.token})
		ready := c.expect("ready")
		u := ready["user"].(map[string]any)
		if num(u["id"]) != 1 || u["username"] != "alice" || u["role"] != "user" || ready["expires_at"] == "" {
			t.Fatalf("ready = %v", ready)
		}
	})
	t.Run("expiry closes, renewal extends", func(t *testing.T) {
		short := h.is.Token(t, 1, "alice", authn.RoleUser, time.Second)
		c, _, _ := h.dial(nil)
		c.send(map[string]any{"type": "auth", "token": short})
		c.expect("ready")
		start := time.Now()
		if code := c.closeCode(); code != 4401 || time.Since(start) > 5*time.Second {
			t.Fatalf("close code %d after %v", code, time.Since(start))
		}

		renewed, _, _ := h.dial(nil)
		renewed.send(map[string]any{"type": "auth", "token": h.is.Token(t, 1, "alice", authn.RoleUser, time.Second)})
		renewed.expect("ready")
		renewed.send(map[string]any{"type": "auth", "token": alice.token})
		renewed.expect("ready")
		// Past the first token's expiry the connection is still open.
		select {
		case f, ok := <-renewed.frames:
			t.Fatalf("unexpected frame %v (open=%v) before the old expiry passed", f, ok)
		case <-time.After(2500 * time.Millisecond):
		}
		renewed.send(map[string]any{"type": "ping"})
		renewed.expect("pong")
		// A bad renewal is an error, not a close.
		renewed.send(map[string]any{"type": "auth", "token": "bad", "ref": "r1"})
		if f := renewed.expectError("invalid_token"); f["ref"] != "r1" {
			t.Fatalf("renewal error = %v", f)
		}
		renewed.send(map[string]any{"type": "auth", "token": h.user(2, "bob").token})
		if code := renewed.closeCode(); code != 4403 {
			t.Fatalf("other user's token: close %d", code)
		}
	})
}

func TestWSBadFramesKeepConnection(t *testing.T) {
	h := start(t, nil)
	alice := h.user(1, "alice")
	priv := h.createRoom(alice, "private", "private")
	c := h.connect(h.user(2, "bob"))
	c.subscribe(1, nil)
	cases := []struct {
		frame string
		code  string
	}{
		{`{not json`, "invalid_json"},
		{`[1,2]`, "invalid_json"},
		{`"text"`, "invalid_json"},
		{`{"type":"dance"}`, "unknown_type"},
		{`{"type":5}`, "invalid_frame"},
		{`{"type":"send","room_id":1,"body":"","client_msg_id":"a"}`, "empty_body"},
		{`{"type":"send","room_id":1,"body":"  \n ","client_msg_id":"a"}`, "empty_body"},
		{`{"type":"send","room_id":1,"client_msg_id":"a"}`, "empty_body"},
		{`{"type":"send","room_id":1,"body":"` + strings.Repeat("x", 4001) + `","client_msg_id":"a"}`, "body_too_long"},
		{`{"type":"send","room_id":1,"body":"x","client_msg_id":"has space"}`, "invalid_client_msg_id"},
		{`{"type":"send","room_id":` + itoa(priv.ID) + `,"body":"x","client_msg_id":"b"}`, "room_not_found"},
		{`{"type":"send","room_id":999,"body":"x","client_msg_id":"b"}`, "room_not_found"},
		{`{"type":"subscribe","room_id":` + itoa(priv.ID) + `}`, "room_not_found"},
		{`{"type":"subscribe"}`, "invalid_frame"},
		{`{"type":"subscribe","room_id":1,"after_seq":-1}`, "invalid_frame"},
		{`{"type":"read","room_id":1}`, "invalid_seq"},
		{`{"type":"typing","room_id":` + itoa(priv.ID) + `}`, "room_not_found"},
	}
	for _, tc := range cases {
		if err := c.conn.WriteMessage(websocket.TextMessage, []byte(tc.frame)); err != nil {
			t.Fatal(err)
		}
		f := c.next("error")
		if f["code"] != tc.code {
			t.Errorf("frame %.60s: error %v, want %s", tc.frame, f, tc.code)
		}
	}
	if err := c.conn.WriteMessage(websocket.BinaryMessage, []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	c.expectError("invalid_frame")
	// Still open and working.
	c.send(map[string]any{"type": "send", "room_id": 1, "body": "still here", "client_msg_id": "ok-1"})
	if ack := c.expect("ack"); msgOf(ack)["body"] != "still here" {
		t.Fatalf("ack = %v", ack)
	}
}

func TestWSOversizeFrame(t *testing.T) {
	h := start(t, nil)
	c := h.connect(h.user(1, "alice"))
	big := `{"type":"send","room_id":1,"client_msg_id":"big","body":"` + strings.Repeat("x", 70<<10) + `"}`
	// The write may itself fail part-way: the server closes as soon as the
	// limit is crossed.
	_ = c.conn.WriteMessage(websocket.TextMessage, []byte(big))
	if code := c.closeCode(); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
}

func TestWSSendAckAndIdempotentRetry(t *testing.T) {
	h := start(t, nil)
	alice, bob := h.user(1, "alice"), h.user(2, "bob")
	a, b := h.connect(alice), h.connect(bob)
	a.subscribe(1, nil)
	sub := b.subscribe(1, nil)
	if num(sub["room_id"]) != 1 || num(sub["last_seq"]) != 0 {
		t.Fatalf("subscribed = %v", sub)
	}

	a.send(map[string]any{"type": "send", "room_id": 1, "body": "hello", "client_msg_id": "m-1"})
	// The sender gets both the ack and (subscribed) the message event, in
	// either order.
	var ack, own map[string]any
	for ack == nil || own == nil {
		f := a.next("ack", "message")
		if f["type"] == "ack" {
			ack = f
		} else {
			own = f
		}
	}
	m := msgOf(ack)
	if ack["client_msg_id"] != "m-1" || m["body"] != "hello" || num(m["seq"]) != 1 || m["username"] != "alice" || m["client_msg_id"] != "m-1" {
		t.Fatalf("ack = %v", ack)
	}
	if got := msgOf(b.next("message")); num(got["id"]) != num(m["id"]) {
		t.Fatalf("bob got %v", got)
	}
	if got := msgOf(own); num(got["id"]) != num(m["id"]) {
		t.Fatalf("alice's own message event = %v", got)
	}

	// Retry: the same message comes back and nobody sees it twice.
	a.send(map[string]any{"type": "send", "room_id": 1, "body": "hello (retry)", "client_msg_id": "m-1"})
	retry := a.expect("ack")
	if num(msgOf(retry)["id"]) != num(m["id"]) || msgOf(retry)["body"] != "hello" {
		t.Fatalf("retry ack = %v", retry)
	}
	a.send(map[string]any{"type": "send", "room_id": 1, "body": "second", "client_msg_id": "m-2"})
	a.expect("ack")
	if got := msgOf(b.next("message")); got["body"] != "second" || num(got["seq"]) != 2 {
		t.Fatalf("after retry bob got %v, want the second message", got)
	}
	// HTTP and WebSocket share the idempotency key.
	var viaHTTP chat.Message
	h.must(201, "POST", "/rooms/1/messages", alice, map[string]any{"body": "x", "client_msg_id": "m-2"}, &viaHTTP)
	if viaHTTP.Seq != 2 {
		t.Fatalf("HTTP retry of a WebSocket send = %+v", viaHTTP)
	}
}

func TestWSSendRateLimit(t *testing.T) {
	h := start(t, map[string]string{"SEND_RATE": "0.5", "SEND_BURST": "2"})
	a := h.connect(h.user(1, "alice"))
	for i := range 2 {
		a.send(map[string]any{"type": "send", "room_id": 1, "body": "x", "client_msg_id": fmt.Sprint("r", i)})
		a.expect("ack")
	}
	a.send(map[string]any{"type": "send", "room_id": 1, "body": "x", "client_msg_id": "r2"})
	f := a.expectError("rate_limited")
	if f["ref"] != "r2" || num(f["retry_after_ms"]) < 1000 {
		t.Fatalf("rate limit error = %v", f)
	}
}

// TestWSResume disconnects a client, lets messages arrive, and resumes with
// after_seq: the missed messages come first, then live ones, each once.
func TestWSResume(t *testing.T) {
	h := start(t, nil)
	alice, bob := h.user(1, "alice"), h.user(2, "bob")
	a := h.connect(alice)
	a.subscribe(1, nil)
	for i := 1; i <= 3; i++ {
		h.post(bob, 1, fmt.Sprint("m", i), "")
		if got := msgOf(a.next("message")); num(got["seq"]) != int64(i) {
			t.Fatalf("got %v", got)
		}
	}
	a.conn.Close()
	for i := 4; i <= 6; i++ {
		h.post(bob, 1, fmt.Sprint("m", i), "")
	}
	// Edits to missed messages are visible in the replay (current state).
	var m5 chat.Message
	h.must(200, "GET", "/rooms/1/messages?after_seq=4&limit=1", bob, nil, &struct{ Messages *[]chat.Message }{&[]chat.Message{}})
	h.must(200, "PATCH", "/messages/5", bob, map[string]any{"body": "m5 edited"}, &m5)

	a = h.connect(alice)
	after := int64(3)
	a.send(map[string]any{"type": "subscribe", "room_id": 1, "after_seq": after})
	var seqs []int64
	for len(seqs) < 3 {
		f := a.next("message", "subscribed")
		if f["type"] == "subscribed" {
			t.Fatalf("subscribed before the replay finished: %v", seqs)
		}
		m := msgOf(f)
		seqs = append(seqs, num(m["seq"]))
		if num(m["seq"]) == 5 && m["body"] != "m5 edited" {
			t.Fatalf("replayed m5 = %v", m)
		}
	}
	if sub := a.expect("subscribed"); num(sub["last_seq"]) != 6 {
		t.Fatalf("subscribed = %v", sub)
	}
	h.post(bob, 1, "m7", "")
	if got := msgOf(a.next("message")); num(got["seq"]) != 7 {
		t.Fatalf("live after replay = %v", got)
	}
	if fmt.Sprint(seqs) != "[4 5 6]" {
		t.Fatalf("replayed %v", seqs)
	}
	// An after_seq past the end is clamped, so nothing is hidden.
	b := h.connect(bob)
	far := int64(1000)
	if sub := b.subscribe(1, &far); num(sub["last_seq"]) != 7 {
		t.Fatalf("clamped subscribe = %v", sub)
	}
	h.post(alice, 1, "m8", "")
	if got := msgOf(b.next("message")); num(got["seq"]) != 8 {
		t.Fatalf("after clamped subscribe = %v", got)
	}
}

// TestWSResumeSeamUnderLoad subscribes with after_seq while senders keep
// posting: the client must see every seq after after_seq exactly once, in
// order, whether broadcasts are written at once (0), coalesced with the
// default window ("") or with a longer one.
func TestWSResumeSeamUnderLoad(t *testing.T) {
	for _, delay := range []string{"0", "", "20ms"} {
		t.Run("write delay "+delay, func(t *testing.T) { testResumeSeam(t, delay) })
	}
}

func testResumeSeam(t *testing.T, writeDelay string) {
	h := start(t, map[string]string{"WS_WRITE_DELAY": writeDelay})
	const senders, each = 3, 60
	room := h.createRoom(h.user(1, "alice"), "busy", "public")
	users := make([]user, senders)
	for i := range users {
		users[i] = h.user(int64(10+i), fmt.Sprint("sender", i))
		h.must(200, "POST", "/rooms/"+itoa(room.ID)+"/join", users[i], nil, nil)
	}
	reader := h.connect(h.user(2, "reader"))
	var wg sync.WaitGroup
	started := make(chan struct{})
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				if i == 0 && j == 20 {
					close(started)
				}
				h.post(u, room.ID, fmt.Sprintf("%d/%d", i, j), "")
			}
		}()
	}
	<-started
	after := int64(5)
	reader.send(map[string]any{"type": "subscribe", "room_id": room.ID, "after_seq": after})
	wg.Wait()
	total := int64(senders * each)
	seen := map[int64]bool{}
	last := after
	for last < total {
		m := msgOf(reader.next("message"))
		seq := num(m["seq"])
		if seen[seq] {
			t.Fatalf("seq %d delivered twice", seq)
		}
		if seq != last+1 {
			t.Fatalf("seq %d after %d: gap or reorder", seq, last)
		}
		seen[seq] = true
		last = seq
	}
}

func TestWSLiveEvents(t *testing.T) {
	h := start(t, map[string]string{})
	alice, bob, carol := h.user(1, "alice"), h.user(2, "bob"), h.user(3, "carol")
	a, b := h.connect(alice), h.connect(bob)
	a.subscribe(1, nil)
	b.subscribe(1, nil)
	m := h.post(alice, 1, "original", "")
	b.next("message")

	t.Run("typing", func(t *testing.T) {
		a.send(map[string]any{"type": "typing", "room_id": 1})
		a.send(map[string]any{"type": "typing", "room_id": 1}) // throttled
		a.send(map[string]any{"type": "send", "room_id": 1, "body": "after typing", "client_msg_id": "t1"})
		f := b.next("typing", "message")
		if f["type"] != "typing" || num(f["user_id"]) != 1 || f["username"] != "alice" || num(f["room_id"]) != 1 {
			t.Fatalf("typing = %v", f)
		}
		if f := b.next("typing", "message"); f["type"] != "message" {
			t.Fatalf("second typing was not throttled: %v", f)
		}
		// The typist does not hear themself.
		if f := a.next("typing", "ack"); f["type"] != "ack" {
			t.Fatalf("alice got %v", f)
		}
	})
	t.Run("edit", func(t *testing.T) {
		h.must(200, "PATCH", "/messages/"+itoa(m.ID), alice, map[string]any{"body": "edited"}, nil)
		f := msgOf(b.next("message_updated"))
		if num(f["id"]) != m.ID || f["body"] != "edited" || f["edited_at"] == nil {
			t.Fatalf("message_updated = %v", f)
		}
	})
	t.Run("reaction", func(t *testing.T) {
		h.must(200, "POST", "/messages/"+itoa(m.ID)+"/reactions/"+url.PathEscape("🎉"), bob, nil, nil)
		f := b.next("reaction")
		rs := f["reactions"].([]any)
		if num(f["message_id"]) != m.ID || f["emoji"] != "🎉" || f["added"] != true || num(f["user_id"]) != 2 || len(rs) != 1 {
			t.Fatalf("reaction = %v", f)
		}
		h.must(200, "DELETE", "/messages/"+itoa(m.ID)+"/reactions/"+url.PathEscape("🎉"), bob, nil, nil)
		if f := a.next("reaction"); f["added"] != true {
			t.Fatalf("alice's first reaction event = %v", f)
		}
		if f := a.next("reaction"); f["added"] != false || len(f["reactions"].([]any)) != 0 {
			t.Fatalf("reaction removed = %v", f)
		}
	})
	t.Run("delete", func(t *testing.T) {
		h.must(200, "DELETE", "/messages/"+itoa(m.ID), alice, nil, nil)
		f := b.next("message_deleted")
		if num(f["message_id"]) != m.ID || num(f["seq"]) != m.Seq || msgOf(f)["deleted"] != true || msgOf(f)["body"] != "" {
			t.Fatalf("message_deleted = %v", f)
		}
	})
	t.Run("read marker reaches the reader's other connections", func(t *testing.T) {
		b2 := h.connect(bob)
		b.send(map[string]any{"type": "read", "room_id": 1, "seq": 2})
		f := b2.next("read")
		if num(f["room_id"]) != 1 || num(f["last_read_seq"]) != 2 {
			t.Fatalf("read = %v", f)
		}
	})
	t.Run("room and membership", func(t *testing.T) {
		priv := h.createRoom(alice, "inner", "private")
		a.subscribe(priv.ID, nil)
		h.must(201, "POST", "/rooms/"+itoa(priv.ID)+"/members", alice, map[string]any{"user_id": 2}, nil)
		// bob is told on every connection, subscribed or not.
		f := b.next("member_joined")
		if num(f["room_id"]) != priv.ID || num(f["member"].(map[string]any)["user_id"]) != 2 || f["room"].(map[string]any)["name"] != "inner" {
			t.Fatalf("member_joined = %v", f)
		}
		// It says who added him, so his page can say "Alice added you".
		if by, _ := f["added_by"].(map[string]any); by == nil || num(by["user_id"]) != 1 || by["username"] != "alice" {
			t.Fatalf("member_joined added_by = %v", f["added_by"])
		}
		a.next("member_joined")
		b.subscribe(priv.ID, nil)
		h.must(200, "PATCH", "/rooms/"+itoa(priv.ID), alice, map[string]any{"name": "inner2"}, nil)
		if f := b.next("room_updated"); f["room"].(map[string]any)["name"] != "inner2" || f["deleted"] != false {
			t.Fatalf("room_updated = %v", f)
		}
		// Kicked from a private room: told, then cut off.
		h.must(204, "DELETE", "/rooms/"+itoa(priv.ID)+"/members/2", alice, nil, nil)
		if f := b.next("member_left"); num(f["user_id"]) != 2 || num(f["removed_by"]) != 1 {
			t.Fatalf("member_left = %v", f)
		}
		h.post(alice, priv.ID, "after the kick", "")
		h.post(alice, 1, "in general", "")
		if f := msgOf(b.next("message")); num(f["room_id"]) != 1 {
			t.Fatalf("bob still receives the private room: %v", f)
		}
		// Deleting the room tells its subscribers.
		h.must(204, "DELETE", "/rooms/"+itoa(priv.ID), alice, nil, nil)
		if f := a.next("room_updated"); f["deleted"] != false {
			t.Fatalf("rename = %v", f)
		}
		if f := a.next("room_updated"); f["deleted"] != true || num(f["room"].(map[string]any)["id"]) != priv.ID {
			t.Fatalf("room deleted = %v", f)
		}
		_ = carol
	})
}

func TestWSPresence(t *testing.T) {
	h := start(t, nil)
	alice, bob := h.user(1, "alice"), h.user(2, "bob")
	a := h.connect(alice)
	a.subscribe(1, nil)
	pa := newPresenceView(1)
	if f := a.next("presence"); f["online"] == nil || f["count"] == nil {
		t.Fatalf("first presence = %v", f)
	} else {
		pa.apply(t, f)
	}
	b := h.connect(bob)
	b.subscribe(1, nil)
	waitPresence(t, a, pa, "alice,bob")
	var online struct{ Online []chat.UserRef }
	h.must(200, "GET", "/rooms/1/online", alice, nil, &online)
	if len(online.Online) != 2 || online.Online[0].Username != "alice" || online.Online[1].UserID != 2 {
		t.Fatalf("online = %+v", online)
	}
	// A second connection of bob's does not duplicate him; closing one keeps him.
	b2 := h.connect(bob)
	b2.subscribe(1, nil)
	b2.conn.Close()
	b.send(map[string]any{"type": "unsubscribe", "room_id": 1})
	waitPresence(t, a, pa, "alice")
}

// TestWSSlowConsumer stops reading while messages pour in: the server must
// close the connection with 1013 instead of buffering without bound or
// slowing anyone else.
func TestWSSlowConsumer(t *testing.T) {
	h := start(t, map[string]string{"WS_QUEUE_SIZE": "8"})
	alice, bob := h.user(1, "alice"), h.user(2, "bob")
	d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(64 << 10)
		}
		return c, err
	}}
	slow, _, err := d.Dial(h.ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	slow.WriteJSON(map[string]any{"type": "auth", "token": bob.token})
	slow.WriteJSON(map[string]any{"type": "subscribe", "room_id": 1})
	for {
		var f map[string]any
		if err := slow.ReadJSON(&f); err != nil {
			t.Fatal(err)
		}
		if f["type"] == "subscribed" {
			break
		}
	}
	// A healthy client in the same room keeps getting everything.
	fast := h.connect(alice)
	fast.subscribe(1, nil)
	// 16 KB frames fill the socket buffers (Linux grows a loopback send
	// buffer up to 4 MiB) and then the 8-frame queue. Post until the server
	// reports the slow consumer, then read. The healthy client reads each
	// message before the next is posted, so however loaded the machine, it
	// is never more than one frame behind and must never be dropped.
	body := strings.Repeat("😀", 4000)
	n := 0
	for n < 2000 && slowConsumers(t, h) == 0 {
		for range 5 {
			n++
			h.post(alice, 1, body, fmt.Sprint("s", n))
			if got := num(msgOf(fast.next("message"))["seq"]); got != int64(n) {
				t.Fatalf("fast client got seq %d, want %d", got, n)
			}
		}
	}
	if slowConsumers(t, h) == 0 {
		t.Fatalf("no slow consumer after %d messages", n)
	}
	frames := 0
	_ = slow.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, _, err := slow.ReadMessage()
		if err == nil {
			frames++
			continue
		}
		ce, ok := err.(*websocket.CloseError)
		if !ok || ce.Code != websocket.CloseTryAgainLater {
			t.Fatalf("slow client ended with %v after %d frames, want close 1013", err, frames)
		}
		break
	}
	if frames >= n {
		t.Fatalf("slow client read all %d frames; nothing was dropped", frames)
	}
	// The healthy client is still connected and served.
	n++
	h.post(alice, 1, "after the flood", fmt.Sprint("s", n))
	if got := num(msgOf(fast.next("message"))["seq"]); got != int64(n) {
		t.Fatalf("after the slow client's close, the fast client got seq %d, want %d", got, n)
	}
}

// slowConsumers reads chat_ws_slow_consumers_total from /metrics.
func slowConsumers(t *testing.T, h *harness) int {
	t.Helper()
	_, raw, _ := h.call("GET", "/metrics", user{}, nil)
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "chat_ws_slow_consumers_total "); ok {
			var n float64
			fmt.Sscan(v, &n)
			return int(n)
		}
	}
	return 0
}

func TestWSGracefulShutdown(t *testing.T) {
	h := start(t, nil)
	a := h.connect(h.user(1, "alice"))
	a.subscribe(1, nil)
	done := make(chan error, 1)
	go func() { done <- h.svc.Stop() }()
	if code := a.closeCode(); code != websocket.CloseServiceRestart {
		t.Fatalf("close code %d, want 1012", code)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestNoGoroutineLeak runs a full session and checks that stopping the
// service leaves no goroutine behind.
func TestNoGoroutineLeak(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections()
		goleak.VerifyNone(t, ignore)
	})
	h := start(t, nil)
	alice, bob := h.user(1, "alice"), h.user(2, "bob")
	a, b := h.connect(alice), h.connect(bob)
	a.subscribe(1, nil)
	after := int64(0)
	b.subscribe(1, &after)
	a.send(map[string]any{"type": "send", "room_id": 1, "body": "bye", "client_msg_id": "x"})
	b.next("message")
	a.send(map[string]any{"type": "typing", "room_id": 1})
	b.next("typing")
	unauth, _, _ := h.dial(nil)
	_ = unauth
	a.conn.Close()
	if err := h.svc.Stop(); err != nil {
		t.Fatal(err)
	}
	b.closeCode()
}

func TestWSFrameJSON(t *testing.T) {
	// Every frame is exactly one JSON object with a type.
	h := start(t, nil)
	a := h.connect(h.user(1, "alice"))
	a.subscribe(1, nil)
	a.send(map[string]any{"type": "send", "room_id": 1, "body": "x", "client_msg_id": "j"})
	for range 2 {
		f := a.next("ack", "message")
		raw, _ := json.Marshal(f)
		if !strings.HasPrefix(string(raw), "{") {
			t.Fatalf("frame %s", raw)
		}
	}
}

// TestWSResumeFromZeroAndReplayCap: after_seq=0 means "everything", on
// HTTP and on subscribe; a replay longer than WS_MAX_REPLAY sends the oldest
// missed messages in order, then subscribed {"more": true}, and the client
// pages the rest over HTTP from last_seq, ending with every message.
func TestWSResumeFromZeroAndReplayCap(t *testing.T) {
	h := start(t, map[string]string{"WS_MAX_REPLAY": "5"})
	alice, bob := h.user(1, "alice"), h.user(2, "bob")
	for i := 1; i <= 12; i++ {
		h.post(bob, 1, fmt.Sprint("m", i), "")
	}
	var page struct {
		Messages []chat.Message `json:"messages"`
	}
	h.must(200, "GET", "/rooms/1/messages?after_seq=0&limit=3", alice, nil, &page)
	if len(page.Messages) != 3 || page.Messages[0].Seq != 1 || page.Messages[2].Seq != 3 {
		t.Fatalf("after_seq=0 over HTTP = %+v, want seqs 1..3", page.Messages)
	}
	h.must(200, "GET", "/rooms/1/messages?limit=3", alice, nil, &page)
	if len(page.Messages) != 3 || page.Messages[0].Seq != 10 {
		t.Fatalf("no after_seq over HTTP = %+v, want the newest page 10..12", page.Messages)
	}

	a := h.connect(alice)
	a.send(map[string]any{"type": "subscribe", "room_id": 1, "after_seq": 0})
	var seqs []int64
	var sub map[string]any
	for sub == nil {
		f := a.next("message", "subscribed")
		if f["type"] == "subscribed" {
			sub = f
			break
		}
		seqs = append(seqs, num(msgOf(f)["seq"]))
	}
	if fmt.Sprint(seqs) != "[1 2 3 4 5]" || num(sub["last_seq"]) != 5 || sub["more"] != true {
		t.Fatalf("capped replay = %v then %v, want [1 2 3 4 5] then last_seq 5, more", seqs, sub)
	}
	for after := num(sub["last_seq"]); ; {
		h.must(200, "GET", "/rooms/1/messages?after_seq="+itoa(after)+"&limit=4", alice, nil, &page)
		if len(page.Messages) == 0 {
			break
		}
		for _, m := range page.Messages {
			seqs = append(seqs, m.Seq)
			after = m.Seq
		}
	}
	if fmt.Sprint(seqs) != "[1 2 3 4 5 6 7 8 9 10 11 12]" {
		t.Fatalf("replay + pages = %v", seqs)
	}

	// A replay within the cap ends with more=false.
	b := h.connect(bob)
	nine := int64(9)
	b.send(map[string]any{"type": "subscribe", "room_id": 1, "after_seq": nine})
	for i := 10; i <= 12; i++ {
		if got := num(msgOf(b.next("message"))["seq"]); got != int64(i) {
			t.Fatalf("replay after 9: got seq %d, want %d", got, i)
		}
	}
	if sub := b.expect("subscribed"); num(sub["last_seq"]) != 12 || sub["more"] != false {
		t.Fatalf("subscribed = %v, want last_seq 12, more false", sub)
	}
}

// TestWSConnectionCapPerUser: a user's socket past WS_MAX_CONNS_PER_USER is
// closed with 4429 after its auth frame; other users are not affected, and
// a slot freed by a closed socket can be used again.
func TestWSConnectionCapPerUser(t *testing.T) {
	h := start(t, map[string]string{"WS_MAX_CONNS_PER_USER": "2"})
	alice, bob := h.user(1, "alice"), h.user(2, "bob")
	a1, a2 := h.connect(alice), h.connect(alice)
	a3, _, err := h.dial(nil)
	if err != nil {
		t.Fatal(err)
	}
	a3.send(map[string]any{"type": "auth", "token": alice.token})
	if code := a3.closeCode(); code != 4429 {
		t.Fatalf("third socket closed with %d, want 4429", code)
	}
	h.connect(bob) // another user is not counted against alice
	a1.subscribe(1, nil)
	a2.conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, _, err := h.dial(nil)
		if err != nil {
			t.Fatal(err)
		}
		c.send(map[string]any{"type": "auth", "token": alice.token})
		ready := false
		for f := range c.frames { // closed when the server closes the socket
			if f["type"] == "ready" {
				ready = true
				break
			}
		}
		if ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a closed socket's slot was not freed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRESTRateLimitPerUser: chat-service limits each user's REST requests
// itself (it is reachable without the gateway): past the burst a user gets
// 429 rate_limited with Retry-After, while another user is unaffected.
func TestRESTRateLimitPerUser(t *testing.T) {
	h := start(t, map[string]string{"USER_RATE_LIMIT_RPS": "0.5", "USER_RATE_LIMIT_BURST": "3"})
	alice, bob := h.user(1, "alice"), h.user(2, "bob")
	for i := 0; i < 3; i++ {
		h.must(200, "GET", "/rooms", alice, nil, nil)
	}
	status, raw, hdr := h.call("GET", "/rooms", alice, nil)
	if status != 429 || errCode(raw) != "rate_limited" || hdr.Get("Retry-After") == "" {
		t.Fatalf("request past the burst = %d %s (Retry-After %q), want 429 rate_limited", status, raw, hdr.Get("Retry-After"))
	}
	h.must(200, "GET", "/rooms", bob, nil, nil)
	// Without a valid token the request is refused before it can spend
	// anyone's tokens.
	if status, _, _ := h.call("GET", "/rooms", user{token: "forged"}, nil); status != 401 {
		t.Fatalf("forged token = %d, want 401", status)
	}
}
