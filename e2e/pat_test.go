package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/parleychat/parley/platform/sqldb"
	"github.com/parleychat/parley/platform/testkit"
)

type patCreated struct {
	ID     int64  `json:"id"`
	UserID int64  `json:"user_id"`
	Name   string `json:"name"`
	Token  string `json:"token"`
}

// refusedEverywhere waits until token is answered want/code by the gateway
// and by auth-, user- and chat-service directly, and until every socket
// closed with wantClose, all within the revocation deadline from start.
func refusedEverywhere(t *testing.T, s *stack, start time.Time, token string, want int, code string, sockets []*watchedSocket, wantClose int) {
	t.Helper()
	for _, p := range probes(s) {
		a := &api{t: t, base: p.base, token: token}
		var last response
		testkit.Eventually(t, fmt.Sprintf("%s refuses the token with %d", p.name, want), revocationDeadline-time.Since(start), func() bool {
			last = a.do("GET", p.path, nil)
			return last.Status == want
		})
		if got := last.errCode(t); got != code {
			t.Errorf("%s: %d %s, want %s", p.name, last.Status, got, code)
		}
	}
	for i, w := range sockets {
		select {
		case got := <-w.closed:
			if got != wantClose {
				t.Errorf("socket %d closed with %d, want %d", i, got, wantClose)
			}
		case <-time.After(revocationDeadline - time.Since(start)):
			t.Errorf("socket %d still open after %v", i, revocationDeadline)
		}
	}
	t.Logf("%d %s everywhere after %v", want, code, time.Since(start).Round(time.Millisecond))
}

