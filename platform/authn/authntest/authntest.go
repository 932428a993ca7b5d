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
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parleychat/parley/platform/authn"
)

// Issuer signs tokens and serves their public key.
type Issuer struct {
	Key     ed25519.PrivateKey
	KID     string
	JWKSURL string
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

// Token signs an access token for the user, valid for ttl.
func (is *Issuer) Token(t testing.TB, userID int64, name, role string, ttl time.Duration) string {
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
		Name: name, Role: role,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = is.KID
	s, err := tok.SignedString(is.Key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
