package app_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parleychat/parley/auth-service/app"
	"github.com/parleychat/parley/auth-service/internal/token"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/testkit"
)

// The whole life of a login: register, log in, use, rotate, reuse (which
// revokes the family), log out.
func TestSessionFlow(t *testing.T) { eachDatabase(t, testSessionFlow) }

func testSessionFlow(t *testing.T, db map[string]string) {
	s := start(t, db)
	base := s.URL

	var reg session
	r := must(t, 201, "POST", base+"/register", map[string]string{
		"username": "Alice", "password": "correct horse", "email": "alice@example.com",
	}, &reg)
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("register Cache-Control %q", r.Header.Get("Cache-Control"))
	}
	u := reg.User
	if u.ID <= 0 || u.Username != "Alice" || u.Role != "user" || u.Disabled || string(u.Email) != `"alice@example.com"` ||
		u.CreatedAt.IsZero() || u.CreatedAt.Location() != time.UTC || !u.UpdatedAt.Equal(u.CreatedAt) {
		t.Fatalf("registered user %+v", u)
	}
	if reg.AccessToken == "" || reg.RefreshToken == "" || reg.TokenType != "Bearer" || reg.ExpiresIn != 900 {
		t.Fatalf("register session %+v", reg)
	}
	checkClaims(t, reg.AccessToken, u.ID, "Alice", "user")

	// No email: the key is left out, not sent empty.
	bob := register(t, base, "bob", "password1")
	var raw map[string]any
	json.Unmarshal(must(t, 200, "GET", base+"/me", nil, nil, bearer(bob.AccessToken)...).Body, &raw)
	if _, ok := raw["email"]; ok {
		t.Fatalf("email present without one: %v", raw)
	}

	// Usernames are case-insensitive at login.
	l1 := login(t, base, "ALICE", "correct horse")
	if l1.User.ID != u.ID || l1.RefreshToken == reg.RefreshToken {
		t.Fatalf("login %+v", l1)
	}
	var me user
	must(t, 200, "GET", base+"/me", nil, &me, bearer(l1.AccessToken)...)
	if me.ID != u.ID || me.Username != "Alice" {
		t.Fatalf("me %+v", me)
	}

	// /verify takes the token in the body or the Authorization header.
	var v struct {
		Valid bool `json:"valid"`
		User  user `json:"user"`
	}
	must(t, 200, "POST", base+"/verify", map[string]string{"token": l1.AccessToken}, &v)
	if !v.Valid || v.User.ID != u.ID {
		t.Fatalf("verify body %+v", v)
	}
	v = struct {
		Valid bool `json:"valid"`
		User  user `json:"user"`
	}{}
	must(t, 200, "POST", base+"/verify", nil, &v, bearer(l1.AccessToken)...)
	if !v.Valid || v.User.Username != "Alice" {
		t.Fatalf("verify header %+v", v)
	}

	// Rotation.
	var r1 session
	must(t, 200, "POST", base+"/refresh", map[string]string{"refresh_token": l1.RefreshToken}, &r1)
	if r1.RefreshToken == l1.RefreshToken || r1.AccessToken == "" || r1.User.ID != u.ID || r1.ExpiresIn != 900 {
		t.Fatalf("refresh %+v", r1)
	}
	must(t, 200, "GET", base+"/me", nil, nil, bearer(r1.AccessToken)...)
	before := s.counts(t)

	// Reuse of the spent token revokes the family: the newer token dies too.
	r = must(t, 401, "POST", base+"/refresh", map[string]string{"refresh_token": l1.RefreshToken}, nil)
	if c := r.code(t); c != "refresh_token_reused" {
		t.Fatalf("reuse code %s", c)
	}
	r = must(t, 401, "POST", base+"/refresh", map[string]string{"refresh_token": r1.RefreshToken}, nil)
	if c := r.code(t); c != "refresh_token_revoked" {
		t.Fatalf("successor code %s", c)
	}
	if after := s.counts(t); after["refresh_tokens"] != before["refresh_tokens"] {
		t.Fatalf("failed refreshes stored tokens: %v -> %v", before, after)
	}
	// Another login (the registration's family) is untouched.
	must(t, 200, "POST", base+"/refresh", map[string]string{"refresh_token": reg.RefreshToken}, nil)

	// Logout ends the login; a second logout is still 204.
	l2 := login(t, base, "alice", "correct horse")
	must(t, 204, "POST", base+"/logout", map[string]string{"refresh_token": l2.RefreshToken}, nil)
	r = must(t, 401, "POST", base+"/refresh", map[string]string{"refresh_token": l2.RefreshToken}, nil)
	if c := r.code(t); c != "refresh_token_revoked" {
		t.Fatalf("after logout code %s", c)
	}
	must(t, 204, "POST", base+"/logout", map[string]string{"refresh_token": l2.RefreshToken}, nil)
	must(t, 204, "POST", base+"/logout", map[string]string{"refresh_token": "never-issued"}, nil)
	if c := must(t, 422, "POST", base+"/logout", map[string]string{}, nil).code(t); c != "refresh_token_required" {
		t.Fatalf("logout without token: %s", c)
	}
	if c := must(t, 401, "POST", base+"/refresh", map[string]string{"refresh_token": "forged"}, nil).code(t); c != "invalid_refresh_token" {
		t.Fatalf("forged refresh: %s", c)
	}
	if c := must(t, 401, "POST", base+"/refresh", map[string]string{"refresh_token": strings.Repeat("x", 1000)}, nil).code(t); c != "invalid_refresh_token" {
		t.Fatalf("oversize refresh: %s", c)
	}
}