// A personal access token works on REST through the gateway, on each
// service directly and on the WebSocket; it cannot manage credentials; a
// revoked one is refused everywhere and its socket closed with 4401 within
// the revocation deadline; malformed and expired ones are 401.
func TestPersonalAccessTokenAcrossServices(t *testing.T) {
	s := startStack(t, map[string]string{"USER_RATE_LIMIT_RPS": "1000", "USER_RATE_LIMIT_BURST": "1000"})
	anon := &api{t: t, base: s.Gateway.URL}
	pia, ps := register(t, anon, "pia")

	var pat patCreated
	pia.must(201, "POST", "/api/auth/tokens", map[string]any{"name": "script", "expires_in_days": 30}, &pat)
	accepted(t, s, pat.Token, "a fresh PAT")

	// REST with the PAT: through the gateway and straight to chat-service.
	viaPAT := anon.with(pat.Token)
	var rooms struct {
		Rooms []room `json:"rooms"`
	}
	viaPAT.must(200, "GET", "/api/chat/rooms", nil, &rooms)
	if len(rooms.Rooms) == 0 {
		t.Fatal("no rooms")
	}
	general := strconv.FormatInt(rooms.Rooms[0].ID, 10)
	var m message
	viaPAT.must(201, "POST", "/api/chat/rooms/"+general+"/messages", map[string]string{"body": "posted with a PAT"}, &m)
	if m.UserID != ps.User.ID {
		t.Fatalf("message by %d, want %d", m.UserID, ps.User.ID)
	}
	(&api{t: t, base: s.Chat.URL, token: pat.Token}).must(201, "POST", "/rooms/"+general+"/messages", map[string]string{"body": "straight to chat-service"}, nil)

	// Credentials stay with a password login.
	for _, rt := range [][2]string{{"POST", "/api/auth/tokens"}, {"GET", "/api/auth/tokens"}, {"POST", "/api/auth/password"}, {"POST", "/api/auth/sessions/revoke-all"}} {
		if c := viaPAT.must(403, rt[0], rt[1], map[string]any{"name": "more"}, nil).errCode(t); c != "pat_not_allowed" {
			t.Errorf("%s %s with a PAT: %s", rt[0], rt[1], c)
		}
	}
	// The introspection endpoint is for the services only.
	anon.must(404, "POST", "/api/auth/internal/tokens/introspect", map[string]string{"token": pat.Token}, nil)

	// The WebSocket: auth frame with the PAT, then live messages.
	ws := dialChat(t, s, pat.Token)
	ws.send(map[string]any{"type": "subscribe", "room_id": rooms.Rooms[0].ID})
	ws.await("subscribed")
	pia.must(201, "POST", "/api/chat/rooms/"+general+"/messages", map[string]string{"body": "live"}, nil)
	if got := ws.awaitMessage(); got.Body != "live" {
		t.Fatalf("live message %+v", got)
	}
	ws.conn.Close()

	// Revoked: 401 everywhere and the socket closed with 4401, while the
	// password session goes on.
	w := watchSocket(t, s, pat.Token)
	start := time.Now()
	pia.must(204, "DELETE", fmt.Sprintf("/api/auth/tokens/%d", pat.ID), nil, nil)
	refusedEverywhere(t, s, start, pat.Token, 401, "session_revoked", []*watchedSocket{w}, 4401)
	accepted(t, s, ps.AccessToken, "the password session after revoking a PAT")

	// Malformed tokens: 401 invalid_token everywhere, without asking
	// auth-service for those that cannot be tokens at all.
	for _, bad := range []string{"parley_pat_", "parley_pat_1_short", pat.Token + "x", fmt.Sprintf("parley_pat_%d_%s", pat.ID+100, pat.Token[len(pat.Token)-43:])} {
		for _, p := range probes(s) {
			if r := (&api{t: t, base: p.base, token: bad}).do("GET", p.path, nil); r.Status != 401 || r.errCode(t) != "invalid_token" {
				t.Errorf("%s with %q: %d %s", p.name, bad, r.Status, r.Body)
			}
		}
	}

	// Expired: a token whose time is up (its expiry moved into the past in
	// auth-service's database, as time would) is 401 token_expired.
	var old patCreated
	pia.must(201, "POST", "/api/auth/tokens", map[string]any{"name": "old", "expires_in_days": 1}, &old)
	ctx := context.Background()
	db, err := sqldb.Open(ctx, sqldb.Target{Dialect: sqldb.SQLite, Path: filepath.Join(s.authEnv["DATA_DIR"], "auth.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `UPDATE access_tokens SET expires_at = '2020-01-01T00:00:00.000000Z' WHERE id = ?`, old.ID); err != nil {
		t.Fatal(err)
	}
	for _, p := range probes(s) {
		if r := (&api{t: t, base: p.base, token: old.Token}).do("GET", p.path, nil); r.Status != 401 || r.errCode(t) != "token_expired" {
			t.Errorf("%s with an expired PAT: %d %s", p.name, r.Status, r.Body)
		}
	}
}

// A bot: created by an admin, no password, a token made for it, a message
// it posts shows with its profile marked is_bot; disabled, its token is
// refused everywhere (403) and its socket closed with 4403.
func TestBotLifecycle(t *testing.T) {
	s := startStack(t, map[string]string{"USER_RATE_LIMIT_RPS": "1000", "USER_RATE_LIMIT_BURST": "1000"})
	anon := &api{t: t, base: s.Gateway.URL}
	var admin session
	anon.must(200, "POST", "/api/auth/login", map[string]string{"username": "admin", "password": adminPassword}, &admin)
	adm := anon.with(admin.AccessToken)
	ann, _ := register(t, anon, "ann")

	var bot struct {
		ID          int64  `json:"id"`
		Username    string `json:"username"`
		DisplayName string `json:"display_name"`
		IsBot       bool   `json:"is_bot"`
	}
	ann.must(403, "POST", "/api/auth/bots", map[string]string{"username": "deploy-bot"}, nil)
	adm.must(201, "POST", "/api/auth/bots", map[string]string{"username": "deploy-bot", "display_name": "Deploy"}, &bot)
	if !bot.IsBot {
		t.Fatalf("bot %+v", bot)
	}
	// No password logs it in: the same answer as a wrong password.
	for _, pw := range []string{"password-deploy-bot", "x"} {
		if c := anon.must(401, "POST", "/api/auth/login", map[string]string{"username": "deploy-bot", "password": pw}, nil).errCode(t); c != "invalid_credentials" {
			t.Errorf("bot login: %s", c)
		}
	}
	var pat patCreated
	adm.must(201, "POST", fmt.Sprintf("/api/auth/bots/%d/tokens", bot.ID), map[string]any{"name": "ci"}, &pat)
	botAPI := anon.with(pat.Token)

	var rooms struct {
		Rooms []room `json:"rooms"`
	}
	botAPI.must(200, "GET", "/api/chat/rooms", nil, &rooms)
	general := strconv.FormatInt(rooms.Rooms[0].ID, 10)
	if !rooms.Rooms[0].IsMember {
		botAPI.must(200, "POST", "/api/chat/rooms/"+general+"/join", nil, nil)
	}
	var posted message
	botAPI.must(201, "POST", "/api/chat/rooms/"+general+"/messages", map[string]string{"body": "deploy done"}, &posted)
	var hist struct {
		Messages []message `json:"messages"`
	}
	ann.must(200, "GET", "/api/chat/rooms/"+general+"/messages?limit=5", nil, &hist)
	if n := len(hist.Messages); n == 0 || hist.Messages[n-1].ID != posted.ID || hist.Messages[n-1].UserID != bot.ID {
		t.Fatalf("ann's history %+v, want the bot's message last", hist.Messages)
	}
	// The people who see it learn it is a bot from its profile.
	var profiles struct {
		Profiles []struct {
			ID          int64  `json:"id"`
			DisplayName string `json:"display_name"`
			IsBot       bool   `json:"is_bot"`
		} `json:"profiles"`
	}
	ann.must(200, "GET", fmt.Sprintf("/api/users/profiles?ids=%d", bot.ID), nil, &profiles)
	if len(profiles.Profiles) != 1 || !profiles.Profiles[0].IsBot || profiles.Profiles[0].DisplayName != "Deploy" {
		t.Fatalf("the bot's profile %+v", profiles)
	}

	// Disabled: 403 account_disabled everywhere, socket closed with 4403.
	w := watchSocket(t, s, pat.Token)
	start := time.Now()
	adm.must(200, "PATCH", fmt.Sprintf("/api/auth/users/%d", bot.ID), map[string]any{"disabled": true}, nil)
	refusedEverywhere(t, s, start, pat.Token, 403, "account_disabled", []*watchedSocket{w}, 4403)
	// Enabled again, the same token works again.
	adm.must(200, "PATCH", fmt.Sprintf("/api/auth/users/%d", bot.ID), map[string]any{"disabled": false}, nil)
	testkit.Eventually(t, "the enabled bot's token works at the gateway", revocationDeadline, func() bool {
		return botAPI.do("GET", "/api/chat/rooms", nil).Status == 200
	})
}
