// Package token holds auth-service's signing key: it loads or creates the
// Ed25519 key, signs access tokens (EdDSA JWTs with a kid), publishes the
// public key as a JWK Set and verifies tokens against that same set.
package token

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/parleychat/parley/platform/authn"
)

// ParsePEM reads a PKCS#8 PEM ("BEGIN PRIVATE KEY") Ed25519 private key, as
// written by `openssl genpkey -algorithm ed25519`.
func ParsePEM(b []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("PEM block is %q, want a PKCS#8 \"PRIVATE KEY\"", block.Type)
	}
	return parsePKCS8(block.Bytes)
}

func parsePKCS8(der []byte) (ed25519.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse PKCS#8: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, want an Ed25519 key", k)
	}
	return priv, nil
}

// EncodePEM writes a private key as PKCS#8 PEM.
func EncodePEM(priv ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// KID is the RFC 7638 JWK thumbprint of the public key: stable, derived
// from the key alone, so every replica and every restart agree on it.
func KID(pub ed25519.PublicKey) string {
	// Members in lexicographic order, no whitespace (RFC 7638 §3).
	canonical := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// KeyStore keeps the generated key in the service database.
type KeyStore interface {
	// SigningKey stores candidate under name unless a key is there already
	// and returns the stored one (PKCS#8 DER).
	SigningKey(ctx context.Context, name, kid string, candidate []byte, now time.Time) ([]byte, error)
}

// LoadOrCreate returns the key stored in ks, storing a fresh one first when
// there is none. Replicas starting at once all end up with the first
// replica's key.
func LoadOrCreate(ctx context.Context, ks KeyStore, now time.Time) (ed25519.PrivateKey, error) {
	_, candidate, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(candidate)
	if err != nil {
		return nil, err
	}
	stored, err := ks.SigningKey(ctx, "primary", KID(candidate.Public().(ed25519.PublicKey)), der, now)
	if err != nil {
		return nil, err
	}
	priv, err := parsePKCS8(stored)
	if err != nil {
		return nil, fmt.Errorf("stored signing key: %w", err)
	}
	return priv, nil
}

// Signer signs access tokens with one key and publishes its public half.
type Signer struct {
	key      ed25519.PrivateKey
	kid      string
	issuer   string
	audience string
	ttl      time.Duration
	jwks     []byte
	verifier *authn.Verifier
}

// NewSigner builds a Signer for the key; tokens live for ttl.
func NewSigner(ctx context.Context, key ed25519.PrivateKey, issuer, audience string, ttl time.Duration) (*Signer, error) {
	pub := key.Public().(ed25519.PublicKey)
	s := &Signer{key: key, kid: KID(pub), issuer: issuer, audience: audience, ttl: ttl}
	jwk, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: s.kid, ALG: jwkset.AlgEdDSA, USE: jwkset.UseSig},
	})
	if err != nil {
		return nil, fmt.Errorf("jwk: %w", err)
	}
	set := jwkset.NewMemoryStorage()
	if err := set.KeyWrite(ctx, jwk); err != nil {
		return nil, fmt.Errorf("jwk set: %w", err)
	}
	if s.jwks, err = set.JSONPublic(ctx); err != nil {
		return nil, fmt.Errorf("jwk set json: %w", err)
	}
	kf, err := keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: set, UseWhitelist: []jwkset.USE{jwkset.UseSig}})
	if err != nil {
		return nil, fmt.Errorf("keyfunc: %w", err)
	}
	s.verifier = authn.NewVerifier(requireKID(kf.Keyfunc), issuer, audience)
	return s, nil
}

// requireKID refuses tokens without a kid header: keyfunc would otherwise
// try every key in the set, and every token this service signs has one.
func requireKID(kf jwt.Keyfunc) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		if kid, ok := t.Header["kid"].(string); !ok || kid == "" {
			return nil, errors.New("token has no kid header")
		}
		return kf(t)
	}
}

// KID is the signing key's id.
func (s *Signer) KID() string { return s.kid }

// JWKS is the public JWK Set document.
func (s *Signer) JWKS() []byte { return s.jwks }

// Verifier checks tokens against this signer's key set, in process.
func (s *Signer) Verifier() *authn.Verifier { return s.verifier }

// TTL is the access token lifetime.
func (s *Signer) TTL() time.Duration { return s.ttl }

// IssueAccess signs an access token (the claims of ARCHITECTURE.md, Contract: Tokens).
func (s *Signer) IssueAccess(userID int64, username, role string, sid int64, now time.Time) (string, time.Time, error) {
	exp := now.Add(s.ttl)
	claims := authn.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   strconv.FormatInt(userID, 10),
			Issuer:    s.issuer,
			Audience:  jwt.ClaimStrings{s.audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
		Name: username,
		Role: role,
	}
	if sid != 0 {
		claims.SID = strconv.FormatInt(sid, 10)
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = s.kid
	signed, err := t.SignedString(s.key)
	if err != nil {
		return "", time.Time{}, err
	}
	return signed, exp, nil
}
