// Package auth holds Parley's identity domain: users, passwords, sessions
// made of an access token and a rotating refresh token, and the rules about
// them (ARCHITECTURE.md, Contract: Tokens). It knows nothing of HTTP or SQL: storage sits behind
// Store and token signing behind TokenIssuer.
package auth

import (
	"context"
	"time"

	"github.com/parleychat/parley/platform/apperr"
)

// Roles a user may hold. They equal platform/authn's RoleUser and RoleAdmin;
// they are repeated here so the domain does not import the HTTP middleware.
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)

// User is an account. The password hash never leaves the store except
// through Store.Credentials.
type User struct {
	ID        int64     `json:"id"`
	Username  string    `json:"username"`
	Email     string    `json:"email,omitempty"`
	Role      string    `json:"role"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// MustChangePassword is set while the account still has the password
	// auth-service generated for it (the first admin without
	// ADMIN_PASSWORD); choosing a password clears it. Absent when false.
	MustChangePassword bool `json:"must_change_password,omitempty"`
	// IsBot marks an account an admin made for a program: it has no
	// password and signs in only with personal access tokens.
	IsBot bool `json:"is_bot"`
	// DisplayName is set on bots only (people keep theirs in user-service).
	DisplayName string `json:"display_name,omitempty"`
}

// IsAdmin reports whether the user holds the admin role.
func (u User) IsAdmin() bool { return u.Role == RoleAdmin }

// NewUser is a user about to be stored.
type NewUser struct {
	Username     string
	UsernameKey  string // lowercased username; unique
	Email        string
	PasswordHash string
	Role         string
	Now          time.Time
	// PasswordGenerated marks a password the service generated rather than
	// one a person chose (User.MustChangePassword).
	PasswordGenerated bool
	// Bot makes a bot account (PasswordHash empty) named DisplayName.
	Bot         bool
	DisplayName string
}

// UserFilter selects a page of users, ordered by id.
type UserFilter struct {
	AfterID int64  // cursor: only ids greater than this
	Prefix  string // optional username prefix, already lowercased
	Bots    bool   // only bot accounts
	Limit   int
}

// Account is what any signed-in user may know of another account: the
// directory's entry (user-service builds its profiles from these).
type Account struct {
	ID        int64     `json:"id"`
	Username  string    `json:"username"`
	CreatedAt time.Time `json:"created_at"`
	IsBot     bool      `json:"is_bot"`
	// DisplayName is a bot's (people choose theirs in user-service).
	DisplayName string `json:"display_name,omitempty"`
}

// UserPage is one page of users and the cursor of the next (0 = none).
type UserPage struct {
	Users      []User
	NextCursor int64
}

// UserUpdate is what an admin may change on an account; nil fields stay.
type UserUpdate struct {
	Role     *string
	Disabled *bool
}

// NewRefreshToken is a refresh token about to be stored (only its hash).
type NewRefreshToken struct {
	Hash      []byte
	Now       time.Time
	ExpiresAt time.Time
}

// RefreshSession is what a presented refresh token refers to.
type RefreshSession struct {
	TokenID       int64
	FamilyID      int64
	User          User
	ExpiresAt     time.Time
	Used          bool // already rotated: presenting it again is reuse
	FamilyRevoked bool
}

// Verdict is what to do with a presented refresh token.
type Verdict int

// The verdicts Store.UseRefreshToken carries out in one transaction.
const (
	// Rotate marks the token used and stores its successor in the family.
	Rotate Verdict = iota
	// RevokeFamily revokes the token's whole family (reuse detected) and
	// commits that, then fails.
	RevokeFamily
	// Reject changes nothing and fails.
	Reject
)

// Store persists users and refresh tokens. Every method is one short
// transaction: nothing is ever half-written.
type Store interface {
	// CreateUser inserts a user and, when session is non-nil, opens a refresh
	// token family for it in the same transaction and returns the family's
	// id (the session id). A taken username is ErrUsernameTaken.
	CreateUser(ctx context.Context, u NewUser, session *NewRefreshToken) (User, int64, error)
	// UserByID is ErrUserNotFound for an unknown id.
	UserByID(ctx context.Context, id int64) (User, error)
	// Credentials returns the user with that username key and its password
	// hash, or ErrUserNotFound.
	Credentials(ctx context.Context, usernameKey string) (User, string, error)
	// ListUsers returns up to f.Limit users after f.AfterID.
	ListUsers(ctx context.Context, f UserFilter) ([]User, error)
	// UpdateUser applies upd. Disabling a user also revokes all their refresh
	// token families. A change is recorded in the revocation feed. An update
	// that would leave no enabled admin is ErrLastAdmin; an unknown id is
	// ErrUserNotFound.
	UpdateUser(ctx context.Context, id int64, upd UserUpdate, now time.Time) (User, error)
	// SetPasswordHash replaces a password hash. changed is a new password
	// the user chose: it revokes every refresh token family of the user but
	// keep (0: none) and clears MustChangePassword; false is a rehash of the
	// same password, which changes neither.
	SetPasswordHash(ctx context.Context, id int64, hash string, changed bool, keep int64, now time.Time) error
	// CreateSession opens a new refresh token family with its first token
	// and returns the family's id.
	CreateSession(ctx context.Context, userID int64, t NewRefreshToken) (int64, error)
	// RevokeSessions revokes every live family of the user but keep (0:
	// none) and returns how many.
	RevokeSessions(ctx context.Context, userID, keep int64, reason string, now time.Time) (int, error)
	// Revocations returns up to limit feed entries after seq, in seq order,
	// and the feed's newest seq.
	Revocations(ctx context.Context, after int64, limit int) ([]Revocation, int64, error)
	// PruneRevocations deletes feed entries made before before.
	PruneRevocations(ctx context.Context, before time.Time) (int64, error)
	// UseRefreshToken looks up the token with hash, asks decide what to do
	// and does it, all in one transaction. Rotate stores next and returns
	// the session; RevokeFamily commits the revocation and returns the
	// session with decide's error; Reject returns decide's error. An unknown
	// hash is ErrRefreshInvalid.
	UseRefreshToken(ctx context.Context, hash []byte, next NewRefreshToken, decide func(RefreshSession) (Verdict, error)) (RefreshSession, error)
	// RevokeFamilyOf revokes the family of the token with hash; an unknown
	// or already revoked token is not an error. Every family revocation,
	// here and elsewhere, is recorded in the revocation feed in the same
	// transaction.
	RevokeFamilyOf(ctx context.Context, hash []byte, reason string, now time.Time) error
	// PruneRefreshTokens deletes tokens expired before now and families left
	// without tokens, returning how many tokens went.
	PruneRefreshTokens(ctx context.Context, now time.Time) (int64, error)

	// CreateAccessToken stores a personal access token, giving it its id;
	// hint is called with that id and returns the secret's hash and the
	// hint to store (the token text contains its id). A user holding max
	// tokens already is ErrTooManyTokens.
	CreateAccessToken(ctx context.Context, t NewAccessToken, max int, seal func(id int64) (hash []byte, hint string)) (AccessToken, error)
	// AccessTokens lists a user's personal access tokens, newest first.
	AccessTokens(ctx context.Context, userID int64) ([]AccessToken, error)
	// AccessTokenByID returns a token, its hash and its owner, or
	// ErrTokenNotFound.
	AccessTokenByID(ctx context.Context, id int64) (AccessToken, []byte, User, error)
	// RevokeAccessToken deletes the user's token id and records it in the
	// revocation feed in the same transaction; a token of another user, or
	// none, is ErrTokenNotFound.
	RevokeAccessToken(ctx context.Context, userID, id int64, now time.Time) error
	// TouchAccessToken sets last_used_at to now unless it is later than
	// since already (one write a minute per token at most).
	TouchAccessToken(ctx context.Context, id int64, now, since time.Time) error
	// PruneAccessTokens deletes tokens that expired before before.
	PruneAccessTokens(ctx context.Context, before time.Time) (int64, error)
}

// NewAccessToken is a personal access token about to be stored.
type NewAccessToken struct {
	UserID    int64
	Name      string
	Now       time.Time
	ExpiresAt time.Time
}

// AccessToken is a personal access token as listed: never its secret.
type AccessToken struct {
	ID         int64      `json:"id"`
	UserID     int64      `json:"user_id"`
	Name       string     `json:"name"`
	Hint       string     `json:"hint"` // the token's first characters, to recognise it
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// Revocation is one entry of the revocation feed: a session ended
// (FamilyID set) or an account's role or disabled state changed (FamilyID
// 0; Role and Disabled as they are after the change).
type Revocation struct {
	Seq      int64
	UserID   int64
	FamilyID int64
	TokenID  int64 // a revoked personal access token
	Role     string
	Disabled bool
	At       time.Time
}

// TokenIssuer signs access tokens.
type TokenIssuer interface {
	// IssueAccess signs an access token for the user's session sid, valid
	// until the returned time.
	IssueAccess(userID int64, username, role string, sid int64, now time.Time) (token string, expires time.Time, err error)
}

// The domain's client-facing errors.
var (
	ErrUserNotFound       = apperr.NotFound("user_not_found", "user does not exist")
	ErrUsernameTaken      = apperr.Conflict("username_taken", "that username is already taken")
	ErrInvalidCredentials = apperr.Unauthenticated("invalid_credentials", "username or password is wrong")
	ErrAccountDisabled    = apperr.Forbidden("account_disabled", "this account is disabled")
	ErrRefreshInvalid     = apperr.Unauthenticated("invalid_refresh_token", "refresh token is invalid")
	ErrRefreshExpired     = apperr.Unauthenticated("refresh_token_expired", "refresh token has expired; log in again")
	ErrRefreshRevoked     = apperr.Unauthenticated("refresh_token_revoked", "refresh token was revoked; log in again")
	ErrRefreshReused      = apperr.Unauthenticated("refresh_token_reused", "refresh token was already used; every session of this login was revoked")
	ErrAdminRequired      = apperr.Forbidden("admin_required", "this endpoint is for administrators")
	ErrSelfModification   = apperr.Forbidden("cannot_modify_self", "administrators cannot demote or disable their own account")
	ErrLastAdmin          = apperr.Conflict("last_admin", "this change would leave no enabled administrator")
	ErrWrongPassword      = apperr.Forbidden("wrong_password", "current password is wrong")
	ErrTokenNotFound      = apperr.NotFound("token_not_found", "personal access token does not exist")
	ErrTooManyTokens      = apperr.Conflict("too_many_tokens", "this account has the most personal access tokens allowed; revoke one first")
	ErrBotNotFound        = apperr.NotFound("bot_not_found", "bot does not exist")
)