// checkClaims decodes an access token (its signature is checked elsewhere)
// and compares the header and claims with docs/ARCHITECTURE.md, Contract: Tokens.
func checkClaims(t *testing.T, raw string, id int64, name, role string) {
	t.Helper()
	var c authn.Claims
	tok, _, err := jwt.NewParser().ParseUnverified(raw, &c)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Header["alg"] != "EdDSA" || tok.Header["kid"] == "" || tok.Header["kid"] == nil {
		t.Fatalf("header %v", tok.Header)
	}
	if c.Subject != strconv.FormatInt(id, 10) || c.Name != name || c.Role != role || c.Issuer != authn.DefaultIssuer ||
		len(c.Audience) != 1 || c.Audience[0] != authn.DefaultAudience || c.IssuedAt == nil || c.ExpiresAt == nil ||
		c.ExpiresAt.Sub(c.IssuedAt.Time) != 15*time.Minute {
		t.Fatalf("claims %+v", c)
	}
}

// Bad bodies get the right status and code, never a 500, and write nothing.
func TestRegisterValidation(t *testing.T) {
	s := start(t, nil)
	base := s.URL
	before := s.counts(t)
	tests := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"malformed json", `{"username":`, 400, "invalid_json"},
		{"no body", nil, 400, "invalid_json"},
		{"array", `[]`, 400, "invalid_json"},
		{"string", `"alice"`, 400, "invalid_json"},
		{"two objects", `{"username":"alice","password":"password1"} {}`, 400, "invalid_json"},
		{"username wrong type", `{"username":5,"password":"password1"}`, 422, "invalid_field"},
		{"password wrong type", `{"username":"alice","password":true}`, 422, "invalid_field"},
		{"email wrong type", `{"username":"alice","password":"password1","email":["a@b.c"]}`, 422, "invalid_field"},
		{"missing username", map[string]string{"password": "password1"}, 422, "username_required"},
		{"blank username", map[string]string{"username": "   ", "password": "password1"}, 422, "username_required"},
		{"short username", map[string]string{"username": "al", "password": "password1"}, 422, "invalid_username"},
		{"long username", map[string]string{"username": strings.Repeat("a", 33), "password": "password1"}, 422, "invalid_username"},
		{"bad characters", map[string]string{"username": "no spaces!", "password": "password1"}, 422, "invalid_username"},
		{"missing password", map[string]string{"username": "alice"}, 422, "password_required"},
		{"short password", map[string]string{"username": "alice", "password": "short"}, 422, "password_too_short"},
		{"long password", map[string]string{"username": "alice", "password": strings.Repeat("p", 73)}, 422, "password_too_long"},
		{"blank password", map[string]string{"username": "alice", "password": "         "}, 422, "invalid_password"},
		{"bad email", map[string]string{"username": "alice", "password": "password1", "email": "not-an-email"}, 422, "invalid_email"},
		{"oversize body", `{"username":"` + strings.Repeat("x", 100<<10) + `"}`, 413, "body_too_large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, "POST", base+"/register", tc.body)
			if r.Status != tc.status || r.code(t) != tc.code {
				t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, tc.status, tc.code)
			}
		})
	}
	if after := s.counts(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("failed registrations wrote rows: %v -> %v", before, after)
	}

	register(t, base, "Carol", "password1")
	mid := s.counts(t)
	for _, name := range []string{"carol", "CAROL", " carol "} {
		r := must(t, 409, "POST", base+"/register", map[string]string{"username": name, "password": "password2"}, nil)
		if c := r.code(t); c != "username_taken" {
			t.Fatalf("duplicate %q: %s", name, c)
		}
	}
	if after := s.counts(t); fmt.Sprint(after) != fmt.Sprint(mid) {
		t.Fatalf("duplicates wrote rows: %v -> %v", mid, after)
	}
	// The stored spelling is the registered one.
	if l := login(t, base, "carol", "password1"); l.User.Username != "Carol" {
		t.Fatalf("username %q", l.User.Username)
	}
}

func TestLoginErrors(t *testing.T) {
	s := start(t, nil)
	base := s.URL
	register(t, base, "dora", "password1")
	before := s.counts(t)
	tests := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"wrong password", map[string]string{"username": "dora", "password": "password2"}, 401, "invalid_credentials"},
		{"unknown user", map[string]string{"username": "nobody", "password": "password1"}, 401, "invalid_credentials"},
		{"password past 72 bytes", map[string]string{"username": "dora", "password": "password1" + strings.Repeat("x", 100)}, 401, "invalid_credentials"},
		{"missing password", map[string]string{"username": "dora"}, 422, "password_required"},
		{"missing username", map[string]string{"password": "password1"}, 422, "username_required"},
		{"wrong type", `{"username":"dora","password":12345678}`, 422, "invalid_field"},
		{"malformed", `{"username":`, 400, "invalid_json"},
		{"no body", nil, 400, "invalid_json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, "POST", base+"/login", tc.body)
			if r.Status != tc.status || r.code(t) != tc.code {
				t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, tc.status, tc.code)
			}
		})
	}
	if after := s.counts(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("failed logins wrote rows: %v -> %v", before, after)
	}
}

