package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/testkit"
)

func TestRoutingPublicAndProtected(t *testing.T) {
	f := startFixture(t, nil)
	tok := f.token(t)
	tests := []struct {
		name       string
		method     string
		path       string
		auth       bool
		wantStatus int
		wantCode   string // for gateway errors
		wantSvc    string // for proxied answers
		wantURI    string // request URI the upstream saw
	}{
		// Prefix stripping, query kept as sent.
		{"chat messages with query", "GET", "/api/chat/rooms/3/messages?limit=5&before_seq=10", true, 200, "", "chat", "/rooms/3/messages?limit=5&before_seq=10"},
		{"chat root", "GET", "/api/chat/", true, 200, "", "chat", "/"},
		{"users profile", "GET", "/api/users/profiles/me", true, 200, "", "user", "/profiles/me"},
		{"auth me", "GET", "/api/auth/me", true, 200, "", "auth", "/me"},
		{"encoded slash kept", "GET", "/api/chat/rooms/a%2Fb/messages", true, 200, "", "chat", "/rooms/a%2Fb/messages"},
		{"encoded query kept", "GET", "/api/chat/search?q=hello%20world&room_id=1", true, 200, "", "chat", "/search?q=hello%20world&room_id=1"},
		{"trailing slash kept", "GET", "/api/chat/rooms/", true, 200, "", "chat", "/rooms/"},
		{"post with token", "POST", "/api/chat/rooms/1/messages", true, 200, "", "chat", "/rooms/1/messages"},
		{"delete with token", "DELETE", "/api/chat/messages/9", true, 200, "", "chat", "/messages/9"},
		{"patch admin route", "PATCH", "/api/auth/users/3", true, 200, "", "auth", "/users/3"},

		// Public routes: no token needed.
		{"register", "POST", "/api/auth/register", false, 200, "", "auth", "/register"},
		{"login", "POST", "/api/auth/login", false, 200, "", "auth", "/login"},
		{"refresh", "POST", "/api/auth/refresh", false, 200, "", "auth", "/refresh"},
		{"logout takes a refresh token only", "POST", "/api/auth/logout", false, 200, "", "auth", "/logout"},
		{"jwks", "GET", "/api/auth/.well-known/jwks.json", false, 200, "", "auth", "/.well-known/jwks.json"},
		{"avatar", "GET", "/api/users/avatars/7", false, 200, "", "user", "/avatars/7"},
		{"avatar head", "HEAD", "/api/users/avatars/7", false, 200, "", "", ""},
		{"avatar with token too", "GET", "/api/users/avatars/7", true, 200, "", "user", "/avatars/7"},
		{"signed file URL", "GET", "/api/chat/files/7?exp=1&sig=x", false, 200, "", "chat", "/files/7?exp=1&sig=x"},
		{"signed thumbnail URL", "GET", "/api/chat/files/7/thumbnail?exp=1&sig=x", false, 200, "", "chat", "/files/7/thumbnail?exp=1&sig=x"},
		{"file head", "HEAD", "/api/chat/files/7", false, 200, "", "", ""},
		{"the API description, answered by the gateway", "GET", "/api/openapi.json", false, 200, "", "", ""},

		// Everything else needs one.
		{"profile without token", "GET", "/api/users/profiles/me", false, 401, "missing_token", "", ""},
		{"chat without token", "GET", "/api/chat/rooms", false, 401, "missing_token", "", ""},
		{"auth me without token", "GET", "/api/auth/me", false, 401, "missing_token", "", ""},
		{"verify is not public", "POST", "/api/auth/verify", false, 401, "missing_token", "", ""},
		{"admin users without token", "GET", "/api/auth/users", false, 401, "missing_token", "", ""},
		{"avatar upload is not public", "PUT", "/api/users/avatars/7", false, 401, "missing_token", "", ""},
		{"avatar subpath is not public", "GET", "/api/users/avatars/7/x", false, 401, "missing_token", "", ""},
		{"file upload is not public", "POST", "/api/chat/rooms/1/files", false, 401, "missing_token", "", ""},
		{"file subpath is not public", "GET", "/api/chat/files/7/x", false, 401, "missing_token", "", ""},
		{"file delete is not public", "DELETE", "/api/chat/files/7", false, 401, "missing_token", "", ""},
		{"login lookalike is not public", "POST", "/api/auth/login/x", false, 401, "missing_token", "", ""},
		{"login by GET is not public", "GET", "/api/auth/login", false, 401, "missing_token", "", ""},

		// Paths the gateway refuses itself.
		{"unknown prefix", "GET", "/api/nope", true, 404, "not_found", "", ""},
		{"unknown prefix subpath", "GET", "/api/nope/rooms", true, 404, "not_found", "", ""},
		{"prefix without slash", "GET", "/api/chat", true, 404, "not_found", "", ""},
		{"outside api", "GET", "/rooms", true, 404, "not_found", "", ""},
		{"TRACE is not proxied", "TRACE", "/api/chat/rooms", true, 405, "method_not_allowed", "", ""},
		{"dot segments cannot borrow a public rule", "GET", "/api/users/avatars/../profiles/me", false, 400, "invalid_path", "", ""},
		{"encoded dot segments too", "GET", "/api/users/avatars/%2e%2e/profiles/me", false, 400, "invalid_path", "", ""},
		{"dot segment to another service", "GET", "/api/chat/../auth/me", true, 400, "invalid_path", "", ""},
		{"revocation feed is internal", "GET", "/api/auth/internal/revocations", true, 404, "not_found", "", ""},
		{"internal without token", "GET", "/api/auth/internal/revocations?after=0", false, 404, "not_found", "", ""},
		{"internal of any service", "POST", "/api/chat/internal", true, 404, "not_found", "", ""},
		{"a service's metrics are not published", "GET", "/api/chat/metrics", true, 404, "not_found", "", ""},
		{"nor its probes", "GET", "/api/users/readyz", true, 404, "not_found", "", ""},
		{"nor its health", "GET", "/api/auth/health", true, 404, "not_found", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := request{method: tc.method, path: tc.path}
			if tc.auth {
				r.token = tok
			}
			res := f.do(t, r)
			res.wantStatus(t, tc.wantStatus)
			if tc.wantCode != "" {
				if got := res.errorCode(t); got != tc.wantCode {
					t.Fatalf("error code %q, want %q", got, tc.wantCode)
				}
				if res.Header.Get("X-Upstream") != "" {
					t.Fatalf("answer came from upstream %s", res.Header.Get("X-Upstream"))
				}
			}
			if tc.wantSvc != "" {
				s := res.seen(t)
				if s.Service != tc.wantSvc || s.RequestURI != tc.wantURI || s.Method != tc.method {
					t.Fatalf("upstream saw %s %s %s, want %s %s %s", s.Service, s.Method, s.RequestURI, tc.wantSvc, tc.method, tc.wantURI)
				}
				if want := strings.TrimPrefix(f.serviceURL(tc.wantSvc), "http://"); s.Host != want {
					t.Fatalf("upstream Host %q, want %q", s.Host, want)
				}
			}
		})
	}
}

