package authn

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleychat/parley/platform/apperr"
)

// Revocation is one entry of auth-service's revocation feed
// (docs/ARCHITECTURE.md, Contract: Revocation). A session entry (SID set)
// ends one login: every access token carrying that sid is refused. An
// account entry (SID empty) gives the account's role and disabled state
// after a change: tokens issued before it are judged by that state, not by
// their claims.
type Revocation struct {
	Seq      int64     `json:"seq"`
	UserID   int64     `json:"user_id"`
	SID      string    `json:"sid,omitempty"`
	Role     string    `json:"role,omitempty"`
	Disabled bool      `json:"disabled,omitempty"`
	At       time.Time `json:"at"`
}

// IsSession reports whether r ends one session rather than changing the
// account.
func (r Revocation) IsSession() bool { return r.SID != "" }

// Feed is one answer of GET /internal/revocations?after=N: the entries
// after N in seq order, the feed's newest seq (lower than N when the feed
// was reset, e.g. by a restore: the follower starts over), and how long an
// entry matters — the access token lifetime, after which every token that
// an entry could refuse has expired on its own.
type Feed struct {
	Revocations []Revocation `json:"revocations"`
	LastSeq     int64        `json:"last_seq"`
	TokenTTL    int64        `json:"token_ttl"` // seconds
}

// Errors a revoked token gets.
var (
	ErrSessionRevoked  = apperr.Unauthenticated("session_revoked", "this session was signed out; sign in again")
	ErrAccountDisabled = apperr.Forbidden("account_disabled", "this account is disabled")
)

// WebSocket close codes for a socket whose token was revoked.
const (
	CloseSessionRevoked  = 4401
	CloseAccountDisabled = 4403
)

// CloseCode is the WebSocket close code for a revocation error.
func CloseCode(err error) int {
	if e, ok := apperr.From(err); ok && e.Code == ErrAccountDisabled.Code {
		return CloseAccountDisabled
	}
	return CloseSessionRevoked
}

// keepMargin is added to the token lifetime when deciding how long an entry
// is kept: the verifiers' clock leeway plus room for clocks that disagree.
const keepMargin = 2 * time.Minute

// Revocations is what a service knows of revoked sessions and changed
// accounts: a map lookup per request, filled by Follow from the feed. The
// zero value is not usable; use NewRevocations.
type Revocations struct {
	now func() time.Time
	// poll makes each read-and-apply of the feed one step, so that an
	// older answer is never applied after a newer one.
	poll sync.Mutex

	mu        sync.RWMutex
	cursor    int64
	ttl       time.Duration
	sessions  map[string]time.Time // sid → kept until
	accounts  map[int64]account
	listeners []func(Revocation)
	applied   int64
	lastOK    time.Time
	started   time.Time
}

type account struct {
	role     string
	disabled bool
	until    time.Time
}

// NewRevocations is an empty set; now is the clock (nil: time.Now).
func NewRevocations(now func() time.Time) *Revocations {
	if now == nil {
		now = time.Now
	}
	return &Revocations{now: now, started: now(), ttl: 15 * time.Minute, sessions: map[string]time.Time{}, accounts: map[int64]account{}}
}

// OnRevoke registers fn to be called with every entry applied from now on
// (chat-service closes the sockets an entry ends). fn runs on the
// follower's goroutine and must not block.
func (r *Revocations) OnRevoke(fn func(Revocation)) {
	r.mu.Lock()
	r.listeners = append(r.listeners, fn)
	r.mu.Unlock()
}

// Check judges a verified identity by what is known now: a disabled
// account is ErrAccountDisabled, a signed-out session ErrSessionRevoked,
// and a changed role replaces the token's claim.
func (r *Revocations) Check(id Identity) (Identity, error) {
	if r == nil {
		return id, nil
	}
	r.mu.RLock()
	a, changed := r.accounts[id.UserID]
	sessionUntil, ended := r.sessions[id.SID]
	r.mu.RUnlock()
	if !changed && !ended {
		return id, nil // nearly every request: no clock read
	}
	now := r.now()
	gone := ended && now.Before(sessionUntil)
	if changed && now.Before(a.until) {
		if a.disabled {
			return Identity{}, ErrAccountDisabled
		}
		id.Role = a.role
	}
	if gone {
		return Identity{}, ErrSessionRevoked
	}
	return id, nil
}

// Cursor is the seq of the last entry applied.
func (r *Revocations) Cursor() int64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cursor
}

// Applied is how many entries were applied since the start.
func (r *Revocations) Applied() int64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.applied
}

