package authn_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"

	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/authn/authntest"
	"github.com/parleychat/parley/platform/httpx"
)

func newVerifier(t *testing.T, is *authntest.Issuer) *authn.Verifier {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := authn.NewJWKSVerifier(ctx, is.JWKSURL, authn.DefaultIssuer, authn.DefaultAudience)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func claims(sub, name, role string, exp time.Time) authn.Claims {
	return authn.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject: sub, Issuer: authn.DefaultIssuer, Audience: jwt.ClaimStrings{authn.DefaultAudience},
			IssuedAt: jwt.NewNumericDate(time.Now()), ExpiresAt: jwt.NewNumericDate(exp),
		},
		Name: name, Role: role,
	}
}

func sign(t *testing.T, m jwt.SigningMethod, c jwt.Claims, kid string, key any) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerify(t *testing.T) {
	is := authntest.New(t)
	v := newVerifier(t, is)
	future := time.Now().Add(time.Hour)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	pub := is.Key.Public().(ed25519.PublicKey)

	wrongAud := claims("7", "ann", "user", future)
	wrongAud.Audience = jwt.ClaimStrings{"someone-else"}
	wrongIss := claims("7", "ann", "user", future)
	wrongIss.Issuer = "evil"
	noExp := claims("7", "ann", "user", future)
	noExp.ExpiresAt = nil

	tests := []struct {
		name     string
		token    string
		wantCode string
	}{
		{"valid", is.Token(t, 7, "ann", "user", time.Minute), ""},
		{"admin", is.Token(t, 1, "root", "admin", time.Minute), ""},
		{"expired", is.Token(t, 7, "ann", "user", -time.Hour), "token_expired"},
		{"alg none", sign(t, jwt.SigningMethodNone, claims("7", "ann", "admin", future), is.KID, jwt.UnsafeAllowNoneSignatureType), "invalid_token"},
		{"HS256 with public key as secret", sign(t, jwt.SigningMethodHS256, claims("7", "ann", "admin", future), is.KID, []byte(pub)), "invalid_token"},
		{"other key same kid", sign(t, jwt.SigningMethodEdDSA, claims("7", "ann", "admin", future), is.KID, otherKey), "invalid_token"},
		{"unknown kid", sign(t, jwt.SigningMethodEdDSA, claims("7", "ann", "admin", future), "nope", otherKey), "invalid_token"},
		{"wrong audience", sign(t, jwt.SigningMethodEdDSA, wrongAud, is.KID, is.Key), "invalid_token"},
		{"wrong issuer", sign(t, jwt.SigningMethodEdDSA, wrongIss, is.KID, is.Key), "invalid_token"},
		{"no expiry", sign(t, jwt.SigningMethodEdDSA, noExp, is.KID, is.Key), "invalid_token"},
		{"non-numeric sub", sign(t, jwt.SigningMethodEdDSA, claims("ann", "ann", "user", future), is.KID, is.Key), "invalid_token"},
		{"unknown role", sign(t, jwt.SigningMethodEdDSA, claims("7", "ann", "root", future), is.KID, is.Key), "invalid_token"},
		{"garbage", "not.a.token", "invalid_token"},
		{"empty", "", "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := v.Verify(tt.token)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if id.UserID <= 0 || id.Username == "" {
					t.Fatalf("identity = %+v", id)
				}
				return
			}
			e, ok := apperr.From(err)
			if err == nil || !ok || e.Code != tt.wantCode || e.Status() != http.StatusUnauthorized {
				t.Fatalf("Verify err = %v, want 401 %s", err, tt.wantCode)
			}
		})
	}
	if err := v.Check(context.Background()); err != nil {
		t.Fatalf("Check after keys were fetched: %v", err)
	}
}

func TestJWKSFetchedWhenIssuerStartsLate(t *testing.T) {
	// The verifier is created while nothing answers at the JWKS URL, as when
	// the gateway starts before auth-service.
	is := authntest.New(t)
	late := http.NewServeMux()
	srv := httptest.NewUnstartedServer(late)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := authn.NewJWKSVerifier(ctx, "http://"+srv.Listener.Addr().String()+"/jwks", authn.DefaultIssuer, authn.DefaultAudience)
	if err != nil {
		t.Fatal(err)
	}
	if v.Check(ctx) == nil {
		t.Fatal("Check passed with no keys")
	}
	late.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(is.JWKSURL)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		_, _ = w.Write(buf[:n])
	})
	srv.Start()
	defer srv.Close()
	if _, err := v.Verify(is.Token(t, 3, "bo", "user", time.Minute)); err != nil {
		t.Fatalf("Verify after issuer came up: %v", err)
	}
}

