// Package directory asks user-service, the user directory, whether a user
// exists (GET /profiles/:id), so that chat-service opens no DM with an id
// that names nobody.
package directory

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/httpx"
)

// DefaultTimeout bounds one lookup: user-service may itself catch up with
// auth-service before it answers for a new account.
const DefaultTimeout = 5 * time.Second

// maxBody bounds what is read of an answer: a profile is well under 16 KiB.
const maxBody = 64 << 10

// notFoundCode is user-service's error code for an id that names no
// profile. A 404 with any other code (a wrong USER_SERVICE_URL that lands
// on another service or path) is a directory that cannot answer, not an
// answer.
const notFoundCode = "profile_not_found"

// Client calls user-service.
type Client struct {
	base string
	http *http.Client
}

var _ chat.Directory = (*Client)(nil)

// New returns a client for user-service at baseURL whose calls give up
// after timeout. The request id travels with every call (httpx.NewClient).
func New(baseURL string, timeout time.Duration) *Client {
	return &Client{base: baseURL, http: httpx.NewClient(timeout)}
}

type wireProfile struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
}

// Username returns userID's username, forwarding the caller's
// Authorization header. chat.ErrNoSuchUser when user-service answers 404
// profile_not_found; any other failure (refused, timed out, another status,
// malformed, another user's profile) is an error naming it.
func (c *Client) Username(ctx context.Context, userID int64, authorization string) (string, error) {
	url := c.base + "/profiles/" + strconv.FormatInt(userID, 10)
	var w wireProfile
	err := httpx.GetJSON(ctx, c.http, url, authorization, maxBody, &w)
	var se *httpx.StatusError
	switch {
	case errors.As(err, &se) && se.Status == http.StatusNotFound && se.Code == notFoundCode:
		return "", chat.ErrNoSuchUser
	case err != nil:
		return "", fmt.Errorf("user directory: user-service: %w", err)
	case w.ID != userID:
		return "", fmt.Errorf("user directory: asked for user %d, answered user %d", userID, w.ID)
	}
	return w.Username, nil
}

// Check reports whether user-service answers its liveness probe, for the
// non-critical health check: only opening a DM needs the directory.
func (c *Client) Check(ctx context.Context) error {
	return httpx.CheckLive(ctx, c.http, c.base, "user-service")
}
