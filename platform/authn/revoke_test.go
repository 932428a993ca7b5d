package authn_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/authn/authntest"
	"github.com/parleychat/parley/platform/testkit"
)

func code(err error) string {
	if e, ok := apperr.From(err); ok {
		return e.Code
	}
	return ""
}

func TestRevocationsCheck(t *testing.T) {
	now := time.Now()
	r := authn.NewRevocations(func() time.Time { return now })
	alice := authn.Identity{UserID: 1, Username: "alice", Role: authn.RoleAdmin, SID: "10"}
	bob := authn.Identity{UserID: 2, Username: "bob", Role: authn.RoleUser, SID: "20"}
	if got, err := r.Check(alice); err != nil || got.Role != authn.RoleAdmin {
		t.Fatalf("nothing revoked: %+v %v", got, err)
	}
	r.Apply(authn.Feed{TokenTTL: 900, LastSeq: 3, Revocations: []authn.Revocation{
		{Seq: 1, UserID: 1, Role: authn.RoleUser, At: now},      // alice demoted
		{Seq: 2, UserID: 2, SID: "20", At: now},                 // bob's session signed out
		{Seq: 3, UserID: 2, SID: "21", At: now.Add(-time.Hour)}, // long expired: ignored
	}})
	if got, err := r.Check(alice); err != nil || got.Role != authn.RoleUser {
		t.Errorf("demoted alice: %+v %v, want role user", got, err)
	}
	if _, err := r.Check(bob); code(err) != "session_revoked" || authn.StatusOf(err) != http.StatusUnauthorized {
		t.Errorf("bob's revoked session: %v", err)
	}
	other := bob
	other.SID = "22"
	if _, err := r.Check(other); err != nil {
		t.Errorf("bob's other session refused: %v", err)
	}
	other.SID = "21"
	if _, err := r.Check(other); err != nil {
		t.Errorf("an entry older than the token lifetime still applies: %v", err)
	}
	if r.Applied() != 2 || r.Cursor() != 3 {
		t.Errorf("applied %d cursor %d, want 2 and 3", r.Applied(), r.Cursor())
	}

	// Disabling wins over everything; re-enabling lifts it.
	r.Apply(authn.Feed{TokenTTL: 900, LastSeq: 4, Revocations: []authn.Revocation{{Seq: 4, UserID: 2, Role: authn.RoleUser, Disabled: true, At: now}}})
	other.SID = "22"
	if _, err := r.Check(other); code(err) != "account_disabled" || authn.StatusOf(err) != http.StatusForbidden || authn.CloseCode(err) != authn.CloseAccountDisabled {
		t.Errorf("disabled bob: %v", err)
	}
	r.Apply(authn.Feed{TokenTTL: 900, LastSeq: 5, Revocations: []authn.Revocation{{Seq: 5, UserID: 2, Role: authn.RoleUser, At: now}}})
	if _, err := r.Check(other); err != nil {
		t.Errorf("re-enabled bob: %v", err)
	}

	// Entries expire with the tokens they could refuse.
	now = now.Add(900*time.Second + 3*time.Minute)
	if got, err := r.Check(alice); err != nil || got.Role != authn.RoleAdmin {
		t.Errorf("after the token lifetime the claim rules again: %+v %v", got, err)
	}
	if _, err := r.Check(bob); err != nil {
		t.Errorf("after the token lifetime: %v", err)
	}

	// A feed that went back (a restored database) starts the cursor over.
	r.Apply(authn.Feed{TokenTTL: 900, LastSeq: 1, Revocations: []authn.Revocation{{Seq: 1, UserID: 3, SID: "30", At: now}}})
	if _, err := r.Check(authn.Identity{UserID: 3, SID: "30"}); code(err) != "session_revoked" {
		t.Errorf("entry of a reset feed not applied: %v", err)
	}
	if r.Cursor() != 1 {
		t.Errorf("cursor %d after a reset, want 1", r.Cursor())
	}
}

