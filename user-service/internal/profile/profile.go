// Package profile is user-service's domain: profiles, avatars, settings and
// the stats view, the rules that govern them, and the interfaces of the
// storage and chat-service adapters. It imports no HTTP framework and no SQL.
package profile

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/text"

	"github.com/parleychat/parley/user-service/internal/avatar"
)

// Field limits, in characters (Unicode code points).
const (
	MaxDisplayName = 64
	MaxBio         = 500
	MaxStatusText  = 100
	// MaxBatch is the most ids one batch lookup may name.
	MaxBatch = 200
	// MaxQuery bounds the search text of FindProfiles.
	MaxQuery = 64
)

// AvatarPath is where the gateway exposes avatars to browsers; avatar URLs
// in profiles are built on it (the gateway strips /api/users).
const AvatarPath = "/api/users/avatars/"

// Profile is a user's public face. Its id is the auth-service user id.
type Profile struct {
	ID          int64
	Username    string
	DisplayName string
	Bio         string
	StatusText  string
	// AvatarHash is the SHA-256 of the uploaded avatar, "" for none.
	AvatarHash string
	// IsBot marks a bot account's profile (made by an admin in
	// auth-service; it never changes back).
	IsBot     bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DefaultAvatar is the generated avatar shown while the user has none.
func (p Profile) DefaultAvatar() avatar.Image {
	return avatar.Default(p.ID, avatar.Initial(p.DisplayName, p.Username))
}

// AvatarVersion changes whenever the image at AvatarURL changes.
func (p Profile) AvatarVersion() string {
	if p.AvatarHash != "" {
		return avatar.Version(p.AvatarHash)
	}
	return p.DefaultAvatar().Version()
}

// AvatarURL is the browser URL of the avatar; its v parameter busts caches
// when the picture changes.
func (p Profile) AvatarURL() string {
	return fmt.Sprintf("%s%d?v=%s", AvatarPath, p.ID, p.AvatarVersion())
}

// Actor is who makes a request, from the verified token.
type Actor struct {
	UserID   int64
	Username string
	Admin    bool
	// Bot is set when the request came with a bot's personal access token.
	Bot bool
}

// ProfilePatch names the profile fields a PUT changes; nil leaves a field
// as it is.
type ProfilePatch struct {
	DisplayName *string
	Bio         *string
	StatusText  *string
}

// Empty reports whether the patch names no field.
func (p ProfilePatch) Empty() bool {
	return p.DisplayName == nil && p.Bio == nil && p.StatusText == nil
}

// Normalize trims surrounding whitespace, so whitespace-only text becomes
// empty (clearing the field), and unifies line endings in the bio.
func (p ProfilePatch) Normalize() ProfilePatch {
	trim := func(s *string, multiline bool) *string {
		if s == nil {
			return nil
		}
		v := *s
		if multiline {
			v = strings.ReplaceAll(v, "\r\n", "\n")
		}
		v = text.NFC(strings.TrimSpace(v))
		if text.Blank(v) {
			v = "" // only invisible characters: shows nothing, so clears
		}
		return &v
	}
	return ProfilePatch{
		DisplayName: trim(p.DisplayName, false),
		Bio:         trim(p.Bio, true),
		StatusText:  trim(p.StatusText, false),
	}
}

// Validate checks a normalized patch: lengths and characters.
func (p ProfilePatch) Validate() error {
	if err := checkText("display_name", p.DisplayName, MaxDisplayName, false); err != nil {
		return err
	}
	if err := checkText("bio", p.Bio, MaxBio, true); err != nil {
		return err
	}
	return checkText("status_text", p.StatusText, MaxStatusText, false)
}

func checkText(field string, s *string, max int, multiline bool) error {
	if s == nil {
		return nil
	}
	if !utf8.ValidString(*s) {
		return apperr.Validation("invalid_field", field+" must be valid UTF-8 text")
	}
	if n := utf8.RuneCountInString(*s); n > max {
		return apperr.Validation("invalid_field", fmt.Sprintf("%s must be at most %d characters (got %d)", field, max, n))
	}
	if multiline {
		// A bio is text like a message body, line breaks and tabs included;
		// bidi overrides could still make it display as something else.
		if p := text.BodyProblem(*s); p != "" {
			return apperr.Validation("invalid_field", field+" must not contain "+p)
		}
		if strings.ContainsFunc(*s, text.IsBidiControl) {
			return apperr.Validation("invalid_field", field+" must not contain bidirectional control characters")
		}
		return nil
	}
	if strings.ContainsAny(*s, "\r\n") {
		return apperr.Validation("invalid_field", field+" must not contain line breaks")
	}
	if p := text.NameProblem(*s); p != "" {
		return apperr.Validation("invalid_field", field+" must not contain "+p)
	}
	return nil
}

// ProfileFilter selects profiles for FindProfiles.
type ProfileFilter struct {
	// Query matches a substring of the username or display name,
	// case-insensitively; "" matches everyone.
	Query string
	// AfterID is the cursor: only ids greater than it.
	AfterID int64
	Limit   int
}

// Avatar is a stored avatar image.
type Avatar struct {
	UserID      int64
	ContentType string
	Data        []byte
	Hash        string
	UpdatedAt   time.Time
}

// Account is an account as auth-service lists it (GET /accounts): every
// one gets a profile, so the directory holds each account from its
// registration on.
type Account struct {
	ID        int64
	Username  string
	CreatedAt time.Time
	// IsBot and DisplayName come with a bot account: its profile is made
	// with them.
	IsBot       bool
	DisplayName string
}

// AccountSource pages through auth-service's accounts with ids above
// afterID, forwarding the caller's Authorization header; next is the cursor
// of the following page, 0 on the last.
type AccountSource interface {
	Accounts(ctx context.Context, afterID int64, authorization string) (accounts []Account, next int64, err error)
}

// Store persists profiles, avatars and settings. Every method is one short
// transaction; lookups of a missing row return a NotFound *apperr.Error.
type Store interface {
	// ImportAccounts creates the profiles of accounts that have none (an
	// existing profile is left as it is) and raises the directory mark to
	// mark, in one transaction.
	ImportAccounts(ctx context.Context, accounts []Account, mark int64, now time.Time) error
	// DirectoryMark is the highest account id imported so far (0 at first).
	DirectoryMark(ctx context.Context) (int64, error)
	// EnsureProfile creates the profile from the token's claims when it is
	// missing and keeps its username in step with them; bot marks it a
	// bot's (false never clears the mark).
	EnsureProfile(ctx context.Context, id int64, username string, bot bool, now time.Time) error
	Profile(ctx context.Context, id int64) (Profile, error)
	// Profiles returns the profiles that exist among ids, in any order.
	Profiles(ctx context.Context, ids []int64) ([]Profile, error)
	// FindProfiles lists profiles by ascending id.
	FindProfiles(ctx context.Context, f ProfileFilter) ([]Profile, error)
	UpdateProfile(ctx context.Context, id int64, p ProfilePatch, now time.Time) (Profile, error)
	// SetAvatar stores the image and points the profile at it, atomically.
	SetAvatar(ctx context.Context, a Avatar) (Profile, error)
	DeleteAvatar(ctx context.Context, userID int64, now time.Time) (Profile, error)
	Avatar(ctx context.Context, userID int64) (Avatar, error)
	Settings(ctx context.Context, userID int64) (Settings, error)
	// UpdateSettings applies the patch to the stored settings, or to def
	// when the user has none yet, in one statement.
	UpdateSettings(ctx context.Context, userID int64, p SettingsPatch, def Settings, now time.Time) (Settings, error)
}

// ErrProfileNotFound is the error for a profile that does not exist.
func ErrProfileNotFound(id int64) error {
	return apperr.NotFound("profile_not_found", fmt.Sprintf("no profile for user %d", id))
}
