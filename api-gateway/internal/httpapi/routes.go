// Package httpapi is the gateway's HTTP surface: the route table, the
// middleware chain (identity-header scrubbing, CORS, rate limit, body limit,
// token check) and the health endpoints.
package httpapi

import (
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parleychat/parley/api-gateway/internal/openapi"
	"github.com/parleychat/parley/api-gateway/internal/proxy"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/health"
	"github.com/parleychat/parley/platform/httpx"
	"github.com/parleychat/parley/platform/ratelimit"
)

// Service is the gateway's name in logs, metrics and /health.
const Service = "api-gateway"

// Upstreams are the three services behind the gateway.
type Upstreams struct {
	Auth, User, Chat *proxy.Upstream
}

// Deps is everything the routes need.
type Deps struct {
	Logger  *slog.Logger
	Health  *health.Health
	Version string
	// Verify checks an access token (a cached authn verifier).
	Verify    func(raw string) (authn.Identity, error)
	Upstreams Upstreams
	// AllowedOrigins is the CORS allowlist; "*" allows any origin.
	AllowedOrigins []string
	// Limiter is the per-client-IP rate limit; nil disables it.
	Limiter *ratelimit.Keyed
	// MaxBodyBytes caps proxied request bodies but uploads.
	MaxBodyBytes int64
	// UploadMaxBytes caps the body of a file upload (uploadRoute):
	// FILE_MAX_BYTES plus UploadOverhead for the multipart framing.
	UploadMaxBytes int64
	// TrustedProxies are the CIDRs (or IPs) whose X-Forwarded-For and
	// X-Forwarded-Proto are believed.
	TrustedProxies []string
	// RequestTimeout bounds reading a request and writing its answer on the
	// client connection (the server itself sets no such timeouts), so a
	// client trickling its body or not reading the answer cannot hold a
	// connection forever. It must exceed the upstream exchange cap, so that
	// the cap answers 504 first.
	RequestTimeout time.Duration
	// HealthTimeout bounds each service probe of GET /health.
	HealthTimeout time.Duration
	// HealthClient probes the services (nil: a fresh client).
	HealthClient *http.Client
}

// publicRoutes need no access token (ARCHITECTURE.md, Contract: HTTP APIs); every other /api route
// does. A GET rule also covers HEAD; ":x" matches one non-empty segment.
// Health endpoints live outside /api and are public too.
func publicRoutes() []routeRule {
	return []routeRule{
		{http.MethodPost, "/api/auth/register"},
		{http.MethodPost, "/api/auth/login"},
		{http.MethodPost, "/api/auth/refresh"},
		{http.MethodPost, "/api/auth/logout"}, // takes a refresh token, not an access token
		{http.MethodGet, "/api/auth/.well-known/jwks.json"},
		{http.MethodGet, "/api/users/avatars/:id"}, // an <img> cannot send a token
		// Signed, expiring file URLs: chat-service checks the signature.
		{http.MethodGet, "/api/chat/files/:id"},
		{http.MethodGet, "/api/chat/files/:id/thumbnail"},
		{http.MethodPost, "/api/chat/hooks/:token"}, // an incoming webhook: its URL is its credential
	}
}

// AuthNoStore reports whether an auth-service answer must not be cached:
// all of them hold or concern credentials, except the public key set.
func AuthNoStore(upstreamPath string) bool {
	return upstreamPath != "/.well-known/jwks.json"
}

// Routes builds the gateway's handler.
func Routes(d Deps) (*gin.Engine, error) {
	trusted, err := ParseTrustedProxies(d.TrustedProxies)
	if err != nil {
		return nil, err
	}
	eng := httpx.NewEngine(httpx.Options{
		Service:  Service,
		Logger:   d.Logger,
		Registry: d.Health.Registry,
		// No engine-wide limit: the gateway applies its own below, after
		// CORS, so a browser can read the 413 (httpx's limit would run
		// before any of our middleware).
		MaxBodyBytes:   -1,
		TrustedProxies: d.TrustedProxies,
	})
	// "/api/chat" without a slash is not an endpoint: answer 404 JSON rather
	// than an HTML redirect.
	eng.RedirectTrailingSlash = false

	m := newMetrics(d.Health.Registry)
	eng.Use(
		inbound(trusted, d.RequestTimeout),
		cors(d.AllowedOrigins),
		rateLimit(d.Limiter, m),
		bodyLimit(d.MaxBodyBytes, d.UploadMaxBytes),
	)

	// Probes and metrics: public, not rate limited.
	agg := newAggregator(d)
	eng.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	eng.GET("/readyz", readyz(d.Health))
	eng.GET("/health", agg.handle)
	eng.GET("/metrics", gin.WrapH(promhttp.HandlerFor(d.Health.Registry, promhttp.HandlerOpts{})))

	// The API's description: public, served by the gateway itself.
	doc, err := openapi.Handler()
	if err != nil {
		return nil, err
	}
	eng.GET(openapi.Path, doc)

	// The API: prefix stripped, token checked unless public. TRACE and
	// CONNECT are answered 405 here and never reach a service.
	apiMethods := []string{
		http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions,
	}
	g := &gate{verify: d.Verify, public: publicRoutes(), metrics: m}
	eng.Match(apiMethods, "/api/auth/*path", noStore(AuthNoStore), g.check, forward(d.Upstreams.Auth, m))
	eng.Match(apiMethods, "/api/users/*path", g.check, forward(d.Upstreams.User, m))
	eng.Match(apiMethods, "/api/chat/*path", g.check, forward(d.Upstreams.Chat, m))
	return eng, nil
}

// uploadRoute is the one route whose body may be a whole file.
var uploadRoute = routeRule{http.MethodPost, "/api/chat/rooms/:id/files"}

// UploadOverhead is what an upload's multipart framing may add to the
// file (boundaries, part headers); chat-service allows the same.
const UploadOverhead = 64 << 10

// bodyLimit caps bodies at limit, and uploads at upload (when larger).
func bodyLimit(limit, upload int64) gin.HandlerFunc {
	small, large := httpx.BodyLimit(limit), httpx.BodyLimit(max(limit, upload))
	return func(c *gin.Context) {
		if uploadRoute.matches(c.Request.Method, c.Request.URL.Path) {
			large(c)
			return
		}
		small(c)
	}
}

// forward proxies the request and records it by upstream and status.
func forward(u *proxy.Upstream, m *metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		defer func() { m.observe(u.Name(), c.Writer.Status(), time.Since(start)) }()
		u.ServeHTTP(c.Writer, c.Request)
	}
}

// ParseTrustedProxies parses TRUSTED_PROXIES entries (CIDRs or single IPs).
func ParseTrustedProxies(list []string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, s := range list {
		if ip := net.ParseIP(s); ip != nil {
			bits := 8 * len(ip.To16())
			if ip4 := ip.To4(); ip4 != nil {
				ip, bits = ip4, 32
			}
			out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			return nil, &net.ParseError{Type: "CIDR or IP address", Text: s}
		}
		out = append(out, n)
	}
	return out, nil
}