// Every kind of bad access token is a 401 JSON error on every protected
// endpoint, and {valid:false} on /verify.
func TestBadAccessTokens(t *testing.T) {
	keyPath, priv := keyFile(t)
	s := start(t, map[string]string{"JWT_PRIVATE_KEY_FILE": keyPath})
	base := s.URL
	alice := register(t, base, "alice", "password1")
	pub := priv.Public().(ed25519.PublicKey)
	kid := token.KID(pub)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)

	claims := func(mod func(*authn.Claims)) *authn.Claims {
		now := time.Now()
		c := &authn.Claims{
			RegisteredClaims: jwt.RegisteredClaims{
				Subject: strconv.FormatInt(alice.User.ID, 10), Issuer: authn.DefaultIssuer,
				Audience: jwt.ClaimStrings{authn.DefaultAudience},
				IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
			},
			Name: "alice", Role: "user",
		}
		if mod != nil {
			mod(c)
		}
		return c
	}
	sign := func(m jwt.SigningMethod, c *authn.Claims, key any, kid string) string {
		t.Helper()
		tk := jwt.NewWithClaims(m, c)
		if kid != "" {
			tk.Header["kid"] = kid
		}
		out, err := tk.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	ed := jwt.SigningMethodEdDSA

	// Control: our own signature over good claims works.
	must(t, 200, "GET", base+"/me", nil, nil, bearer(sign(ed, claims(nil), priv, kid))...)

	tests := []struct {
		name string
		auth string // the whole Authorization header
		code string
	}{
		{"no header", "", "missing_token"},
		{"basic scheme", "Basic YWxpY2U6cGFzc3dvcmQx", "missing_token"},
		{"empty bearer", "Bearer ", "missing_token"},
		{"garbage", "Bearer not.a.jwt", "invalid_token"},
		{"expired", "Bearer " + sign(ed, claims(func(c *authn.Claims) {
			c.IssuedAt = jwt.NewNumericDate(time.Now().Add(-2 * time.Hour))
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
		}), priv, kid), "token_expired"},
		{"no exp", "Bearer " + sign(ed, claims(func(c *authn.Claims) { c.ExpiresAt = nil }), priv, kid), "invalid_token"},
		{"wrong audience", "Bearer " + sign(ed, claims(func(c *authn.Claims) { c.Audience = jwt.ClaimStrings{"other"} }), priv, kid), "invalid_token"},
		{"wrong issuer", "Bearer " + sign(ed, claims(func(c *authn.Claims) { c.Issuer = "evil" }), priv, kid), "invalid_token"},
		{"alg none", "Bearer " + sign(jwt.SigningMethodNone, claims(nil), jwt.UnsafeAllowNoneSignatureType, kid), "invalid_token"},
		{"HS256 keyed with the public key", "Bearer " + sign(jwt.SigningMethodHS256, claims(nil), []byte(pub), kid), "invalid_token"},
		{"HS256 keyed with the JWK x", "Bearer " + sign(jwt.SigningMethodHS256, claims(nil), []byte(base64.RawURLEncoding.EncodeToString(pub)), kid), "invalid_token"},
		{"other key, same kid", "Bearer " + sign(ed, claims(nil), otherKey, kid), "invalid_token"},
		{"unknown kid", "Bearer " + sign(ed, claims(nil), priv, "some-other-kid"), "invalid_token"},
		{"no kid", "Bearer " + sign(ed, claims(nil), priv, ""), "invalid_token"},
		{"tampered payload", "Bearer " + tamper(t, sign(ed, claims(nil), priv, kid)), "invalid_token"},
		{"subject not a number", "Bearer " + sign(ed, claims(func(c *authn.Claims) { c.Subject = "alice" }), priv, kid), "invalid_token"},
		{"unknown role", "Bearer " + sign(ed, claims(func(c *authn.Claims) { c.Role = "root" }), priv, kid), "invalid_token"},
		{"user that does not exist", "Bearer " + sign(ed, claims(func(c *authn.Claims) { c.Subject = "987654" }), priv, kid), "invalid_token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h []string
			if tc.auth != "" {
				h = []string{"Authorization", tc.auth}
			}
			for _, ep := range []struct{ method, path string }{{"GET", "/me"}, {"GET", "/users"}, {"PATCH", "/users/1"}} {
				r := call(t, ep.method, base+ep.path, map[string]any{"role": "admin"}, h...)
				if r.Status != 401 || r.code(t) != tc.code {
					t.Fatalf("%s %s: %d %s, want 401 %s", ep.method, ep.path, r.Status, r.Body, tc.code)
				}
			}
			r := call(t, "POST", base+"/verify", nil, h...)
			var v struct {
				Valid *bool `json:"valid"`
			}
			r.decode(t, &v)
			if r.Status != 401 || v.Valid == nil || *v.Valid || r.code(t) != tc.code {
				t.Fatalf("verify: %d %s", r.Status, r.Body)
			}
		})
	}
	// The same tokens in the /verify body.
	r := call(t, "POST", base+"/verify", map[string]string{"token": sign(jwt.SigningMethodHS256, claims(nil), []byte(pub), kid)})
	if r.Status != 401 || r.code(t) != "invalid_token" {
		t.Fatalf("verify HS256 body: %d %s", r.Status, r.Body)
	}
	if r := call(t, "POST", base+"/verify", `{"token":`); r.Status != 400 || r.code(t) != "invalid_json" {
		t.Fatalf("verify malformed: %d %s", r.Status, r.Body)
	}
	if r := call(t, "POST", base+"/verify", `{"token":5}`); r.Status != 422 || r.code(t) != "invalid_field" {
		t.Fatalf("verify wrong type: %d %s", r.Status, r.Body)
	}
}

