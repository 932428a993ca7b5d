// Package authn verifies Parley access tokens locally: EdDSA (Ed25519) JWTs
// whose public keys come from auth-service's JWKS, cached and refetched when
// an unknown kid appears. No per-request call to auth-service.
package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/parleychat/parley/platform/apperr"
)

// Defaults shared by the issuer (auth-service) and every verifier.
const (
	DefaultIssuer   = "parley-auth"
	DefaultAudience = "parley"
	Algorithm       = "EdDSA"
)

// Roles.
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)

// Claims is the access token's claim set (ARCHITECTURE.md, Contract: Tokens).
type Claims struct {
	jwt.RegisteredClaims
	Name string `json:"name"`
	Role string `json:"role"`
	// SID is the session (the refresh token family) the token was issued
	// for; revoking the session refuses the token (revoke.go).
	SID string `json:"sid,omitempty"`
}

// Identity is who a verified token speaks for.
type Identity struct {
	UserID    int64
	Username  string
	Role      string
	SID       string // the session; empty in tokens made before sessions were named
	ExpiresAt time.Time
	Token     string
	// TokenID is the personal access token the request came with (0 for
	// an access token); SID is then PATSession(TokenID).
	TokenID int64
	// Bot is set when a personal access token belongs to a bot account.
	Bot bool
}

// IsPAT reports whether the identity came from a personal access token.
func (i Identity) IsPAT() bool { return i.TokenID != 0 }

// IsAdmin reports whether the identity has the admin role.
func (i Identity) IsAdmin() bool { return i.Role == RoleAdmin }

// Verifier checks access tokens.
type Verifier struct {
	keyfunc jwt.Keyfunc
	ready   func(ctx context.Context) error
	parser  *jwt.Parser
	// pats verifies personal access tokens (nil: they are refused).
	pats func(raw string) (Identity, error)
}

// WithPATs makes v accept personal access tokens, checked by pats (a
// PATClient's Verify, or auth-service's own store). Call it before v is
// used.
func (v *Verifier) WithPATs(pats func(raw string) (Identity, error)) *Verifier {
	v.pats = pats
	return v
}

// NewVerifier builds a verifier from any key function (tests use a static
// key set); production code uses NewJWKSVerifier.
func NewVerifier(kf jwt.Keyfunc, issuer, audience string) *Verifier {
	return &Verifier{
		keyfunc: kf,
		ready:   func(context.Context) error { return nil },
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{Algorithm}),
			jwt.WithIssuer(issuer),
			jwt.WithAudience(audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(30*time.Second),
		),
	}
}

// NewJWKSVerifier fetches keys from jwksURL in the background for as long as
// ctx lives. It does not fail when auth-service is not up yet: a token with
// an unknown kid makes it ask again at once (at most twice per 5 s), and
// until the first keys arrive it also asks by itself, with backoff (1 s
// doubling to 10 s), so /health heals when auth-service comes up after this
// service even if no token arrives.
func NewJWKSVerifier(ctx context.Context, jwksURL, issuer, audience string) (*Verifier, error) {
	first, err := newJWKS(ctx, jwksURL)
	if err != nil {
		return nil, err
	}
	var cur atomic.Pointer[jwks]
	cur.Store(first)
	v := NewVerifier(func(t *jwt.Token) (any, error) { return cur.Load().kf.Keyfunc(t) }, issuer, audience)
	// Personal access tokens are opaque: auth-service, which serves the
	// JWKS, answers for them.
	v.pats = NewPATClient(IntrospectURL(jwksURL), nil, nil).Verify
	v.ready = func(ctx context.Context) error {
		if err := cur.Load().loaded(ctx); err != nil {
			return fmt.Errorf("jwks: %w from %s", err, jwksURL)
		}
		return nil
	}
	go func() {
		wait := time.Second
		for cur.Load().loaded(ctx) != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, 10*time.Second)
			// A whole new key set, fetched once: retrying through the old
			// set's unknown-kid refresh would spend the limiter that real
			// tokens need the moment auth-service answers.
			next, err := newJWKS(ctx, jwksURL)
			if err != nil {
				continue
			}
			if next.loaded(ctx) != nil {
				next.stop()
				continue
			}
			cur.Swap(next).stop()
		}
	}()
	return v, nil
}

