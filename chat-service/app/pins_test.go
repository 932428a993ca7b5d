package app_test

import (
	"strconv"
	"strings"
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

// A pin and an unpin made through one replica reach a subscriber of the
// other as message_updated, and the other replica lists the pin.
func TestPinAcrossReplicas(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, target sqldb.Target) {
		natsURL := testkit.StartNATS(t)
		is := authntest.New(t)
		env := func() map[string]string {
			return map[string]string{"DATABASE_URL": target.URL(), "JWKS_URL": is.JWKSURL, "NATS_URL": natsURL, "LOG_LEVEL": "warn"}
		}
		a := testkit.Start(t, "chat-a", app.Run, env())
		b := testkit.Start(t, "chat-b", app.Run, env())
		alice := is.Token(t, 1, "alice", authn.RoleUser, time.Hour)
		bob := is.Token(t, 2, "bob", authn.RoleUser, time.Hour)

		conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(b.URL, "http")+"/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		frames := make(chan map[string]any, 64)
		go func() {
			defer close(frames)
			for {
				var f map[string]any
				if err := conn.ReadJSON(&f); err != nil {
					return
				}
				frames <- f
			}
		}()
		next := func(ty string) map[string]any {
			t.Helper()
			timeout := time.After(15 * time.Second)
			for {
				select {
				case f, ok := <-frames:
					if !ok {
						t.Fatalf("closed while waiting for %s", ty)
					}
					if f["type"] == ty {
						m, _ := f["message"].(map[string]any)
						return m
					}
				case <-timeout:
					t.Fatalf("no %s frame within 15s", ty)
				}
			}
		}
		if err := conn.WriteJSON(map[string]any{"type": "auth", "token": bob}); err != nil {
			t.Fatal(err)
		}
		next("ready")
		if err := conn.WriteJSON(map[string]any{"type": "subscribe", "room_id": 1}); err != nil {
			t.Fatal(err)
		}
		next("subscribed")

		var msg struct{ ID int64 }
		mustAPI(t, 201, "POST", a.URL+"/rooms/1/messages", alice, map[string]any{"body": "pin me"}, &msg)
		next("message")
		mustAPI(t, 200, "POST", a.URL+"/rooms/1/pins/"+strconv.FormatInt(msg.ID, 10), alice, nil, nil)
		if m := next("message_updated"); int64(m["id"].(float64)) != msg.ID || m["pinned"] != true {
			t.Fatalf("pin on the other replica = %v", m)
		}
		var l struct {
			Messages []struct {
				ID     int64 `json:"id"`
				Pinned bool  `json:"pinned"`
			} `json:"messages"`
		}
		mustAPI(t, 200, "GET", b.URL+"/rooms/1/pins", bob, nil, &l)
		if len(l.Messages) != 1 || l.Messages[0].ID != msg.ID || !l.Messages[0].Pinned {
			t.Fatalf("pins on the other replica = %+v", l.Messages)
		}
		mustAPI(t, 200, "DELETE", a.URL+"/rooms/1/pins/"+strconv.FormatInt(msg.ID, 10), alice, nil, nil)
		if m := next("message_updated"); int64(m["id"].(float64)) != msg.ID || m["pinned"] != false {
			t.Fatalf("unpin on the other replica = %v", m)
		}
	})
}