// tamper flips the role claim of a signed token without re-signing.
func tamper(t *testing.T, raw string) string {
	t.Helper()
	parts := strings.Split(raw, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	payload = bytes.Replace(payload, []byte(`"role":"user"`), []byte(`"role":"admin"`), 1)
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

func TestAdmin(t *testing.T) { eachDatabase(t, testAdmin) }

func testAdmin(t *testing.T, db map[string]string) {
	s := start(t, db)
	base := s.URL
	adm := login(t, base, "admin", adminPassword)
	if adm.User.Role != "admin" {
		t.Fatalf("admin role %q", adm.User.Role)
	}
	ah := bearer(adm.AccessToken)
	var users []session
	for i := 1; i <= 5; i++ {
		users = append(users, register(t, base, fmt.Sprintf("user%d", i), "password1"))
	}

	// Listing and pagination.
	type page struct {
		Users      []user `json:"users"`
		NextCursor *int64 `json:"next_cursor"`
	}
	var all page
	r := must(t, 200, "GET", base+"/users", nil, &all, ah...)
	if len(all.Users) != 6 || all.NextCursor != nil || !bytes.Contains(r.Body, []byte(`"next_cursor":null`)) {
		t.Fatalf("all users: %s", r.Body)
	}
	seen := map[int64]bool{}
	url := base + "/users?limit=2"
	for pages := 0; ; pages++ {
		var p page
		must(t, 200, "GET", url, nil, &p, ah...)
		if len(p.Users) > 2 || pages > 3 {
			t.Fatalf("page %d: %+v", pages, p)
		}
		for _, u := range p.Users {
			if seen[u.ID] {
				t.Fatalf("user %d twice", u.ID)
			}
			seen[u.ID] = true
		}
		if p.NextCursor == nil {
			break
		}
		url = fmt.Sprintf("%s/users?limit=2&cursor=%d", base, *p.NextCursor)
	}
	if len(seen) != 6 {
		t.Fatalf("paged through %d users", len(seen))
	}
	var clamped page
	must(t, 200, "GET", base+"/users?limit=1000", nil, &clamped, ah...)
	if len(clamped.Users) != 6 {
		t.Fatalf("limit=1000 gave %d", len(clamped.Users))
	}
	var filtered page
	must(t, 200, "GET", base+"/users?q=USER", nil, &filtered, ah...)
	if len(filtered.Users) != 5 {
		t.Fatalf("q=USER gave %d", len(filtered.Users))
	}
	for _, q := range []string{"limit=abc", "cursor=-1", "cursor=x"} {
		if r := call(t, "GET", base+"/users?"+q, nil, ah...); r.Status != 400 || r.code(t) != "invalid_query" {
			t.Fatalf("%s: %d %s", q, r.Status, r.Body)
		}
	}
	if r := call(t, "GET", base+"/users", nil, bearer(users[0].AccessToken)...); r.Status != 403 || r.code(t) != "admin_required" {
		t.Fatalf("non-admin list: %d %s", r.Status, r.Body)
	}
	if r := call(t, "PATCH", base+"/users/1", map[string]any{"role": "user"}, bearer(users[0].AccessToken)...); r.Status != 403 {
		t.Fatalf("non-admin patch: %d %s", r.Status, r.Body)
	}

	// Patch errors write nothing.
	u1 := users[0].User
	before := s.counts(t)
	patchURL := fmt.Sprintf("%s/users/%d", base, u1.ID)
	selfURL := fmt.Sprintf("%s/users/%d", base, adm.User.ID)
	bad := []struct {
		name, url string
		body      any
		status    int
		code      string
	}{
		{"unknown id", base + "/users/999999", map[string]any{"role": "admin"}, 404, "user_not_found"},
		{"id not a number", base + "/users/abc", map[string]any{"role": "admin"}, 404, "user_not_found"},
		{"negative id", base + "/users/-3", map[string]any{"role": "admin"}, 404, "user_not_found"},
		{"bad role", patchURL, map[string]any{"role": "root"}, 422, "invalid_role"},
		{"no fields", patchURL, map[string]any{}, 422, "no_fields"},
		{"misspelt field", patchURL, map[string]any{"disable": true}, 422, "no_fields"},
		{"disabled wrong type", patchURL, map[string]any{"disabled": "yes"}, 422, "invalid_field"},
		{"role wrong type", patchURL, map[string]any{"role": 1}, 422, "invalid_field"},
		{"malformed", patchURL, `{"role":`, 400, "invalid_json"},
		{"demote self", selfURL, map[string]any{"role": "user"}, 403, "cannot_modify_self"},
		{"disable self", selfURL, map[string]any{"disabled": true}, 403, "cannot_modify_self"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, "PATCH", tc.url, tc.body, ah...)
			if r.Status != tc.status || r.code(t) != tc.code {
				t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, tc.status, tc.code)
			}
		})
	}
	if after := s.counts(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("failed patches wrote rows: %v -> %v", before, after)
	}
	// Keeping one's own admin role and enabled state is allowed.
	must(t, 200, "PATCH", selfURL, map[string]any{"role": "admin", "disabled": false}, nil, ah...)

	// Promote, then demote: the demoted admin's token still claims admin,
	// but the database has the last word.
	u2 := users[1]
	var got user
	must(t, 200, "PATCH", fmt.Sprintf("%s/users/%d", base, u2.User.ID), map[string]any{"role": "admin"}, &got, ah...)
	if got.Role != "admin" || got.UpdatedAt.Before(got.CreatedAt) {
		t.Fatalf("promoted %+v", got)
	}
	u2admin := login(t, base, "user2", "password1")
	must(t, 200, "GET", base+"/users", nil, nil, bearer(u2admin.AccessToken)...)
	must(t, 200, "PATCH", fmt.Sprintf("%s/users/%d", base, u2.User.ID), map[string]any{"role": "user"}, nil, ah...)
	if r := call(t, "GET", base+"/users", nil, bearer(u2admin.AccessToken)...); r.Status != 403 || r.code(t) != "admin_required" {
		t.Fatalf("demoted admin: %d %s", r.Status, r.Body)
	}

	// Disable: no login, no refresh, no /me, no /verify; the password is
	// checked before the disabled state is revealed.
	l1 := login(t, base, "user1", "password1")
	must(t, 200, "PATCH", patchURL, map[string]any{"disabled": true}, &got, ah...)
	if !got.Disabled {
		t.Fatalf("disabled %+v", got)
	}
	if c := must(t, 403, "POST", base+"/login", map[string]string{"username": "user1", "password": "password1"}, nil).code(t); c != "account_disabled" {
		t.Fatalf("disabled login: %s", c)
	}
	if c := must(t, 401, "POST", base+"/login", map[string]string{"username": "user1", "password": "wrong-pass"}, nil).code(t); c != "invalid_credentials" {
		t.Fatalf("disabled wrong password: %s", c)
	}
	for _, rt := range []string{l1.RefreshToken, users[0].RefreshToken} {
		if c := must(t, 403, "POST", base+"/refresh", map[string]string{"refresh_token": rt}, nil).code(t); c != "account_disabled" {
			t.Fatalf("disabled refresh: %s", c)
		}
	}
	if c := must(t, 403, "GET", base+"/me", nil, nil, bearer(l1.AccessToken)...).code(t); c != "account_disabled" {
		t.Fatalf("disabled me: %s", c)
	}
	if r := call(t, "POST", base+"/verify", map[string]string{"token": l1.AccessToken}); r.Status != 403 || !bytes.Contains(r.Body, []byte(`"valid":false`)) {
		t.Fatalf("disabled verify: %d %s", r.Status, r.Body)
	}

	// Re-enable: logging in works again, but the old logins stay revoked.
	must(t, 200, "PATCH", patchURL, map[string]any{"disabled": false}, nil, ah...)
	login(t, base, "user1", "password1")
	if c := must(t, 401, "POST", base+"/refresh", map[string]string{"refresh_token": l1.RefreshToken}, nil).code(t); c != "refresh_token_revoked" {
		t.Fatalf("refresh of a login revoked by disabling: %s", c)
	}
}

