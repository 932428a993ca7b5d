// Package ratelimit keeps one token bucket (x/time/rate) per key — a client
// address, a username, a user id — and forgets keys that went quiet.
package ratelimit

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Keyed is a set of token buckets sharing one rate and burst.
type Keyed struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New returns buckets refilling at perSecond with the given burst.
func New(perSecond float64, burst int) *Keyed {
	return NewWithClock(perSecond, burst, time.Now)
}

// NewWithClock is New with an injected clock, for tests.
func NewWithClock(perSecond float64, burst int, now func() time.Time) *Keyed {
	return &Keyed{limit: rate.Limit(perSecond), burst: burst, now: now, buckets: map[string]*bucket{}}
}

func (k *Keyed) get(key string, now time.Time) *bucket {
	if now.Sub(k.lastSweep) > time.Minute {
		k.sweep(now)
	}
	b, ok := k.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(k.limit, k.burst)}
		k.buckets[key] = b
	}
	b.seen = now
	return b
}

// sweep drops buckets that are full again: forgetting them changes nothing.
func (k *Keyed) sweep(now time.Time) {
	k.lastSweep = now
	for key, b := range k.buckets {
		if b.lim.TokensAt(now) >= float64(k.burst) {
			delete(k.buckets, key)
		}
	}
}

// Allow takes one token for key. When none is left it returns false and how
// long until one is.
func (k *Keyed) Allow(key string) (bool, time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	b := k.get(key, now)
	if b.lim.AllowN(now, 1) {
		return true, 0
	}
	return false, k.wait(b, now)
}

// Blocked reports, without taking a token, whether key has none left, and
// how long until it has one. Login throttling checks Blocked before trying
// a password and calls Allow only on failure.
func (k *Keyed) Blocked(key string) (bool, time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	b, ok := k.buckets[key]
	if !ok || b.lim.TokensAt(now) >= 1 {
		return false, 0
	}
	return true, k.wait(b, now)
}

func (k *Keyed) wait(b *bucket, now time.Time) time.Duration {
	missing := 1 - b.lim.TokensAt(now)
	if k.limit <= 0 {
		return time.Hour
	}
	return time.Duration(missing / float64(k.limit) * float64(time.Second))
}

// Len is the number of keys tracked (for tests and metrics).
func (k *Keyed) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.buckets)
}

// RetryAfterSeconds rounds a wait up to whole seconds, at least 1, for the
// Retry-After header.
func RetryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		return 1
	}
	return s
}
