package app_test

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/authn/authntest"
)

var avatarURL = regexp.MustCompile(`^/api/users/avatars/(\d+)\?v=[0-9a-f]{16}$`)

func TestProfileCreatedOnFirstUse(t *testing.T) {
	h := start(t, nil)
	alice := h.token(7, "alice")

	// Before alice ever calls, bob cannot see her profile.
	bob := h.token(8, "bob")
	wantError(t, h.request(http.MethodGet, "/profiles/7", bob, nil), http.StatusNotFound, "profile_not_found")

	before := time.Now().Add(-time.Second)
	var me profileView
	resp := h.call(http.MethodGet, "/profiles/me", alice, nil, http.StatusOK, &me)
	if me.ID != 7 || me.Username != "alice" || me.DisplayName != "" || me.Bio != "" || me.StatusText != "" {
		t.Fatalf("me = %+v", me)
	}
	if m := avatarURL.FindStringSubmatch(me.AvatarURL); m == nil || m[1] != "7" {
		t.Fatalf("avatar_url = %q", me.AvatarURL)
	}
	if me.CreatedAt.Before(before) || !me.CreatedAt.Equal(me.UpdatedAt) || me.CreatedAt.Location() != time.UTC {
		t.Fatalf("times = %v %v", me.CreatedAt, me.UpdatedAt)
	}
	if resp.Header.Get("X-Request-ID") == "" {
		t.Fatal("no X-Request-ID echoed")
	}

	// Now bob sees it, and bob's own first call created his.
	var seen profileView
	h.call(http.MethodGet, "/profiles/7", bob, nil, http.StatusOK, &seen)
	if seen != me {
		t.Fatalf("bob sees %+v, want %+v", seen, me)
	}
	h.call(http.MethodGet, "/profiles/8", alice, nil, http.StatusOK, &seen)
	if seen.Username != "bob" {
		t.Fatalf("bob's profile = %+v", seen)
	}

	// Ids that cannot exist are 404 too, never 400 or 500.
	for _, id := range []string{"0", "-3", "abc", "99999999999999999999999"} {
		wantError(t, h.request(http.MethodGet, "/profiles/"+id, bob, nil), http.StatusNotFound, "profile_not_found")
	}
	wantError(t, h.request(http.MethodGet, "/nope", bob, nil), http.StatusNotFound, "not_found")
	wantError(t, h.request(http.MethodPost, "/profiles/me", bob, nil), http.StatusMethodNotAllowed, "method_not_allowed")
}

func TestProfileJSONShape(t *testing.T) {
	h := start(t, nil)
	resp := h.request(http.MethodGet, "/profiles/me", h.token(1, "shape"), nil)
	raw, _ := io.ReadAll(resp.Body)
	want := "[avatar_url bio created_at display_name id is_bot status_text updated_at username]"
	if got := fmt.Sprint(keysOf(t, raw)); got != want {
		t.Fatalf("profile keys = %s, want %s (%s)", got, want, raw)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Fatalf("Cache-Control = %q", cc)
	}
}

func TestBatchProfiles(t *testing.T) {
	h := start(t, nil)
	names := map[int64]string{1: "ann", 2: "ben", 3: "cat"}
	for id, n := range names {
		h.call(http.MethodGet, "/profiles/me", h.token(id, n), nil, http.StatusOK, nil)
	}
	tok := h.token(1, "ann")

	var out struct {
		Profiles   []profileView `json:"profiles"`
		NextCursor *int64        `json:"next_cursor"`
	}
	h.call(http.MethodGet, "/profiles?ids=3,%201,404,3,2", tok, nil, http.StatusOK, &out)
	var got []string
	for _, p := range out.Profiles {
		got = append(got, p.Username)
	}
	if fmt.Sprint(got) != "[cat ann ben]" || out.NextCursor != nil {
		t.Fatalf("batch = %v cursor %v, want [cat ann ben] in request order, unknown ids absent", got, out.NextCursor)
	}

	// Only unknown ids: an empty list, not null, not 404.
	resp := h.request(http.MethodGet, "/profiles?ids=500,501", tok, nil)
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(raw) != `{"profiles":[],"next_cursor":null}` {
		t.Fatalf("unknown ids = %d %s", resp.StatusCode, raw)
	}

	// 200 ids is the most.
	ids := make([]string, 200)
	for i := range ids {
		ids[i] = fmt.Sprint(i + 1)
	}
	h.call(http.MethodGet, "/profiles?ids="+strings.Join(ids, ","), tok, nil, http.StatusOK, &out)
	if len(out.Profiles) != 3 {
		t.Fatalf("200 ids gave %d profiles", len(out.Profiles))
	}

	bad := []string{
		"ids=",
		"ids=,",
		"ids=1,,2",
		"ids=a,b",
		"ids=1%3B2",
		"ids=1%202",
		"ids=0",
		"ids=-1",
		"ids=1.5",
		"ids=99999999999999999999",
		"ids=" + strings.Join(append(ids, "201"), ","),
	}
	for _, q := range bad {
		t.Run(q[:min(len(q), 20)], func(t *testing.T) {
			wantError(t, h.request(http.MethodGet, "/profiles?"+q, tok, nil), http.StatusBadRequest, "invalid_ids")
		})
	}
}