func TestChangePassword(t *testing.T) {
	s := start(t, nil)
	base := s.URL
	a := register(t, base, "erin", "password1")
	h := bearer(a.AccessToken)
	if c := must(t, 403, "POST", base+"/password", map[string]string{"current_password": "nope-nope", "new_password": "password2"}, nil, h...).code(t); c != "wrong_password" {
		t.Fatalf("wrong current: %s", c)
	}
	if c := must(t, 422, "POST", base+"/password", map[string]string{"current_password": "password1", "new_password": "short"}, nil, h...).code(t); c != "password_too_short" {
		t.Fatalf("short new: %s", c)
	}
	must(t, 401, "POST", base+"/password", map[string]string{"current_password": "password1", "new_password": "password2"}, nil)
	other := login(t, base, "erin", "password1") // another device
	must(t, 204, "POST", base+"/password", map[string]string{"current_password": "password1", "new_password": "password2"}, nil, h...)
	must(t, 401, "POST", base+"/login", map[string]string{"username": "erin", "password": "password1"}, nil)
	login(t, base, "erin", "password2")
	// The other device is signed out: its refresh and access tokens fail.
	if c := must(t, 401, "POST", base+"/refresh", map[string]string{"refresh_token": other.RefreshToken}, nil).code(t); c != "refresh_token_revoked" {
		t.Fatalf("other session after password change: %s", c)
	}
	if c := must(t, 401, "GET", base+"/me", nil, nil, bearer(other.AccessToken)...).code(t); c != "session_revoked" {
		t.Fatalf("other session's access token after password change: %s", c)
	}
	// The session that changed the password stays signed in.
	must(t, 200, "GET", base+"/me", nil, nil, h...)
	must(t, 200, "POST", base+"/refresh", map[string]string{"refresh_token": a.RefreshToken}, nil)
}

func TestLoginThrottling(t *testing.T) {
	s := start(t, map[string]string{
		"LOGIN_RATE_USER_BURST": "2", "LOGIN_RATE_USER_INTERVAL": "1h",
		"LOGIN_RATE_IP_BURST": "4", "LOGIN_RATE_IP_INTERVAL": "1h",
	})
	base := s.URL
	register(t, base, "vic", "password1")
	register(t, base, "xena", "password1")
	wrong := map[string]string{"username": "vic", "password": "wrong-password"}

	// Per username and address: 2 failures, then 429 even with the right
	// password — from this address only.
	must(t, 401, "POST", base+"/login", wrong, nil)
	must(t, 401, "POST", base+"/login", map[string]string{"username": "VIC", "password": "wrong-password"}, nil)
	for _, body := range []map[string]string{wrong, {"username": "vic", "password": "password1"}} {
		r := must(t, 429, "POST", base+"/login", body, nil)
		ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if r.code(t) != "rate_limited" || err != nil || ra < 1 || ra > 3600 {
			t.Fatalf("throttled answer: %v %s", r.Header, r.Body)
		}
	}

	// The owner, from another address, still logs in: failures elsewhere
	// never lock an account out.
	must(t, 200, "POST", base+"/login", map[string]string{"username": "vic", "password": "password1"}, nil,
		"X-Forwarded-For", "198.51.100.7")

	// Per address: 2 more failures on other names use up this address's 4.
	must(t, 401, "POST", base+"/login", map[string]string{"username": "nobody1", "password": "password1"}, nil)
	must(t, 401, "POST", base+"/login", map[string]string{"username": "nobody2", "password": "password1"}, nil)
	r := must(t, 429, "POST", base+"/login", map[string]string{"username": "xena", "password": "password1"}, nil)
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}

	// Behind a trusted proxy (loopback here), the forwarded address counts:
	// another client is not blocked. Successful logins take no tokens.
	for i := 0; i < 5; i++ {
		must(t, 200, "POST", base+"/login", map[string]string{"username": "xena", "password": "password1"}, nil,
			"X-Forwarded-For", "203.0.113.9")
	}
}