func (f *fixture) serviceURL(name string) string {
	switch name {
	case "auth":
		return f.auth.URL()
	case "user":
		return f.user.URL()
	default:
		return f.chat.URL()
	}
}

func TestHeadersForwardedAndIdentityNotForgeable(t *testing.T) {
	f := startFixture(t, nil)
	tok := f.token(t)
	forged := map[string]string{
		"X-User-ID":         "1",
		"x-user-role":       "admin",
		"X-USER-NAME":       "root",
		"X_User_Id":         "1",
		"X-User-Extra":      "x",
		"X-Forwarded-For":   "203.0.113.9",
		"X-Real-IP":         "203.0.113.9",
		"X-Forwarded-Proto": "https",
		"X-Request-ID":      "client-req-1",
	}
	t.Run("protected route gets the token's identity", func(t *testing.T) {
		s := f.do(t, request{path: "/api/chat/rooms", token: tok, header: forged}).seen(t)
		want := map[string]string{
			"X-User-Id": "42", "X-User-Name": "alice", "X-User-Role": "user",
			"Authorization": "Bearer " + tok, "X-Request-Id": "client-req-1",
			"X-Forwarded-For": "127.0.0.1", "X-Real-Ip": "127.0.0.1", "X-Forwarded-Proto": "http",
		}
		for k, v := range want {
			if got := s.Header[k]; len(got) != 1 || got[0] != v {
				t.Errorf("upstream header %s = %q, want [%q]", k, got, v)
			}
		}
		for _, k := range []string{"X_user_id", "X-User-Extra"} {
			if got, ok := s.Header[k]; ok {
				t.Errorf("forged header %s reached upstream: %q", k, got)
			}
		}
	})
	t.Run("client cannot make identity headers hop-by-hop", func(t *testing.T) {
		s := f.do(t, request{path: "/api/chat/rooms", token: tok, header: map[string]string{
			"Connection": "X-User-ID, X-User-Role, X-Request-ID", "X-Request-ID": "keep-me",
		}}).seen(t)
		for k, v := range map[string]string{"X-User-Id": "42", "X-User-Role": "user", "X-Request-Id": "keep-me"} {
			if got := s.Header[k]; len(got) != 1 || got[0] != v {
				t.Errorf("upstream header %s = %q, want [%q]", k, got, v)
			}
		}
	})
	t.Run("public route gets no identity at all", func(t *testing.T) {
		s := f.do(t, request{method: "POST", path: "/api/auth/login", header: forged}).seen(t)
		for k := range s.Header {
			if strings.HasPrefix(strings.ToLower(strings.ReplaceAll(k, "_", "-")), "x-user-") {
				t.Errorf("forged header %s reached upstream: %q", k, s.Header[k])
			}
		}
		if got := s.Header["X-Forwarded-For"]; len(got) != 1 || got[0] != "127.0.0.1" {
			t.Errorf("X-Forwarded-For %q, want the gateway's view of the client", got)
		}
	})
	t.Run("public route forwards Authorization unchanged", func(t *testing.T) {
		s := f.do(t, request{method: "POST", path: "/api/auth/logout", header: map[string]string{"Authorization": "Bearer not-checked-here"}}).seen(t)
		if got := s.Header["Authorization"]; len(got) != 1 || got[0] != "Bearer not-checked-here" {
			t.Errorf("Authorization %q", got)
		}
	})
}

