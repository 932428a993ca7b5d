package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/ratelimit"
)

// Limiter is a keyed token bucket (platform/ratelimit.Keyed).
type Limiter interface {
	Allow(key string) (bool, time.Duration)
	Blocked(key string) (bool, time.Duration)
}

// Config tunes a Service.
type Config struct {
	BcryptCost int
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	// LoginUser throttles failed logins per (lowercased username, client
	// address) and LoginIP per client address: checked before a password is
	// tried, a token taken for each failure. Failures from one address never
	// stop the right password from another, so nobody can lock an account
	// out from afar. LoginAccount is a high ceiling per username across
	// every address (a spray from many addresses), logged when reached.
	// Register throttles sign-ups per address (every attempt takes a token:
	// each one costs a bcrypt hash). Nil means unlimited.
	LoginUser    Limiter
	LoginIP      Limiter
	LoginAccount Limiter
	Register     Limiter
	Now          func() time.Time
	Logger       *slog.Logger
	// Revoked, when set, is called after a session or an account change was
	// recorded in the revocation feed (the service's own follower reads the
	// feed at once instead of at its next tick).
	Revoked func(ctx context.Context)
}

// Service carries out every account and session rule.
type Service struct {
	store  Store
	tokens TokenIssuer
	cfg    Config
	// dummyHash is compared against when the username is unknown, so that
	// answer takes as long as a wrong password.
	dummyHash []byte
}

// NewService builds a Service; it hashes the dummy password once, at the
// configured cost.
func NewService(store Store, tokens TokenIssuer, cfg Config) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BcryptCost < bcrypt.MinCost || cfg.BcryptCost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d out of range", cfg.BcryptCost)
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte(randomString(16)), cfg.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("dummy hash: %w", err)
	}
	return &Service{store: store, tokens: tokens, cfg: cfg, dummyHash: dummy}, nil
}