// A spray from many addresses at one account meets the account's own
// ceiling (LOGIN_RATE_ACCOUNT_*), which then holds for every address.
func TestLoginAccountCeiling(t *testing.T) {
	s := start(t, map[string]string{
		"LOGIN_RATE_USER_BURST": "2", "LOGIN_RATE_USER_INTERVAL": "1h",
		"LOGIN_RATE_ACCOUNT_BURST": "6", "LOGIN_RATE_ACCOUNT_INTERVAL": "1h",
	})
	register(t, s.URL, "wade", "password1")
	wrong := map[string]string{"username": "wade", "password": "wrong-password"}
	for i := 0; i < 6; i++ {
		must(t, 401, "POST", s.URL+"/login", wrong, nil, "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i+1))
	}
	r := must(t, 429, "POST", s.URL+"/login", map[string]string{"username": "wade", "password": "password1"}, nil,
		"X-Forwarded-For", "198.51.100.50")
	if r.code(t) != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("past the account ceiling: %v %s", r.Header, r.Body)
	}
}

func TestRegisterThrottling(t *testing.T) {
	s := start(t, map[string]string{"REGISTER_RATE_IP_BURST": "2", "REGISTER_RATE_IP_INTERVAL": "1h"})
	register(t, s.URL, "one", "password1")
	register(t, s.URL, "two", "password1")
	r := must(t, 429, "POST", s.URL+"/register", map[string]string{"username": "three", "password": "password1"}, nil)
	if r.code(t) != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("%v %s", r.Header, r.Body)
	}
	if c := s.counts(t); c["users"] != 3 {
		t.Fatalf("users %d", c["users"])
	}
}

// The published key set verifies tokens through the same verifier the
// gateway and chat-service use.
func TestJWKS(t *testing.T) {
	s := start(t, nil)
	r := must(t, 200, "GET", s.URL+"/.well-known/jwks.json", nil, nil)
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=300") {
		t.Fatalf("Cache-Control %q", cc)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	r.decode(t, &set)
	if len(set.Keys) != 1 || set.Keys[0]["kty"] != "OKP" || set.Keys[0]["crv"] != "Ed25519" || set.Keys[0]["alg"] != "EdDSA" || set.Keys[0]["d"] != "" {
		t.Fatalf("jwks %s", r.Body)
	}
	adm := login(t, s.URL, "admin", adminPassword)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := authn.NewJWKSVerifier(ctx, s.URL+"/.well-known/jwks.json", authn.DefaultIssuer, authn.DefaultAudience)
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.Verify(adm.AccessToken)
	if err != nil || id.UserID != adm.User.ID || id.Username != "admin" || !id.IsAdmin() {
		t.Fatalf("verify through JWKS: %+v %v", id, err)
	}
	tok, _, _ := jwt.NewParser().ParseUnverified(adm.AccessToken, &authn.Claims{})
	if tok.Header["kid"] != set.Keys[0]["kid"] {
		t.Fatalf("token kid %v, jwks kid %s", tok.Header["kid"], set.Keys[0]["kid"])
	}
	if c := s.counts(t); c["signing_keys"] != 1 {
		t.Fatalf("generated key not stored: %v", c)
	}
}

func TestKeyFromFile(t *testing.T) {
	path, priv := keyFile(t)
	s := start(t, map[string]string{"JWT_PRIVATE_KEY_FILE": path})
	pub := priv.Public().(ed25519.PublicKey)
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	must(t, 200, "GET", s.URL+"/.well-known/jwks.json", nil, &set)
	if len(set.Keys) != 1 || set.Keys[0]["kid"] != token.KID(pub) || set.Keys[0]["x"] != base64.RawURLEncoding.EncodeToString(pub) {
		t.Fatalf("jwks %+v", set)
	}
	adm := login(t, s.URL, "admin", adminPassword)
	tok, err := jwt.ParseWithClaims(adm.AccessToken, &authn.Claims{}, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"EdDSA"}))
	if err != nil || tok.Header["kid"] != token.KID(pub) {
		t.Fatalf("token not signed by the file's key: %v %v", err, tok.Header)
	}
	if c := s.counts(t); c["signing_keys"] != 0 {
		t.Fatalf("a key was generated although JWT_PRIVATE_KEY_FILE is set: %v", c)
	}
}

// Two instances on one database file sign with the same key and share
// refresh token state.
func TestReplicasShareDatabase(t *testing.T) { eachDatabase(t, testReplicasShareDatabase) }

func testReplicasShareDatabase(t *testing.T, db map[string]string) {
	a := start(t, db)
	b := start(t, db)
	ja := must(t, 200, "GET", a.URL+"/.well-known/jwks.json", nil, nil).Body
	jb := must(t, 200, "GET", b.URL+"/.well-known/jwks.json", nil, nil).Body
	if !bytes.Equal(ja, jb) {
		t.Fatalf("replicas disagree on the key set:\n%s\n%s", ja, jb)
	}
	l := register(t, a.URL, "zed", "password1")
	must(t, 200, "GET", b.URL+"/me", nil, nil, bearer(l.AccessToken)...)
	var r1 session
	must(t, 200, "POST", b.URL+"/refresh", map[string]string{"refresh_token": l.RefreshToken}, &r1)
	if c := must(t, 401, "POST", a.URL+"/refresh", map[string]string{"refresh_token": l.RefreshToken}, nil).code(t); c != "refresh_token_reused" {
		t.Fatalf("reuse across replicas: %s", c)
	}
	if c := a.counts(t); c["signing_keys"] != 1 || c["users"] != 2 {
		t.Fatalf("counts %v", c)
	}
}