// jwks is one key set fetched from auth-service and refreshed in the
// background until stop.
type jwks struct {
	kf   keyfunc.Keyfunc
	stop context.CancelFunc
}

func newJWKS(ctx context.Context, jwksURL string) (*jwks, error) {
	ctx, cancel := context.WithCancel(ctx)
	quiet := func(string) func(context.Context, error) { return func(context.Context, error) {} }
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{jwksURL}, keyfunc.Override{
		HTTPTimeout:             5 * time.Second,
		RefreshInterval:         10 * time.Minute,
		RefreshUnknownKID:       rate.NewLimiter(rate.Every(5*time.Second), 2),
		RateLimitWaitMax:        2 * time.Second,
		RefreshErrorHandlerFunc: quiet,
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("jwks %s: %w", jwksURL, err)
	}
	return &jwks{kf: kf, stop: cancel}, nil
}

// loaded says whether the set holds signing keys.
func (j *jwks) loaded(ctx context.Context) error {
	keys, err := j.kf.Storage().KeyReadAll(ctx)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return errors.New("no signing keys loaded yet")
	}
	return nil
}

// Check reports whether signing keys are loaded (for /health).
func (v *Verifier) Check(ctx context.Context) error { return v.ready(ctx) }

// Verify checks a raw token — an access token, or a personal access token
// when v accepts them — and returns its identity, or a 401 *apperr.Error.
func (v *Verifier) Verify(raw string) (Identity, error) {
	if IsPAT(raw) {
		if v.pats == nil {
			return Identity{}, errInvalidPAT
		}
		return v.pats(raw)
	}
	var c Claims
	tok, err := v.parser.ParseWithClaims(raw, &c, v.keyfunc)
	if err != nil || !tok.Valid {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return Identity{}, apperr.Unauthenticated("token_expired", "access token has expired")
		}
		return Identity{}, apperr.Unauthenticated("invalid_token", "access token is invalid")
	}
	id, err := strconv.ParseInt(c.Subject, 10, 64)
	if err != nil || id <= 0 || c.Name == "" || (c.Role != RoleUser && c.Role != RoleAdmin) {
		return Identity{}, apperr.Unauthenticated("invalid_token", "access token is invalid")
	}
	return Identity{UserID: id, Username: c.Name, Role: c.Role, SID: c.SID, ExpiresAt: c.ExpiresAt.Time, Token: raw}, nil
}

// BearerToken extracts the token from an Authorization header value.
func BearerToken(header string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

type ctxKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext is the identity the middleware stored, if any.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}

// Require is gin middleware that verifies the bearer token (with v: a
// *Verifier, or a *Cache in front of one) and stores the identity in the
// request context. onErr writes the error answer.
func Require(v TokenVerifier, onErr func(*gin.Context, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		raw, ok := BearerToken(c.GetHeader("Authorization"))
		if !ok {
			onErr(c, apperr.Unauthenticated("missing_token", "an Authorization: Bearer token is required"))
			return
		}
		id, err := v.Verify(raw)
		if err != nil {
			onErr(c, err)
			return
		}
		c.Request = c.Request.WithContext(WithIdentity(c.Request.Context(), id))
		c.Next()
	}
}

// MustIdentity is the identity of an authenticated request. Handlers behind
// Require call it; a missing identity is a wiring bug, reported as 401.
func MustIdentity(c *gin.Context) (Identity, error) {
	id, ok := FromContext(c.Request.Context())
	if !ok {
		return Identity{}, apperr.Unauthenticated("missing_token", "an Authorization: Bearer token is required")
	}
	return id, nil
}

// StatusOf maps verification failures for non-HTTP transports.
func StatusOf(err error) int {
	if e, ok := apperr.From(err); ok {
		return e.Status()
	}
	return http.StatusUnauthorized
}
