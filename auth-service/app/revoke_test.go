package app_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/parleychat/parley/platform/authn"
)

// Sign out everywhere ends every session of a user at once in this service
// (the other services follow the feed; e2e measures them), and the feed
// lists what happened for them.
func TestSignOutEverywhereAndFeed(t *testing.T) {
	s := start(t, nil)
	base := s.URL
	a := register(t, base, "ivy", "password1")
	b := login(t, base, "ivy", "password1")
	other := register(t, base, "jon", "password1")
	admin := login(t, base, "admin", adminPassword)

	// Their own: both sessions end, refresh tokens too.
	var out struct {
		SessionsRevoked int `json:"sessions_revoked"`
	}
	must(t, 200, "POST", base+"/sessions/revoke-all", nil, &out, bearer(a.AccessToken)...)
	if out.SessionsRevoked != 2 {
		t.Errorf("revoked %d sessions, want 2", out.SessionsRevoked)
	}
	for _, sess := range []session{a, b} {
		if c := must(t, 401, "GET", base+"/me", nil, nil, bearer(sess.AccessToken)...).code(t); c != "session_revoked" {
			t.Errorf("access token after sign out everywhere: %s", c)
		}
		if c := must(t, 401, "POST", base+"/refresh", map[string]string{"refresh_token": sess.RefreshToken}, nil).code(t); c != "refresh_token_revoked" {
			t.Errorf("refresh after sign out everywhere: %s", c)
		}
	}
	must(t, 200, "GET", base+"/me", nil, nil, bearer(other.AccessToken)...)
	c := login(t, base, "ivy", "password1")
	must(t, 200, "GET", base+"/me", nil, nil, bearer(c.AccessToken)...)

	// An admin's, on someone else: only admins, only existing users.
	jonID := fmt.Sprint(other.User.ID)
	if code := must(t, 403, "POST", base+"/users/"+jonID+"/sessions/revoke-all", nil, nil, bearer(c.AccessToken)...).code(t); code != "admin_required" {
		t.Errorf("non-admin: %s", code)
	}
	must(t, 401, "POST", base+"/users/"+jonID+"/sessions/revoke-all", nil, nil)
	for _, id := range []string{"999999", "abc", "-1"} {
		if code := must(t, 404, "POST", base+"/users/"+id+"/sessions/revoke-all", nil, nil, bearer(admin.AccessToken)...).code(t); code != "user_not_found" {
			t.Errorf("unknown user %s: %s", id, code)
		}
	}
	must(t, 200, "POST", base+"/users/"+jonID+"/sessions/revoke-all", nil, &out, bearer(admin.AccessToken)...)
	if out.SessionsRevoked != 1 {
		t.Errorf("admin revoked %d sessions, want 1", out.SessionsRevoked)
	}
	if code := must(t, 401, "GET", base+"/me", nil, nil, bearer(other.AccessToken)...).code(t); code != "session_revoked" {
		t.Errorf("jon after the admin signed him out: %s", code)
	}

	// The feed: every ended session, in order, without a token (it is
	// internal: the gateway does not publish it).
	var feed authn.Feed
	must(t, 200, "GET", base+"/internal/revocations?after=0", nil, &feed)
	if len(feed.Revocations) != 3 || feed.TokenTTL != 900 || feed.LastSeq != feed.Revocations[2].Seq {
		t.Fatalf("feed: %+v", feed)
	}
	if feed.Revocations[0].UserID != a.User.ID || feed.Revocations[2].UserID != other.User.ID || !feed.Revocations[2].IsSession() {
		t.Errorf("feed entries: %+v", feed.Revocations)
	}
	must(t, 200, "GET", fmt.Sprintf("%s/internal/revocations?after=%d", base, feed.Revocations[1].Seq), nil, &feed)
	if len(feed.Revocations) != 1 {
		t.Errorf("feed after the second entry: %+v", feed)
	}
	for _, q := range []string{"after=-1", "after=abc", "after=1e9999"} {
		if code := must(t, 400, "GET", base+"/internal/revocations?"+q, nil, nil).code(t); code != "invalid_query" {
			t.Errorf("%s: %s", q, code)
		}
	}
}

// The services poll the feed several times a second: those requests stay
// out of the info-level access log, which would otherwise be nothing else
// (and push the first admin's generated password out of `logs --tail`).
func TestFeedPollsStayOutOfTheAccessLog(t *testing.T) {
	url, logs := runLogged(t, map[string]string{
		"DATA_DIR": t.TempDir(), "BCRYPT_COST": "4", "ADMIN_PASSWORD": adminPassword, "LOG_LEVEL": "info",
	})
	for i := range 5 {
		must(t, 200, "GET", fmt.Sprintf("%s/internal/revocations?after=%d", url, i), nil, nil)
	}
	must(t, 200, "GET", url+"/.well-known/jwks.json", nil, nil)
	out := logs.String()
	if strings.Contains(out, "/internal/revocations") {
		t.Errorf("feed polls in the access log:\n%s", out)
	}
	if !strings.Contains(out, "jwks.json") {
		t.Errorf("an ordinary request is not in the access log:\n%s", out)
	}
}
