package auth

import (
	"net/mail"
	"strings"

	"github.com/parleychat/parley/platform/apperr"
)

// Limits of ARCHITECTURE.md, Contract: Tokens.
const (
	UsernameMin = 3
	UsernameMax = 32
	PasswordMin = 8
	PasswordMax = 72 // bcrypt ignores bytes past 72, so longer ones are refused
	EmailMax    = 254
)

// RegisterInput is the body of POST /register.
type RegisterInput struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Email    string `json:"email"`
}

// Validate trims the username and email and checks every field.
func (in *RegisterInput) Validate() error {
	in.Username = strings.TrimSpace(in.Username)
	in.Email = strings.TrimSpace(in.Email)
	if err := ValidateUsername(in.Username); err != nil {
		return err
	}
	if err := ValidatePassword(in.Password); err != nil {
		return err
	}
	return ValidateEmail(in.Email)
}

// LoginInput is the body of POST /login. Only presence is checked: a wrong
// shape is just a wrong credential.
type LoginInput struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Validate trims the username and requires both fields.
func (in *LoginInput) Validate() error {
	in.Username = strings.TrimSpace(in.Username)
	if in.Username == "" {
		return apperr.Validation("username_required", "username is required")
	}
	if in.Password == "" {
		return apperr.Validation("password_required", "password is required")
	}
	return nil
}

// RefreshInput is the body of POST /refresh and POST /logout.
type RefreshInput struct {
	RefreshToken string `json:"refresh_token"`
}

// Validate requires the token.
func (in *RefreshInput) Validate() error {
	in.RefreshToken = strings.TrimSpace(in.RefreshToken)
	if in.RefreshToken == "" {
		return apperr.Validation("refresh_token_required", "refresh_token is required")
	}
	return nil
}

// PasswordInput is the body of POST /password.
type PasswordInput struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// Validate requires the current password and checks the new one.
func (in *PasswordInput) Validate() error {
	if in.CurrentPassword == "" {
		return apperr.Validation("current_password_required", "current_password is required")
	}
	if in.NewPassword == "" {
		return apperr.Validation("new_password_required", "new_password is required")
	}
	return ValidatePassword(in.NewPassword)
}

// UserPatch is the body of PATCH /users/:id.
type UserPatch struct {
	Role     *string `json:"role"`
	Disabled *bool   `json:"disabled"`
}

// Validate requires at least one known field, so a misspelt one is not
// silently ignored, and a known role.
func (p *UserPatch) Validate() error {
	if p.Role == nil && p.Disabled == nil {
		return apperr.Validation("no_fields", "give role and/or disabled")
	}
	if p.Role != nil {
		r := strings.ToLower(strings.TrimSpace(*p.Role))
		if r != RoleUser && r != RoleAdmin {
			return apperr.Validation("invalid_role", `role must be "user" or "admin"`)
		}
		p.Role = &r
	}
	return nil
}

// UsernameKey is the case-insensitive identity of a username.
func UsernameKey(username string) string {
	return strings.ToLower(strings.TrimSpace(username))
}

// ValidateUsername checks length (3–32) and alphabet ([A-Za-z0-9_.-]).
func ValidateUsername(s string) error {
	if s == "" {
		return apperr.Validation("username_required", "username is required")
	}
	if len(s) < UsernameMin || len(s) > UsernameMax {
		return apperr.Validation("invalid_username", "username must be 3 to 32 characters long")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
		if !ok {
			return apperr.Validation("invalid_username", "username may only contain letters, digits, '_', '.' and '-'")
		}
	}
	return nil
}

// ValidatePassword checks length in bytes (8–72) and refuses blank ones.
// Passwords are never trimmed: spaces are part of them.
func ValidatePassword(p string) error {
	switch {
	case p == "":
		return apperr.Validation("password_required", "password is required")
	case len(p) < PasswordMin:
		return apperr.Validation("password_too_short", "password must be at least 8 bytes")
	case len(p) > PasswordMax:
		return apperr.Validation("password_too_long", "password must be at most 72 bytes")
	case strings.TrimSpace(p) == "":
		return apperr.Validation("invalid_password", "password cannot be only whitespace")
	}
	return nil
}

// ValidateEmail lightly checks an optional address: one plain
// local@domain, no display name, a dot in the domain.
func ValidateEmail(e string) error {
	if e == "" {
		return nil
	}
	bad := apperr.Validation("invalid_email", "email must look like name@example.com")
	if len(e) > EmailMax {
		return bad
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || addr.Name != "" {
		return bad
	}
	at := strings.LastIndexByte(e, '@')
	domain := e[at+1:]
	if at < 1 || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return bad
	}
	return nil
}
