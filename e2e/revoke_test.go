package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/platform/testkit"
)

// revocationDeadline is the contract (docs/ARCHITECTURE.md, Contract:
// Revocation): every service and every open socket within 5 s.
const revocationDeadline = 5 * time.Second

// watchedSocket is a subscribed WebSocket whose close code is recorded.
type watchedSocket struct {
	closed chan int
}

func watchSocket(t *testing.T, s *stack, token string) *watchedSocket {
	t.Helper()
	c := dialChat(t, s, token)
	w := &watchedSocket{closed: make(chan int, 1)}
	_ = c.conn.SetReadDeadline(time.Time{})
	go func() {
		for {
			if _, _, err := c.conn.ReadMessage(); err != nil {
				code := -1
				if ce, ok := err.(*websocket.CloseError); ok {
					code = ce.Code
				}
				w.closed <- code
				return
			}
		}
	}()
	return w
}

// probe is one place a token is used: the gateway and each service
// directly (chat-service and user-service are reachable without the
// gateway, so each must refuse by itself).
type probe struct {
	name, base, path string
}

func probes(s *stack) []probe {
	return []probe{
		{"gateway", s.Gateway.URL, "/api/chat/rooms"},
		{"auth-service", s.Auth.URL, "/me"},
		{"user-service", s.User.URL, "/profiles/me"},
		{"chat-service", s.Chat.URL, "/rooms"},
	}
}

// awaitRefused polls every probe with token until each answers want/code
// and every socket closed with wantClose, failing past the deadline. It
// returns the slowest delay seen, measured from start.
func awaitRefused(t *testing.T, s *stack, start time.Time, token string, want int, code string, sockets []*watchedSocket, wantClose int) time.Duration {
	t.Helper()
	var (
		mu    sync.Mutex
		worst time.Duration
		wg    sync.WaitGroup
	)
	note := func(d time.Duration) {
		mu.Lock()
		worst = max(worst, d)
		mu.Unlock()
	}
	for _, p := range probes(s) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := &api{t: t, base: p.base, token: token}
			for {
				r := a.do("GET", p.path, nil)
				if r.Status == want {
					if got := r.errCode(t); got != code {
						t.Errorf("%s: %d %s, want %s", p.name, r.Status, got, code)
					}
					note(time.Since(start))
					return
				}
				if time.Since(start) > revocationDeadline {
					t.Errorf("%s still answers %d %s after %v", p.name, r.Status, r.Body, revocationDeadline)
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	for i, w := range sockets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case got := <-w.closed:
				if got != wantClose {
					t.Errorf("socket %d closed with %d, want %d", i, got, wantClose)
				}
				note(time.Since(start))
			case <-time.After(revocationDeadline - time.Since(start)):
				t.Errorf("socket %d still open after %v", i, revocationDeadline)
			}
		}()
	}
	wg.Wait()
	return worst
}

// accepted fails unless token works at every probe.
func accepted(t *testing.T, s *stack, token, what string) {
	t.Helper()
	for _, p := range probes(s) {
		if r := (&api{t: t, base: p.base, token: token}).do("GET", p.path, nil); r.Status != 200 {
			t.Errorf("%s: %s answers %d %s", what, p.name, r.Status, r.Body)
		}
	}
}

func stillOpen(t *testing.T, w *watchedSocket, what string) {
	t.Helper()
	select {
	case code := <-w.closed:
		t.Errorf("%s: socket closed with %d", what, code)
	default:
	}
}

