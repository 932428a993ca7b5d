package chatstats_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/platform/logx"

	"github.com/parleychat/parley/user-service/internal/chatstats"
)

func TestUserStats(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		wantErr string
	}{
		{"ok", 200, `{"messages_sent":1,"rooms_created":2,"rooms_joined":3,"last_active_at":"2025-01-02T03:04:05+01:00"}`, ""},
		{"extra fields are fine", 200, `{"user_id":9,"messages_sent":0,"rooms_created":0,"rooms_joined":0,"last_active_at":null,"new":1}`, ""},
		{"not found", 404, `{"error":{"code":"not_found","message":"x"}}`, "answered 404"},
		{"unauthorized", 401, `{}`, "answered 401"},
		{"negative", 200, `{"messages_sent":-1,"rooms_created":0,"rooms_joined":0}`, "negative"},
		{"missing", 200, `{"messages_sent":1}`, "rooms_created"},
		{"wrong type", 200, `{"messages_sent":"1","rooms_created":0,"rooms_joined":0}`, "decode"},
		{"html", 200, `<html>oops</html>`, "decode"},
		{"bad time", 200, `{"messages_sent":1,"rooms_created":0,"rooms_joined":0,"last_active_at":"2025-01-02"}`, "RFC 3339"},
		{"huge", 200, `{"messages_sent":1,"rooms_created":0,"rooms_joined":0,"pad":"` + strings.Repeat("x", 70<<10) + `"}`, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := make(chan *http.Request, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen <- r
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c := chatstats.New(srv.URL, time.Second)
			ctx := logx.WithRequestID(context.Background(), "rid-1")
			st, err := c.UserStats(ctx, 9, "Bearer tok")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := <-seen
			if got.URL.Path != "/users/9/stats" || got.Header.Get("Authorization") != "Bearer tok" || got.Header.Get("X-Request-ID") != "rid-1" {
				t.Fatalf("request %s %v", got.URL.Path, got.Header)
			}
			if st.UserID != 9 || st.Degraded {
				t.Fatalf("stats = %+v", st)
			}
			if st.LastActiveAt != nil && (st.LastActiveAt.Location() != time.UTC || st.LastActiveAt.Hour() != 2) {
				t.Fatalf("last_active_at not normalised to UTC: %v", st.LastActiveAt)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	if err := chatstats.New(srv.URL, time.Second).Check(context.Background()); err != nil {
		t.Fatalf("Check = %v", err)
	}
	srv.Close()
	if err := chatstats.New(srv.URL, time.Second).Check(context.Background()); err == nil {
		t.Fatal("Check passed against a closed server")
	}
}
