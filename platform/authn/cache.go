package authn

import (
	"crypto/sha256"
	"sync"
	"time"
)

// TokenVerifier checks a raw access token: a *Verifier, or a *Cache in
// front of one.
type TokenVerifier interface {
	Verify(raw string) (Identity, error)
}

// DefaultCacheTTL is how long a Cache trusts a verified token without
// checking its signature again. It bounds how long a token signed by a key
// that was since removed from the JWKS stays accepted.
const DefaultCacheTTL = time.Minute

// DefaultCacheSize is the number of verified tokens a service remembers by
// default (TOKEN_CACHE_SIZE): a few hundred bytes each.
const DefaultCacheSize = 10000

// Cache remembers access tokens that already passed verification, so a
// client sending the same token on every request pays for one Ed25519
// verification (and one claims parse) per TTL instead of one per request.
//
// Only tokens that verified are stored, keyed by the SHA-256 of the whole
// token: a token differing in any byte (a forged signature, another header,
// edited claims) misses and is verified in full, so it fails exactly as it
// would without the cache. The cache holds digests, never the tokens
// themselves. An entry never outlives the token's own expiry and lives at
// most TTL; the cache holds at most max entries.
type Cache struct {
	verify func(raw string) (Identity, error)
	max    int
	ttl    time.Duration
	now    func() time.Time

	mu      sync.RWMutex
	entries map[[sha256.Size]byte]cacheEntry
}

type cacheEntry struct {
	id    Identity // Token is left empty: the caller's raw token is put back
	until time.Time
}

// NewCache caches up to max tokens that verify accepted, each for at most
// ttl and never past its expiry. max <= 0 disables caching: every call
// verifies. now is the clock (nil: time.Now).
func NewCache(verify func(raw string) (Identity, error), max int, ttl time.Duration, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{verify: verify, max: max, ttl: ttl, now: now, entries: map[[sha256.Size]byte]cacheEntry{}}
}

// Verify returns the identity of raw: from the cache when the very same
// token verified recently and has not expired, otherwise by verifying it.
func (c *Cache) Verify(raw string) (Identity, error) {
	if c.max <= 0 {
		return c.verify(raw)
	}
	key := sha256.Sum256([]byte(raw))
	now := c.now()
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if ok && now.Before(e.until) {
		e.id.Token = raw
		return e.id, nil
	}
	id, err := c.verify(raw)
	if err != nil {
		if ok {
			c.mu.Lock()
			delete(c.entries, key)
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
	stored := id
	stored.Token = ""
	c.mu.Lock()
	if _, present := c.entries[key]; !present && len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[key] = cacheEntry{id: stored, until: until}
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
