package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/platform/apperr"
)

// code is the apperr code of err ("" for nil), checking the 422 status of
// validation failures on the way.
func code(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var e *apperr.Error
	if !errors.As(err, &e) {
		t.Fatalf("not an apperr: %v", err)
	}
	return e.Code
}

func TestRegisterInputValidate(t *testing.T) {
	tests := []struct {
		name string
		in   RegisterInput
		want string
	}{
		{"ok", RegisterInput{Username: "alice", Password: "password1"}, ""},
		{"ok with email", RegisterInput{Username: "a.b-c_d", Password: "password1", Email: "a@example.com"}, ""},
		{"trimmed username", RegisterInput{Username: "  bob  ", Password: "password1"}, ""},
		{"3 chars", RegisterInput{Username: "abc", Password: "password1"}, ""},
		{"32 chars", RegisterInput{Username: strings.Repeat("a", 32), Password: "password1"}, ""},
		{"missing username", RegisterInput{Password: "password1"}, "username_required"},
		{"blank username", RegisterInput{Username: "   ", Password: "password1"}, "username_required"},
		{"2 chars", RegisterInput{Username: "ab", Password: "password1"}, "invalid_username"},
		{"33 chars", RegisterInput{Username: strings.Repeat("a", 33), Password: "password1"}, "invalid_username"},
		{"space inside", RegisterInput{Username: "a b", Password: "password1"}, "invalid_username"},
		{"unicode", RegisterInput{Username: "zoë", Password: "password1"}, "invalid_username"},
		{"at sign", RegisterInput{Username: "a@b", Password: "password1"}, "invalid_username"},
		{"missing password", RegisterInput{Username: "alice"}, "password_required"},
		{"7 bytes", RegisterInput{Username: "alice", Password: "1234567"}, "password_too_short"},
		{"8 bytes", RegisterInput{Username: "alice", Password: "12345678"}, ""},
		{"72 bytes", RegisterInput{Username: "alice", Password: strings.Repeat("x", 72)}, ""},
		{"73 bytes", RegisterInput{Username: "alice", Password: strings.Repeat("x", 73)}, "password_too_long"},
		{"multibyte counts bytes", RegisterInput{Username: "alice", Password: strings.Repeat("é", 37)}, "password_too_long"},
		{"whitespace password", RegisterInput{Username: "alice", Password: "          "}, "invalid_password"},
		{"blank email is none", RegisterInput{Username: "alice", Password: "password1", Email: "  "}, ""},
		{"email without at", RegisterInput{Username: "alice", Password: "password1", Email: "alice"}, "invalid_email"},
		{"email without dot", RegisterInput{Username: "alice", Password: "password1", Email: "a@localhost"}, "invalid_email"},
		{"email with name", RegisterInput{Username: "alice", Password: "password1", Email: "Alice <a@example.com>"}, "invalid_email"},
		{"email with space", RegisterInput{Username: "alice", Password: "password1", Email: "a b@example.com"}, "invalid_email"},
		{"email too long", RegisterInput{Username: "alice", Password: "password1", Email: strings.Repeat("a", 250) + "@x.io"}, "invalid_email"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if got := code(t, in.Validate()); got != tc.want {
				t.Fatalf("code %q, want %q", got, tc.want)
			}
		})
	}
}

func TestOtherInputsValidate(t *testing.T) {
	str := func(s string) *string { return &s }
	yes := true
	tests := []struct {
		name string
		v    interface{ Validate() error }
		want string
	}{
		{"login ok", &LoginInput{Username: "a", Password: "x"}, ""},
		{"login no username", &LoginInput{Username: " ", Password: "x"}, "username_required"},
		{"login no password", &LoginInput{Username: "a"}, "password_required"},
		{"refresh ok", &RefreshInput{RefreshToken: "abc"}, ""},
		{"refresh missing", &RefreshInput{RefreshToken: "  "}, "refresh_token_required"},
		{"patch empty", &UserPatch{}, "no_fields"},
		{"patch role", &UserPatch{Role: str("Admin")}, ""},
		{"patch bad role", &UserPatch{Role: str("root")}, "invalid_role"},
		{"patch disabled", &UserPatch{Disabled: &yes}, ""},
		{"password ok", &PasswordInput{CurrentPassword: "x", NewPassword: "password2"}, ""},
		{"password no current", &PasswordInput{NewPassword: "password2"}, "current_password_required"},
		{"password no new", &PasswordInput{CurrentPassword: "x"}, "new_password_required"},
		{"password new short", &PasswordInput{CurrentPassword: "x", NewPassword: "short"}, "password_too_short"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := code(t, tc.v.Validate()); got != tc.want {
				t.Fatalf("code %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDecideRefresh(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	live := RefreshSession{ExpiresAt: now.Add(time.Minute)}
	with := func(f func(*RefreshSession)) RefreshSession { rs := live; f(&rs); return rs }
	tests := []struct {
		name    string
		rs      RefreshSession
		verdict Verdict
		err     error
	}{
		{"live", live, Rotate, nil},
		{"expired", with(func(r *RefreshSession) { r.ExpiresAt = now }), Reject, ErrRefreshExpired},
		{"used", with(func(r *RefreshSession) { r.Used = true }), RevokeFamily, ErrRefreshReused},
		{"used and expired is still reuse", with(func(r *RefreshSession) { r.Used = true; r.ExpiresAt = now.Add(-time.Hour) }), RevokeFamily, ErrRefreshReused},
		{"revoked", with(func(r *RefreshSession) { r.FamilyRevoked = true }), Reject, ErrRefreshRevoked},
		{"revoked and used", with(func(r *RefreshSession) { r.FamilyRevoked = true; r.Used = true }), Reject, ErrRefreshRevoked},
		{"disabled first", with(func(r *RefreshSession) { r.User.Disabled = true; r.FamilyRevoked = true }), Reject, ErrAccountDisabled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := decideRefresh(tc.rs, now)
			if v != tc.verdict || !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("got %v %v, want %v %v", v, err, tc.verdict, tc.err)
			}
		})
	}
}
