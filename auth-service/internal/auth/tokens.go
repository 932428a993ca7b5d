package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/text"
)

// Personal access token rules (docs/ARCHITECTURE.md, "Personal access
// tokens and bots").
const (
	// TokenNameMax bounds a token's name, in code points.
	TokenNameMax = 64
	// DefaultTokenDays is a token's lifetime when the request names none.
	DefaultTokenDays = 30
	// MaxTokenDays is the longest lifetime a token may have: every token
	// expires, so a forgotten one does not stay valid for ever.
	MaxTokenDays = 365
	// MaxTokensPerUser bounds how many tokens one account holds.
	MaxTokensPerUser = 50
	// DisplayNameMax bounds a bot's display name (user-service's limit).
	DisplayNameMax = 64
	// tokenTouchEvery is how often last_used_at is written per token.
	tokenTouchEvery = time.Minute
)

// TokenInput is POST /tokens (and POST /bots/:id/tokens).
type TokenInput struct {
	Name string `json:"name"`
	// ExpiresInDays is 1 to 365; absent or null means 30.
	ExpiresInDays *int `json:"expires_in_days"`
}

// Validate trims and checks the input.
func (in *TokenInput) Validate() error {
	in.Name = text.NFC(strings.TrimSpace(in.Name))
	switch {
	case text.Blank(in.Name):
		return apperr.Validation("name_required", "name is required")
	case utf8.RuneCountInString(in.Name) > TokenNameMax:
		return apperr.Validation("invalid_name", "name must be at most 64 characters long")
	case text.NameProblem(in.Name) != "":
		return apperr.Validation("invalid_name", "name must not contain "+text.NameProblem(in.Name))
	}
	if in.ExpiresInDays != nil && (*in.ExpiresInDays < 1 || *in.ExpiresInDays > MaxTokenDays) {
		return apperr.Validation("invalid_expiry", "expires_in_days must be between 1 and 365")
	}
	return nil
}

// BotInput is POST /bots.
type BotInput struct {
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
}

// Validate trims and checks the input.
func (in *BotInput) Validate() error {
	in.Username = strings.TrimSpace(in.Username)
	if err := ValidateUsername(in.Username); err != nil {
		return err
	}
	in.DisplayName = text.NFC(strings.TrimSpace(in.DisplayName))
	switch {
	case utf8.RuneCountInString(in.DisplayName) > DisplayNameMax:
		return apperr.Validation("invalid_display_name", "display_name must be at most 64 characters long")
	case text.NameProblem(in.DisplayName) != "":
		return apperr.Validation("invalid_display_name", "display_name must not contain "+text.NameProblem(in.DisplayName))
	case in.DisplayName != "" && text.Blank(in.DisplayName):
		in.DisplayName = ""
	}
	return nil
}

// CreatedToken is the answer to creating a token: the only time its
// secret is shown.
type CreatedToken struct {
	AccessToken
	Token string `json:"token"`
}

// CreateToken makes a personal access token for owner (a user for
// themself, or an admin's bot).
func (s *Service) CreateToken(ctx context.Context, owner User, in TokenInput) (CreatedToken, error) {
	if err := in.Validate(); err != nil {
		return CreatedToken{}, err
	}
	days := DefaultTokenDays
	if in.ExpiresInDays != nil {
		days = *in.ExpiresInDays
	}
	now := s.now()
	secret := randomString(32)
	var raw string
	t, err := s.store.CreateAccessToken(ctx, NewAccessToken{
		UserID: owner.ID, Name: in.Name, Now: now, ExpiresAt: now.AddDate(0, 0, days),
	}, MaxTokensPerUser, func(id int64) ([]byte, string) {
		raw = authn.FormatPAT(id, secret)
		return HashRefreshToken(secret), authn.FormatPAT(id, secret[:4])
	})
	if err != nil {
		return CreatedToken{}, err
	}
	return CreatedToken{AccessToken: t, Token: raw}, nil
}

