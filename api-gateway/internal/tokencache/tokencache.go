// Package tokencache remembers access tokens that already passed signature
// verification, so a client sending the same token on every request pays
// for one Ed25519 verification per TTL instead of one per request.
//
// Only tokens that verified are stored, keyed by the whole token string: a
// token differing in any byte (a forged signature, another header) misses
// and is verified in full. An entry never outlives the token's own expiry,
// and lives at most TTL, which bounds how long a token signed by a key that
// was since removed from the JWKS stays accepted.
package tokencache

import (
	"sync"
	"time"

	"github.com/parleychat/parley/platform/authn"
)

// VerifyFunc checks a raw token (authn.Verifier.Verify).
type VerifyFunc func(raw string) (authn.Identity, error)

// Cache wraps a VerifyFunc with a bounded cache of successful results.
type Cache struct {
	verify VerifyFunc
	max    int
	ttl    time.Duration
	now    func() time.Time

	mu      sync.RWMutex
	entries map[string]entry
}

type entry struct {
	id    authn.Identity
	until time.Time
}

// New caches up to max verified tokens for at most ttl each. max <= 0
// disables caching: every call verifies.
func New(verify VerifyFunc, max int, ttl time.Duration, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{verify: verify, max: max, ttl: ttl, now: now, entries: map[string]entry{}}
}

// Verify returns the identity of raw, from the cache when it verified
// recently, otherwise by verifying it.
func (c *Cache) Verify(raw string) (authn.Identity, error) {
	if c.max <= 0 {
		return c.verify(raw)
	}
	now := c.now()
	c.mu.RLock()
	e, ok := c.entries[raw]
	c.mu.RUnlock()
	if ok && now.Before(e.until) {
		return e.id, nil
	}
	id, err := c.verify(raw)
	if err != nil {
		if ok {
			c.mu.Lock()
			delete(c.entries, raw)
			c.mu.Unlock()
		}
		return id, err
	}
	until := now.Add(c.ttl)
	if id.ExpiresAt.Before(until) {
		until = id.ExpiresAt
	}
	if !now.Before(until) {
		// Accepted only thanks to the verifier's clock leeway: do not keep.
		return id, nil
	}
	c.mu.Lock()
	if len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[raw] = entry{id: id, until: until}
	c.mu.Unlock()
	return id, nil
}

// evict makes room: expired entries go first, then arbitrary ones (map
// order is random) until a tenth of the cache is free. Callers hold mu.
func (c *Cache) evict(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.until) {
			delete(c.entries, k)
		}
	}
	target := c.max - c.max/10 - 1
	for k := range c.entries {
		if len(c.entries) <= target {
			break
		}
		delete(c.entries, k)
	}
}

// Len is the number of cached tokens.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
