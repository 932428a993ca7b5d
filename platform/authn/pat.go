package authn

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/platform/apperr"
)

// Personal access tokens (docs/ARCHITECTURE.md, "Personal access tokens and
// bots") are opaque: parley_pat_<id>_<secret>, the secret 32 random bytes
// in unpadded base64url (43 characters). The fixed prefix lets secret
// scanners recognise a leaked token and lets a verifier tell one from a JWT
// without parsing it; the id lets auth-service find the stored hash in one
// indexed read.
const (
	PATPrefix       = "parley_pat_"
	patSecretLength = 43
)

// ErrPATNotAllowed refuses a personal access token on the routes that
// manage credentials (tokens, passwords, sessions, bots): a leaked token
// must not be able to mint more tokens or lock its owner out.
var ErrPATNotAllowed = apperr.Forbidden("pat_not_allowed", "personal access tokens cannot manage tokens, passwords or sessions; sign in with a password")

// errInvalidPAT is the answer to anything that is not a well-formed token.
var errInvalidPAT = apperr.Unauthenticated("invalid_token", "access token is invalid")

// IsPAT reports whether raw claims to be a personal access token.
func IsPAT(raw string) bool { return strings.HasPrefix(raw, PATPrefix) }

// ParsePAT splits a personal access token into its id and secret; ok is
// false for anything malformed.
func ParsePAT(raw string) (id int64, secret string, ok bool) {
	rest, found := strings.CutPrefix(raw, PATPrefix)
	if !found {
		return 0, "", false
	}
	idPart, secret, found := strings.Cut(rest, "_")
	if !found || len(secret) != patSecretLength || idPart == "" || len(idPart) > 18 || idPart[0] == '0' {
		return 0, "", false
	}
	for i := 0; i < len(idPart); i++ {
		if idPart[i] < '0' || idPart[i] > '9' {
			return 0, "", false
		}
	}
	for i := 0; i < len(secret); i++ {
		c := secret[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return 0, "", false
		}
	}
	id, err := strconv.ParseInt(idPart, 10, 64)
	if err != nil || id <= 0 {
		return 0, "", false
	}
	return id, secret, true
}

// FormatPAT is the token a user is shown once.
func FormatPAT(id int64, secret string) string {
	return PATPrefix + strconv.FormatInt(id, 10) + "_" + secret
}

// PATSession is the session id of a personal access token: what its
// identity's SID is and what the revocation feed names when the token is
// revoked. The "pat-" prefix keeps it apart from login sessions, whose ids
// are plain numbers.
func PATSession(tokenID int64) string { return "pat-" + strconv.FormatInt(tokenID, 10) }

// Introspection is auth-service's answer about a personal access token
// (POST /internal/tokens/introspect): whom it speaks for now.
type Introspection struct {
	UserID    int64     `json:"user_id"`
	Username  string    `json:"username"`
	Role      string    `json:"role"`
	TokenID   int64     `json:"token_id"`
	Bot       bool      `json:"bot"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Identity is the identity a PAT introspection stands for.
func (in Introspection) Identity(raw string) Identity {
	return Identity{
		UserID: in.UserID, Username: in.Username, Role: in.Role,
		SID: PATSession(in.TokenID), TokenID: in.TokenID, Bot: in.Bot,
		ExpiresAt: in.ExpiresAt, Token: raw,
	}
}

// IntrospectURL is the PAT introspection endpoint next to a JWKS URL.
func IntrospectURL(jwksURL string) string {
	return strings.TrimSuffix(jwksURL, "/.well-known/jwks.json") + "/internal/tokens/introspect"
}

// PAT cache timing: an answer is reused for patFresh; while auth-service
// cannot be reached, one up to patStale old still is (tokens already in use
// keep working through a short outage, as access tokens do). Revocation
// does not wait for either: it arrives through the revocation feed, which
// every Guard checks after this verifier.
const (
	patFresh      = 30 * time.Second
	patStale      = 10 * time.Minute
	patCacheLimit = 10000
)

// PATClient verifies personal access tokens by asking auth-service, with a
// small cache keyed by the token's SHA-256 (never the token itself).
type PATClient struct {
	url    string
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	entries map[[sha256.Size]byte]patEntry
}

type patEntry struct {
	in Introspection
	at time.Time
}

// NewPATClient asks the introspection endpoint at url; now is the clock
// (nil: time.Now).
func NewPATClient(url string, client *http.Client, now func() time.Time) *PATClient {
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	if now == nil {
		now = time.Now
	}
	return &PATClient{url: url, client: client, now: now, entries: map[[sha256.Size]byte]patEntry{}}
}

// Verify checks a personal access token: malformed ones are refused here;
// the rest are answered from the cache or by auth-service.
func (p *PATClient) Verify(raw string) (Identity, error) {
	if _, _, ok := ParsePAT(raw); !ok {
		return Identity{}, errInvalidPAT
	}
	key := sha256.Sum256([]byte(raw))
	now := p.now()
	p.mu.Lock()
	e, cached := p.entries[key]
	p.mu.Unlock()
	if cached && now.Sub(e.at) < patFresh && now.Before(e.in.ExpiresAt) {
		return e.in.Identity(raw), nil
	}
	in, err := p.introspect(raw)
	if err != nil {
		if _, refused := apperr.From(err); refused {
			p.mu.Lock()
			delete(p.entries, key)
			p.mu.Unlock()
			return Identity{}, err
		}
		// auth-service unreachable: what it said a little while ago stands.
		if cached && now.Sub(e.at) < patStale && now.Before(e.in.ExpiresAt) {
			return e.in.Identity(raw), nil
		}
		return Identity{}, apperr.New(apperr.KindUnavailable, "auth_unavailable", "personal access tokens cannot be checked right now; try again shortly")
	}
	p.mu.Lock()
	if len(p.entries) >= patCacheLimit {
		for k := range p.entries { // random order: drop about a tenth
			delete(p.entries, k)
			if len(p.entries) < patCacheLimit-patCacheLimit/10 {
				break
			}
		}
	}
	p.entries[key] = patEntry{in: in, at: now}
	p.mu.Unlock()
	return in.Identity(raw), nil
}

// introspect asks auth-service. A refusal comes back as the *apperr.Error
// auth-service answered; anything else (unreachable, 5xx) as a plain error.
func (p *PATClient) introspect(raw string) (Introspection, error) {
	body, _ := json.Marshal(map[string]string{"token": raw})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return Introspection{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return Introspection{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return Introspection{}, err
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		var in Introspection
		if err := json.Unmarshal(data, &in); err != nil || in.UserID <= 0 || in.TokenID <= 0 || in.Username == "" ||
			(in.Role != RoleUser && in.Role != RoleAdmin) {
			return Introspection{}, fmt.Errorf("token introspection: malformed answer")
		}
		return in, nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		var b apperr.Body
		if json.Unmarshal(data, &b) != nil || b.Error.Code == "" {
			return Introspection{}, errInvalidPAT
		}
		kind := apperr.KindUnauthenticated
		if resp.StatusCode == http.StatusForbidden {
			kind = apperr.KindForbidden
		}
		return Introspection{}, apperr.New(kind, b.Error.Code, b.Error.Message)
	default:
		return Introspection{}, fmt.Errorf("token introspection answered %d", resp.StatusCode)
	}
}

// RefusePAT is ErrPATNotAllowed for an identity that came from a personal
// access token, nil otherwise (the credential-managing routes call it).
func RefusePAT(id Identity) error {
	if id.TokenID != 0 {
		return ErrPATNotAllowed
	}
	return nil
}
