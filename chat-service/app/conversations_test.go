package app_test

import (
	"encoding/json"
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

// A reply sent through one replica reaches a subscriber of the other
// through the broker: the reply as a message event, its root's new reply
// count as message_updated, and — the reply names the subscriber — a
// mention frame.
func TestReplyAndMentionAcrossReplicas(t *testing.T) {
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
						return f
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

		var root struct{ ID, Seq int64 }
		mustAPI(t, 201, "POST", a.URL+"/rooms/1/messages", alice, map[string]any{"body": "root"}, &root)
		var reply struct{ ID int64 }
		mustAPI(t, 201, "POST", a.URL+"/rooms/1/messages", alice, map[string]any{"body": "reply to @bob", "thread_root_id": root.ID}, &reply)
		var m struct {
			Message struct {
				ID           int64      `json:"id"`
				ThreadRootID *int64     `json:"thread_root_id"`
				ReplyCount   int64      `json:"reply_count"`
				LastReplyAt  *time.Time `json:"last_reply_at"`
			} `json:"message"`
		}
		decode := func(f map[string]any) {
			raw, _ := json.Marshal(f)
			m.Message.ThreadRootID, m.Message.LastReplyAt = nil, nil
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
		}
		decode(next("message")) // the root
		decode(next("message"))
		if m.Message.ID != reply.ID || m.Message.ThreadRootID == nil || *m.Message.ThreadRootID != root.ID {
			t.Fatalf("reply on the other replica = %+v", m.Message)
		}
		// The mention and the root's update travel on different subjects:
		// either may come first.
		seen := map[string]bool{}
		timeout := time.After(15 * time.Second)
		for !seen["mention"] || !seen["message_updated"] {
			var f map[string]any
			select {
			case f = <-frames:
			case <-timeout:
				t.Fatalf("within 15s only %v", seen)
			}
			switch f["type"] {
			case "message_updated":
				decode(f)
				if m.Message.ID != root.ID || m.Message.ReplyCount != 1 || m.Message.LastReplyAt == nil {
					t.Fatalf("root update on the other replica = %+v", m.Message)
				}
			case "mention":
				decode(f)
				if m.Message.ID != reply.ID {
					t.Fatalf("mention on the other replica = %+v", m.Message)
				}
			default:
				continue
			}
			seen[f["type"].(string)] = true
		}
	})
}
