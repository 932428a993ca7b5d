// Package httpapi is auth-service's HTTP transport: routes.go lists every
// route; handlers are built by functions that take their dependencies.
package httpapi

import (
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleychat/parley/auth-service/internal/auth"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/httpx"
)

// Deps is what the handlers need.
type Deps struct {
	Service *auth.Service
	// Verifier checks access tokens (the signer's verifier, usually behind
	// an authn.Cache).
	Verifier authn.TokenVerifier
	// JWKS is the public key set document; JWKSMaxAge its cache lifetime in
	// seconds.
	JWKS       []byte
	JWKSMaxAge int
	// Registry receives the auth_events_total counter; nil skips it.
	Registry prometheus.Registerer
}

// Routes mounts every auth-service endpoint at the root (the gateway strips
// /api/auth).
func Routes(r gin.IRouter, d Deps) {
	m := newMetrics(d.Registry)
	r.POST("/register", register(d.Service, m))
	r.POST("/login", login(d.Service, m))
	r.POST("/refresh", refresh(d.Service, m))
	r.POST("/logout", logout(d.Service, m))
	r.POST("/verify", verify(d.Service, d.Verifier, m))
	r.GET("/.well-known/jwks.json", jwks(d.JWKS, d.JWKSMaxAge))
	// For the services, not for browsers: the gateway does not publish
	// /internal (docs/ARCHITECTURE.md, Contract: Revocation).
	r.GET("/internal/revocations", revocations(d.Service))
	r.POST("/internal/tokens/introspect", introspect(d.Service, m))

	user := r.Group("", authn.Require(d.Verifier, httpx.Error), loadCaller(d.Service.ActiveUser))
	user.GET("/me", me())
	user.GET("/accounts", listAccounts(d.Service))
	// Credentials are managed only with a password login: a personal
	// access token cannot make more tokens, change the password or end
	// sessions (403 pat_not_allowed).
	user.POST("/password", noPAT, changePassword(d.Service, m))
	user.POST("/sessions/revoke-all", noPAT, signOutEverywhere(d.Service, m, false))
	user.POST("/tokens", noPAT, createToken(d.Service, m, false))
	user.GET("/tokens", noPAT, listTokens(d.Service, false))
	user.DELETE("/tokens/:id", noPAT, revokeToken(d.Service, m, false))

	admin := r.Group("", authn.Require(d.Verifier, httpx.Error), loadCaller(d.Service.Admin))
	admin.GET("/users", listUsers(d.Service))
	admin.PATCH("/users/:id", updateUser(d.Service, m))
	admin.POST("/users/:id/sessions/revoke-all", noPAT, signOutEverywhere(d.Service, m, true))
	admin.GET("/bots", noPAT, listBots(d.Service))
	admin.POST("/bots", noPAT, createBot(d.Service, m))
	admin.GET("/bots/:id/tokens", noPAT, listTokens(d.Service, true))
	admin.POST("/bots/:id/tokens", noPAT, createToken(d.Service, m, true))
	admin.DELETE("/bots/:id/tokens/:tid", noPAT, revokeToken(d.Service, m, true))
}