// TestRevocationReachesEveryService walks every path of the contract with
// real services and real sockets, and measures how long each takes to
// reach the gateway, auth-, user- and chat-service and the open sockets.
func TestRevocationReachesEveryService(t *testing.T) {
	// The probes poll every 20 ms; chat-service's per-user REST limit is
	// another test's subject.
	s := startStack(t, map[string]string{"USER_RATE_LIMIT_RPS": "1000", "USER_RATE_LIMIT_BURST": "1000"})
	anon := &api{t: t, base: s.Gateway.URL}
	var admin session
	anon.must(200, "POST", "/api/auth/login", map[string]string{"username": "admin", "password": adminPassword}, &admin)
	adm := anon.with(admin.AccessToken)
	login := func(name string) session {
		var ses session
		anon.must(200, "POST", "/api/auth/login", map[string]string{"username": name, "password": "password-" + name}, &ses)
		return ses
	}
	delays := map[string]time.Duration{}

	// Logout ends that session only.
	_, a1 := register(t, anon, "rosa")
	a2 := login("rosa")
	w1, w2 := watchSocket(t, s, a1.AccessToken), watchSocket(t, s, a2.AccessToken)
	start := time.Now()
	anon.must(204, "POST", "/api/auth/logout", map[string]string{"refresh_token": a1.RefreshToken}, nil)
	delays["logout"] = awaitRefused(t, s, start, a1.AccessToken, 401, "session_revoked", []*watchedSocket{w1}, 4401)
	accepted(t, s, a2.AccessToken, "the other session after logout")
	stillOpen(t, w2, "the other session after logout")

	// A password change ends the other sessions; the one making it stays.
	a3 := login("rosa")
	w3 := watchSocket(t, s, a3.AccessToken)
	start = time.Now()
	anon.with(a2.AccessToken).must(204, "POST", "/api/auth/password", map[string]string{"current_password": "password-rosa", "new_password": "password-rosa-2"}, nil)
	delays["password change"] = awaitRefused(t, s, start, a3.AccessToken, 401, "session_revoked", []*watchedSocket{w3}, 4401)
	accepted(t, s, a2.AccessToken, "the session that changed the password")
	stillOpen(t, w2, "the session that changed the password")

	// Sign out everywhere: every session of the caller.
	start = time.Now()
	anon.with(a2.AccessToken).must(200, "POST", "/api/auth/sessions/revoke-all", nil, nil)
	delays["sign out everywhere"] = awaitRefused(t, s, start, a2.AccessToken, 401, "session_revoked", []*watchedSocket{w2}, 4401)

	// An admin signs someone out everywhere.
	_, b1 := register(t, anon, "sami")
	b2 := login("sami")
	wb1, wb2 := watchSocket(t, s, b1.AccessToken), watchSocket(t, s, b2.AccessToken)
	start = time.Now()
	adm.must(200, "POST", fmt.Sprintf("/api/auth/users/%d/sessions/revoke-all", b1.User.ID), nil, nil)
	delays["admin sign out"] = awaitRefused(t, s, start, b1.AccessToken, 401, "session_revoked", []*watchedSocket{wb1, wb2}, 4401)
	awaitRefused(t, s, start, b2.AccessToken, 401, "session_revoked", nil, 0)

	// Disabling: every token of the account is 403, its sockets close 4403.
	_, c1 := register(t, anon, "tove")
	wc := watchSocket(t, s, c1.AccessToken)
	start = time.Now()
	adm.must(200, "PATCH", fmt.Sprintf("/api/auth/users/%d", c1.User.ID), map[string]any{"disabled": true}, nil)
	delays["disable"] = awaitRefused(t, s, start, c1.AccessToken, 403, "account_disabled", []*watchedSocket{wc}, 4403)

	// A demoted admin loses admin powers in chat- and user-service at once,
	// though their token still claims the role.
	_, d0 := register(t, anon, "ulla")
	_, victim := register(t, anon, "vera")
	anon.with(victim.AccessToken).must(200, "GET", "/api/users/profiles/me", nil, nil)
	var vr room
	anon.with(victim.AccessToken).must(201, "POST", "/api/chat/rooms", map[string]string{"name": "veras-room"}, &vr)
	adm.must(200, "PATCH", fmt.Sprintf("/api/auth/users/%d", d0.User.ID), map[string]any{"role": "admin"}, nil)
	d := login("ulla") // a token that claims admin
	ud := &api{t: t, token: d.AccessToken}
	rename := func(name string) int {
		ud.base = s.Chat.URL
		return ud.do("PATCH", "/rooms/"+strconv.FormatInt(vr.ID, 10), map[string]string{"name": name}).Status
	}
	editProfile := func() int {
		ud.base = s.User.URL
		return ud.do("PUT", fmt.Sprintf("/profiles/%d", victim.User.ID), map[string]string{"display_name": "Edited"}).Status
	}
	if got := rename("renamed-by-ulla"); got != 200 {
		t.Fatalf("admin renaming another's room: %d", got)
	}
	if got := editProfile(); got != 200 {
		t.Fatalf("admin editing another's profile: %d", got)
	}
	start = time.Now()
	adm.must(200, "PATCH", fmt.Sprintf("/api/auth/users/%d", d0.User.ID), map[string]any{"role": "user"}, nil)
	testkit.Eventually(t, "the demoted admin loses admin powers", revocationDeadline, func() bool {
		return rename("renamed-again") == 403 && editProfile() == 403
	})
	delays["demotion"] = time.Since(start)
	(&api{t: t, base: s.Gateway.URL, token: d.AccessToken}).must(403, "GET", "/api/auth/users", nil, nil)

	// While auth-service is down, issued tokens keep working everywhere it
	// is not needed; revocations apply once it is back.
	_, e1 := register(t, anon, "wim")
	we := watchSocket(t, s, e1.AccessToken)
	if err := s.Auth.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, p := range probes(s) {
		if p.name == "auth-service" {
			continue
		}
		if r := (&api{t: t, base: p.base, token: e1.AccessToken}).do("GET", p.path, nil); r.Status != 200 {
			t.Errorf("with auth-service down, %s answers %d %s", p.name, r.Status, r.Body)
		}
	}
	// Wait until the followers have failed to read the feed for a while
	// (their feed-age metric passes 1.5 s), so the restart below is one
	// they come back from.
	for _, u := range []string{s.Gateway.URL, s.User.URL, s.Chat.URL} {
		testkit.Eventually(t, "feed polls failing at "+u, 10*time.Second, func() bool {
			return feedAge(t, u) >= 1.5
		})
	}
	s.restartAuth(t)
	start = time.Now()
	anon.must(204, "POST", "/api/auth/logout", map[string]string{"refresh_token": e1.RefreshToken}, nil)
	delays["logout after an auth-service outage"] = awaitRefused(t, s, start, e1.AccessToken, 401, "session_revoked", []*watchedSocket{we}, 4401)

	for what, d := range delays {
		t.Logf("revocation delay, %s: %v (every service and socket)", what, d.Round(time.Millisecond))
	}
}

// feedAge is a service's revocation_feed_age_seconds, from its /metrics.
func feedAge(t *testing.T, base string) float64 {
	t.Helper()
	r := (&api{t: t, base: base}).do("GET", "/metrics", nil)
	for _, line := range strings.Split(string(r.Body), "\n") {
		if strings.HasPrefix(line, "revocation_feed_age_seconds{") {
			if v, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64); err == nil {
				return v
			}
		}
	}
	t.Fatalf("%s/metrics has no revocation_feed_age_seconds", base)
	return 0
}