// Session is what register, login and refresh answer.
type Session struct {
	User         User   `json:"user"`
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int64  `json:"expires_in"` // access token lifetime, seconds
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// Register creates a user with the user role and opens its first session.
func (s *Service) Register(ctx context.Context, in RegisterInput, clientIP string) (Session, error) {
	if err := in.Validate(); err != nil {
		return Session{}, err
	}
	if s.cfg.Register != nil {
		if ok, wait := s.cfg.Register.Allow(clientIP); !ok {
			return Session{}, apperr.RateLimited("too many sign-ups from this address", ratelimit.RetryAfterSeconds(wait))
		}
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(in.Password), s.cfg.BcryptCost)
	if err != nil {
		return Session{}, fmt.Errorf("hash password: %w", err)
	}
	now := s.now()
	raw, next := s.newRefreshToken(now)
	u, sid, err := s.store.CreateUser(ctx, NewUser{
		Username: in.Username, UsernameKey: UsernameKey(in.Username), Email: in.Email,
		PasswordHash: string(hash), Role: RoleUser, Now: now,
	}, &next)
	if err != nil {
		return Session{}, err
	}
	return s.session(u, sid, raw, now)
}

// Login checks a username and password. Failures are throttled per
// username and per client address; an unknown username costs one bcrypt
// comparison like a wrong password does. The disabled state is revealed
// only to someone who knows the password.
func (s *Service) Login(ctx context.Context, in LoginInput, clientIP string) (Session, error) {
	if err := in.Validate(); err != nil {
		return Session{}, err
	}
	key := UsernameKey(in.Username)
	// NUL cannot occur in a username, so the pair key is unambiguous.
	pair := key + "\x00" + clientIP
	if err := throttle(s.cfg.LoginUser, pair, "too many failed logins for this account from this address"); err != nil {
		return Session{}, err
	}
	if err := throttle(s.cfg.LoginIP, clientIP, "too many failed logins from this address"); err != nil {
		return Session{}, err
	}
	if err := throttle(s.cfg.LoginAccount, key, "too many failed logins for this account"); err != nil {
		s.cfg.Logger.WarnContext(ctx, "login ceiling reached for an account", "username", key, "client_ip", clientIP)
		return Session{}, err
	}
	fail := func() (Session, error) {
		for _, t := range []struct {
			l   Limiter
			key string
		}{{s.cfg.LoginUser, pair}, {s.cfg.LoginIP, clientIP}, {s.cfg.LoginAccount, key}} {
			if t.l != nil {
				t.l.Allow(t.key)
			}
		}
		return Session{}, ErrInvalidCredentials
	}
	u, hash, err := s.store.Credentials(ctx, key)
	switch {
	case errors.Is(err, ErrUserNotFound):
		_ = bcrypt.CompareHashAndPassword(s.dummyHash, []byte(in.Password))
		return fail()
	case err != nil:
		return Session{}, err
	}
	// bcrypt compares only the first 72 bytes; a longer password cannot be
	// the one that was registered. A bot has no password at all: it is
	// answered like a wrong one, after as long.
	if len(in.Password) > PasswordMax || hash == "" {
		_ = bcrypt.CompareHashAndPassword(s.dummyHash, []byte(in.Password[:min(len(in.Password), PasswordMax)]))
		return fail()
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(in.Password)) != nil {
		return fail()
	}
	if u.Disabled {
		return Session{}, ErrAccountDisabled
	}
	s.upgradeHash(ctx, u.ID, hash, in.Password)
	now := s.now()
	raw, next := s.newRefreshToken(now)
	sid, err := s.store.CreateSession(ctx, u.ID, next)
	if err != nil {
		return Session{}, err
	}
	return s.session(u, sid, raw, now)
}

// upgradeHash rehashes a password stored at another cost than the
// configured one, so raising BCRYPT_COST takes effect at each next login.
// Failure only means the next login tries again.
func (s *Service) upgradeHash(ctx context.Context, id int64, hash, password string) {
	cost, err := bcrypt.Cost([]byte(hash))
	if err != nil || cost == s.cfg.BcryptCost {
		return
	}
	nh, err := bcrypt.GenerateFromPassword([]byte(password), s.cfg.BcryptCost)
	if err == nil {
		err = s.store.SetPasswordHash(ctx, id, string(nh), false, 0, s.now())
	}
	if err != nil {
		s.cfg.Logger.WarnContext(ctx, "rehash password at new cost failed", "user_id", id, "error", err)
	}
}

// Refresh rotates a refresh token: the presented one is spent and a new
// pair is issued. Presenting a spent token again revokes its whole family,
// because either the client or a thief holds a copy.
func (s *Service) Refresh(ctx context.Context, raw string) (Session, error) {
	if raw == "" || len(raw) > 256 {
		return Session{}, ErrRefreshInvalid
	}
	now := s.now()
	nextRaw, next := s.newRefreshToken(now)
	sess, err := s.store.UseRefreshToken(ctx, HashRefreshToken(raw), next, func(rs RefreshSession) (Verdict, error) {
		return decideRefresh(rs, now)
	})
	if errors.Is(err, ErrRefreshReused) {
		// A security event worth an operator's attention: a refresh token
		// was copied, or a client retried a refresh it had already made.
		s.cfg.Logger.WarnContext(ctx, "refresh token reused; its login was revoked",
			"user_id", sess.User.ID, "family_id", sess.FamilyID)
		s.revoked(ctx)
	}
	if err != nil {
		return Session{}, err
	}
	return s.session(sess.User, sess.FamilyID, nextRaw, now)
}

// decideRefresh is the rule for a presented refresh token. A disabled
// account answers account_disabled before anything else; reuse is checked
// before expiry because a copy of a spent token is evidence of theft.
func decideRefresh(rs RefreshSession, now time.Time) (Verdict, error) {
	switch {
	case rs.User.Disabled:
		return Reject, ErrAccountDisabled
	case rs.FamilyRevoked:
		return Reject, ErrRefreshRevoked
	case rs.Used:
		return RevokeFamily, ErrRefreshReused
	case !now.Before(rs.ExpiresAt):
		return Reject, ErrRefreshExpired
	default:
		return Rotate, nil
	}
}

// Logout revokes the family of the refresh token. Unknown or already
// revoked tokens are fine: logging out twice is not an error.
func (s *Service) Logout(ctx context.Context, raw string) error {
	if raw == "" || len(raw) > 256 {
		return nil
	}
	if err := s.store.RevokeFamilyOf(ctx, HashRefreshToken(raw), "logout", s.now()); err != nil {
		return err
	}
	s.revoked(ctx)
	return nil
}

// SignOutEverywhere ends every session of the user (their own "sign out
// everywhere", or an admin's on their behalf) and returns how many.
// Tokens of those sessions are refused everywhere once the services read
// the revocation feed, within seconds.
func (s *Service) SignOutEverywhere(ctx context.Context, userID int64) (int, error) {
	if _, err := s.store.UserByID(ctx, userID); err != nil {
		return 0, err
	}
	n, err := s.store.RevokeSessions(ctx, userID, 0, "signed_out_everywhere", s.now())
	if err != nil {
		return 0, err
	}
	s.revoked(ctx)
	return n, nil
}

// Revocations is one page of the revocation feed after seq, the feed's
// newest seq, and how long an entry matters (the access token lifetime).
func (s *Service) Revocations(ctx context.Context, after int64, limit int) ([]Revocation, int64, time.Duration, error) {
	rs, last, err := s.store.Revocations(ctx, after, limit)
	return rs, last, s.cfg.AccessTTL, err
}

func (s *Service) revoked(ctx context.Context) {
	if s.cfg.Revoked != nil {
		s.cfg.Revoked(ctx)
	}
}

// User returns a user by id.
func (s *Service) User(ctx context.Context, id int64) (User, error) {
	return s.store.UserByID(ctx, id)
}

// ActiveUser returns the user behind a verified access token. Access tokens
// outlive a disable by up to their TTL elsewhere; here the database has the
// last word. A user that no longer exists means the token is no good.
func (s *Service) ActiveUser(ctx context.Context, id int64) (User, error) {
	u, err := s.store.UserByID(ctx, id)
	if errors.Is(err, ErrUserNotFound) {
		return User{}, apperr.Unauthenticated("invalid_token", "access token is invalid")
	}
	if err != nil {
		return User{}, err
	}
	if u.Disabled {
		return User{}, ErrAccountDisabled
	}
	return u, nil
}

// Admin returns the caller if they are an enabled admin now, whatever role
// their token claims.
func (s *Service) Admin(ctx context.Context, id int64) (User, error) {
	u, err := s.ActiveUser(ctx, id)
	if err != nil {
		return User{}, err
	}
	if !u.IsAdmin() {
		return User{}, ErrAdminRequired
	}
	return u, nil
}

// ListUsers returns one page of users ordered by id.
func (s *Service) ListUsers(ctx context.Context, f UserFilter) (UserPage, error) {
	f.Prefix = UsernameKey(f.Prefix)
	if f.AfterID < 0 {
		f.AfterID = 0
	}
	want := f.Limit
	if want <= 0 {
		want = 50
	}
	f.Limit = want + 1 // one more tells whether a next page exists
	us, err := s.store.ListUsers(ctx, f)
	if err != nil {
		return UserPage{}, err
	}
	page := UserPage{Users: us}
	if len(us) > want {
		page.Users = us[:want]
		page.NextCursor = page.Users[want-1].ID
	}
	if page.Users == nil {
		page.Users = []User{}
	}
	return page, nil
}

// Accounts lists every account with an id above afterID, in id order, as
// directory entries (no e-mail, role or state); next is the cursor of the
// following page, 0 on the last.
func (s *Service) Accounts(ctx context.Context, afterID int64, limit int) (accounts []Account, next int64, err error) {
	page, err := s.ListUsers(ctx, UserFilter{AfterID: afterID, Limit: limit})
	if err != nil {
		return nil, 0, err
	}
	accounts = make([]Account, len(page.Users))
	for i, u := range page.Users {
		accounts[i] = Account{ID: u.ID, Username: u.Username, CreatedAt: u.CreatedAt, IsBot: u.IsBot, DisplayName: u.DisplayName}
	}
	return accounts, page.NextCursor, nil
}

// UpdateUser applies an admin's change to a user. Admins cannot demote or
// disable themselves, so an administrator can never lock everyone out by
// accident; the store also refuses to leave no enabled admin at all.
func (s *Service) UpdateUser(ctx context.Context, actor User, id int64, p UserPatch) (User, error) {
	if err := p.Validate(); err != nil {
		return User{}, err
	}
	if actor.ID == id && ((p.Role != nil && *p.Role != RoleAdmin) || (p.Disabled != nil && *p.Disabled)) {
		return User{}, ErrSelfModification
	}
	u, err := s.store.UpdateUser(ctx, id, UserUpdate(p), s.now())
	if err == nil {
		s.revoked(ctx)
	}
	return u, err
}

// ChangePassword sets a new password after checking the current one, and
// ends every other session of the user (sid, the one making the change,
// stays signed in): other devices must log in again. Wrong current
// passwords are throttled like failed logins.
func (s *Service) ChangePassword(ctx context.Context, u User, sid int64, in PasswordInput) error {
	if err := in.Validate(); err != nil {
		return err
	}
	key := UsernameKey(u.Username)
	if err := throttle(s.cfg.LoginUser, key, "too many wrong passwords for this account"); err != nil {
		return err
	}
	_, hash, err := s.store.Credentials(ctx, key)
	if err != nil {
		return err
	}
	if len(in.CurrentPassword) > PasswordMax || bcrypt.CompareHashAndPassword([]byte(hash), []byte(in.CurrentPassword)) != nil {
		if s.cfg.LoginUser != nil {
			s.cfg.LoginUser.Allow(key)
		}
		return ErrWrongPassword
	}
	nh, err := bcrypt.GenerateFromPassword([]byte(in.NewPassword), s.cfg.BcryptCost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	if err := s.store.SetPasswordHash(ctx, u.ID, string(nh), true, sid, s.now()); err != nil {
		return err
	}
	s.revoked(ctx)
	return nil
}

// AdminBootstrap reports what EnsureAdmin did.
type AdminBootstrap struct {
	Created bool
	// GeneratedPassword is set only when this call created the admin with a
	// random password; it must be shown to the operator exactly once.
	GeneratedPassword string
	// NotAdmin is set when the user exists without the admin role: it is
	// left alone, since promoting an account someone else registered under
	// that name would hand them the keys.
	NotAdmin bool
}

// EnsureAdmin creates the first admin when no user has that username. With
// no password a random one is generated. Replicas starting at once are
// safe: the unique username decides which one creates it.
func (s *Service) EnsureAdmin(ctx context.Context, username, password string) (AdminBootstrap, error) {
	username = strings.TrimSpace(username)
	if err := ValidateUsername(username); err != nil {
		return AdminBootstrap{}, err
	}
	key := UsernameKey(username)
	u, _, err := s.store.Credentials(ctx, key)
	if err == nil {
		return AdminBootstrap{NotAdmin: !u.IsAdmin()}, nil
	}
	if !errors.Is(err, ErrUserNotFound) {
		return AdminBootstrap{}, err
	}
	generated := password == ""
	if generated {
		password = randomString(18)
	}
	if err := ValidatePassword(password); err != nil {
		return AdminBootstrap{}, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cfg.BcryptCost)
	if err != nil {
		return AdminBootstrap{}, fmt.Errorf("hash admin password: %w", err)
	}
	_, _, err = s.store.CreateUser(ctx, NewUser{
		Username: username, UsernameKey: key, PasswordHash: string(hash), Role: RoleAdmin, Now: s.now(),
		PasswordGenerated: generated,
	}, nil)
	if errors.Is(err, ErrUsernameTaken) {
		return AdminBootstrap{}, nil // another replica won the race
	}
	if err != nil {
		return AdminBootstrap{}, err
	}
	res := AdminBootstrap{Created: true}
	if generated {
		res.GeneratedPassword = password
	}
	return res, nil
}

// revocationKeep is how long past the access token lifetime a feed entry is
// kept: room for verifiers' clock leeway and skew.
const revocationKeep = 5 * time.Minute

// PruneExpired deletes expired refresh tokens and revocation feed entries
// no unexpired token can be concerned by.
func (s *Service) PruneExpired(ctx context.Context) (int64, error) {
	now := s.now()
	if _, err := s.store.PruneRevocations(ctx, now.Add(-s.cfg.AccessTTL-revocationKeep)); err != nil {
		return 0, err
	}
	if _, err := s.PruneTokens(ctx); err != nil {
		return 0, err
	}
	return s.store.PruneRefreshTokens(ctx, now)
}

func (s *Service) session(u User, sid int64, refresh string, now time.Time) (Session, error) {
	access, exp, err := s.tokens.IssueAccess(u.ID, u.Username, u.Role, sid, now)
	if err != nil {
		return Session{}, fmt.Errorf("issue access token: %w", err)
	}
	return Session{
		User: u, AccessToken: access, TokenType: "Bearer", RefreshToken: refresh,
		ExpiresIn: int64(exp.Sub(now).Round(time.Second) / time.Second),
	}, nil
}

// newRefreshToken makes an opaque 256-bit token; only its hash is stored.
func (s *Service) newRefreshToken(now time.Time) (string, NewRefreshToken) {
	raw := randomString(32)
	return raw, NewRefreshToken{Hash: HashRefreshToken(raw), Now: now, ExpiresAt: now.Add(s.cfg.RefreshTTL)}
}

// HashRefreshToken is the stored form of a refresh token. The token has 256
// random bits, so a fast hash is enough: there is nothing to brute-force.
func HashRefreshToken(raw string) []byte {
	sum := sha256.Sum256([]byte(raw))
	return sum[:]
}

// randomString is n random bytes, base64url-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

func throttle(l Limiter, key, msg string) error {
	if l == nil {
		return nil
	}
	if blocked, wait := l.Blocked(key); blocked {
		return apperr.RateLimited(msg, ratelimit.RetryAfterSeconds(wait))
	}
	return nil
}
