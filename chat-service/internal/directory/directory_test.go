package directory_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/chat-service/internal/directory"
	"github.com/parleychat/parley/platform/logx"
)

// The client's reading of each answer user-service (or something else at
// its address) may give. The real user-service is asked in e2e.
func TestUsername(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		delay   time.Duration
		want    string
		noUser  bool
		wantErr string
	}{
		{"found", 200, `{"id":7,"username":"zed","display_name":"Zed","bio":""}`, 0, "zed", false, ""},
		{"no such profile", 404, `{"error":{"code":"profile_not_found","message":"no user with id \"7\""}}`, 0, "", true, ""},
		{"a 404 from something else", 404, `404 page not found`, 0, "", false, "answered 404"},
		{"another service's 404", 404, `{"error":{"code":"not_found","message":"no route"}}`, 0, "", false, "answered 404 not_found"},
		{"token refused", 401, `{"error":{"code":"unauthorized","message":"x"}}`, 0, "", false, "answered 401"},
		{"broken", 500, `{"error":{"code":"internal","message":"x"}}`, 0, "", false, "answered 500"},
		{"busy", 503, ``, 0, "", false, "answered 503"},
		{"another user", 200, `{"id":8,"username":"eve"}`, 0, "", false, "answered user 8"},
		{"html", 200, `<html>`, 0, "", false, "decode"},
		{"huge", 200, `{"id":7,"username":"zed","bio":"` + strings.Repeat("x", 70<<10) + `"}`, 0, "", false, "larger than"},
		{"too slow", 200, `{"id":7,"username":"zed"}`, 500 * time.Millisecond, "", false, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := make(chan *http.Request, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen <- r
				if tt.delay > 0 {
					select {
					case <-time.After(tt.delay):
					case <-r.Context().Done():
						return
					}
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c := directory.New(srv.URL, 200*time.Millisecond)
			ctx := logx.WithRequestID(context.Background(), "rid-7")
			name, err := c.Username(ctx, 7, "Bearer tok")
			got := <-seen
			if got.URL.Path != "/profiles/7" || got.Header.Get("Authorization") != "Bearer tok" || got.Header.Get("X-Request-ID") != "rid-7" {
				t.Fatalf("request %s %v", got.URL.Path, got.Header)
			}
			switch {
			case tt.noUser:
				if !errors.Is(err, chat.ErrNoSuchUser) {
					t.Fatalf("err = %v, want ErrNoSuchUser", err)
				}
			case tt.wantErr == "timeout":
				// net/http words it "Client.Timeout exceeded" or "context
				// deadline exceeded", depending on where the clock ran out.
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() || errors.Is(err, chat.ErrNoSuchUser) {
					t.Fatalf("err = %v, want a timeout that is not ErrNoSuchUser", err)
				}
			case tt.wantErr != "":
				if err == nil || errors.Is(err, chat.ErrNoSuchUser) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want an error with %q that is not ErrNoSuchUser", err, tt.wantErr)
				}
			default:
				if err != nil || name != tt.want {
					t.Fatalf("Username = %q, %v; want %q", name, err, tt.want)
				}
			}
		})
	}
}

func TestUsernameRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := directory.New(url, time.Second).Username(context.Background(), 7, "")
	if err == nil || errors.Is(err, chat.ErrNoSuchUser) {
		t.Fatalf("err = %v, want a connection error", err)
	}
	if directory.New(url, time.Second).Check(context.Background()) == nil {
		t.Fatal("Check passed with user-service down")
	}
}
