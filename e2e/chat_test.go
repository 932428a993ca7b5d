package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

type room struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Unread   int64  `json:"unread"`
	IsMember bool   `json:"is_member"`
	LastSeq  int64  `json:"last_seq"`
}

type message struct {
	ID     int64  `json:"id"`
	RoomID int64  `json:"room_id"`
	Seq    int64  `json:"seq"`
	UserID int64  `json:"user_id"`
	Body   string `json:"body"`
}

func register(t *testing.T, anon *api, name string) (*api, session) {
	t.Helper()
	var s session
	anon.must(201, "POST", "/api/auth/register", map[string]string{"username": name, "password": "password-" + name}, &s)
	return anon.with(s.AccessToken), s
}

type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

func dialChat(t *testing.T, s *stack, token string) *wsClient {
	t.Helper()
	hdr := http.Header{"Origin": []string{s.FrontendURL}}
	conn, resp, err := websocket.DefaultDialer.Dial(s.ChatWS, hdr)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", s.ChatWS, err, resp)
	}
	t.Cleanup(func() { conn.Close() })
	c := &wsClient{t: t, conn: conn}
	c.send(map[string]any{"type": "auth", "token": token})
	c.await("ready")
	return c
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	if err := c.conn.WriteJSON(v); err != nil {
		c.t.Fatal(err)
	}
}

// await reads frames until one of the given type arrives (others, such as
// presence, are skipped) and returns it raw.
func (c *wsClient) await(typ string) map[string]json.RawMessage {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var f map[string]json.RawMessage
		if err := c.conn.ReadJSON(&f); err != nil {
			c.t.Fatalf("waiting for %q: %v", typ, err)
		}
		var got string
		_ = json.Unmarshal(f["type"], &got)
		if got == typ {
			return f
		}
		if got == "error" {
			c.t.Fatalf("waiting for %q got error frame %s", typ, f["message"])
		}
	}
}

func (c *wsClient) awaitMessage() message {
	c.t.Helper()
	var m message
	if err := json.Unmarshal(c.await("message")["message"], &m); err != nil {
		c.t.Fatal(err)
	}
	return m
}

// TestChatThroughGateway drives rooms and messages over the gateway's HTTP
// API while a second user listens on chat-service's WebSocket.
func TestChatThroughGateway(t *testing.T) {
	s := startStack(t)
	anon := &api{t: t, base: s.Gateway.URL}
	alice, as := register(t, anon, "alice")
	bob, bs := register(t, anon, "bob")

	var general struct {
		Rooms []room `json:"rooms"`
	}
	alice.must(200, "GET", "/api/chat/rooms", nil, &general)
	if len(general.Rooms) == 0 || general.Rooms[0].Name != "General" {
		t.Fatalf("rooms on first start = %+v, want General", general.Rooms)
	}

	var r room
	alice.must(201, "POST", "/api/chat/rooms", map[string]string{"name": "design", "description": "pixels", "kind": "public"}, &r)
	rid := strconv.FormatInt(r.ID, 10)
	bob.must(200, "POST", "/api/chat/rooms/"+rid+"/join", nil, nil)

	var first message
	alice.must(201, "POST", "/api/chat/rooms/"+rid+"/messages", map[string]string{"body": "hello bob", "client_msg_id": "c-1"}, &first)
	var again message
	alice.must(201, "POST", "/api/chat/rooms/"+rid+"/messages", map[string]string{"body": "hello bob", "client_msg_id": "c-1"}, &again)
	if again.ID != first.ID || again.Seq != first.Seq {
		t.Fatalf("retried send made a new message: %+v vs %+v", again, first)
	}

	ws := dialChat(t, s, bs.AccessToken)
	ws.send(map[string]any{"type": "subscribe", "room_id": r.ID, "after_seq": 0})
	if m := ws.awaitMessage(); m.ID != first.ID || m.Body != "hello bob" {
		t.Fatalf("replay = %+v", m)
	}
	var second message
	alice.must(201, "POST", "/api/chat/rooms/"+rid+"/messages", map[string]string{"body": "live now"}, &second)
	if m := ws.awaitMessage(); m.ID != second.ID || m.Seq != first.Seq+1 {
		t.Fatalf("live message = %+v, want seq %d", m, first.Seq+1)
	}
	// Bob answers over the socket; Alice sees it in history.
	ws.send(map[string]any{"type": "send", "room_id": r.ID, "body": "hi alice", "client_msg_id": "b-1"})
	ws.await("ack")

	var hist struct {
		Messages []message `json:"messages"`
	}
	alice.must(200, "GET", "/api/chat/rooms/"+rid+"/messages?limit=10", nil, &hist)
	if len(hist.Messages) != 3 || hist.Messages[2].Body != "hi alice" {
		t.Fatalf("history = %+v", hist.Messages)
	}
	for i, m := range hist.Messages {
		if m.Seq != first.Seq+int64(i) {
			t.Fatalf("history seqs not gap-free: %+v", hist.Messages)
		}
	}

	var aliceRooms struct {
		Rooms []room `json:"rooms"`
	}
	alice.must(200, "GET", "/api/chat/rooms", nil, &aliceRooms)
	for _, x := range aliceRooms.Rooms {
		if x.ID == r.ID && x.Unread != 1 {
			t.Fatalf("alice's unread in %s = %d, want 1 (bob's reply)", x.Name, x.Unread)
		}
	}
	alice.must(200, "POST", "/api/chat/rooms/"+rid+"/read", map[string]int64{"seq": hist.Messages[2].Seq}, nil)
	alice.must(200, "GET", "/api/chat/rooms", nil, &aliceRooms)
	for _, x := range aliceRooms.Rooms {
		if x.ID == r.ID && x.Unread != 0 {
			t.Fatalf("unread after read marker = %d", x.Unread)
		}
	}

	// A private room is invisible to a non-member.
	var secret room
	alice.must(201, "POST", "/api/chat/rooms", map[string]string{"name": "secret", "kind": "private"}, &secret)
	sid := strconv.FormatInt(secret.ID, 10)
	for _, path := range []string{"/api/chat/rooms/" + sid, "/api/chat/rooms/" + sid + "/messages"} {
		if resp := bob.do("GET", path, nil); resp.Status != 404 {
			t.Fatalf("non-member GET %s = %d", path, resp.Status)
		}
	}
	var bobRooms struct {
		Rooms []room `json:"rooms"`
	}
	bob.must(200, "GET", "/api/chat/rooms", nil, &bobRooms)
	for _, x := range bobRooms.Rooms {
		if x.ID == secret.ID {
			t.Fatal("private room listed for a non-member")
		}
	}
	ws.send(map[string]any{"type": "subscribe", "room_id": secret.ID})
	if f := ws.await("error"); f == nil {
		t.Fatal("subscribe to a hidden room gave no error")
	}

	// Another user's message cannot be edited; stats come through user-service.
	if resp := bob.do("PATCH", fmt.Sprintf("/api/chat/messages/%d", first.ID), map[string]string{"body": "hacked"}); resp.Status != 403 {
		t.Fatalf("edit of another's message = %d", resp.Status)
	}
	var stats struct {
		MessagesSent int64 `json:"messages_sent"`
		RoomsCreated int64 `json:"rooms_created"`
		Degraded     bool  `json:"degraded"`
	}
	bob.must(200, "GET", fmt.Sprintf("/api/users/stats/%d", as.User.ID), nil, &stats)
	if stats.Degraded || stats.MessagesSent != 2 || stats.RoomsCreated != 2 {
		t.Fatalf("alice's stats = %+v", stats)
	}
}
