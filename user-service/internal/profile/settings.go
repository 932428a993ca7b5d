package profile

import (
	"time"

	"github.com/parleychat/parley/platform/apperr"
)

// Themes a user may pick.
const (
	ThemeLight  = "light"
	ThemeDark   = "dark"
	ThemeSystem = "system"
)

// Settings are a user's private preferences.
type Settings struct {
	UserID        int64
	Theme         string
	Notifications Notifications
	// UpdatedAt is zero while the user has never saved settings.
	UpdatedAt time.Time
}

// Notifications are the notification preferences.
type Notifications struct {
	// Desktop allows browser notifications.
	Desktop bool
	// Sound plays a sound for new messages.
	Sound bool
	// MentionsOnly limits notifications to messages that mention the user
	// and to direct messages.
	MentionsOnly bool
}

// DefaultSettings are what a user has before saving any.
func DefaultSettings(userID int64) Settings {
	return Settings{
		UserID: userID,
		Theme:  ThemeSystem,
		Notifications: Notifications{
			Desktop:      true,
			Sound:        true,
			MentionsOnly: false,
		},
	}
}

// SettingsPatch names the settings a PUT changes; nil leaves one as it is.
type SettingsPatch struct {
	Theme        *string
	Desktop      *bool
	Sound        *bool
	MentionsOnly *bool
}

// Empty reports whether the patch names no setting.
func (p SettingsPatch) Empty() bool {
	return p.Theme == nil && p.Desktop == nil && p.Sound == nil && p.MentionsOnly == nil
}

// Validate checks the named settings.
func (p SettingsPatch) Validate() error {
	if p.Theme != nil {
		switch *p.Theme {
		case ThemeLight, ThemeDark, ThemeSystem:
		default:
			return apperr.Validation("invalid_field", "theme must be one of light, dark, system")
		}
	}
	return nil
}

// Apply returns s with the patch applied.
func (p SettingsPatch) Apply(s Settings) Settings {
	if p.Theme != nil {
		s.Theme = *p.Theme
	}
	if p.Desktop != nil {
		s.Notifications.Desktop = *p.Desktop
	}
	if p.Sound != nil {
		s.Notifications.Sound = *p.Sound
	}
	if p.MentionsOnly != nil {
		s.Notifications.MentionsOnly = *p.MentionsOnly
	}
	return s
}