func TestFollowAppliesFeedAndKeepsStateWhileDown(t *testing.T) {
	is := authntest.New(t)
	r := authn.NewRevocations(nil)
	var mu sync.Mutex
	var seen []authn.Revocation
	r.OnRevoke(func(e authn.Revocation) { mu.Lock(); seen = append(seen, e); mu.Unlock() })

	var down sync.Mutex
	healthy, failures := true, 0
	src := authn.HTTPSource(authn.FeedURL(is.JWKSURL), http.DefaultClient)
	flaky := func(ctx context.Context, after int64) (authn.Feed, error) {
		down.Lock()
		defer down.Unlock()
		if !healthy {
			failures++
			return authn.Feed{}, errors.New("auth-service is down")
		}
		return src(ctx, after)
	}
	failed := func() int {
		down.Lock()
		defer down.Unlock()
		return failures
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Follow(ctx, flaky, 20*time.Millisecond, nil) }()
	t.Cleanup(func() { cancel(); <-done })

	is.Revoke(authn.Revocation{UserID: 7, SID: "70"})
	testkit.Eventually(t, "first entry applied", 5*time.Second, func() bool { return r.Cursor() == 1 })
	if _, err := r.Check(authn.Identity{UserID: 7, SID: "70"}); code(err) != "session_revoked" {
		t.Fatalf("revoked session: %v", err)
	}

	down.Lock()
	healthy = false
	down.Unlock()
	is.Revoke(authn.Revocation{UserID: 8, Role: authn.RoleUser, Disabled: true})
	testkit.Eventually(t, "polls while the feed is down", 5*time.Second, func() bool { return failed() >= 3 })
	if _, err := r.Check(authn.Identity{UserID: 7, SID: "70"}); code(err) != "session_revoked" {
		t.Errorf("state lost while the feed is down: %v", err)
	}
	if _, err := r.Check(authn.Identity{UserID: 8, Role: authn.RoleUser}); err != nil {
		t.Errorf("an entry the feed could not deliver applied: %v", err)
	}
	down.Lock()
	healthy = true
	down.Unlock()
	testkit.Eventually(t, "entry applied once the feed is back", 5*time.Second, func() bool { return r.Cursor() == 2 })
	if _, err := r.Check(authn.Identity{UserID: 8, Role: authn.RoleUser}); code(err) != "account_disabled" {
		t.Errorf("disabled after the feed came back: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0].SID != "70" || seen[1].UserID != 8 {
		t.Errorf("listeners saw %+v", seen)
	}
}

func TestGuardVerifiesThenChecks(t *testing.T) {
	is := authntest.New(t)
	r := authn.NewRevocations(nil)
	g := authn.Guard{V: newVerifier(t, is), R: r}
	tok := is.SessionToken(t, 5, "eve", authn.RoleUser, "50", time.Hour)
	if id, err := g.Verify(tok); err != nil || id.SID != "50" {
		t.Fatalf("good token: %+v %v", id, err)
	}
	r.Apply(authn.Feed{TokenTTL: 900, LastSeq: 1, Revocations: []authn.Revocation{{Seq: 1, UserID: 5, SID: "50", At: time.Now()}}})
	if _, err := g.Verify(tok); code(err) != "session_revoked" {
		t.Errorf("revoked token: %v", err)
	}
	if _, err := g.Verify(tok + "x"); code(err) != "invalid_token" {
		t.Errorf("forged token: %v", err)
	}
}

// The revocation check on the hot path, against the cache hit it follows:
// go test -run XXX -bench 'Verify' ./platform/authn/ (docs/BENCHMARKS.md).
func BenchmarkVerifyCached(b *testing.B) {
	is := authntest.New(b)
	c := authn.NewCache(newVerifierB(b, is).Verify, 1000, time.Minute, nil)
	tok := is.SessionToken(b, 5, "eve", authn.RoleUser, "50", time.Hour)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkVerifyCachedAndRevocations(b *testing.B) {
	is := authntest.New(b)
	r := authn.NewRevocations(nil)
	// A busy hour: 10,000 ended sessions and 1,000 changed accounts known.
	var f authn.Feed
	f.TokenTTL = 900
	now := time.Now()
	for i := range 11000 {
		e := authn.Revocation{Seq: int64(i + 1), UserID: int64(1000 + i), At: now}
		if i < 10000 {
			e.SID = strconv.Itoa(100000 + i)
		} else {
			e.Role = authn.RoleUser
		}
		f.Revocations = append(f.Revocations, e)
	}
	f.LastSeq = int64(len(f.Revocations))
	r.Apply(f)
	g := authn.Guard{V: authn.NewCache(newVerifierB(b, is).Verify, 1000, time.Minute, nil), R: r}
	tok := is.SessionToken(b, 5, "eve", authn.RoleUser, "50", time.Hour)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := g.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func newVerifierB(b *testing.B, is *authntest.Issuer) *authn.Verifier {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	v, err := authn.NewJWKSVerifier(ctx, is.JWKSURL, authn.DefaultIssuer, authn.DefaultAudience)
	if err != nil {
		b.Fatal(err)
	}
	return v
}
