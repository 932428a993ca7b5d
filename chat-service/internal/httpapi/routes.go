// Package httpapi is chat-service's HTTP and WebSocket transport: routes.go
// lists every route; handlers are built by functions that take their
// dependencies; ws.go speaks the WebSocket protocol. Rules live in package
// chat.
package httpapi

import (
	"log/slog"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/chat-service/internal/hub"
	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/httpx"
	"github.com/parleychat/parley/platform/ratelimit"
)

// Deps is what the handlers need.
type Deps struct {
	Service *chat.Service
	Hub     *hub.Hub
	// Verifier checks access tokens (an authn.Guard: signature, then the
	// revocations).
	Verifier authn.TokenVerifier
	// Revocations judges an open socket's identity before each frame, so a
	// revoked session or a changed role applies to frames already on their
	// way (nil: nothing is revoked).
	Revocations *authn.Revocations
	Logger      *slog.Logger
	// AllowedOrigins may open WebSockets from a browser ("*" allows any).
	AllowedOrigins []string
	WS             WSOptions
	// UserRequests limits each user's REST requests (nil: no limit).
	// chat-service is reachable without the gateway (its WebSocket port),
	// so it cannot rely on the gateway's per-client limit.
	UserRequests *ratelimit.Keyed
	// FileMaxBytes caps an upload (chat.DefaultFileMaxBytes when 0).
	FileMaxBytes int64
	// PublicURL is the gateway's base URL as clients see it
	// (API_BASE_URL): webhook URLs are absolute under it when set.
	PublicURL string
	// Registry takes the WebSocket admission metrics (nil: not exported).
	Registry prometheus.Registerer
}

// Routes mounts every chat-service endpoint at the root (the gateway strips
// /api/chat).
func Routes(r gin.IRouter, d Deps) {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	svc := d.Service

	// The WebSocket authenticates with its first frame, not a header: a
	// browser cannot set headers on a WebSocket handshake.
	r.GET("/ws", newWSServer(d).handle)
	// File URLs are capabilities (an <img> cannot send a token): the
	// signature in the query is the access check.
	r.GET("/files/:id", downloadFile(svc, false))
	r.HEAD("/files/:id", downloadFile(svc, false))
	r.GET("/files/:id/thumbnail", downloadFile(svc, true))
	r.HEAD("/files/:id/thumbnail", downloadFile(svc, true))
	// An incoming webhook's URL is its only credential (webhooks.go).
	r.POST("/hooks/:token", httpx.BodyLimit(MaxWebhookBodyBytes), postWebhook(svc))

	api := r.Group("", authn.Require(d.Verifier, httpx.Error), limitPerUser(d.UserRequests), seeUser(svc, d.Logger))
	api.GET("/rooms", listRooms(svc))
	api.POST("/rooms", createRoom(svc))
	api.GET("/rooms/:id", getRoom(svc))
	api.PATCH("/rooms/:id", updateRoom(svc))
	api.DELETE("/rooms/:id", deleteRoom(svc))
	api.POST("/rooms/:id/join", joinRoom(svc))
	api.POST("/rooms/:id/leave", leaveRoom(svc))
	api.GET("/rooms/:id/members", listMembers(svc))
	api.POST("/rooms/:id/members", addMember(svc))
	api.DELETE("/rooms/:id/members/:uid", removeMember(svc))
	api.GET("/rooms/:id/messages", listMessages(svc))
	api.POST("/rooms/:id/messages", sendMessage(svc))
	api.POST(UploadRoute, uploadFile(svc, d.FileMaxBytes))
	api.POST("/rooms/:id/read", markRead(svc))
	api.GET("/rooms/:id/online", online(svc))
	api.GET("/rooms/:id/pins", listPins(svc))
	api.POST("/rooms/:id/pins/:message_id", pin(svc, true))
	api.DELETE("/rooms/:id/pins/:message_id", pin(svc, false))
	api.POST("/dms", openDM(svc))
	api.GET("/messages/:id", getMessage(svc))
	api.GET("/messages/:id/thread", getThread(svc))
	api.POST("/messages/:id/thread/read", markThreadRead(svc))
	api.GET("/threads", listThreads(svc))
	api.GET("/mentions", listMentions(svc))
	api.PATCH("/messages/:id", editMessage(svc))
	api.DELETE("/messages/:id", deleteMessage(svc))
	api.POST("/messages/:id/reactions/:emoji", react(svc, true))
	api.DELETE("/messages/:id/reactions/:emoji", react(svc, false))
	api.GET("/search", search(svc))
	api.GET("/users/:id/stats", userStats(svc))
	api.POST("/rooms/:id/webhooks", createWebhook(svc, d.PublicURL))
	api.GET("/rooms/:id/webhooks", listWebhooks(svc))
	api.DELETE("/webhooks/:id", deleteWebhook(svc))
	// The admin page (admins only, by the token's current role): every
	// public and private room, archive and delete, usage figures.
	api.GET("/admin/rooms", adminRooms(svc))
	api.PATCH("/admin/rooms/:id", adminUpdateRoom(svc))
	api.DELETE("/admin/rooms/:id", adminDeleteRoom(svc))
	api.GET("/admin/usage", adminUsage(svc))
}

// limitPerUser spends one token of the caller's bucket per request; an
// empty bucket is 429 rate_limited with Retry-After. It runs after the
// token check, so the key is a verified user id that no client can vary.
func limitPerUser(l *ratelimit.Keyed) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := authn.FromContext(c.Request.Context())
		if l == nil || !ok {
			c.Next()
			return
		}
		if allowed, wait := l.Allow(strconv.FormatInt(id.UserID, 10)); !allowed {
			httpx.Error(c, apperr.RateLimited("too many requests, slow down", ratelimit.RetryAfterSeconds(wait)))
			return
		}
		c.Next()
	}
}
