package profile_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/parleychat/parley/platform/apperr"

	"github.com/parleychat/parley/user-service/internal/profile"
)

func ptr(s string) *string { return &s }

func TestProfilePatchValidate(t *testing.T) {
	tests := []struct {
		name  string
		patch profile.ProfilePatch
		want  profile.ProfilePatch // after Normalize; zero when an error is expected
		ok    bool
	}{
		{"empty", profile.ProfilePatch{}, profile.ProfilePatch{}, true},
		{"trimmed", profile.ProfilePatch{DisplayName: ptr("  Ann  ")}, profile.ProfilePatch{DisplayName: ptr("Ann")}, true},
		{"whitespace clears", profile.ProfilePatch{Bio: ptr(" \n\t "), StatusText: ptr("\u00a0")}, profile.ProfilePatch{Bio: ptr(""), StatusText: ptr("")}, true},
		{"crlf in bio", profile.ProfilePatch{Bio: ptr("a\r\nb")}, profile.ProfilePatch{Bio: ptr("a\nb")}, true},
		{"tab in bio", profile.ProfilePatch{Bio: ptr("a\tb")}, profile.ProfilePatch{Bio: ptr("a\tb")}, true},
		{"emoji and zwj", profile.ProfilePatch{DisplayName: ptr("👩‍💻 Ann")}, profile.ProfilePatch{DisplayName: ptr("👩‍💻 Ann")}, true},
		{"64 characters", profile.ProfilePatch{DisplayName: ptr(strings.Repeat("ß", 64))}, profile.ProfilePatch{DisplayName: ptr(strings.Repeat("ß", 64))}, true},
		{"65 characters", profile.ProfilePatch{DisplayName: ptr(strings.Repeat("a", 65))}, profile.ProfilePatch{}, false},
		{"trailing spaces do not count", profile.ProfilePatch{DisplayName: ptr(strings.Repeat("a", 64) + "   ")}, profile.ProfilePatch{DisplayName: ptr(strings.Repeat("a", 64))}, true},
		{"bio 501", profile.ProfilePatch{Bio: ptr(strings.Repeat("a", 501))}, profile.ProfilePatch{}, false},
		{"status 101", profile.ProfilePatch{StatusText: ptr(strings.Repeat("a", 101))}, profile.ProfilePatch{}, false},
		{"newline in name", profile.ProfilePatch{DisplayName: ptr("a\nb")}, profile.ProfilePatch{}, false},
		{"newline in status", profile.ProfilePatch{StatusText: ptr("a\nb")}, profile.ProfilePatch{}, false},
		{"escape in bio", profile.ProfilePatch{Bio: ptr("a\x1b[31mb")}, profile.ProfilePatch{}, false},
		{"bidi isolate", profile.ProfilePatch{DisplayName: ptr("a\u2066b")}, profile.ProfilePatch{}, false},
		{"invalid utf-8", profile.ProfilePatch{StatusText: ptr("a\xffb")}, profile.ProfilePatch{}, false},
		{"zero-width space in name", profile.ProfilePatch{DisplayName: ptr("Al\u200bice")}, profile.ProfilePatch{}, false},
		{"only invisible characters clear", profile.ProfilePatch{DisplayName: ptr("\u200b\ufeff")}, profile.ProfilePatch{DisplayName: ptr("")}, true},
		{"NFC", profile.ProfilePatch{DisplayName: ptr("Rene\u0301e")}, profile.ProfilePatch{DisplayName: ptr("Renée")}, true},
		{"NUL in bio", profile.ProfilePatch{Bio: ptr("a\x00b")}, profile.ProfilePatch{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := tt.patch.Normalize()
			err := n.Validate()
			if !tt.ok {
				var e *apperr.Error
				if !errors.As(err, &e) || e.Kind != apperr.KindValidation || e.Code != "invalid_field" {
					t.Fatalf("Validate() = %v, want a 422 invalid_field", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			if show(n.DisplayName) != show(tt.want.DisplayName) || show(n.Bio) != show(tt.want.Bio) || show(n.StatusText) != show(tt.want.StatusText) {
				t.Fatalf("Normalize() = %s/%s/%s", show(n.DisplayName), show(n.Bio), show(n.StatusText))
			}
		})
	}
}

func show(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return "\"" + *s + "\""
}

func TestSettingsPatch(t *testing.T) {
	for _, theme := range []string{"light", "dark", "system"} {
		if err := (profile.SettingsPatch{Theme: &theme}).Validate(); err != nil {
			t.Errorf("theme %q: %v", theme, err)
		}
	}
	for _, theme := range []string{"", "Dark", "auto", " light"} {
		if err := (profile.SettingsPatch{Theme: &theme}).Validate(); err == nil {
			t.Errorf("theme %q accepted", theme)
		}
	}
	off := false
	got := profile.SettingsPatch{Sound: &off}.Apply(profile.DefaultSettings(1))
	if got.Theme != "system" || !got.Notifications.Desktop || got.Notifications.Sound || got.Notifications.MentionsOnly {
		t.Fatalf("Apply = %+v", got)
	}
}
