package app_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/chat-service/app"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/authn/authntest"
	"github.com/parleychat/parley/platform/testkit"
)

// Revocations from auth-service's feed reach both replicas: a revoked
// session's sockets close 4401 wherever they are (the user's other session
// stays), a disabled account's close 4403, their tokens are refused on REST,
// and a demoted admin loses moderation at once. Each replica reads the feed
// itself, so this needs no broker to carry it; the replicas share NATS only
// for messages.
func TestRevocationReachesSocketsOnEveryReplica(t *testing.T) {
	natsURL := testkit.StartNATS(t)
	is := authntest.New(t)
	db := "sqlite://" + filepath.Join(t.TempDir(), "chat.db")
	env := func() map[string]string {
		return map[string]string{
			"DATABASE_URL": db, "JWKS_URL": is.JWKSURL, "NATS_URL": natsURL, "LOG_LEVEL": "warn",
			"REVOCATION_POLL_INTERVAL": "100ms",
		}
	}
	a := testkit.Start(t, "chat-a", app.Run, env())
	b := testkit.Start(t, "chat-b", app.Run, env())

	aliceA := is.SessionToken(t, 1, "alice", authn.RoleUser, "11", time.Hour)
	aliceB := is.SessionToken(t, 1, "alice", authn.RoleUser, "12", time.Hour)
	bob := is.SessionToken(t, 2, "bob", authn.RoleUser, "21", time.Hour)
	root := is.SessionToken(t, 3, "root", authn.RoleAdmin, "31", time.Hour)
	clients := map[string]*client{
		"alice@A": newClient(t, "alice@A", aliceA), "alice@B": newClient(t, "alice@B", aliceB),
		"bob@A": newClient(t, "bob@A", bob), "bob@B": newClient(t, "bob@B", bob),
	}
	for name, c := range clients {
		url := a.URL
		if name[len(name)-1] == 'B' {
			url = b.URL
		}
		c.connect(url, 0)
	}
	var room struct{ ID int64 }
	mustAPI(t, 201, "POST", a.URL+"/rooms", bob, map[string]any{"name": "bobs-room"}, &room)
	rename := func(name string) (int, []byte) {
		return api(t, "PATCH", fmt.Sprintf("%s/rooms/%d", b.URL, room.ID), root, map[string]any{"name": name})
	}
	if status, raw := rename("renamed-by-admin"); status != 200 {
		t.Fatalf("admin renames another's room: %d %s", status, raw)
	}

	closedWith := func(c *client, want int) time.Duration {
		t.Helper()
		start := time.Now()
		select {
		case code := <-c.closed:
			if code != want {
				t.Errorf("%s closed with %d, want %d", c.name, code, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s not closed within 5 s", c.name)
		}
		return time.Since(start)
	}
	stillOpen := func(c *client) {
		t.Helper()
		select {
		case code := <-c.closed:
			t.Errorf("%s closed with %d; it was not revoked", c.name, code)
		default:
		}
	}

	// One session of alice signed out: its socket (on A) closes 4401, the
	// other session's socket (on B) stays, and REST follows suit.
	is.Revoke(authn.Revocation{UserID: 1, SID: "11"})
	d := closedWith(clients["alice@A"], authn.CloseSessionRevoked)
	t.Logf("session revoked: socket closed after %v", d)
	for _, u := range []string{a.URL, b.URL} {
		testkit.Eventually(t, "revoked session's token refused on "+u, 5*time.Second, func() bool {
			status, raw := api(t, "GET", u+"/rooms", aliceA, nil)
			return status == 401 && errorCode(t, raw) == "session_revoked"
		})
		mustAPI(t, 200, "GET", u+"/rooms", aliceB, nil, nil)
	}
	stillOpen(clients["alice@B"])
	// Reconnecting with the revoked token is refused at auth.
	if code := authClose(t, a.URL, aliceA); code != authn.CloseSessionRevoked {
		t.Errorf("new socket with a revoked token closed with %d, want 4401", code)
	}

	// Bob disabled: both his sockets close 4403; his token is 403.
	is.Revoke(authn.Revocation{UserID: 2, Role: authn.RoleUser, Disabled: true})
	closedWith(clients["bob@A"], authn.CloseAccountDisabled)
	closedWith(clients["bob@B"], authn.CloseAccountDisabled)
	testkit.Eventually(t, "disabled account's token refused", 5*time.Second, func() bool {
		status, raw := api(t, "GET", b.URL+"/rooms", bob, nil)
		return status == 403 && errorCode(t, raw) == "account_disabled"
	})
	stillOpen(clients["alice@B"])

	// Root demoted: the token still says admin, the current role rules.
	is.Revoke(authn.Revocation{UserID: 3, Role: authn.RoleUser})
	testkit.Eventually(t, "demotion applied on B", 5*time.Second, func() bool {
		status, _ := rename("renamed-again")
		return status == 403
	})
}

// authClose opens a socket, authenticates with tok and returns the close
// code the server answers with.
func authClose(t *testing.T, url, tok string) int {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(url, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.WriteJSON(map[string]any{"type": "auth", "token": tok}); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				return ce.Code
			}
			t.Fatalf("no close frame: %v", err)
		}
	}
}