// syncBuffer is a log sink safe for the service's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runLogged runs the service with its logs captured.
func runLogged(t *testing.T, env map[string]string) (url string, logs *syncBuffer) {
	t.Helper()
	port := testkit.FreePort(t)
	env["PORT"] = strconv.Itoa(port)
	logs = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, []string{"auth-service"}, testkit.Env(env), logs) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	url = fmt.Sprintf("http://127.0.0.1:%d", port)
	testkit.WaitReady(t, url, done)
	return url, logs
}

// Without ADMIN_PASSWORD a random one is generated and logged exactly once,
// by the one replica that created the admin.
func TestGeneratedAdminPassword(t *testing.T) {
	dir := t.TempDir()
	env := func() map[string]string {
		return map[string]string{"DATA_DIR": dir, "BCRYPT_COST": "4", "ADMIN_USERNAME": "root", "LOG_LEVEL": "debug"}
	}
	url, logs := runLogged(t, env())
	var password string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if p, ok := rec["password"].(string); ok {
			if password != "" {
				t.Fatal("password logged twice")
			}
			password = p
		}
	}
	if len(password) < 16 {
		t.Fatalf("no generated password in the logs:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "change it on the settings page") {
		t.Fatalf("the log does not say where to change the password:\n%s", logs)
	}
	adm := login(t, url, "root", password)
	if adm.User.Role != "admin" {
		t.Fatalf("role %q", adm.User.Role)
	}
	if n := strings.Count(logs.String(), password); n != 1 {
		t.Fatalf("password appears %d times in the logs", n)
	}
	_, logs2 := runLogged(t, env())
	if strings.Contains(logs2.String(), `"password"`) || strings.Contains(logs2.String(), password) {
		t.Fatalf("second start logged a password:\n%s", logs2)
	}
}

func TestAdminPasswordFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "admin-password")
	if err := os.WriteFile(path, []byte("from-a-file-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := start(t, map[string]string{"ADMIN_PASSWORD": "", "ADMIN_PASSWORD_FILE": path, "ADMIN_USERNAME": "boss"})
	login(t, s.URL, "boss", "from-a-file-123")
}

func TestInvalidConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	garbageKey := write("garbage.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
	shortPw := write("short", "short\n")
	tests := []struct {
		env  map[string]string
		name string // variable the error must name
	}{
		{map[string]string{"BCRYPT_COST": "99"}, "BCRYPT_COST"},
		{map[string]string{"BCRYPT_COST": "3"}, "BCRYPT_COST"},
		{map[string]string{"BCRYPT_COST": "twelve"}, "BCRYPT_COST"},
		{map[string]string{"ACCESS_TOKEN_TTL": "soon"}, "ACCESS_TOKEN_TTL"},
		{map[string]string{"REFRESH_TOKEN_TTL": "-1h"}, "REFRESH_TOKEN_TTL"},
		{map[string]string{"ADMIN_USERNAME": "no spaces"}, "ADMIN_USERNAME"},
		{map[string]string{"ADMIN_PASSWORD": "short"}, "ADMIN_PASSWORD"},
		{map[string]string{"ADMIN_PASSWORD_FILE": filepath.Join(dir, "missing")}, "ADMIN_PASSWORD_FILE"},
		{map[string]string{"ADMIN_PASSWORD_FILE": shortPw}, "ADMIN_PASSWORD_FILE"},
		{map[string]string{"JWT_PRIVATE_KEY_FILE": filepath.Join(dir, "missing.pem")}, "JWT_PRIVATE_KEY_FILE"},
		{map[string]string{"JWT_PRIVATE_KEY_FILE": garbageKey}, "JWT_PRIVATE_KEY_FILE"},
		{map[string]string{"LOGIN_RATE_USER_BURST": "-1"}, "LOGIN_RATE_USER_BURST"},
		{map[string]string{"LOGIN_RATE_IP_INTERVAL": "0s"}, "LOGIN_RATE_IP_INTERVAL"},
		{map[string]string{"REGISTER_RATE_IP_BURST": "many"}, "REGISTER_RATE_IP_BURST"},
		{map[string]string{"TOKEN_CACHE_SIZE": "-1"}, "TOKEN_CACHE_SIZE"},
		{map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,gateway"}, "TRUSTED_PROXIES"},
		{map[string]string{"PORT": "99999"}, "PORT"},
		{map[string]string{"LOG_FORMAT": "xml"}, "LOG_FORMAT"},
		{map[string]string{"DATABASE_URL": "mysql://db/auth"}, "DATABASE_URL"},
		{map[string]string{"DATABASE_URL": "postgres://u@db:port/auth"}, "DATABASE_URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name+"="+fmt.Sprint(tc.env), func(t *testing.T) {
			env := map[string]string{"DATA_DIR": t.TempDir(), "BCRYPT_COST": "4", "PORT": "0"}
			for k, v := range tc.env {
				env[k] = v
			}
			// A valid config would serve until the context ends; make sure
			// the test cannot hang on one.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := app.Run(ctx, []string{"auth-service"}, testkit.Env(env), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.name) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line naming %s", err, tc.name)
			}
		})
	}
}

