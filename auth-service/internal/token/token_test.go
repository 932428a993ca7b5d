package token_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/auth-service/internal/token"
)

// RFC 8037 Appendix A.3: the JWK thumbprint of the example Ed25519 key.
func TestKIDIsRFC7638Thumbprint(t *testing.T) {
	x, err := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := token.KID(ed25519.PublicKey(x)), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Fatalf("kid %s, want %s", got, want)
	}
}

func TestParsePEM(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	good, err := token.EncodePEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	tests := []struct {
		name    string
		in      []byte
		wantErr string
	}{
		{"ed25519 pkcs8", good, ""},
		{"not pem", []byte("hello"), "no PEM block"},
		{"wrong block type", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}), "PKCS#8"},
		{"ecdsa key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}), "want an Ed25519 key"},
		{"garbage der", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}), "parse PKCS#8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := token.ParsePEM(tc.in)
			if tc.wantErr == "" {
				if err != nil || !k.Equal(priv) {
					t.Fatalf("got %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestSignerRoundTrip(t *testing.T) {
	ctx := context.Background()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s, err := token.NewSigner(ctx, priv, "parley-auth", "parley", 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	raw, exp, err := s.IssueAccess(42, "alice", "admin", 7, now)
	if err != nil || !exp.Equal(now.Add(15*time.Minute)) {
		t.Fatalf("issue: %v %v", exp, err)
	}
	id, err := s.Verifier().Verify(raw)
	if err != nil || id.UserID != 42 || id.Username != "alice" || id.Role != "admin" || id.SID != "7" {
		t.Fatalf("verify: %+v %v", id, err)
	}

	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(s.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("keys %v", set.Keys)
	}
	k := set.Keys[0]
	x := base64.RawURLEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))
	if k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["alg"] != "EdDSA" || k["use"] != "sig" || k["kid"] != s.KID() || k["x"] != x {
		t.Fatalf("jwk %v", k)
	}
	if _, leaked := k["d"]; leaked {
		t.Fatal("private key material in the JWK Set")
	}
}
