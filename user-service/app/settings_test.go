package app_test

import (
	"io"
	"net/http"
	"testing"
	"time"
)

type settingsView struct {
	UserID        int64  `json:"user_id"`
	Theme         string `json:"theme"`
	Notifications struct {
		Desktop      bool `json:"desktop"`
		Sound        bool `json:"sound"`
		MentionsOnly bool `json:"mentions_only"`
	} `json:"notifications"`
	UpdatedAt *time.Time `json:"updated_at"`
}

func TestSettingsDefaultsAndMerge(t *testing.T) {
	h := start(t, nil)
	tok := h.token(6, "fred")

	resp := h.request(http.MethodGet, "/settings/me", tok, nil)
	raw, _ := io.ReadAll(resp.Body)
	want := `{"user_id":6,"theme":"system","notifications":{"desktop":true,"sound":true,"mentions_only":false},"updated_at":null}`
	if resp.StatusCode != http.StatusOK || string(raw) != want {
		t.Fatalf("defaults = %d %s, want %s", resp.StatusCode, raw, want)
	}

	var s settingsView
	h.call(http.MethodPut, "/settings/me", tok, `{"theme":"dark"}`, http.StatusOK, &s)
	if s.Theme != "dark" || !s.Notifications.Desktop || !s.Notifications.Sound || s.Notifications.MentionsOnly || s.UpdatedAt == nil {
		t.Fatalf("after theme = %+v", s)
	}
	// Nested merge: only sound changes.
	h.call(http.MethodPut, "/settings/me", tok, `{"notifications":{"sound":false}}`, http.StatusOK, &s)
	if s.Theme != "dark" || !s.Notifications.Desktop || s.Notifications.Sound || s.Notifications.MentionsOnly {
		t.Fatalf("after sound = %+v", s)
	}
	// Read-only fields sent back are ignored.
	h.call(http.MethodPut, "/settings/me", tok, `{"user_id":99,"updated_at":"x","notifications":{"mentions_only":true,"desktop":false}}`, http.StatusOK, &s)
	if s.UserID != 6 || s.Theme != "dark" || s.Notifications.Desktop || s.Notifications.Sound || !s.Notifications.MentionsOnly {
		t.Fatalf("after mentions = %+v", s)
	}
	var got settingsView
	h.call(http.MethodGet, "/settings/me", tok, nil, http.StatusOK, &got)
	if asJSON(t, got) != asJSON(t, s) {
		t.Fatalf("GET = %+v, want %+v", got, s)
	}
	// Settings are private: another user sees their own.
	h.call(http.MethodGet, "/settings/me", h.token(7, "gus"), nil, http.StatusOK, &got)
	if got.UserID != 7 || got.Theme != "system" {
		t.Fatalf("gus = %+v", got)
	}
}

func TestSettingsValidation(t *testing.T) {
	h := start(t, nil)
	tok := h.token(6, "fred")
	var orig settingsView
	h.call(http.MethodPut, "/settings/me", tok, `{"theme":"light","notifications":{"sound":false}}`, http.StatusOK, &orig)

	tests := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"malformed", `{"theme":`, http.StatusBadRequest, "invalid_json"},
		{"array", `[]`, http.StatusBadRequest, "invalid_json"},
		{"null body", `null`, http.StatusBadRequest, "invalid_json"},
		{"unknown theme", `{"theme":"neon"}`, http.StatusUnprocessableEntity, "invalid_field"},
		{"theme case", `{"theme":"Dark"}`, http.StatusUnprocessableEntity, "invalid_field"},
		{"empty theme", `{"theme":""}`, http.StatusUnprocessableEntity, "invalid_field"},
		{"theme null", `{"theme":null}`, http.StatusUnprocessableEntity, "invalid_field"},
		{"theme number", `{"theme":1}`, http.StatusUnprocessableEntity, "invalid_field"},
		{"notifications not object", `{"notifications":true}`, http.StatusUnprocessableEntity, "invalid_field"},
		{"notifications null", `{"notifications":null}`, http.StatusUnprocessableEntity, "invalid_field"},
		{"desktop string", `{"notifications":{"desktop":"yes"}}`, http.StatusUnprocessableEntity, "invalid_field"},
		{"sound number", `{"notifications":{"sound":1}}`, http.StatusUnprocessableEntity, "invalid_field"},
		{"mentions null", `{"notifications":{"mentions_only":null}}`, http.StatusUnprocessableEntity, "invalid_field"},
		{"unknown notification", `{"notifications":{"email":true}}`, http.StatusUnprocessableEntity, "unknown_field"},
		{"unknown field", `{"language":"fr"}`, http.StatusUnprocessableEntity, "unknown_field"},
		{"good theme with bad notifications", `{"theme":"dark","notifications":{"sound":"loud"}}`, http.StatusUnprocessableEntity, "invalid_field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, h.request(http.MethodPut, "/settings/me", tok, tt.body), tt.status, tt.code)
		})
	}
	var now settingsView
	h.call(http.MethodGet, "/settings/me", tok, nil, http.StatusOK, &now)
	if asJSON(t, now) != asJSON(t, orig) {
		t.Fatalf("refused updates changed settings: %+v, was %+v", now, orig)
	}
	// An empty update changes nothing.
	h.call(http.MethodPut, "/settings/me", tok, `{}`, http.StatusOK, &now)
	if asJSON(t, now) != asJSON(t, orig) {
		t.Fatalf("empty update = %+v, want %+v", now, orig)
	}
}