func TestProfileDirectory(t *testing.T) {
	h := start(t, nil)
	for i, n := range []string{"alice", "bob", "alfred", "carol", "albert"} {
		h.call(http.MethodGet, "/profiles/me", h.token(int64(i+1), n), nil, http.StatusOK, nil)
	}
	tok := h.token(2, "bob")
	type page struct {
		Profiles   []profileView `json:"profiles"`
		NextCursor *int64        `json:"next_cursor"`
	}
	var all []string
	path := "/profiles?q=AL&limit=2"
	for i := 0; i < 5; i++ {
		var p page
		h.call(http.MethodGet, path, tok, nil, http.StatusOK, &p)
		for _, pr := range p.Profiles {
			all = append(all, pr.Username)
		}
		if p.NextCursor == nil {
			break
		}
		path = fmt.Sprintf("/profiles?q=AL&limit=2&cursor=%d", *p.NextCursor)
	}
	if fmt.Sprint(all) != "[alice alfred albert]" {
		t.Fatalf("directory pages = %v", all)
	}
	var p page
	h.call(http.MethodGet, "/profiles?limit=1000", tok, nil, http.StatusOK, &p)
	if len(p.Profiles) != 5 || p.NextCursor != nil {
		t.Fatalf("clamped limit gave %d, cursor %v", len(p.Profiles), p.NextCursor)
	}
	wantError(t, h.request(http.MethodGet, "/profiles?cursor=x", tok, nil), http.StatusBadRequest, "invalid_query")
	wantError(t, h.request(http.MethodGet, "/profiles?limit=x", tok, nil), http.StatusBadRequest, "invalid_query")
	wantError(t, h.request(http.MethodGet, "/profiles?q="+strings.Repeat("x", 65), tok, nil), http.StatusBadRequest, "invalid_query")
}

