package app_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parleychat/parley/platform/authn"
)

func claims(sub, name, role, iss, aud string, iat, exp time.Time) authn.Claims {
	return authn.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject: sub, Issuer: iss, Audience: jwt.ClaimStrings{aud},
			IssuedAt: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(exp),
		},
		Name: name, Role: role,
	}
}

func sign(t *testing.T, method jwt.SigningMethod, c authn.Claims, kid string, key any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestForgedAndInvalidTokens(t *testing.T) {
	f := startFixture(t, nil)
	now := time.Now()
	good := claims("42", "alice", authn.RoleUser, authn.DefaultIssuer, authn.DefaultAudience, now, now.Add(10*time.Minute))
	pub := f.issuer.Key.Public().(ed25519.PublicKey)
	_, otherKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	valid := f.token(t)
	parts := strings.Split(valid, ".")

	tests := []struct {
		name     string
		auth     string // whole Authorization header
		wantCode string
	}{
		{"no header", "", "missing_token"},
		{"not bearer", "Basic YWxpY2U6c2VjcmV0", "missing_token"},
		{"bearer without token", "Bearer ", "missing_token"},
		{"garbage", "Bearer not.a.jwt", "invalid_token"},
		{"alg none", "Bearer " + sign(t, jwt.SigningMethodNone, good, f.issuer.KID, jwt.UnsafeAllowNoneSignatureType), "invalid_token"},
		{"HS256 with the raw public key as secret", "Bearer " + sign(t, jwt.SigningMethodHS256, good, f.issuer.KID, []byte(pub)), "invalid_token"},
		{"HS256 with the JWK x as secret", "Bearer " + sign(t, jwt.SigningMethodHS256, good, f.issuer.KID, []byte(base64.RawURLEncoding.EncodeToString(pub))), "invalid_token"},
		{"other Ed25519 key, same kid", "Bearer " + sign(t, jwt.SigningMethodEdDSA, good, f.issuer.KID, otherKey), "invalid_token"},
		{"unknown kid", "Bearer " + sign(t, jwt.SigningMethodEdDSA, good, "someone-elses-key", f.issuer.Key), "invalid_token"},
		{"expired", "Bearer " + sign(t, jwt.SigningMethodEdDSA,
			claims("42", "alice", authn.RoleUser, authn.DefaultIssuer, authn.DefaultAudience, now.Add(-time.Hour), now.Add(-10*time.Minute)),
			f.issuer.KID, f.issuer.Key), "token_expired"},
		{"wrong issuer", "Bearer " + sign(t, jwt.SigningMethodEdDSA,
			claims("42", "alice", authn.RoleUser, "evil", authn.DefaultAudience, now, now.Add(time.Minute)), f.issuer.KID, f.issuer.Key), "invalid_token"},
		{"wrong audience", "Bearer " + sign(t, jwt.SigningMethodEdDSA,
			claims("42", "alice", authn.RoleUser, authn.DefaultIssuer, "other-app", now, now.Add(time.Minute)), f.issuer.KID, f.issuer.Key), "invalid_token"},
		{"unknown role", "Bearer " + sign(t, jwt.SigningMethodEdDSA,
			claims("42", "alice", "superuser", authn.DefaultIssuer, authn.DefaultAudience, now, now.Add(time.Minute)), f.issuer.KID, f.issuer.Key), "invalid_token"},
		{"tampered payload, original signature", "Bearer " + parts[0] + "." +
			base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"1","name":"root","role":"admin","iss":"parley-auth","aud":["parley"],"exp":9999999999,"iat":1}`)) +
			"." + parts[2], "invalid_token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := request{path: "/api/chat/rooms"}
			if tc.auth != "" {
				r.header = map[string]string{"Authorization": tc.auth}
			}
			res := f.do(t, r)
			res.wantStatus(t, 401)
			if code := res.errorCode(t); code != tc.wantCode {
				t.Fatalf("code %q, want %q", code, tc.wantCode)
			}
			if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("WWW-Authenticate %q", res.Header.Get("WWW-Authenticate"))
			}
		})
	}
	if n := f.chat.hits.Load(); n != 0 {
		t.Fatalf("upstream saw %d requests with bad tokens", n)
	}

	// The real token still works (and keeps working from the cache).
	for range 3 {
		f.do(t, request{path: "/api/chat/rooms", token: valid}).wantStatus(t, 200)
	}
}
