package tokencache_test

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/api-gateway/internal/tokencache"
	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/authn"
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

// verifier accepts tokens "ok-<n>" expiring at exp, and counts calls.
type verifier struct {
	mu    sync.Mutex
	calls int
	exp   time.Time
}

func (v *verifier) verify(raw string) (authn.Identity, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.calls++
	if len(raw) < 3 || raw[:3] != "ok-" {
		return authn.Identity{}, apperr.Unauthenticated("invalid_token", "bad")
	}
	return authn.Identity{UserID: 1, Username: "u", Role: authn.RoleUser, ExpiresAt: v.exp, Token: raw}, nil
}

func (v *verifier) count() int { v.mu.Lock(); defer v.mu.Unlock(); return v.calls }

func TestCacheHitsSkipVerification(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	v := &verifier{exp: clk.now().Add(15 * time.Minute)}
	c := tokencache.New(v.verify, 100, time.Minute, clk.now)
	for range 5 {
		if _, err := c.Verify("ok-1"); err != nil {
			t.Fatal(err)
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

func TestCacheNeverOutlivesTokenExpiry(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	v := &verifier{exp: clk.now().Add(10 * time.Second)}
	c := tokencache.New(v.verify, 100, time.Minute, clk.now)
	if _, err := c.Verify("ok-1"); err != nil {
		t.Fatal(err)
	}
	clk.add(11 * time.Second)
	// Past expiry the verifier decides again (here it would refuse).
	v.mu.Lock()
	v.exp = clk.now().Add(-time.Second)
	v.mu.Unlock()
	if _, err := c.Verify("ok-1"); err != nil {
		t.Fatal(err)
	}
	if v.count() != 2 {
		t.Fatalf("an expired entry was served from the cache (calls %d)", v.count())
	}
	// Accepted only within the verifier's leeway: not cached.
	if _, err := c.Verify("ok-1"); err != nil || v.count() != 3 {
		t.Fatalf("leeway-accepted token cached: err %v calls %d", err, v.count())
	}
}

func TestCacheNeverStoresFailures(t *testing.T) {
	v := &verifier{exp: time.Now().Add(time.Hour)}
	c := tokencache.New(v.verify, 100, time.Minute, nil)
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
	v := &verifier{exp: time.Now().Add(time.Hour)}
	c := tokencache.New(v.verify, 50, time.Minute, nil)
	for i := range 500 {
		if _, err := c.Verify("ok-" + strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.Len(); n > 50 || n == 0 {
		t.Fatalf("cache holds %d entries, max 50", n)
	}
}

func TestCacheDisabled(t *testing.T) {
	v := &verifier{exp: time.Now().Add(time.Hour)}
	c := tokencache.New(v.verify, 0, time.Minute, nil)
	for range 3 {
		_, _ = c.Verify("ok-1")
	}
	if v.count() != 3 || c.Len() != 0 {
		t.Fatalf("calls %d, cached %d", v.count(), c.Len())
	}
}

func TestCacheConcurrent(t *testing.T) {
	v := &verifier{exp: time.Now().Add(time.Hour)}
	c := tokencache.New(v.verify, 64, time.Minute, nil)
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