func TestUpdateProfile(t *testing.T) {
	h := start(t, nil)
	tok := h.token(5, "erin")

	// PUT on self creates the profile on first use.
	var p profileView
	h.call(http.MethodPut, "/profiles/5", tok, map[string]any{"display_name": "  Erin E.  ", "bio": "line 1\r\nline 2\n"}, http.StatusOK, &p)
	if p.DisplayName != "Erin E." || p.Bio != "line 1\nline 2" || p.StatusText != "" || p.Username != "erin" {
		t.Fatalf("after first PUT = %+v", p)
	}
	created := p.CreatedAt

	// Merge: only status_text changes.
	h.call(http.MethodPut, "/profiles/5", tok, `{"status_text":"🌴 on holiday"}`, http.StatusOK, &p)
	if p.DisplayName != "Erin E." || p.Bio != "line 1\nline 2" || p.StatusText != "🌴 on holiday" || !p.CreatedAt.Equal(created) || !p.UpdatedAt.After(created) && !p.UpdatedAt.Equal(created) {
		t.Fatalf("after merge = %+v", p)
	}

	// Whitespace-only and null clear; read-only fields are ignored.
	h.call(http.MethodPut, "/profiles/5", tok, `{"bio":"   \n\t ","status_text":null,"username":"mallory","id":99,"avatar_url":"x"}`, http.StatusOK, &p)
	if p.Bio != "" || p.StatusText != "" || p.Username != "erin" || p.ID != 5 || p.DisplayName != "Erin E." {
		t.Fatalf("after clear = %+v", p)
	}
	// The avatar URL of a default avatar follows the display name's initial.
	before := p.AvatarURL
	h.call(http.MethodPut, "/profiles/5", tok, `{"display_name":"Zed"}`, http.StatusOK, &p)
	if p.AvatarURL == before {
		t.Fatal("avatar_url did not change with the initial")
	}

	// "me" names the caller in every authenticated :id route.
	h.call(http.MethodPut, "/profiles/me", tok, `{"status_text":"via me"}`, http.StatusOK, &p)
	if p.ID != 5 || p.StatusText != "via me" {
		t.Fatalf("PUT /profiles/me = %+v", p)
	}

	// An empty object changes nothing and answers the profile.
	var same profileView
	h.call(http.MethodPut, "/profiles/5", tok, `{}`, http.StatusOK, &same)
	if same != p {
		t.Fatalf("empty PUT = %+v, want %+v", same, p)
	}

	// Exact limits pass, counted in characters, not bytes.
	h.call(http.MethodPut, "/profiles/5", tok, map[string]string{
		"display_name": strings.Repeat("é", 64), "bio": strings.Repeat("ü", 500), "status_text": strings.Repeat("漢", 100),
	}, http.StatusOK, &p)
	if len([]rune(p.Bio)) != 500 {
		t.Fatalf("bio has %d characters", len([]rune(p.Bio)))
	}
}

func TestUpdateProfileValidation(t *testing.T) {
	h := start(t, nil)
	tok := h.token(3, "carl")
	var orig profileView
	h.call(http.MethodPut, "/profiles/3", tok, `{"display_name":"Carl","bio":"b","status_text":"s"}`, http.StatusOK, &orig)

	tests := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"malformed json", `{"display_name":`, http.StatusBadRequest, "invalid_json"},
		{"not json", `display_name=x`, http.StatusBadRequest, "invalid_json"},
		{"empty body", ``, http.StatusBadRequest, "invalid_json"},
		{"array", `[{"display_name":"x"}]`, http.StatusBadRequest, "invalid_json"},
		{"string", `"x"`, http.StatusBadRequest, "invalid_json"},
		{"null", `null`, http.StatusBadRequest, "invalid_json"},
		{"two objects", `{"bio":"a"}{"bio":"b"}`, http.StatusBadRequest, "invalid_json"},
		{"display_name number", `{"display_name":5}`, http.StatusUnprocessableEntity, "invalid_field"},
		{"bio object", `{"bio":{"x":1}}`, http.StatusUnprocessableEntity, "invalid_field"},
		{"status_text bool", `{"status_text":true}`, http.StatusUnprocessableEntity, "invalid_field"},
		{"display_name too long", `{"display_name":"` + strings.Repeat("a", 65) + `"}`, http.StatusUnprocessableEntity, "invalid_field"},
		{"bio too long", `{"bio":"` + strings.Repeat("é", 501) + `"}`, http.StatusUnprocessableEntity, "invalid_field"},
		{"status too long", `{"status_text":"` + strings.Repeat("x", 101) + `"}`, http.StatusUnprocessableEntity, "invalid_field"},
		{"newline in display name", `{"display_name":"a\nb"}`, http.StatusUnprocessableEntity, "invalid_field"},
		{"control char in status", `{"status_text":"a\u0007b"}`, http.StatusUnprocessableEntity, "invalid_field"},
		{"bidi override in name", `{"display_name":"admin\u202egnp.exe"}`, http.StatusUnprocessableEntity, "invalid_field"},
		{"nul in bio", `{"bio":"a\u0000b"}`, http.StatusUnprocessableEntity, "invalid_field"},
		{"unknown field", `{"displayName":"x"}`, http.StatusUnprocessableEntity, "unknown_field"},
		{"valid field with a bad one", `{"display_name":"New","bio":"` + strings.Repeat("x", 501) + `"}`, http.StatusUnprocessableEntity, "invalid_field"},
		{"valid field with an unknown one", `{"display_name":"New","role":"admin"}`, http.StatusUnprocessableEntity, "unknown_field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, h.request(http.MethodPut, "/profiles/3", tok, tt.body), tt.status, tt.code)
		})
	}
	// Nothing was half-written.
	var now profileView
	h.call(http.MethodGet, "/profiles/3", tok, nil, http.StatusOK, &now)
	if now != orig {
		t.Fatalf("profile changed by refused updates: %+v, was %+v", now, orig)
	}

	// A body over the 64 KiB JSON limit is 413.
	big := `{"bio":"` + strings.Repeat("x", 70<<10) + `"}`
	wantError(t, h.request(http.MethodPut, "/profiles/3", tok, big), http.StatusRequestEntityTooLarge, "body_too_large")
}

