package authn_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"

	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/authn/authntest"
	"github.com/parleychat/parley/platform/httpx"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// stubVerifier accepts tokens "ok-<n>" expiring at exp (refusing them as
// expired once the clock passes exp), and counts calls.
type stubVerifier struct {
	mu    sync.Mutex
	calls int
	exp   time.Time
	now   func() time.Time
}

func (v *stubVerifier) verify(raw string) (authn.Identity, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.calls++
	if !strings.HasPrefix(raw, "ok-") {
		return authn.Identity{}, apperr.Unauthenticated("invalid_token", "bad")
	}
	if v.now != nil && !v.now().Before(v.exp) {
		return authn.Identity{}, apperr.Unauthenticated("token_expired", "expired")
	}
	return authn.Identity{UserID: 1, Username: "u", Role: authn.RoleUser, ExpiresAt: v.exp, Token: raw}, nil
}

func (v *stubVerifier) count() int { v.mu.Lock(); defer v.mu.Unlock(); return v.calls }

// counting wraps a real verifier and counts the verifications it did.
type counting struct {
	mu sync.Mutex
	n  int
	v  *authn.Verifier
}

func (c *counting) verify(raw string) (authn.Identity, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.v.Verify(raw)
}

func (c *counting) count() int { c.mu.Lock(); defer c.mu.Unlock(); return c.n }

func TestCacheHitsSkipVerification(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	v := &stubVerifier{exp: clk.now().Add(15 * time.Minute)}
	c := authn.NewCache(v.verify, 100, time.Minute, clk.now)
	for range 5 {
		id, err := c.Verify("ok-1")
		if err != nil {
			t.Fatal(err)
		}
		if id.Token != "ok-1" || id.UserID != 1 {
			t.Fatalf("identity = %+v", id)
		}
	}
	if v.count() != 1 {
		t.Fatalf("verified %d times, want 1", v.count())
	}
	clk.add(61 * time.Second) // TTL over: verified again
	if _, err := c.Verify("ok-1"); err != nil || v.count() != 2 {
		t.Fatalf("after TTL: err %v, calls %d", err, v.count())
	}
}

func TestCacheNeverServesExpiredTokens(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	v := &stubVerifier{exp: clk.now().Add(10 * time.Second), now: clk.now}
	c := authn.NewCache(v.verify, 100, time.Minute, clk.now)
	if _, err := c.Verify("ok-1"); err != nil {
		t.Fatal(err)
	}
	clk.add(10 * time.Second) // exactly at expiry: no longer served
	_, err := c.Verify("ok-1")
	if e, ok := apperr.From(err); !ok || e.Code != "token_expired" {
		t.Fatalf("expired token: err %v, want token_expired", err)
	}
	if v.count() != 2 || c.Len() != 0 {
		t.Fatalf("calls %d, cached %d: the expired entry was served or kept", v.count(), c.Len())
	}
}

func TestCacheDoesNotKeepLeewayAcceptedTokens(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	// The verifier accepts a token whose exp is already past (its leeway).
	v := &stubVerifier{exp: clk.now().Add(-time.Second)}
	c := authn.NewCache(v.verify, 100, time.Minute, clk.now)
	for range 2 {
		if _, err := c.Verify("ok-1"); err != nil {
			t.Fatal(err)
		}
	}
	if v.count() != 2 || c.Len() != 0 {
		t.Fatalf("leeway-accepted token cached: calls %d, cached %d", v.count(), c.Len())
	}
}

func TestCacheNeverStoresFailures(t *testing.T) {
	v := &stubVerifier{exp: time.Now().Add(time.Hour)}
	c := authn.NewCache(v.verify, 100, time.Minute, nil)
	for range 3 {
		if _, err := c.Verify("forged"); err == nil {
			t.Fatal("forged token accepted")
		}
	}
	if v.count() != 3 || c.Len() != 0 {
		t.Fatalf("calls %d, cached %d", v.count(), c.Len())
	}
}

