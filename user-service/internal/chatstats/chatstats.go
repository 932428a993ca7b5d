// Package chatstats asks chat-service for a user's activity
// (GET /users/:id/stats) and checks that chat-service is reachable.
package chatstats

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/parleychat/parley/platform/httpx"

	"github.com/parleychat/parley/user-service/internal/profile"
)

// maxBody bounds what is read of an answer: a stats object is tiny.
const maxBody = 64 << 10

// Client calls chat-service.
type Client struct {
	base string
	http *http.Client
}

var _ profile.StatsSource = (*Client)(nil)

// New returns a client for chat-service at baseURL whose calls give up after
// timeout. The request id travels with every call (httpx.NewClient).
func New(baseURL string, timeout time.Duration) *Client {
	return &Client{base: baseURL, http: httpx.NewClient(timeout)}
}

// wireStats is chat-service's answer.
type wireStats struct {
	MessagesSent *int64  `json:"messages_sent"`
	RoomsCreated *int64  `json:"rooms_created"`
	RoomsJoined  *int64  `json:"rooms_joined"`
	LastActiveAt *string `json:"last_active_at"`
}

// UserStats fetches user id's stats, forwarding the caller's Authorization
// header. Any failure (refused, timed out, non-200, malformed) is an error;
// the caller decides how to degrade.
func (c *Client) UserStats(ctx context.Context, userID int64, authorization string) (profile.Stats, error) {
	url := c.base + "/users/" + strconv.FormatInt(userID, 10) + "/stats"
	var w wireStats
	if err := httpx.GetJSON(ctx, c.http, url, authorization, maxBody, &w); err != nil {
		return profile.Stats{}, fmt.Errorf("chat stats: chat-service: %w", err)
	}
	return w.toStats(userID)
}

func (w wireStats) toStats(userID int64) (profile.Stats, error) {
	counts := []struct {
		name string
		v    *int64
	}{{"messages_sent", w.MessagesSent}, {"rooms_created", w.RoomsCreated}, {"rooms_joined", w.RoomsJoined}}
	for _, c := range counts {
		if c.v == nil || *c.v < 0 {
			return profile.Stats{}, fmt.Errorf("chat stats: %s missing or negative", c.name)
		}
	}
	st := profile.Stats{UserID: userID, MessagesSent: *w.MessagesSent, RoomsCreated: *w.RoomsCreated, RoomsJoined: *w.RoomsJoined}
	if w.LastActiveAt != nil && *w.LastActiveAt != "" {
		t, err := time.Parse(time.RFC3339Nano, *w.LastActiveAt)
		if err != nil {
			return profile.Stats{}, fmt.Errorf("chat stats: last_active_at %q is not RFC 3339", *w.LastActiveAt)
		}
		t = t.UTC()
		st.LastActiveAt = &t
	}
	return st, nil
}

// Check reports whether chat-service answers its liveness probe, for the
// non-critical health check.
func (c *Client) Check(ctx context.Context) error {
	return httpx.CheckLive(ctx, c.http, c.base, "chat-service")
}
