package accounts_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/user-service/internal/accounts"
)

func TestAccounts(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		wantErr  string
		wantN    int
		wantNext int64
	}{
		{"a page", 200, `{"accounts":[{"id":6,"username":"ann","created_at":"2025-01-02T03:04:05Z"},{"id":7,"username":"bob","created_at":"2025-01-02T03:04:06Z"}],"next_cursor":7}`, "", 2, 7},
		{"the last page", 200, `{"accounts":[],"next_cursor":null}`, "", 0, 0},
		{"extra fields are fine", 200, `{"accounts":[{"id":6,"username":"ann","created_at":"2025-01-02T03:04:05Z","x":1}],"next_cursor":null}`, "", 1, 0},
		{"unauthorized", 401, `{"error":{"code":"unauthenticated","message":"x"}}`, "answered 401", 0, 0},
		{"down", 503, `{}`, "answered 503", 0, 0},
		{"an id not after the cursor", 200, `{"accounts":[{"id":5,"username":"old","created_at":"2025-01-02T03:04:05Z"}],"next_cursor":null}`, "implausible", 0, 0},
		{"no username", 200, `{"accounts":[{"id":6,"username":"","created_at":"2025-01-02T03:04:05Z"}],"next_cursor":null}`, "implausible", 0, 0},
		{"html", 200, `<html>oops</html>`, "decode", 0, 0},
		{"huge", 200, `{"accounts":[],"pad":"` + strings.Repeat("x", 1100<<10) + `"}`, "larger than", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := make(chan *http.Request, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen <- r
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			got, next, err := accounts.New(srv.URL, 2*time.Second).Accounts(context.Background(), 5, "Bearer tok")
			r := <-seen
			if r.URL.Path != "/accounts" || r.URL.Query().Get("after") != "5" || r.URL.Query().Get("limit") != "200" || r.Header.Get("Authorization") != "Bearer tok" {
				t.Fatalf("request %s %v %q", r.URL.Path, r.URL.Query(), r.Header.Get("Authorization"))
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != tt.wantN || next != tt.wantNext {
				t.Fatalf("got %v next %d err %v", got, next, err)
			}
		})
	}
}

func TestAccountsRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	if _, _, err := accounts.New(url, time.Second).Accounts(context.Background(), 0, ""); err == nil {
		t.Fatal("no error from a closed port")
	}
}