// startingIssuer serves is's JWKS once answer(n), n counting the requests
// from 1, says auth-service is up, and 503 before; it returns a verifier
// reading it and the request counter.
func startingIssuer(t *testing.T, is *authntest.Issuer, answer func(n int32) bool) (*authn.Verifier, *atomic.Int32) {
	t.Helper()
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !answer(asked.Add(1)) {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		http.Redirect(w, r, is.JWKSURL, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := authn.NewJWKSVerifier(ctx, srv.URL+"/.well-known/jwks.json", authn.DefaultIssuer, authn.DefaultAudience)
	if err != nil {
		t.Fatal(err)
	}
	return v, &asked
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 20 s: %s", what())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestJWKSHealthHealsWithoutATokenWhenIssuerStartsLate(t *testing.T) {
	// As when chat-service's pods start before auth-service answers: no
	// token arrives to make the verifier ask again, yet /health must heal.
	is := authntest.New(t)
	v, asked := startingIssuer(t, is, func(n int32) bool { return n > 2 })
	ctx := context.Background()
	waitFor(t, func() string {
		return fmt.Sprintf("Check still failing after %d JWKS requests: %v", asked.Load(), v.Check(ctx))
	},
		func() bool { return v.Check(ctx) == nil })
	if n := asked.Load(); n < 3 {
		t.Fatalf("keys loaded after %d requests, want the two refused ones first", n)
	}
	if _, err := v.Verify(is.Token(t, 3, "bo", "user", time.Minute)); err != nil {
		t.Fatalf("Verify once healed: %v", err)
	}
}

func TestJWKSRetriesLeaveTheUnknownKIDRefreshToTokens(t *testing.T) {
	// While auth-service is down the verifier keeps asking by itself; the
	// first token after auth-service answers must still be verified at once
	// (its unknown kid refreshes the keys), not wait behind those retries.
	is := authntest.New(t)
	var up atomic.Bool
	v, asked := startingIssuer(t, is, func(int32) bool { return up.Load() })
	waitFor(t, func() string { return fmt.Sprintf("only %d JWKS requests while auth-service was down", asked.Load()) },
		func() bool { return asked.Load() >= 4 }) // the first fetch and three retries
	up.Store(true)
	if _, err := v.Verify(is.Token(t, 3, "bo", "user", time.Minute)); err != nil {
		t.Fatalf("the first token once auth-service answers: %v", err)
	}
	if err := v.Check(context.Background()); err != nil {
		t.Fatalf("Check after the token loaded the keys: %v", err)
	}
}

func TestRequireMiddleware(t *testing.T) {
	is := authntest.New(t)
	v := newVerifier(t, is)
	e := httpx.NewEngine(httpx.Options{})
	e.GET("/me", authn.Require(v, httpx.Error), func(c *gin.Context) {
		id, err := authn.MustIdentity(c)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		c.String(200, strconv.FormatInt(id.UserID, 10)+" "+id.Username)
	})
	tests := []struct {
		header string
		status int
		body   string
	}{
		{"Bearer " + is.Token(t, 42, "zoe", "user", time.Minute), 200, "42 zoe"},
		{"bearer " + is.Token(t, 42, "zoe", "user", time.Minute), 200, "42 zoe"},
		{"", 401, `{"error":{"code":"missing_token","message":"an Authorization: Bearer token is required"}}`},
		{"Basic abc", 401, `{"error":{"code":"missing_token","message":"an Authorization: Bearer token is required"}}`},
		{"Bearer x.y.z", 401, `{"error":{"code":"invalid_token","message":"access token is invalid"}}`},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", "/me", nil)
		if tt.header != "" {
			req.Header.Set("Authorization", tt.header)
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, req)
		if w.Code != tt.status || w.Body.String() != tt.body {
			t.Errorf("%q: %d %s, want %d %s", tt.header, w.Code, w.Body.String(), tt.status, tt.body)
		}
	}
}