func TestTrustedProxiesDecideClientAddress(t *testing.T) {
	f := startFixture(t, map[string]string{"TRUSTED_PROXIES": "127.0.0.0/8"})
	s := f.do(t, request{path: "/api/chat/rooms", token: f.token(t), header: map[string]string{
		"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https",
	}}).seen(t)
	if got := s.Header["X-Forwarded-For"]; len(got) != 1 || got[0] != "198.51.100.7" {
		t.Errorf("X-Forwarded-For %q, want the client behind the trusted proxy", got)
	}
	if got := s.Header["X-Forwarded-Proto"]; len(got) != 1 || got[0] != "https" {
		t.Errorf("X-Forwarded-Proto %q, want the trusted proxy's https", got)
	}
}

func TestRequestID(t *testing.T) {
	f := startFixture(t, nil)
	tok := f.token(t)
	t.Run("client id echoed once and propagated", func(t *testing.T) {
		res := f.do(t, request{path: "/api/chat/rooms", token: tok, header: map[string]string{"X-Request-ID": "trace-abc.123"}})
		if got := res.Header.Values("X-Request-ID"); len(got) != 1 || got[0] != "trace-abc.123" {
			t.Fatalf("response X-Request-ID %q", got)
		}
		if got := res.seen(t).Header["X-Request-Id"]; len(got) != 1 || got[0] != "trace-abc.123" {
			t.Fatalf("upstream X-Request-ID %q", got)
		}
	})
	t.Run("created when missing", func(t *testing.T) {
		res := f.do(t, request{path: "/api/chat/rooms", token: tok})
		id := res.Header.Get("X-Request-ID")
		if len(id) < 16 {
			t.Fatalf("response X-Request-ID %q", id)
		}
		if got := res.seen(t).Header["X-Request-Id"]; len(got) != 1 || got[0] != id {
			t.Fatalf("upstream X-Request-ID %q, want %q", got, id)
		}
	})
	t.Run("unsafe id replaced", func(t *testing.T) {
		res := f.do(t, request{path: "/api/chat/rooms", token: tok, header: map[string]string{"X-Request-ID": "a b<script>"}})
		id := res.Header.Get("X-Request-ID")
		if id == "" || strings.ContainsAny(id, " <>") {
			t.Fatalf("response X-Request-ID %q", id)
		}
	})
	t.Run("on gateway errors too", func(t *testing.T) {
		res := f.do(t, request{path: "/api/chat/rooms", header: map[string]string{"X-Request-ID": "err-1"}})
		res.wantStatus(t, 401)
		if got := res.Header.Get("X-Request-ID"); got != "err-1" {
			t.Fatalf("X-Request-ID %q", got)
		}
	})
}