// Tokens lists a user's personal access tokens, without their secrets.
func (s *Service) Tokens(ctx context.Context, userID int64) ([]AccessToken, error) {
	return s.store.AccessTokens(ctx, userID)
}

// RevokeToken deletes one of userID's tokens; the revocation feed carries
// it to every service within seconds, sockets included.
func (s *Service) RevokeToken(ctx context.Context, userID, tokenID int64) error {
	if err := s.store.RevokeAccessToken(ctx, userID, tokenID, s.now()); err != nil {
		return err
	}
	s.revoked(ctx)
	return nil
}

// IntrospectToken says whom a personal access token speaks for: a
// malformed, unknown or wrong token is 401 invalid_token, an expired one
// 401 token_expired, a disabled account's 403 account_disabled. The secret
// is compared in constant time.
func (s *Service) IntrospectToken(ctx context.Context, raw string) (authn.Introspection, error) {
	invalid := apperr.Unauthenticated("invalid_token", "access token is invalid")
	id, secret, ok := authn.ParsePAT(raw)
	if !ok {
		return authn.Introspection{}, invalid
	}
	t, hash, u, err := s.store.AccessTokenByID(ctx, id)
	if errors.Is(err, ErrTokenNotFound) {
		return authn.Introspection{}, invalid
	}
	if err != nil {
		return authn.Introspection{}, err
	}
	if subtle.ConstantTimeCompare(hash, HashRefreshToken(secret)) != 1 {
		return authn.Introspection{}, invalid
	}
	now := s.now()
	if !now.Before(t.ExpiresAt) {
		return authn.Introspection{}, apperr.Unauthenticated("token_expired", "personal access token has expired")
	}
	if u.Disabled {
		return authn.Introspection{}, ErrAccountDisabled
	}
	if err := s.store.TouchAccessToken(ctx, t.ID, now, now.Add(-tokenTouchEvery)); err != nil {
		s.cfg.Logger.WarnContext(ctx, "record token use", "token_id", t.ID, "error", err)
	}
	return authn.Introspection{
		UserID: u.ID, Username: u.Username, Role: u.Role, TokenID: t.ID, Bot: u.IsBot, ExpiresAt: t.ExpiresAt,
	}, nil
}

// VerifyToken is IntrospectToken as an authn verifier, for auth-service's
// own routes.
func (s *Service) VerifyToken(raw string) (authn.Identity, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	in, err := s.IntrospectToken(ctx, raw)
	if err != nil {
		return authn.Identity{}, err
	}
	return in.Identity(raw), nil
}

// CreateBot makes a bot account: no password (login answers it as a wrong
// password), the user role, a display name for its profile.
func (s *Service) CreateBot(ctx context.Context, in BotInput) (User, error) {
	if err := in.Validate(); err != nil {
		return User{}, err
	}
	u, _, err := s.store.CreateUser(ctx, NewUser{
		Username: in.Username, UsernameKey: UsernameKey(in.Username), Role: RoleUser, Now: s.now(),
		Bot: true, DisplayName: in.DisplayName,
	}, nil)
	return u, err
}

// Bots lists bot accounts by id.
func (s *Service) Bots(ctx context.Context) ([]User, error) {
	page, err := s.ListUsers(ctx, UserFilter{Bots: true, Limit: 500})
	return page.Users, err
}

// Bot returns the bot with id, or ErrBotNotFound (also for a person).
func (s *Service) Bot(ctx context.Context, id int64) (User, error) {
	u, err := s.store.UserByID(ctx, id)
	if errors.Is(err, ErrUserNotFound) || (err == nil && !u.IsBot) {
		return User{}, ErrBotNotFound
	}
	return u, err
}

// PruneTokens deletes personal access tokens that expired a week ago or
// more (the list shows recently expired ones, so their owner sees why a
// program stopped working).
func (s *Service) PruneTokens(ctx context.Context) (int64, error) {
	return s.store.PruneAccessTokens(ctx, s.now().AddDate(0, 0, -7))
}
