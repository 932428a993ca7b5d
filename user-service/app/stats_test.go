package app_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/parleychat/parley/platform/testkit"
)

type statsView struct {
	UserID       int64      `json:"user_id"`
	MessagesSent int64      `json:"messages_sent"`
	RoomsCreated int64      `json:"rooms_created"`
	RoomsJoined  int64      `json:"rooms_joined"`
	LastActiveAt *time.Time `json:"last_active_at"`
	Degraded     bool       `json:"degraded"`
}

func TestStats(t *testing.T) {
	h := start(t, nil)
	tok := h.token(1, "ann")
	resp := h.request(http.MethodGet, "/stats/7", tok, nil, "X-Request-ID", "stats-req-123")
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stats = %d %s", resp.StatusCode, raw)
	}
	if got := fmt.Sprint(keysOf(t, raw)); got != "[degraded last_active_at messages_sent rooms_created rooms_joined user_id]" {
		t.Fatalf("stats keys = %s", got)
	}
	var s statsView
	decodeJSON(t, raw, &s)
	want := time.Date(2025, 6, 1, 12, 30, 0, 0, time.UTC)
	if s.UserID != 7 || s.MessagesSent != 42 || s.RoomsCreated != 3 || s.RoomsJoined != 5 || s.Degraded || s.LastActiveAt == nil || !s.LastActiveAt.Equal(want) {
		t.Fatalf("stats = %+v", s)
	}
	// The caller's credentials and the request id travel to chat-service.
	r := h.chat.lastRequest(t)
	if r.URL.Path != "/users/7/stats" || r.Header.Get("Authorization") != "Bearer "+tok || r.Header.Get("X-Request-ID") != "stats-req-123" {
		t.Fatalf("chat-service saw %s auth=%q req_id=%q", r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("X-Request-ID"))
	}
	wantError(t, h.request(http.MethodGet, "/stats/abc", tok, nil), http.StatusNotFound, "not_found")
	wantError(t, h.request(http.MethodGet, "/stats/0", tok, nil), http.StatusNotFound, "not_found")

	// "me" is the caller.
	h.call(http.MethodGet, "/stats/me", h.token(7, "gil"), nil, http.StatusOK, &s)
	if s.UserID != 7 || s.MessagesSent != 42 {
		t.Fatalf("stats/me = %+v", s)
	}
}

func TestStatsNeverActive(t *testing.T) {
	chat := newFakeChat(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"messages_sent":0,"rooms_created":0,"rooms_joined":1,"last_active_at":null}`)
	})
	h := start(t, map[string]string{"CHAT_SERVICE_URL": chat.URL})
	resp := h.request(http.MethodGet, "/stats/3", h.token(3, "cy"), nil)
	raw, _ := io.ReadAll(resp.Body)
	want := `{"user_id":3,"messages_sent":0,"rooms_created":0,"rooms_joined":1,"last_active_at":null,"degraded":false}`
	if string(raw) != want {
		t.Fatalf("stats = %s, want %s", raw, want)
	}
}

func TestStatsDegraded(t *testing.T) {
	release := make(chan struct{})
	hanging := newFakeChat(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before the server closes
	failing := newFakeChat(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":{"code":"internal","message":"boom"}}`, http.StatusInternalServerError)
	})
	garbled := newFakeChat(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"messages_sent":"many"}`)
	})
	incomplete := newFakeChat(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"messages_sent":1}`)
	})
	badTime := newFakeChat(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"messages_sent":1,"rooms_created":0,"rooms_joined":0,"last_active_at":"yesterday"}`)
	})
	closed := fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(t))

	tests := []struct{ name, url string }{
		{"hangs past the timeout", hanging.URL},
		{"closed port", closed},
		{"server error", failing.URL},
		{"garbled answer", garbled.URL},
		{"incomplete answer", incomplete.URL},
		{"bad time", badTime.URL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, map[string]string{"CHAT_SERVICE_URL": tt.url, "STATS_TIMEOUT": "200ms"})
			started := time.Now()
			resp := h.request(http.MethodGet, "/stats/5", h.token(1, "ann"), nil)
			raw, _ := io.ReadAll(resp.Body)
			want := `{"user_id":5,"messages_sent":0,"rooms_created":0,"rooms_joined":0,"last_active_at":null,"degraded":true}`
			if resp.StatusCode != http.StatusOK || string(raw) != want {
				t.Fatalf("degraded stats = %d %s, want 200 %s", resp.StatusCode, raw, want)
			}
			// Bounded by STATS_TIMEOUT, not by the hanging server (a loose
			// bound: this checks for a hang, not for speed).
			if d := time.Since(started); d > 5*time.Second {
				t.Fatalf("degraded answer took %v", d)
			}
		})
	}
}
