package e2e

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strconv"
	"testing"
)

func pngBytes(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	img.Set(1, 1, color.RGBA{255, 0, 0, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestUserJourneyThroughGateway walks one user through the backbone using
// only the gateway, as the browser does.
func TestUserJourneyThroughGateway(t *testing.T) {
	s := startStack(t)
	anon := &api{t: t, base: s.Gateway.URL}

	var reg session
	anon.must(201, "POST", "/api/auth/register", map[string]string{"username": "Alice", "password": "correct horse", "email": "alice@example.com"}, &reg)
	if reg.User.ID == 0 || reg.AccessToken == "" || reg.RefreshToken == "" || reg.ExpiresIn <= 0 {
		t.Fatalf("register answered %+v", reg)
	}
	if r := anon.do("POST", "/api/auth/register", map[string]string{"username": "alice", "password": "another pass"}); r.Status != 409 {
		t.Fatalf("case-insensitive duplicate username: %d %s", r.Status, r.Body)
	}

	var login session
	anon.must(200, "POST", "/api/auth/login", map[string]string{"username": "alice", "password": "correct horse"}, &login)
	alice := anon.with(login.AccessToken)

	// An account made through the API alone, never used in the app, is in
	// the directory at once: another user finds it and reads its profile.
	var dave session
	anon.must(201, "POST", "/api/auth/register", map[string]string{"username": "dave", "password": "correct horse"}, &dave)
	var found struct {
		Profiles []struct {
			ID       int64  `json:"id"`
			Username string `json:"username"`
		} `json:"profiles"`
	}
	alice.must(200, "GET", "/api/users/profiles?q=dav", nil, &found)
	if len(found.Profiles) != 1 || found.Profiles[0].ID != dave.User.ID {
		t.Fatalf("directory search for an account made through the API: %+v", found)
	}
	alice.must(200, "GET", "/api/users/profiles/"+strconv.FormatInt(dave.User.ID, 10), nil, nil)

	var me user
	alice.must(200, "GET", "/api/auth/me", nil, &me)
	if me.ID != reg.User.ID || me.Username != "Alice" || me.Role != "user" {
		t.Fatalf("me = %+v", me)
	}

	id := strconv.FormatInt(me.ID, 10)
	var prof map[string]any
	alice.must(200, "PUT", "/api/users/profiles/"+id, map[string]string{"display_name": "Alice A.", "bio": "hello"}, &prof)
	alice.must(200, "PUT", "/api/users/profiles/"+id, map[string]string{"status_text": "in a meeting"}, &prof)
	if prof["display_name"] != "Alice A." || prof["bio"] != "hello" || prof["status_text"] != "in a meeting" {
		t.Fatalf("merged profile = %v", prof)
	}

	body, ctype := multipartFile(t, "avatar", "me.png", pngBytes(t))
	if r := alice.do("PUT", "/api/users/profiles/"+id+"/avatar", body, "Content-Type", ctype); r.Status != 200 {
		t.Fatalf("avatar upload: %d %s", r.Status, r.Body)
	}
	// Avatars are public: an <img> cannot send a token.
	img := anon.do("GET", "/api/users/avatars/"+id, nil)
	if img.Status != 200 || img.Header.Get("Content-Type") != "image/png" || img.Header.Get("ETag") == "" {
		t.Fatalf("avatar: %d %v", img.Status, img.Header)
	}
	if r := anon.do("GET", "/api/users/avatars/"+id, nil, "If-None-Match", img.Header.Get("ETag")); r.Status != http.StatusNotModified {
		t.Fatalf("avatar revalidation = %d", r.Status)
	}
	html, hctype := multipartFile(t, "avatar", "x.png", []byte("<html><script>alert(1)</script></html>"))
	if r := alice.do("PUT", "/api/users/profiles/"+id+"/avatar", html, "Content-Type", hctype); r.Status < 400 || r.Status >= 500 {
		t.Fatalf("non-image avatar accepted: %d %s", r.Status, r.Body)
	}

	var refreshed session
	anon.must(200, "POST", "/api/auth/refresh", map[string]string{"refresh_token": login.RefreshToken}, &refreshed)
	if refreshed.AccessToken == "" || refreshed.RefreshToken == login.RefreshToken {
		t.Fatalf("refresh did not rotate: %+v", refreshed)
	}
	anon.with(refreshed.AccessToken).must(200, "GET", "/api/auth/me", nil, nil)

	anon.must(204, "POST", "/api/auth/logout", map[string]string{"refresh_token": refreshed.RefreshToken}, nil)
	if r := anon.do("POST", "/api/auth/refresh", map[string]string{"refresh_token": refreshed.RefreshToken}); r.Status != 401 {
		t.Fatalf("refresh after logout = %d %s", r.Status, r.Body)
	}

	// An admin disables Alice; she can no longer log in.
	var adm session
	anon.must(200, "POST", "/api/auth/login", map[string]string{"username": "admin", "password": adminPassword}, &adm)
	admin := anon.with(adm.AccessToken)
	var users struct {
		Users []user `json:"users"`
	}
	admin.must(200, "GET", "/api/auth/users", nil, &users)
	if len(users.Users) < 2 {
		t.Fatalf("admin user list = %+v", users)
	}
	// (The login that was logged out above no longer works anywhere; her
	// registration's session still does.)
	if r := anon.with(reg.AccessToken).do("GET", "/api/auth/users", nil); r.Status != 403 {
		t.Fatalf("non-admin listed users: %d", r.Status)
	}
	admin.must(200, "PATCH", "/api/auth/users/"+id, map[string]any{"disabled": true}, nil)
	r := anon.do("POST", "/api/auth/login", map[string]string{"username": "alice", "password": "correct horse"})
	if r.Status != 403 || r.errCode(t) != "account_disabled" {
		t.Fatalf("disabled login = %d %s", r.Status, r.Body)
	}

	// Health aggregates every service.
	var health struct {
		Status   string                    `json:"status"`
		Services map[string]map[string]any `json:"services"`
	}
	anon.must(200, "GET", "/health", nil, &health)
	if health.Status != "ok" || len(health.Services) != 3 {
		t.Fatalf("gateway health = %+v", health)
	}
}

// TestBadInputThroughGateway checks that client mistakes get the JSON error
// shape with the right status, never a 500.
func TestBadInputThroughGateway(t *testing.T) {
	s := startStack(t)
	anon := &api{t: t, base: s.Gateway.URL}
	var reg session
	anon.must(201, "POST", "/api/auth/register", map[string]string{"username": "bob", "password": "password1"}, &reg)
	bob := anon.with(reg.AccessToken)
	tests := []struct {
		name   string
		client *api
		method string
		path   string
		body   any
		status int
	}{
		{"malformed json", anon, "POST", "/api/auth/login", `{"username":`, 400},
		{"wrong type", anon, "POST", "/api/auth/register", `{"username":5,"password":"password1"}`, 422},
		{"short password", anon, "POST", "/api/auth/register", map[string]string{"username": "carol", "password": "short"}, 422},
		{"bad username", anon, "POST", "/api/auth/register", map[string]string{"username": "no spaces!", "password": "password1"}, 422},
		{"wrong password", anon, "POST", "/api/auth/login", map[string]string{"username": "bob", "password": "wrong-password"}, 401},
		{"unknown user", anon, "POST", "/api/auth/login", map[string]string{"username": "nobody", "password": "password1"}, 401},
		{"no token", anon, "GET", "/api/auth/me", nil, 401},
		{"forged token", anon.with("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."), "GET", "/api/chat/rooms", nil, 401},
		{"unknown profile", bob, "GET", "/api/users/profiles/999999", nil, 404},
		{"other's profile", bob, "PUT", "/api/users/profiles/1", map[string]string{"bio": "pwned"}, 403},
		{"unknown room", bob, "GET", "/api/chat/rooms/999999", nil, 404},
		{"empty message", bob, "POST", "/api/chat/rooms/1/messages", map[string]string{"body": "   "}, 422},
		{"unknown prefix", bob, "GET", "/api/nope", nil, 404},
		{"oversize body", anon, "POST", "/api/auth/login", `{"username":"` + string(bytes.Repeat([]byte("x"), 3<<20)) + `"}`, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.client.t = t
			r := tt.client.do(tt.method, tt.path, tt.body)
			if r.Status != tt.status {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, r.Status, r.Body, tt.status)
			}
			r.errCode(t)
		})
	}
}
