// Package accounts asks auth-service for the accounts registered
// (GET /accounts), so that every account has a profile in the directory.
package accounts

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/parleychat/parley/platform/httpx"

	"github.com/parleychat/parley/user-service/internal/profile"
)

// PageSize is how many accounts one call asks for (auth-service's maximum).
const PageSize = 200

// maxBody bounds what is read of an answer: a full page is about 20 KiB.
const maxBody = 1 << 20

// Client calls auth-service.
type Client struct {
	base string
	http *http.Client
}

var _ profile.AccountSource = (*Client)(nil)

// New returns a client for auth-service at baseURL whose calls give up after
// timeout. The request id travels with every call (httpx.NewClient).
func New(baseURL string, timeout time.Duration) *Client {
	return &Client{base: baseURL, http: httpx.NewClient(timeout)}
}

type wireAccount struct {
	ID        int64     `json:"id"`
	Username  string    `json:"username"`
	CreatedAt time.Time `json:"created_at"`
	IsBot     bool      `json:"is_bot"`
	// DisplayName is a bot's.
	DisplayName string `json:"display_name"`
}

type wirePage struct {
	Accounts   []wireAccount `json:"accounts"`
	NextCursor *int64        `json:"next_cursor"`
}

// Accounts fetches the page of accounts after afterID, forwarding the
// caller's Authorization header. Any failure (refused, timed out, non-200,
// malformed) is an error; the caller decides how to degrade.
func (c *Client) Accounts(ctx context.Context, afterID int64, authorization string) ([]profile.Account, int64, error) {
	q := url.Values{"after": {strconv.FormatInt(afterID, 10)}, "limit": {strconv.Itoa(PageSize)}}
	var w wirePage
	if err := httpx.GetJSON(ctx, c.http, c.base+"/accounts?"+q.Encode(), authorization, maxBody, &w); err != nil {
		return nil, 0, fmt.Errorf("accounts: auth-service: %w", err)
	}
	out := make([]profile.Account, 0, len(w.Accounts))
	for _, a := range w.Accounts {
		if a.ID <= afterID || a.Username == "" {
			return nil, 0, fmt.Errorf("accounts: implausible account %d %q after %d", a.ID, a.Username, afterID)
		}
		out = append(out, profile.Account{ID: a.ID, Username: a.Username, CreatedAt: a.CreatedAt.UTC(), IsBot: a.IsBot, DisplayName: a.DisplayName})
	}
	var next int64
	if w.NextCursor != nil {
		next = *w.NextCursor
	}
	return out, next, nil
}
