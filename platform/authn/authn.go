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
	"time"

	"github.com/MicahParks/jwkset"
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
// ctx lives. It does not fail when auth-service is not up yet: until the
// first keys arrive it asks again with backoff (1 s doubling to 10 s), and a
// token with an unknown kid asks at once, so /health heals by itself when
// auth-service comes up after this service.
func NewJWKSVerifier(ctx context.Context, jwksURL, issuer, audience string) (*Verifier, error) {
	quiet := func(string) func(context.Context, error) { return func(context.Context, error) {} }
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{jwksURL}, keyfunc.Override{
		HTTPTimeout:             5 * time.Second,
		RefreshInterval:         10 * time.Minute,
		RefreshUnknownKID:       rate.NewLimiter(rate.Every(5*time.Second), 2),
		RateLimitWaitMax:        2 * time.Second,
		RefreshErrorHandlerFunc: quiet,
	})
	if err != nil {
		return nil, fmt.Errorf("jwks %s: %w", jwksURL, err)
	}
	v := NewVerifier(kf.Keyfunc, issuer, audience)
	// Personal access tokens are opaque: auth-service, which serves the
	// JWKS, answers for them.
	v.pats = NewPATClient(IntrospectURL(jwksURL), nil, nil).Verify
	v.ready = func(ctx context.Context) error {
		keys, err := kf.Storage().KeyReadAll(ctx)
		if err != nil {
			return fmt.Errorf("jwks: %w", err)
		}
		if len(keys) == 0 {
			return errors.New("jwks: no signing keys loaded yet from " + jwksURL)
		}
		return nil
	}
	go fetchUntilLoaded(ctx, kf.Storage(), v.ready)
	return v, nil
}

// fetchUntilLoaded retries the first JWKS fetch until keys are loaded or ctx
// ends. Reading an unknown kid is the library's own refresh path (bounded by
// its RefreshUnknownKID limiter), so no second fetcher is written here.
func fetchUntilLoaded(ctx context.Context, keys jwkset.Storage, ready func(context.Context) error) {
	wait := time.Second
	for ready(ctx) != nil {
		_, _ = keys.KeyRead(ctx, "parley-first-fetch")
		if ready(ctx) == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Second)
	}
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
