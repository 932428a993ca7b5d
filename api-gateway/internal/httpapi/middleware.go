package httpapi

import (
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/api-gateway/internal/proxy"
	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/health"
	"github.com/parleychat/parley/platform/httpx"
	"github.com/parleychat/parley/platform/ratelimit"
)

// CORS answers (ARCHITECTURE.md, Contract: HTTP APIs: the SPA on another origin calls the gateway with
// a bearer token, no cookies, so no Allow-Credentials).
const (
	corsAllowMethods  = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
	corsAllowHeaders  = "Authorization, Content-Type, X-Request-ID"
	corsExposeHeaders = "X-Request-ID, Retry-After"
	// corsMaxAge lets browsers reuse a preflight for 10 minutes (Chromium
	// caps it at 2 hours anyway).
	corsMaxAge = "600"
)

// writeGrace is how much longer than reading the request writing the
// answer may take.
const writeGrace = 5 * time.Second

// inbound runs first on every request. It bounds the time the request may
// hold its connection, removes identity headers a client may have forged
// (only the gate sets them, after verifying a token), records the client
// address the gateway resolved for the upstream, and adds the security
// headers every answer carries.
func inbound(trusted []*net.IPNet, timeout time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		if timeout > 0 {
			// net/http resets both deadlines before the next request on
			// the connection. Writing gets a grace period: net/http reads
			// an unread body before it sends the answer, and the client
			// should get that answer even when its body ran out of time.
			now := time.Now()
			rc := http.NewResponseController(c.Writer)
			_ = rc.SetReadDeadline(now.Add(timeout))
			_ = rc.SetWriteDeadline(now.Add(timeout + writeGrace))
		}
		h := c.Request.Header
		for k := range h {
			if isIdentityHeader(k) {
				delete(h, k)
			}
		}
		h.Set(proxy.HeaderClientIP, c.ClientIP())
		if proto := h.Get(proxy.HeaderForwardedProto); proto != "" {
			if (proto != "http" && proto != "https") || !isTrusted(trusted, c.RemoteIP()) {
				h.Del(proxy.HeaderForwardedProto)
			}
		}
		w := c.Writer.Header()
		w.Set("X-Content-Type-Options", "nosniff")
		w.Set("X-Frame-Options", "DENY")
		c.Next()
	}
}

// isIdentityHeader matches X-User-* in any case, also spelt with
// underscores, which some servers fold into dashes.
func isIdentityHeader(k string) bool {
	const prefix = "x-user-"
	if len(k) < len(prefix) {
		return false
	}
	for i := range len(prefix) {
		ch := k[i]
		if ch == '_' {
			ch = '-'
		}
		if ch >= 'A' && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		if ch != prefix[i] {
			return false
		}
	}
	return true
}

func isTrusted(trusted []*net.IPNet, addr string) bool {
	ip := net.ParseIP(addr)
	if ip == nil {
		return false
	}
	for _, n := range trusted {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// cors implements the allowlist: allowed origins get their origin echoed
// and a 204 preflight answer; other origins get no CORS headers at all, and
// their preflights a 403.
func cors(allowed []string) gin.HandlerFunc {
	anyOrigin := false
	set := make(map[string]bool, len(allowed))
	for _, o := range allowed {
		if o == "*" {
			anyOrigin = true
		}
		set[strings.ToLower(strings.TrimRight(o, "/"))] = true
	}
	return func(c *gin.Context) {
		w := c.Writer.Header()
		w.Add("Vary", "Origin")
		origin := c.GetHeader("Origin")
		if origin == "" {
			c.Next()
			return
		}
		preflight := c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != ""
		if !(anyOrigin && origin != "null") && !set[strings.ToLower(origin)] {
			if preflight {
				httpx.Error(c, apperr.Forbidden("origin_not_allowed", "this origin may not call the API"))
				return
			}
			c.Next()
			return
		}
		w.Set("Access-Control-Allow-Origin", origin)
		if preflight {
			w.Add("Vary", "Access-Control-Request-Method")
			w.Add("Vary", "Access-Control-Request-Headers")
			w.Set("Access-Control-Allow-Methods", corsAllowMethods)
			w.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			w.Set("Access-Control-Max-Age", corsMaxAge)
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		w.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		c.Next()
	}
}

// isProbe reports the endpoints exempt from rate limiting: orchestrators
// and monitoring poll them from one address.
func isProbe(path string) bool {
	switch path {
	case "/health", "/healthz", "/readyz", "/metrics":
		return true
	}
	return false
}

// rateLimit spends one token of the client address's bucket per request;
// an empty bucket is a 429 with Retry-After.
func rateLimit(l *ratelimit.Keyed, m *metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		if l == nil || isProbe(c.Request.URL.Path) {
			c.Next()
			return
		}
		if ok, wait := l.Allow(c.ClientIP()); !ok {
			m.rateLimited.Inc()
			httpx.Error(c, apperr.RateLimited("too many requests, slow down", ratelimit.RetryAfterSeconds(wait)))
			return
		}
		c.Next()
	}
}

// noStore marks answers of the route as uncacheable when owns says the
// gateway sets Cache-Control for that upstream path.
func noStore(owns func(upstreamPath string) bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		if owns(c.Param("path")) {
			c.Writer.Header().Set("Cache-Control", "no-store")
		}
		c.Next()
	}
}

// readyz is the gateway's own readiness: it serves unless it is draining.
// It deliberately ignores the upstreams, so one service being down does not
// take the whole API (and every other service's routes) out of rotation.
func readyz(h *health.Health) gin.HandlerFunc {
	return func(c *gin.Context) {
		rep, ready := h.Run(c.Request.Context())
		status := http.StatusOK
		if !ready {
			status = http.StatusServiceUnavailable
		}
		c.JSON(status, rep)
	}
}