func TestHealth(t *testing.T) {
	s := start(t, nil)
	var h struct {
		Status string                       `json:"status"`
		Checks map[string]map[string]string `json:"checks"`
	}
	must(t, 200, "GET", s.URL+"/health", nil, &h)
	if h.Status != "ok" || h.Checks["database"]["status"] != "ok" {
		t.Fatalf("health %+v", h)
	}
	must(t, 200, "GET", s.URL+"/healthz", nil, nil)
	must(t, 401, "POST", s.URL+"/login", map[string]string{"username": "admin", "password": "wrong-password"}, nil)
	login(t, s.URL, "admin", adminPassword)
	m := must(t, 200, "GET", s.URL+"/metrics", nil, nil).Body
	for _, want := range []string{
		"http_request_duration_seconds",
		`auth_events_total{event="login",outcome="invalid_credentials"} 1`,
		`auth_events_total{event="login",outcome="ok"} 1`,
	} {
		if !bytes.Contains(m, []byte(want)) {
			t.Fatalf("metrics lack %s", want)
		}
	}

	var out bytes.Buffer
	env := testkit.Env(map[string]string{"PORT": strconv.Itoa(s.Port)})
	if err := app.Run(context.Background(), []string{"auth-service", "healthcheck"}, env, &out); err != nil || strings.TrimSpace(out.String()) != "ok" {
		t.Fatalf("healthcheck: %v %q", err, out.String())
	}
	down := testkit.Env(map[string]string{"PORT": strconv.Itoa(testkit.FreePort(t))})
	if err := app.Run(context.Background(), []string{"auth-service", "healthcheck"}, down, &out); err == nil {
		t.Fatal("healthcheck passed with nothing listening")
	}

	// Unknown routes and methods answer JSON; request ids are echoed.
	r := must(t, 404, "GET", s.URL+"/nope", nil, nil, "X-Request-ID", "test-req-1")
	if r.code(t) != "not_found" || r.Header.Get("X-Request-ID") != "test-req-1" {
		t.Fatalf("404: %v %s", r.Header, r.Body)
	}
	if r := must(t, 405, "GET", s.URL+"/login", nil, nil); r.code(t) != "method_not_allowed" {
		t.Fatal(string(r.Body))
	}
}

// Logs never carry passwords or tokens, and refresh token reuse is logged
// as a security event.
func TestLogsCarryNoSecrets(t *testing.T) {
	url, logs := runLogged(t, map[string]string{
		"DATA_DIR": t.TempDir(), "BCRYPT_COST": "4", "ADMIN_PASSWORD": adminPassword, "LOG_LEVEL": "debug",
	})
	reg := register(t, url, "quinn", "secret-password-1")
	var r1 session
	must(t, 200, "POST", url+"/refresh", map[string]string{"refresh_token": reg.RefreshToken}, &r1)
	must(t, 401, "POST", url+"/refresh", map[string]string{"refresh_token": reg.RefreshToken}, nil)
	must(t, 401, "POST", url+"/login", map[string]string{"username": "quinn", "password": "wrong-password-2"}, nil)
	// The reuse ended the login, so its newest access token is refused too.
	if c := must(t, 401, "GET", url+"/me", nil, nil, bearer(r1.AccessToken)...).code(t); c != "session_revoked" {
		t.Fatalf("access token of a login ended by reuse: %s", c)
	}
	must(t, 204, "POST", url+"/logout", map[string]string{"refresh_token": r1.RefreshToken}, nil)
	out := logs.String()
	for _, secret := range []string{"secret-password-1", "wrong-password-2", adminPassword, reg.AccessToken, reg.RefreshToken, r1.AccessToken, r1.RefreshToken} {
		if strings.Contains(out, secret) {
			t.Fatalf("a secret reached the logs:\n%s", out)
		}
	}
	if !strings.Contains(out, "refresh token reused") || !strings.Contains(out, fmt.Sprintf(`"user_id":%d`, reg.User.ID)) {
		t.Fatalf("reuse not logged:\n%s", out)
	}
}

// The account directory: any signed-in user pages through every account
// (id, username, creation time — nothing else), which is how user-service
// gives each one a profile.
func TestAccounts(t *testing.T) { eachDatabase(t, testAccounts) }

func testAccounts(t *testing.T, db map[string]string) {
	s := start(t, db)
	base := s.URL
	var users []session
	for i := 1; i <= 3; i++ {
		users = append(users, register(t, base, fmt.Sprintf("member%d", i), "password1"))
	}
	type page struct {
		Accounts   []map[string]any `json:"accounts"`
		NextCursor *int64           `json:"next_cursor"`
	}
	h := bearer(users[0].AccessToken)
	var all page
	must(t, 200, "GET", base+"/accounts", nil, &all, h...)
	if len(all.Accounts) != 4 || all.NextCursor != nil { // the admin and three members
		t.Fatalf("accounts: %+v", all)
	}
	for _, a := range all.Accounts {
		if len(a) != 4 || a["id"] == nil || a["username"] == nil || a["created_at"] == nil || a["is_bot"] != false {
			t.Fatalf("an account says more or less than id, username, created_at and is_bot: %v", a)
		}
	}
	var first, rest page
	must(t, 200, "GET", base+"/accounts?limit=2", nil, &first, h...)
	if len(first.Accounts) != 2 || first.NextCursor == nil {
		t.Fatalf("first page: %+v", first)
	}
	must(t, 200, "GET", fmt.Sprintf("%s/accounts?limit=2&after=%d", base, *first.NextCursor), nil, &rest, h...)
	if len(rest.Accounts) != 2 || rest.NextCursor != nil || rest.Accounts[1]["username"] != "member3" {
		t.Fatalf("second page: %+v", rest)
	}
	var none page
	must(t, 200, "GET", fmt.Sprintf("%s/accounts?after=%d", base, users[2].User.ID), nil, &none, h...)
	if len(none.Accounts) != 0 || none.Accounts == nil {
		t.Fatalf("after the last account: %+v", none)
	}
	for _, q := range []string{"after=-1", "after=x", "limit=abc"} {
		if r := call(t, "GET", base+"/accounts?"+q, nil, h...); r.Status != 400 {
			t.Errorf("accounts?%s = %d %s", q, r.Status, r.Body)
		}
	}
	if r := call(t, "GET", base+"/accounts", nil); r.Status != 401 {
		t.Errorf("accounts without a token = %d", r.Status)
	}
}
