package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/chat-service/internal/httpapi"
	"github.com/parleychat/parley/chat-service/internal/hub"
	"github.com/parleychat/parley/chat-service/internal/store"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/authn/authntest"
	"github.com/parleychat/parley/platform/broker"
	"github.com/parleychat/parley/platform/httpx"
	"github.com/parleychat/parley/platform/sqldb"
)

// serverFrames are the frame types chat-service may send a client.
var serverFrames = map[string]bool{
	"ready": true, "ack": true, "pong": true, "error": true, "subscribed": true,
	chat.EventMessage: true, chat.EventMessageUpdated: true, chat.EventMessageDeleted: true, chat.EventReaction: true,
	chat.EventTyping: true, chat.EventPresence: true, chat.EventPresenceDelta: true, chat.EventRoomUpdated: true, chat.EventMemberJoined: true,
	chat.EventMemberLeft: true, chat.EventRead: true,
}

// fuzzTokenMark in a fuzzed frame is replaced by a valid token of the
// fuzzing user, so that seeds (and what the fuzzer grows from them) reach
// past the token check.
const fuzzTokenMark = "$TOKEN"

// FuzzWSFrame sends arbitrary bytes as one client frame to a real
// chat-service WebSocket (the routes, frame decoding and dispatch of
// ws.go, the hub, the service and a SQLite store), on a connection that
// authenticated first or (authed=false) did not. The server must not panic
// (a panic on its goroutines ends this process) and must answer only with
// well-formed frames: a JSON object of a known type, an error frame with a
// code and a message. The connection may close only as the protocol says:
// 4401 for a failed first auth, 1009 for a frame over the read limit. A
// ping after the frame must still be answered, so the frame was handled in
// order and left the connection usable.
func FuzzWSFrame(f *testing.F) {
	url, token := startFuzzServer(f)
	// Seeds: testdata/fuzz/FuzzWSFrame (one real frame of each kind, and
	// malformed ones); crashers found by -fuzz are kept there too.
	f.Fuzz(func(t *testing.T, frame []byte, authed bool) {
		if len(frame) > 16<<10 {
			return // the read limit (64 KiB) has its own test
		}
		frame = bytes.ReplaceAll(frame, []byte(fuzzTokenMark), []byte(token))
		d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
		ws, _, err := d.Dial(url, nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer ws.Close()
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		if authed {
			if err := ws.WriteJSON(map[string]string{"type": "auth", "token": token}); err != nil {
				t.Fatal(err)
			}
			if f := readFrame(t, ws, frame); f["type"] != "ready" {
				t.Fatalf("answer to auth: %v", f)
			}
		}
		if err := ws.WriteMessage(websocket.TextMessage, frame); err != nil {
			t.Fatal(err)
		}
		if err := ws.WriteJSON(map[string]string{"type": "ping", "ref": "fuzz-end"}); err != nil {
			t.Fatal(err)
		}
		for {
			_, data, err := ws.ReadMessage()
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				if !authed && ce.Code == hub.CloseUnauthenticated {
					return // a failed first auth
				}
				t.Fatalf("frame %q closed the connection: %v", frame, err)
			}
			if err != nil {
				t.Fatalf("frame %q: read: %v", frame, err)
			}
			f := checkFrame(t, frame, data)
			if f["type"] == "pong" && f["ref"] == "fuzz-end" {
				return
			}
		}
	})
}

func readFrame(t *testing.T, ws *websocket.Conn, sent []byte) map[string]any {
	t.Helper()
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("frame %q: read: %v", sent, err)
	}
	return checkFrame(t, sent, data)
}

// checkFrame fails unless data is a well-formed server frame.
func checkFrame(t *testing.T, sent, data []byte) map[string]any {
	t.Helper()
	var f map[string]any
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("frame %q answered with %q, not a JSON object", sent, data)
	}
	typ, _ := f["type"].(string)
	if !serverFrames[typ] {
		t.Fatalf("frame %q answered with a frame of unknown type: %s", sent, data)
	}
	if typ == "error" {
		code, _ := f["code"].(string)
		msg, _ := f["message"].(string)
		if code == "" || msg == "" || code == "internal" {
			t.Fatalf("frame %q answered with a bad error frame: %s", sent, data)
		}
	}
	return f
}

// startFuzzServer runs chat-service's routes on a loopback server, wired as
// app.run wires them, but with the frame and send limits lifted: the
// fuzzer sends thousands of frames a second as one user.
func startFuzzServer(f *testing.F) (wsURL, token string) {
	f.Helper()
	ctx := context.Background()
	is := authntest.New(f)
	token = is.Token(f, 1, "fuzzer", authn.RoleUser, 24*time.Hour)
	log := slog.New(slog.DiscardHandler)
	db, err := sqldb.OpenSchema(ctx, sqldb.Target{Dialect: sqldb.SQLite, Path: filepath.Join(f.TempDir(), "chat.db")}, store.Schema)
	if err != nil {
		f.Fatal(err)
	}
	b := broker.NewMemory()
	reg := prometheus.NewRegistry()
	hb, err := hub.New(hub.Options{Broker: b, Logger: log, ReplicaID: hub.NewReplicaID(), Registry: reg, MaxConnsPerUser: 1 << 15})
	if err != nil {
		f.Fatal(err)
	}
	verifier, err := authn.NewJWKSVerifier(ctx, is.JWKSURL, authn.DefaultIssuer, authn.DefaultAudience)
	if err != nil {
		f.Fatal(err)
	}
	svc := chat.NewService(chat.Options{Store: store.New(db), Publisher: hb, Presence: hb, Logger: log, SendRate: 1e9, SendBurst: 1 << 30})
	engine := httpx.NewEngine(httpx.Options{Service: "chat-service", Logger: log, Registry: reg, MaxBodyBytes: 256 << 10})
	httpapi.Routes(engine, httpapi.Deps{
		Service: svc, Hub: hb, Verifier: verifier, Logger: log,
		WS: httpapi.WSOptions{FrameRate: 1e9, FrameBurst: 1 << 30},
	})
	srv := httptest.NewServer(engine)
	f.Cleanup(func() {
		srv.CloseClientConnections()
		_ = hb.Close(ctx)
		srv.Close()
		_ = b.Close()
		_ = db.Close()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws", token
}