func TestResponseHeaders(t *testing.T) {
	f := startFixture(t, nil)
	tok := f.token(t)
	tests := []struct {
		name      string
		req       request
		wantCache string
	}{
		{"chat keeps upstream caching", request{path: "/api/chat/rooms", token: tok}, "private, max-age=60"},
		{"avatars keep upstream caching", request{path: "/api/users/avatars/3"}, "private, max-age=60"},
		{"auth answers are not stored", request{method: "POST", path: "/api/auth/login"}, "no-store"},
		{"auth errors are not stored", request{path: "/api/auth/me"}, "no-store"},
		{"jwks keeps upstream caching", request{path: "/api/auth/.well-known/jwks.json"}, "private, max-age=60"},
		{"gateway 404", request{path: "/api/nope"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(t, tc.req)
			if got := res.Header.Values("Cache-Control"); strings.Join(got, "|") != tc.wantCache {
				t.Errorf("Cache-Control %q, want %q", got, tc.wantCache)
			}
			for _, k := range []string{"X-Content-Type-Options", "X-Frame-Options", "X-Request-ID"} {
				if got := res.Header.Values(k); len(got) != 1 {
					t.Errorf("%s %q, want exactly one", k, got)
				}
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q", got)
			}
		})
	}
}

func TestWebSocketUpgradeRefused(t *testing.T) {
	f := startFixture(t, nil)
	res := f.do(t, request{path: "/api/chat/ws", token: f.token(t), header: map[string]string{
		"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
	}})
	res.wantStatus(t, http.StatusBadRequest)
	if code := res.errorCode(t); code != "upgrade_not_supported" {
		t.Fatalf("code %q", code)
	}
	if n := f.chat.hits.Load(); n != 0 {
		t.Fatalf("upstream saw %d requests", n)
	}
}

// The gateway follows auth-service's revocation feed: a signed-out
// session's token and a disabled account's are refused before any
// upstream sees them, and another session of the same user is not.
func TestRevokedTokensRefused(t *testing.T) {
	f := startFixture(t, map[string]string{"REVOCATION_POLL_INTERVAL": "50ms"})
	gone := f.issuer.SessionToken(t, 42, "alice", authn.RoleUser, "1", 15*time.Minute)
	kept := f.issuer.SessionToken(t, 42, "alice", authn.RoleUser, "2", 15*time.Minute)
	other := f.issuer.SessionToken(t, 43, "bob", authn.RoleUser, "3", 15*time.Minute)
	f.do(t, request{path: "/api/chat/rooms", token: gone}).wantStatus(t, 200)

	f.issuer.Revoke(authn.Revocation{UserID: 42, SID: "1"})
	f.issuer.Revoke(authn.Revocation{UserID: 43, Role: authn.RoleUser, Disabled: true})
	testkit.Eventually(t, "the revoked session refused", 5*time.Second, func() bool {
		return f.do(t, request{path: "/api/chat/rooms", token: gone}).StatusCode == 401
	})
	res := f.do(t, request{path: "/api/users/profiles/me", token: gone})
	res.wantStatus(t, 401)
	if c := res.errorCode(t); c != "session_revoked" {
		t.Errorf("revoked session: %s", c)
	}
	f.do(t, request{path: "/api/chat/rooms", token: kept}).wantStatus(t, 200)
	res = f.do(t, request{path: "/api/chat/rooms", token: other})
	res.wantStatus(t, 403)
	if c := res.errorCode(t); c != "account_disabled" {
		t.Errorf("disabled account: %s", c)
	}
	m := f.do(t, request{path: "/metrics"})
	for _, want := range []string{`revocations_applied_total{service="api-gateway"} 2`, `revocation_feed_age_seconds{service="api-gateway"}`} {
		if !strings.Contains(string(m.body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