func TestUpdateProfileAuthorization(t *testing.T) {
	h := start(t, nil)
	alice, bob := h.token(1, "alice"), h.token(2, "bob")
	admin := h.adminToken(3, "root")
	h.call(http.MethodGet, "/profiles/me", alice, nil, http.StatusOK, nil)
	h.call(http.MethodGet, "/profiles/me", bob, nil, http.StatusOK, nil)

	var p profileView
	h.call(http.MethodPut, "/profiles/1", alice, `{"status_text":"mine"}`, http.StatusOK, &p)

	// Bob may not touch alice's profile, whatever the body says.
	wantError(t, h.request(http.MethodPut, "/profiles/1", bob, `{"status_text":"hacked"}`), http.StatusForbidden, "forbidden")
	wantError(t, h.request(http.MethodPut, "/profiles/1", bob, `not even json`), http.StatusForbidden, "forbidden")
	wantError(t, h.upload(1, bob, "avatar", "a.png", "image/png", pngBytes(t)), http.StatusForbidden, "forbidden")
	wantError(t, h.request(http.MethodDelete, "/profiles/1/avatar", bob, nil), http.StatusForbidden, "forbidden")
	// Nor one that does not exist yet.
	wantError(t, h.request(http.MethodPut, "/profiles/77", bob, `{"bio":"x"}`), http.StatusForbidden, "forbidden")

	// An admin may.
	h.call(http.MethodPut, "/profiles/1", admin, `{"status_text":"moderated"}`, http.StatusOK, &p)
	if p.ID != 1 || p.Username != "alice" || p.StatusText != "moderated" {
		t.Fatalf("admin update = %+v", p)
	}
	// An admin editing a profile that does not exist gets 404, and no
	// profile is created for it.
	wantError(t, h.request(http.MethodPut, "/profiles/77", admin, `{"bio":"x"}`), http.StatusNotFound, "profile_not_found")
	wantError(t, h.request(http.MethodPut, "/profiles/77", admin, `{}`), http.StatusNotFound, "profile_not_found")
	wantError(t, h.request(http.MethodGet, "/profiles/77", admin, nil), http.StatusNotFound, "profile_not_found")

	var a profileView
	h.call(http.MethodGet, "/profiles/1", bob, nil, http.StatusOK, &a)
	if a.StatusText != "moderated" {
		t.Fatalf("alice = %+v", a)
	}
}

func TestTokens(t *testing.T) {
	h := start(t, nil)
	other := authntest.New(t) // a second issuer: same kid, different key
	tests := []struct {
		name   string
		header string
		code   string
	}{
		{"missing", "", "missing_token"},
		{"wrong scheme", "Basic YWxpY2U6cGFzc3dvcmQ=", "missing_token"},
		{"garbage", "Bearer not-a-jwt", "invalid_token"},
		{"expired", "Bearer " + h.is.Token(t, 1, "alice", authn.RoleUser, -2*time.Minute), "token_expired"},
		{"other key", "Bearer " + other.Token(t, 1, "alice", authn.RoleUser, time.Minute), "invalid_token"},
		{"bad role", "Bearer " + h.is.Token(t, 1, "alice", "superuser", time.Minute), "invalid_token"},
	}
	paths := []struct{ method, path string }{
		{http.MethodGet, "/profiles/me"},
		{http.MethodGet, "/profiles/1"},
		{http.MethodGet, "/profiles?ids=1"},
		{http.MethodPut, "/profiles/1"},
		{http.MethodPut, "/profiles/1/avatar"},
		{http.MethodDelete, "/profiles/1/avatar"},
		{http.MethodGet, "/settings/me"},
		{http.MethodPut, "/settings/me"},
		{http.MethodGet, "/stats/1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, p := range paths {
				resp := h.request(p.method, p.path, "", `{"bio":"x"}`, "Authorization", tt.header)
				wantError(t, resp, http.StatusUnauthorized, tt.code)
			}
		})
	}
	// Nothing was created or changed by the refused calls.
	wantError(t, h.request(http.MethodGet, "/profiles/1", h.token(2, "bob"), nil), http.StatusNotFound, "profile_not_found")
}