// Apply takes in one answer of the feed and calls the listeners with each
// new entry. Entries at or below the cursor are skipped, so a repeated
// answer changes nothing; a feed whose last seq is below the cursor was
// reset, and the cursor goes back to its start.
func (r *Revocations) Apply(f Feed) {
	now := r.now()
	r.mu.Lock()
	if f.TokenTTL > 0 {
		r.ttl = time.Duration(f.TokenTTL) * time.Second
	}
	if f.LastSeq < r.cursor {
		r.cursor = 0
	}
	var fresh []Revocation
	for _, e := range f.Revocations {
		if e.Seq <= r.cursor {
			continue
		}
		r.cursor = e.Seq
		until := e.At.Add(r.ttl + keepMargin)
		if !now.Before(until) {
			continue // every token it could refuse has expired
		}
		if e.IsSession() {
			r.sessions[e.SID] = until
		} else {
			r.accounts[e.UserID] = account{role: e.Role, disabled: e.Disabled, until: until}
		}
		r.applied++
		fresh = append(fresh, e)
	}
	for sid, until := range r.sessions {
		if !now.Before(until) {
			delete(r.sessions, sid)
		}
	}
	for id, a := range r.accounts {
		if !now.Before(a.until) {
			delete(r.accounts, id)
		}
	}
	r.lastOK = now
	listeners := r.listeners
	r.mu.Unlock()
	for _, e := range fresh {
		for _, fn := range listeners {
			fn(e)
		}
	}
}

// Collectors are the follower's metrics for a service's registry: entries
// applied, and seconds since the feed last answered (an alert on it finds a
// service that stopped hearing of revocations).
func (r *Revocations) Collectors(service string) []prometheus.Collector {
	labels := prometheus.Labels{"service": service}
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "revocations_applied_total", ConstLabels: labels,
			Help: "Revocation feed entries (ended sessions, changed accounts) applied.",
		}, func() float64 { return float64(r.Applied()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "revocation_feed_age_seconds", ConstLabels: labels,
			Help: "Seconds since the revocation feed last answered (since the start, before it ever did).",
		}, func() float64 {
			r.mu.RLock()
			last := r.lastOK
			r.mu.RUnlock()
			if last.IsZero() {
				last = r.started
			}
			return r.now().Sub(last).Seconds()
		}),
	}
}

// Source reads the feed after a seq.
type Source func(ctx context.Context, after int64) (Feed, error)

// FeedURL is the revocation feed next to a JWKS URL: auth-service serves
// both, so a service configured with one knows the other.
func FeedURL(jwksURL string) string {
	base := strings.TrimSuffix(jwksURL, "/.well-known/jwks.json")
	return base + "/internal/revocations"
}

// HTTPSource reads the feed from auth-service at feedURL.
func HTTPSource(feedURL string, client *http.Client) Source {
	return func(ctx context.Context, after int64) (Feed, error) {
		u, err := url.Parse(feedURL)
		if err != nil {
			return Feed{}, err
		}
		q := u.Query()
		q.Set("after", strconv.FormatInt(after, 10))
		u.RawQuery = q.Encode()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return Feed{}, err
		}
		req.Header.Set("Accept", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return Feed{}, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return Feed{}, fmt.Errorf("revocation feed answered %d", resp.StatusCode)
		}
		var f Feed
		if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&f); err != nil {
			return Feed{}, fmt.Errorf("revocation feed: %w", err)
		}
		return f, nil
	}
}

// DefaultPollInterval is how often a service reads the feed: revocations
// apply within about this long (the contract says 5 s).
const DefaultPollInterval = time.Second

// Follow reads src every interval until
// ctx ends, applying what it reads to r. A failing source leaves r as it
// was — tokens already issued keep working while auth-service is down —
// and is logged once per outage, not once per poll.
func (r *Revocations) Follow(ctx context.Context, src Source, interval time.Duration, log *slog.Logger) {
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		err := r.Poll(ctx, src)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			if !failing && log != nil {
				log.Warn("revocation feed unreachable; tokens are judged by what was known before", "error", err)
			}
			failing = true
		case failing:
			if log != nil {
				log.Info("revocation feed reachable again", "cursor", r.Cursor())
			}
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll reads src after the cursor and applies what it answers, page after
// page until the feed has nothing newer.
func (r *Revocations) Poll(ctx context.Context, src Source) error {
	r.poll.Lock()
	defer r.poll.Unlock()
	for range 100 {
		f, err := src(ctx, r.Cursor())
		if err != nil {
			return err
		}
		r.Apply(f)
		if len(f.Revocations) == 0 || r.Cursor() >= f.LastSeq {
			return nil
		}
	}
	return nil
}

// StartFollowing returns revocations that follow the feed at feedURL every
// interval until ctx ends: what gateway, user- and chat-service do at
// start. Until the first answer nothing is known to be revoked.
func StartFollowing(ctx context.Context, feedURL string, interval time.Duration, log *slog.Logger) *Revocations {
	r := NewRevocations(nil)
	go r.Follow(ctx, HTTPSource(feedURL, &http.Client{Timeout: 5 * time.Second}), interval, log)
	return r
}

// Guard is a TokenVerifier that checks the signature (through v, usually
// a Cache) and then the revocations.
type Guard struct {
	V TokenVerifier
	R *Revocations
}

// Verify verifies raw and judges it by the revocations.
func (g Guard) Verify(raw string) (Identity, error) {
	id, err := g.V.Verify(raw)
	if err != nil {
		return id, err
	}
	return g.R.Check(id)
}
