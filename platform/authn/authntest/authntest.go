// Package authntest issues real EdDSA tokens from a throwaway key and serves
// its JWKS, so services can be tested without running auth-service.
package authntest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parleychat/parley/platform/authn"
)

// Issuer signs tokens and serves their public key, and a revocation feed
// (authn.Feed) that tests fill with Revoke.
type Issuer struct {
	Key     ed25519.PrivateKey
	KID     string
	JWKSURL string

	mu   sync.Mutex
	feed []authn.Revocation
}

// New starts a JWKS server for a fresh key; it stops when the test ends.
func New(t testing.TB) *Issuer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	is := &Issuer{Key: priv, KID: "test-key-1"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/internal/revocations") {
			after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
			_ = json.NewEncoder(w).Encode(is.page(after))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{JWK(is.KID, priv.Public().(ed25519.PublicKey))}})
	}))
	t.Cleanup(srv.Close)
	is.JWKSURL = srv.URL + "/.well-known/jwks.json"
	return is
}

// JWK renders an Ed25519 public key as a JSON Web Key.
func JWK(kid string, pub ed25519.PublicKey) map[string]string {
	return map[string]string{
		"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kid,
		"x": base64.RawURLEncoding.EncodeToString(pub),
	}
}

// Revoke appends an entry to the feed (its Seq and At are set here) and
// returns it.
func (is *Issuer) Revoke(r authn.Revocation) authn.Revocation {
	is.mu.Lock()
	defer is.mu.Unlock()
	r.Seq = int64(len(is.feed) + 1)
	r.At = time.Now()
	is.feed = append(is.feed, r)
	return r
}

func (is *Issuer) page(after int64) authn.Feed {
	is.mu.Lock()
	defer is.mu.Unlock()
	f := authn.Feed{Revocations: []authn.Revocation{}, LastSeq: int64(len(is.feed)), TokenTTL: 3600}
	for _, r := range is.feed {
		if r.Seq > after {
			f.Revocations = append(f.Revocations, r)
		}
	}
	return f
}

// Token signs an access token for the user, valid for ttl.
func (is *Issuer) Token(t testing.TB, userID int64, name, role string, ttl time.Duration) string {
	t.Helper()
	return is.SessionToken(t, userID, name, role, "", ttl)
}

// SessionToken is Token for session sid (the claim revocations name).
func (is *Issuer) SessionToken(t testing.TB, userID int64, name, role, sid string, ttl time.Duration) string {
	t.Helper()
	now := time.Now()
	c := authn.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   strconv.FormatInt(userID, 10),
			Issuer:    authn.DefaultIssuer,
			Audience:  jwt.ClaimStrings{authn.DefaultAudience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Name: name, Role: role, SID: sid,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = is.KID
	s, err := tok.SignedString(is.Key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
