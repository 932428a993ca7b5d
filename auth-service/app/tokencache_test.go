package app_test

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
)

// TestTokenCacheKeepsEveryCheck: with the verified-token cache on (the
// default) and off, a token that verified once and is served from the
// cache still goes through the account check, and tokens built from it
// are refused every time.
func TestTokenCacheKeepsEveryCheck(t *testing.T) {
	for _, size := range []string{"", "0", "1"} {
		t.Run("TOKEN_CACHE_SIZE="+size, func(t *testing.T) {
			env := map[string]string{}
			if size != "" {
				env["TOKEN_CACHE_SIZE"] = size
			}
			s := start(t, env)
			base := s.URL
			admin := login(t, base, "admin", adminPassword)
			bob := register(t, base, "bob", "password1")
			carol := register(t, base, "carol", "password1")
			for range 3 {
				must(t, 200, "GET", base+"/me", nil, nil, bearer(bob.AccessToken)...)
				must(t, 200, "GET", base+"/me", nil, nil, bearer(carol.AccessToken)...)
			}

			parts := strings.Split(bob.AccessToken, ".")
			sig, err := base64.RawURLEncoding.DecodeString(parts[2])
			if err != nil {
				t.Fatal(err)
			}
			sig[len(sig)-1] ^= 0x80
			forged := map[string]string{
				"flipped signature bit": parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig),
				"promoted to admin":     tamper(t, bob.AccessToken),
				"bob's claims, carol's signature": parts[0] + "." + parts[1] + "." +
					strings.Split(carol.AccessToken, ".")[2],
				"signature dropped": parts[0] + "." + parts[1] + ".",
			}
			for name, tok := range forged {
				for range 2 {
					if r := call(t, "GET", base+"/me", nil, bearer(tok)...); r.Status != 401 || r.code(t) != "invalid_token" {
						t.Fatalf("%s: %d %s", name, r.Status, r.Body)
					}
					if r := call(t, "GET", base+"/users", nil, bearer(tok)...); r.Status != 401 {
						t.Fatalf("%s on an admin route: %d %s", name, r.Status, r.Body)
					}
				}
			}

			// Disabling bob refuses his cached token at once.
			must(t, 200, "PATCH", base+"/users/"+strconv.FormatInt(bob.User.ID, 10), map[string]any{"disabled": true}, nil,
				bearer(admin.AccessToken)...)
			if c := must(t, 403, "GET", base+"/me", nil, nil, bearer(bob.AccessToken)...).code(t); c != "account_disabled" {
				t.Fatalf("disabled bob: %s", c)
			}
			must(t, 200, "GET", base+"/me", nil, nil, bearer(carol.AccessToken)...)
		})
	}
}