func TestCacheIsBounded(t *testing.T) {
	v := &stubVerifier{exp: time.Now().Add(time.Hour)}
	c := authn.NewCache(v.verify, 50, time.Minute, nil)
	for i := range 500 {
		if _, err := c.Verify("ok-" + strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
		if n := c.Len(); n > 50 {
			t.Fatalf("cache holds %d entries, max 50", n)
		}
	}
	if c.Len() == 0 {
		t.Fatal("cache is empty")
	}
	// Refreshing an entry of a full cache evicts nothing.
	n := c.Len()
	for range 3 {
		if _, err := c.Verify("ok-499"); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != n {
		t.Fatalf("a hit changed the size from %d to %d", n, c.Len())
	}
}

func TestCacheDisabled(t *testing.T) {
	v := &stubVerifier{exp: time.Now().Add(time.Hour)}
	c := authn.NewCache(v.verify, 0, time.Minute, nil)
	for range 3 {
		_, _ = c.Verify("ok-1")
	}
	if v.count() != 3 || c.Len() != 0 {
		t.Fatalf("calls %d, cached %d", v.count(), c.Len())
	}
}

func TestCacheConcurrent(t *testing.T) {
	v := &stubVerifier{exp: time.Now().Add(time.Hour)}
	c := authn.NewCache(v.verify, 64, time.Minute, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				if _, err := c.Verify("ok-" + strconv.Itoa((g*31+i)%100)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if c.Len() > 64 {
		t.Fatalf("cache holds %d entries", c.Len())
	}
}

// TestCacheRefusesForgeries caches a genuine token, then presents tokens
// built from it: each differs in some byte, so each is verified in full
// and refused, every time, and none is ever cached.
func TestCacheRefusesForgeries(t *testing.T) {
	is := authntest.New(t)
	counted := &counting{v: newVerifier(t, is)}
	c := authn.NewCache(counted.verify, 100, time.Minute, nil)

	good := is.Token(t, 7, "ann", "user", time.Hour)
	for range 3 {
		id, err := c.Verify(good)
		if err != nil {
			t.Fatal(err)
		}
		if id.UserID != 7 || id.Username != "ann" || id.Role != "user" || id.Token != good {
			t.Fatalf("identity = %+v", id)
		}
	}
	if counted.count() != 1 || c.Len() != 1 {
		t.Fatalf("calls %d, cached %d", counted.count(), c.Len())
	}

	parts := strings.Split(good, ".")
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	sig[0] ^= 1
	flipped := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	// The genuine signature over claims promoting ann to admin.
	adminClaims := base64.RawURLEncoding.EncodeToString([]byte(
		`{"sub":"7","iss":"parley-auth","aud":["parley"],"exp":` + strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10) +
			`,"iat":` + strconv.FormatInt(time.Now().Unix(), 10) + `,"name":"ann","role":"admin"}`))
	pub := is.Key.Public().(ed25519.PublicKey)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	admin := claims("7", "ann", "admin", time.Now().Add(time.Hour))
	forgeries := map[string]string{
		"flipped signature bit":           flipped,
		"edited claims, old signature":    parts[0] + "." + adminClaims + "." + parts[2],
		"no signature":                    parts[0] + "." + parts[1] + ".",
		"trailing byte":                   good + "A",
		"alg none":                        sign(t, jwt.SigningMethodNone, admin, is.KID, jwt.UnsafeAllowNoneSignatureType),
		"HS256 with public key as secret": sign(t, jwt.SigningMethodHS256, admin, is.KID, []byte(pub)),
		"other key same kid":              sign(t, jwt.SigningMethodEdDSA, admin, is.KID, otherKey),
	}
	for name, forged := range forgeries {
		t.Run(name, func(t *testing.T) {
			before := counted.count()
			for range 3 {
				if id, err := c.Verify(forged); err == nil {
					t.Fatalf("forged token accepted as %+v", id)
				}
			}
			if counted.count()-before != 3 {
				t.Fatalf("verified %d of 3 presentations", counted.count()-before)
			}
		})
	}
	if c.Len() != 1 {
		t.Fatalf("cached %d tokens, want only the genuine one", c.Len())
	}
	// The genuine token is still served from the cache.
	before := counted.count()
	if _, err := c.Verify(good); err != nil || counted.count() != before {
		t.Fatalf("genuine token after forgeries: err %v, verified again %v", err, counted.count() != before)
	}
}

// TestCacheRefusesExpiredTokens: a token that expired is refused as
// expired, and one the cache holds stops being served at its expiry.
func TestCacheRefusesExpiredTokens(t *testing.T) {
	is := authntest.New(t)
	counted := &counting{v: newVerifier(t, is)}
	clk := &fakeClock{t: time.Now()}
	c := authn.NewCache(counted.verify, 100, time.Hour, clk.now)

	expired := is.Token(t, 7, "ann", "user", -time.Hour)
	for range 2 {
		_, err := c.Verify(expired)
		if e, ok := apperr.From(err); !ok || e.Code != "token_expired" {
			t.Fatalf("expired token: err %v", err)
		}
	}
	if c.Len() != 0 {
		t.Fatal("an expired token was cached")
	}

	good := is.Token(t, 7, "ann", "user", time.Hour)
	if _, err := c.Verify(good); err != nil {
		t.Fatal(err)
	}
	clk.add(59 * time.Minute)
	before := counted.count()
	if _, err := c.Verify(good); err != nil || counted.count() != before {
		t.Fatalf("before expiry: err %v, verified again %v", err, counted.count() != before)
	}
	clk.add(2 * time.Minute) // past exp on the cache's clock
	_, _ = c.Verify(good)
	if counted.count() != before+1 {
		t.Fatal("a token past its expiry was served from the cache")
	}
}

func TestRequireWithCache(t *testing.T) {
	is := authntest.New(t)
	counted := &counting{v: newVerifier(t, is)}
	c := authn.NewCache(counted.verify, 100, time.Minute, nil)
	e := httpx.NewEngine(httpx.Options{})
	e.GET("/me", authn.Require(c, httpx.Error), func(g *gin.Context) {
		id, err := authn.MustIdentity(g)
		if err != nil {
			httpx.Error(g, err)
			return
		}
		g.String(200, strconv.FormatInt(id.UserID, 10)+" "+id.Username)
	})
	good := is.Token(t, 42, "zoe", "user", time.Minute)
	for _, tt := range []struct {
		token  string
		status int
	}{{good, 200}, {good, 200}, {good + "x", 401}, {good, 200}} {
		req := httptest.NewRequest("GET", "/me", nil)
		req.Header.Set("Authorization", "Bearer "+tt.token)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, req)
		if w.Code != tt.status {
			t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body.String())
		}
		if tt.status == http.StatusOK && w.Body.String() != "42 zoe" {
			t.Fatalf("body %q", w.Body.String())
		}
	}
	if counted.count() != 2 {
		t.Fatalf("verified %d times, want 2 (the genuine token once, the forgery once)", counted.count())
	}
}
