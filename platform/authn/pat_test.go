package authn_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/authn"
)

func TestParsePAT(t *testing.T) {
	secret := strings.Repeat("aB3-_", 8) + "xyz" // 43 characters
	good := authn.FormatPAT(42, secret)
	if id, s, ok := authn.ParsePAT(good); !ok || id != 42 || s != secret {
		t.Fatalf("ParsePAT(%q) = %d %q %v", good, id, s, ok)
	}
	for _, bad := range []string{
		"", "parley_pat_", "parley_pat_42", "parley_pat_42_", "parley_pat_042_" + secret, "parley_pat_-1_" + secret,
		"parley_pat_x_" + secret, "parley_pat_42_" + secret + "a", "parley_pat_42_" + secret[:42], "parley_pat_42_" + secret[:42] + "=",
		"parley_pat_0_" + secret, "parley_pat_99999999999999999999_" + secret, "pat_42_" + secret,
	} {
		if _, _, ok := authn.ParsePAT(bad); ok {
			t.Errorf("ParsePAT(%q) accepted", bad)
		}
	}
	if authn.PATSession(7) != "pat-7" {
		t.Errorf("PATSession = %q", authn.PATSession(7))
	}
}

// The client asks auth-service once per token per fresh period, passes its
// refusals on as they were answered, refuses malformed tokens without
// asking, and keeps a recent answer while auth-service is unreachable.
func TestPATClient(t *testing.T) {
	secret := strings.Repeat("s", 43)
	good, disabled := authn.FormatPAT(1, secret), authn.FormatPAT(2, secret)
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var calls atomic.Int64
	down := atomic.Bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var in struct{ Token string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		w.Header().Set("Content-Type", "application/json")
		switch in.Token {
		case good:
			_ = json.NewEncoder(w).Encode(authn.Introspection{UserID: 5, Username: "bot", Role: "user", TokenID: 1, Bot: true, ExpiresAt: exp})
		case disabled:
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":{"code":"account_disabled","message":"this account is disabled"}}`))
		default:
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"invalid_token","message":"access token is invalid"}}`))
		}
	}))
	defer srv.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	c := authn.NewPATClient(srv.URL, srv.Client(), clock)
	v := authn.NewVerifier(nil, authn.DefaultIssuer, authn.DefaultAudience).WithPATs(c.Verify)

	id, err := v.Verify(good)
	if err != nil || id.UserID != 5 || id.Username != "bot" || id.SID != "pat-1" || id.TokenID != 1 || !id.Bot || !id.IsPAT() || !id.ExpiresAt.Equal(exp) || id.Token != good {
		t.Fatalf("Verify = %+v, %v", id, err)
	}
	if _, err := v.Verify(good); err != nil || calls.Load() != 1 {
		t.Fatalf("second call asked again (%d calls): %v", calls.Load(), err)
	}
	if _, err := v.Verify(disabled); authn.StatusOf(err) != 403 {
		t.Fatalf("disabled: %v", err)
	} else if e, _ := apperr.From(err); e.Code != "account_disabled" {
		t.Fatalf("disabled code %q", e.Code)
	}
	before := calls.Load()
	if _, err := v.Verify("parley_pat_1_short"); authn.StatusOf(err) != 401 || calls.Load() != before {
		t.Fatalf("malformed: %v, %d calls", err, calls.Load()-before)
	}

	// auth-service down: a recent answer stands, an old one does not, an
	// unknown token is 503.
	down.Store(true)
	now = now.Add(time.Minute)
	if _, err := v.Verify(good); err != nil {
		t.Fatalf("during an outage: %v", err)
	}
	if _, err := v.Verify(authn.FormatPAT(3, secret)); authn.StatusOf(err) != 503 {
		t.Fatalf("unknown token during an outage: %v", err)
	}
	now = now.Add(time.Hour)
	if _, err := v.Verify(good); authn.StatusOf(err) != 503 {
		t.Fatalf("long outage: %v", err)
	}

	// A verifier without PAT support refuses them as invalid.
	plain := authn.NewVerifier(nil, authn.DefaultIssuer, authn.DefaultAudience)
	if _, err := plain.Verify(good); authn.StatusOf(err) != 401 {
		t.Fatalf("plain verifier: %v", err)
	}
	if u := authn.IntrospectURL("http://auth:8081/.well-known/jwks.json"); u != "http://auth:8081/internal/tokens/introspect" {
		t.Errorf("IntrospectURL = %q", u)
	}
}

// BenchmarkPATVerify measures a personal access token's check in a service:
// a cached answer (the common case) and a miss that asks a loopback
// introspection endpoint.
func BenchmarkPATVerify(b *testing.B) {
	secret := strings.Repeat("s", 43)
	in := authn.Introspection{UserID: 5, Username: "bot", Role: "user", TokenID: 1, ExpiresAt: time.Now().Add(time.Hour)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(in)
	}))
	defer srv.Close()
	b.Run("cached", func(b *testing.B) {
		c := authn.NewPATClient(srv.URL, srv.Client(), nil)
		tok := authn.FormatPAT(1, secret)
		if _, err := c.Verify(tok); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("introspect", func(b *testing.B) {
		now := time.Now()
		c := authn.NewPATClient(srv.URL, srv.Client(), func() time.Time { return now })
		tok := authn.FormatPAT(1, secret)
		b.ReportAllocs()
		for b.Loop() {
			now = now.Add(time.Minute) // every call a miss
			if _, err := c.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
