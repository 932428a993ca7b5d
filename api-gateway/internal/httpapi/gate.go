package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/httpx"
)

// Identity headers the gate sets for the upstream after verifying a token.
// The services still verify the token themselves; these save them nothing
// security-wise but let simple handlers and logs know the caller.
const (
	HeaderUserID   = "X-User-ID"
	HeaderUserName = "X-User-Name"
	HeaderUserRole = "X-User-Role"
)

// routeRule is a method and a gateway path pattern.
type routeRule struct {
	method  string
	pattern string
}

func (r routeRule) matches(method, path string) bool {
	if method != r.method && !(method == http.MethodHead && r.method == http.MethodGet) {
		return false
	}
	pat := strings.TrimPrefix(r.pattern, "/")
	path = strings.TrimPrefix(path, "/")
	for {
		pseg, prest, pmore := strings.Cut(pat, "/")
		seg, rest, more := strings.Cut(path, "/")
		if strings.HasPrefix(pseg, ":") {
			if seg == "" {
				return false
			}
		} else if seg != pseg {
			return false
		}
		if pmore != more {
			return false
		}
		if !pmore {
			return true
		}
		pat, path = prest, rest
	}
}

// gate guards the API routes: it refuses paths with dot segments and
// protocol upgrades, and requires a valid access token except on public
// routes.
type gate struct {
	verify  func(raw string) (authn.Identity, error)
	public  []routeRule
	metrics *metrics
}

func (g *gate) isPublic(method, path string) bool {
	for _, r := range g.public {
		if r.matches(method, path) {
			return true
		}
	}
	return false
}

func (g *gate) check(c *gin.Context) {
	r := c.Request
	if hasDotSegment(r.URL.Path) {
		// "/api/users/avatars/../profiles/me" must not borrow the public
		// avatar rule; no API path legitimately has dot segments.
		httpx.Error(c, apperr.Invalid("invalid_path", "path must not contain . or .. segments"))
		return
	}
	if isUpgrade(r) {
		// WebSockets go straight to chat-service (ARCHITECTURE.md, Contract: Shape and ports); proxying a
		// long-lived connection here would also bypass its token check.
		httpx.Error(c, apperr.Invalid("upgrade_not_supported",
			"the gateway does not proxy WebSockets; connect to the chat WebSocket URL directly"))
		return
	}
	if isInternal(r.URL.Path) {
		// The services' own endpoints (probes, metrics, auth-service's
		// revocation feed) are for the cluster, not the public API; the
		// gateway's own /health aggregates the probes.
		httpx.Error(c, apperr.NotFound("not_found", "no such endpoint"))
		return
	}
	if g.isPublic(r.Method, r.URL.Path) {
		c.Next()
		return
	}
	raw, ok := authn.BearerToken(r.Header.Get("Authorization"))
	if !ok {
		g.reject(c, apperr.Unauthenticated("missing_token", "an Authorization: Bearer token is required"))
		return
	}
	id, err := g.verify(raw)
	if err != nil {
		g.reject(c, err)
		return
	}
	if !headerSafe(id.Username) || !headerSafe(id.Role) {
		g.reject(c, apperr.Unauthenticated("invalid_token", "access token is invalid"))
		return
	}
	h := r.Header
	h.Set(HeaderUserID, strconv.FormatInt(id.UserID, 10))
	h.Set(HeaderUserName, id.Username)
	h.Set(HeaderUserRole, id.Role)
	c.Next()
}

func (g *gate) reject(c *gin.Context, err error) {
	e, _ := apperr.From(err)
	if e.Kind == apperr.KindUnauthenticated {
		g.metrics.authRejected.WithLabelValues(e.Code).Inc()
		v := `Bearer realm="parley"`
		if e.Code != "missing_token" {
			v += `, error="invalid_token"`
		}
		c.Header("WWW-Authenticate", v)
	}
	httpx.Error(c, err)
}

// headerSafe reports whether s can travel as a header value unchanged.
func headerSafe(s string) bool {
	for i := range len(s) {
		if b := s[i]; b < 0x20 || b == 0x7f {
			return false
		}
	}
	return true
}

// internalRoots are the first path segments of a service's endpoints for
// the cluster rather than for clients.
var internalRoots = map[string]bool{"internal": true, "metrics": true, "health": true, "healthz": true, "readyz": true}

// isInternal reports /api/<service>/<root> and anything under it, for the
// internalRoots.
func isInternal(p string) bool {
	_, rest, _ := strings.Cut(strings.TrimPrefix(p, "/api/"), "/")
	seg, _, _ := strings.Cut(rest, "/")
	return internalRoots[seg]
}

func hasDotSegment(p string) bool {
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// isUpgrade reports a request asking to switch protocols (WebSocket, h2c).
func isUpgrade(r *http.Request) bool {
	if r.Header.Get("Upgrade") == "" {
		return false
	}
	for _, v := range r.Header.Values("Connection") {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}