// TestUsernameFollowsToken: the profile's username is the token's name
// claim, refreshed when it changes.
func TestUsernameFollowsToken(t *testing.T) {
	h := start(t, nil)
	var p profileView
	h.call(http.MethodGet, "/profiles/me", h.token(4, "old_name"), nil, http.StatusOK, &p)
	h.call(http.MethodGet, "/settings/me", h.token(4, "new_name"), nil, http.StatusOK, nil)
	h.call(http.MethodGet, "/profiles/4", h.token(5, "x"), nil, http.StatusOK, &p)
	if p.Username != "new_name" {
		t.Fatalf("username = %q", p.Username)
	}
}

// Every account is in the directory from its registration on, whether or
// not its owner ever used the app: lookups catch up with auth-service's
// account list first (docs/ARCHITECTURE.md, user-service).
func TestDirectoryHasEveryAccount(t *testing.T) {
	h := start(t, nil)
	old := time.Now().Add(-time.Hour)
	h.auth.add(fakeAccount{1, "alice", old}, fakeAccount{20, "zed", old}, fakeAccount{21, "newbie", time.Now()})
	tok := h.token(1, "alice")
	type page struct {
		Profiles []profileView `json:"profiles"`
	}
	var found page
	h.call(http.MethodGet, "/profiles?q=zed", tok, nil, http.StatusOK, &found)
	// Created when the account was, not when it was imported.
	if len(found.Profiles) != 1 || found.Profiles[0].ID != 20 || found.Profiles[0].CreatedAt.Sub(old).Abs() > time.Millisecond {
		t.Fatalf("search for an account that never used the app: %+v", found.Profiles)
	}
	var p profileView
	h.call(http.MethodGet, "/profiles/21", tok, nil, http.StatusOK, &p)
	if p.Username != "newbie" {
		t.Fatalf("profile of a new account = %+v", p)
	}
	calls := h.auth.calls()
	if len(calls) == 0 || calls[0].Header.Get("Authorization") != "Bearer "+tok || calls[0].URL.Query().Get("after") != "0" {
		t.Fatalf("auth-service was asked %v", calls)
	}
	// The mark passed the old accounts, not the new one (it may still be
	// joined by a lower id committed late): the next catch-up starts after 20.
	h.auth.add(fakeAccount{22, "later", time.Now()})
	var later page
	h.call(http.MethodGet, "/profiles?ids=20,21,22,99", tok, nil, http.StatusOK, &later)
	if len(later.Profiles) != 3 {
		t.Fatalf("batch lookup = %+v", later.Profiles)
	}
	if last := h.auth.calls(); last[len(last)-1].URL.Query().Get("after") != "20" {
		t.Fatalf("the catch-up after the first asked after=%s", last[len(last)-1].URL.Query().Get("after"))
	}
	// auth-service down: lookups answer from what is there.
	h.auth.setFailing(true)
	var all page
	h.call(http.MethodGet, "/profiles", tok, nil, http.StatusOK, &all)
	if len(all.Profiles) != 4 {
		t.Fatalf("directory while auth-service is down: %+v", all.Profiles)
	}
	// An id it could not ask about may be a brand-new account: 503, not
	// "no such user" (chat-service would refuse a DM with someone real).
	wantError(t, h.request(http.MethodGet, "/profiles/99", tok, nil), http.StatusServiceUnavailable, "directory_unavailable")
	metrics := h.request(http.MethodGet, "/metrics", "", nil)
	raw, _ := io.ReadAll(metrics.Body)
	if !strings.Contains(string(raw), `user_directory_catchup_failures_total{service="user-service"} 2`) {
		t.Fatalf("the failed catch-ups are not counted:\n%s", grepLines(string(raw), "catchup"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
