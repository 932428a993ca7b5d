package app_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/platform/authn"
)

type patJSON struct {
	ID         int64      `json:"id"`
	UserID     int64      `json:"user_id"`
	Name       string     `json:"name"`
	Hint       string     `json:"hint"`
	Token      string     `json:"token"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// A personal access token: created with its secret shown once, listed
// without it, usable like an access token on this service's routes, kept
// off the routes that manage credentials, and refused as soon as it is
// revoked.
func TestPersonalAccessTokens(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db map[string]string) {
		s := start(t, db)
		base := s.URL
		ann := register(t, base, "ann", "password1")
		bob := register(t, base, "bob", "password1")

		var pat patJSON
		r := must(t, 201, "POST", base+"/tokens", map[string]any{"name": " CI deploy ", "expires_in_days": 7}, &pat, bearer(ann.AccessToken)...)
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
		}
		id, secret, ok := authn.ParsePAT(pat.Token)
		if !ok || id != pat.ID || pat.Name != "CI deploy" || pat.UserID != ann.User.ID || pat.LastUsedAt != nil ||
			!strings.HasPrefix(pat.Token, pat.Hint) || pat.Hint != fmt.Sprintf("parley_pat_%d_%s", id, secret[:4]) {
			t.Fatalf("created %+v", pat)
		}
		if d := pat.ExpiresAt.Sub(pat.CreatedAt); d != 7*24*time.Hour {
			t.Errorf("lifetime %v, want 7 days", d)
		}
		var def patJSON
		must(t, 201, "POST", base+"/tokens", map[string]any{"name": "default", "expires_in_days": nil}, &def, bearer(ann.AccessToken)...)
		if d := def.ExpiresAt.Sub(def.CreatedAt); d != 30*24*time.Hour {
			t.Errorf("default lifetime %v, want 30 days", d)
		}

		// Bad input: each with its code, nothing stored.
		for _, tc := range []struct {
			body   any
			status int
			code   string
		}{
			{map[string]any{"name": ""}, 422, "name_required"},
			{map[string]any{"name": " \u200b "}, 422, "name_required"},
			{map[string]any{"name": strings.Repeat("x", 65)}, 422, "invalid_name"},
			{map[string]any{"name": "a\u202eb"}, 422, "invalid_name"},
			{map[string]any{"name": "x", "expires_in_days": 0}, 422, "invalid_expiry"},
			{map[string]any{"name": "x", "expires_in_days": 366}, 422, "invalid_expiry"},
			{map[string]any{"name": "x", "expires_in_days": "7"}, 422, "invalid_field"},
			{`{"name": "x"} {}`, 400, ""},
		} {
			r := must(t, tc.status, "POST", base+"/tokens", tc.body, nil, bearer(ann.AccessToken)...)
			if tc.code != "" && r.code(t) != tc.code {
				t.Errorf("%v: %s", tc.body, r.code(t))
			}
		}

		// The list never shows a secret.
		r = must(t, 200, "GET", base+"/tokens", nil, nil, bearer(ann.AccessToken)...)
		if strings.Contains(string(r.Body), secret) || strings.Contains(string(r.Body), `"token"`) {
			t.Fatalf("list shows a secret: %s", r.Body)
		}
		var list struct{ Tokens []patJSON }
		r.decode(t, &list)
		if len(list.Tokens) != 2 || list.Tokens[1].ID != pat.ID {
			t.Fatalf("list %+v", list)
		}
		must(t, 200, "GET", base+"/tokens", nil, &list, bearer(bob.AccessToken)...)
		if len(list.Tokens) != 0 {
			t.Fatalf("bob sees %+v", list)
		}

		// The token works like an access token here...
		var me user
		must(t, 200, "GET", base+"/me", nil, &me, bearer(pat.Token)...)
		if me.ID != ann.User.ID {
			t.Fatalf("me with the PAT: %+v", me)
		}
		// ...but cannot manage credentials.
		for _, rt := range [][2]string{{"POST", "/tokens"}, {"GET", "/tokens"}, {"DELETE", fmt.Sprintf("/tokens/%d", def.ID)},
			{"POST", "/password"}, {"POST", "/sessions/revoke-all"}} {
			if c := must(t, 403, rt[0], base+rt[1], map[string]any{"name": "x"}, nil, bearer(pat.Token)...).code(t); c != "pat_not_allowed" {
				t.Errorf("%s %s with a PAT: %s", rt[0], rt[1], c)
			}
		}

		// Introspection answers for it (the services ask; internal only)
		// and records the use.
		var in authn.Introspection
		must(t, 200, "POST", base+"/internal/tokens/introspect", map[string]string{"token": pat.Token}, &in)
		if in.UserID != ann.User.ID || in.Username != "ann" || in.Role != "user" || in.TokenID != pat.ID || in.Bot || !in.ExpiresAt.Equal(pat.ExpiresAt) {
			t.Fatalf("introspection %+v", in)
		}
		must(t, 200, "GET", base+"/tokens", nil, &list, bearer(ann.AccessToken)...)
		if list.Tokens[1].LastUsedAt == nil {
			t.Errorf("last_used_at not recorded: %+v", list.Tokens[1])
		}
		wrong := pat.Token[:len(pat.Token)-1] + map[bool]string{true: "B", false: "A"}[strings.HasSuffix(pat.Token, "A")]
		for _, bad := range []string{wrong, "parley_pat_", "parley_pat_x_" + secret, fmt.Sprintf("parley_pat_%d_%s", id+1000, secret), pat.Token + "x"} {
			if c := must(t, 401, "GET", base+"/me", nil, nil, bearer(bad)...).code(t); c != "invalid_token" {
				t.Errorf("%q: %s", bad, c)
			}
			if c := must(t, 401, "POST", base+"/internal/tokens/introspect", map[string]string{"token": bad}, nil).code(t); c != "invalid_token" {
				t.Errorf("introspect %q: %s", bad, c)
			}
		}

		// Revoking: someone else's is 404, one's own ends it at once.
		must(t, 404, "DELETE", fmt.Sprintf("%s/tokens/%d", base, pat.ID), nil, nil, bearer(bob.AccessToken)...)
		must(t, 404, "DELETE", base+"/tokens/abc", nil, nil, bearer(ann.AccessToken)...)
		must(t, 204, "DELETE", fmt.Sprintf("%s/tokens/%d", base, pat.ID), nil, nil, bearer(ann.AccessToken)...)
		if c := must(t, 401, "GET", base+"/me", nil, nil, bearer(pat.Token)...).code(t); c != "session_revoked" {
			t.Errorf("revoked PAT: %s", c)
		}
		must(t, 404, "DELETE", fmt.Sprintf("%s/tokens/%d", base, pat.ID), nil, nil, bearer(ann.AccessToken)...)
		var feed authn.Feed
		must(t, 200, "GET", base+"/internal/revocations?after=0", nil, &feed)
		if n := len(feed.Revocations); n == 0 || feed.Revocations[n-1].SID != authn.PATSession(pat.ID) || feed.Revocations[n-1].UserID != ann.User.ID {
			t.Fatalf("feed %+v", feed)
		}
		must(t, 200, "GET", base+"/me", nil, nil, bearer(def.Token)...)
	})
}

// Bots: made by admins, no password, tokens made for them by admins, and
// refused while disabled.
func TestBots(t *testing.T) {
	s := start(t, nil)
	base := s.URL
	admin := login(t, base, "admin", adminPassword)
	ann := register(t, base, "ann", "password1")

	type botJSON struct {
		ID          int64  `json:"id"`
		Username    string `json:"username"`
		DisplayName string `json:"display_name"`
		IsBot       bool   `json:"is_bot"`
		Role        string `json:"role"`
	}
	if c := must(t, 403, "POST", base+"/bots", map[string]string{"username": "deploy"}, nil, bearer(ann.AccessToken)...).code(t); c != "admin_required" {
		t.Errorf("non-admin: %s", c)
	}
	var bot botJSON
	must(t, 201, "POST", base+"/bots", map[string]string{"username": "deploy-bot", "display_name": "Deploy"}, &bot, bearer(admin.AccessToken)...)
	if bot.ID == 0 || !bot.IsBot || bot.DisplayName != "Deploy" || bot.Role != "user" {
		t.Fatalf("bot %+v", bot)
	}
	for _, tc := range []struct {
		body map[string]string
		want int
		code string
	}{
		{map[string]string{"username": "Deploy-Bot"}, 409, "username_taken"},
		{map[string]string{"username": "x"}, 422, "invalid_username"},
		{map[string]string{"username": "okname", "display_name": "a\u202eb"}, 422, "invalid_display_name"},
	} {
		if c := must(t, tc.want, "POST", base+"/bots", tc.body, nil, bearer(admin.AccessToken)...).code(t); c != tc.code {
			t.Errorf("%v: %s", tc.body, c)
		}
	}
	var bots struct{ Bots []botJSON }
	must(t, 200, "GET", base+"/bots", nil, &bots, bearer(admin.AccessToken)...)
	if len(bots.Bots) != 1 || bots.Bots[0].ID != bot.ID {
		t.Fatalf("bots %+v", bots)
	}
	var accounts struct{ Accounts []botJSON }
	must(t, 200, "GET", base+"/accounts", nil, &accounts, bearer(ann.AccessToken)...)
	if n := len(accounts.Accounts); n != 3 || !accounts.Accounts[2].IsBot || accounts.Accounts[2].DisplayName != "Deploy" || accounts.Accounts[1].IsBot {
		t.Fatalf("accounts %+v", accounts)
	}

	// No password logs a bot in: the answer is a wrong password's.
	for _, pw := range []string{"", "password1", strings.Repeat("x", 80)} {
		r := call(t, "POST", base+"/login", map[string]string{"username": "deploy-bot", "password": pw})
		if r.Status != 401 && r.Status != 422 {
			t.Errorf("bot login with %q: %d %s", pw, r.Status, r.Body)
		}
	}

	// Tokens for the bot: an admin's to make; only for bots.
	botURL := fmt.Sprintf("%s/bots/%d/tokens", base, bot.ID)
	var pat patJSON
	must(t, 201, "POST", botURL, map[string]any{"name": "ci"}, &pat, bearer(admin.AccessToken)...)
	if pat.UserID != bot.ID {
		t.Fatalf("bot token %+v", pat)
	}
	must(t, 403, "POST", botURL, map[string]any{"name": "ci"}, nil, bearer(ann.AccessToken)...)
	if c := must(t, 404, "POST", fmt.Sprintf("%s/bots/%d/tokens", base, ann.User.ID), map[string]any{"name": "ci"}, nil, bearer(admin.AccessToken)...).code(t); c != "bot_not_found" {
		t.Errorf("token for a person through /bots: %s", c)
	}
	var me botJSON
	must(t, 200, "GET", base+"/me", nil, &me, bearer(pat.Token)...)
	if me.ID != bot.ID || !me.IsBot {
		t.Fatalf("bot me %+v", me)
	}
	var in authn.Introspection
	must(t, 200, "POST", base+"/internal/tokens/introspect", map[string]string{"token": pat.Token}, &in)
	if !in.Bot {
		t.Errorf("introspection does not say bot: %+v", in)
	}
	var list struct{ Tokens []patJSON }
	must(t, 200, "GET", botURL, nil, &list, bearer(admin.AccessToken)...)
	if len(list.Tokens) != 1 {
		t.Fatalf("bot tokens %+v", list)
	}

	// Disabled: refused (403) here and by introspection; enabled again:
	// the same token works.
	must(t, 200, "PATCH", fmt.Sprintf("%s/users/%d", base, bot.ID), map[string]any{"disabled": true}, nil, bearer(admin.AccessToken)...)
	if c := must(t, 403, "GET", base+"/me", nil, nil, bearer(pat.Token)...).code(t); c != "account_disabled" {
		t.Errorf("disabled bot: %s", c)
	}
	if c := must(t, 403, "POST", base+"/internal/tokens/introspect", map[string]string{"token": pat.Token}, nil).code(t); c != "account_disabled" {
		t.Errorf("introspect disabled bot: %s", c)
	}
	must(t, 200, "PATCH", fmt.Sprintf("%s/users/%d", base, bot.ID), map[string]any{"disabled": false}, nil, bearer(admin.AccessToken)...)
	must(t, 200, "GET", base+"/me", nil, nil, bearer(pat.Token)...)

	must(t, 404, "DELETE", fmt.Sprintf("%s/%d", botURL, pat.ID+100), nil, nil, bearer(admin.AccessToken)...)
	must(t, 204, "DELETE", fmt.Sprintf("%s/%d", botURL, pat.ID), nil, nil, bearer(admin.AccessToken)...)
	must(t, 401, "GET", base+"/me", nil, nil, bearer(pat.Token)...)
}
