// Package httpapi is user-service's HTTP transport: routes.go lists every
// route; handlers are built by functions that take their dependencies.
package httpapi

import (
	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/httpx"

	"github.com/parleychat/parley/user-service/internal/avatar"
	"github.com/parleychat/parley/user-service/internal/profile"
)

// Body limits. The engine-wide limit (MaxBody) must let an avatar upload
// through; every other route is held to MaxJSONBody.
const (
	// MaxJSONBody bounds JSON bodies: the largest legitimate one (a full
	// profile update) is a few KiB.
	MaxJSONBody = 64 << 10
	// multipartOverhead is room for the multipart boundaries and part
	// headers around a maximum-size image.
	multipartOverhead = 64 << 10
	// MaxBody is the engine's limit: one maximum-size avatar plus overhead.
	MaxBody = avatar.MaxBytes + multipartOverhead
)

// Deps is what the handlers need.
type Deps struct {
	Service  *profile.Service
	Verifier authn.TokenVerifier
}

// Routes mounts every user-service endpoint at the root (the gateway strips
// /api/users).
func Routes(r gin.IRouter, d Deps) {
	small := httpx.BodyLimit(MaxJSONBody)

	// Public: an <img> cannot send a token.
	r.GET("/avatars/:id", small, getAvatar(d.Service))
	r.HEAD("/avatars/:id", small, getAvatar(d.Service))

	user := r.Group("", authn.Require(d.Verifier, httpx.Error), ensureCaller(d.Service))
	user.GET("/profiles/me", small, getMe(d.Service))
	user.GET("/profiles", small, listProfiles(d.Service))
	user.GET("/profiles/:id", small, getProfile(d.Service))
	user.PUT("/profiles/:id", small, putProfile(d.Service))
	user.PUT("/profiles/:id/avatar", putAvatar(d.Service)) // the engine's larger limit applies
	user.DELETE("/profiles/:id/avatar", small, deleteAvatar(d.Service))
	user.GET("/settings/me", small, getSettings(d.Service))
	user.PUT("/settings/me", small, putSettings(d.Service))
	user.GET("/stats/:id", small, getStats(d.Service))
}
