// Package app is the api-gateway service: Parley's one HTTP entry point. It
// routes /api/auth, /api/users and /api/chat to the services with the prefix
// stripped, verifies access tokens locally from auth-service's JWKS, applies
// CORS, per-client rate limits and body limits, and aggregates the
// services' health.
package app

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/parleychat/parley/api-gateway/internal/httpapi"
	"github.com/parleychat/parley/api-gateway/internal/proxy"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/config"
	"github.com/parleychat/parley/platform/health"
	"github.com/parleychat/parley/platform/logx"
	"github.com/parleychat/parley/platform/ratelimit"
	"github.com/parleychat/parley/platform/serve"
	"github.com/parleychat/parley/platform/tracing"
)

// Version is set at build time with -ldflags "-X .../app.Version=...".
var Version = "dev"

// DefaultPort is the gateway's port (docs/ARCHITECTURE.md, Contract: Shape and ports).
const DefaultPort = 5000

// Config is the gateway's configuration, read from the environment.
type Config struct {
	Common         config.Common
	AuthURL        *url.URL // AUTH_SERVICE_URL
	UserURL        *url.URL // USER_SERVICE_URL
	ChatURL        *url.URL // CHAT_SERVICE_URL
	JWKSURL        string   // JWKS_URL
	AllowedOrigins []string // ALLOWED_ORIGINS
	RateLimitRPS   float64  // RATE_LIMIT_RPS; 0 disables the limit
	RateLimitBurst int      // RATE_LIMIT_BURST
	TrustedProxies []string // TRUSTED_PROXIES
	MaxBodyBytes   int64    // MAX_BODY_BYTES
	// FileMaxBytes is chat-service's upload limit (FILE_MAX_BYTES): an
	// upload's body may be that plus httpapi.UploadOverhead.
	FileMaxBytes int64
	// UpstreamTimeout is how long an upstream may take to start answering
	// (UPSTREAM_TIMEOUT); a whole exchange is capped at ExchangeTimeout.
	UpstreamTimeout time.Duration
	HealthTimeout   time.Duration // HEALTH_TIMEOUT
	TokenCacheSize  int           // TOKEN_CACHE_SIZE; 0 disables the cache
	RevocationsURL  string        // REVOCATIONS_URL
	RevocationPoll  time.Duration // REVOCATION_POLL_INTERVAL
}

// ExchangeTimeout caps one proxied exchange end to end (client upload,
// upstream work, download), so a stalled body can never hold a connection
// forever. It is generous because bodies are streamed at the client's pace.
func (c Config) ExchangeTimeout() time.Duration { return 6 * c.UpstreamTimeout }

// ReadConfig reads and validates the configuration. The error is one line
// naming the offending variable.
func ReadConfig(getenv func(string) string) (Config, error) {
	env := config.New(getenv)
	c := Config{Common: env.ReadCommon(DefaultPort)}
	authURL := env.URL("AUTH_SERVICE_URL", "http://localhost:5001")
	userURL := env.URL("USER_SERVICE_URL", "http://localhost:5002")
	chatURL := env.URL("CHAT_SERVICE_URL", "http://localhost:5003")
	c.JWKSURL = env.URL("JWKS_URL", authURL+"/.well-known/jwks.json")
	c.AllowedOrigins = env.List("ALLOWED_ORIGINS", []string{"http://localhost:8080"})
	c.RateLimitRPS = env.Float("RATE_LIMIT_RPS", 50, 0, 1e6)
	c.RateLimitBurst = env.Int("RATE_LIMIT_BURST", 100, 1, 1e6)
	c.TrustedProxies = env.List("TRUSTED_PROXIES", nil)
	c.MaxBodyBytes = int64(env.Int("MAX_BODY_BYTES", 2<<20, 1024, 1<<30))
	c.FileMaxBytes = int64(env.Int("FILE_MAX_BYTES", 25<<20, 1, 1<<30))
	c.UpstreamTimeout = env.Duration("UPSTREAM_TIMEOUT", 10*time.Second)
	c.HealthTimeout = env.Duration("HEALTH_TIMEOUT", 2*time.Second)
	c.TokenCacheSize = env.Int("TOKEN_CACHE_SIZE", authn.DefaultCacheSize, 0, 1e7)
	c.RevocationsURL = env.URL("REVOCATIONS_URL", authn.FeedURL(c.JWKSURL))
	c.RevocationPoll = env.Duration("REVOCATION_POLL_INTERVAL", authn.DefaultPollInterval)
	if err := env.Err(); err != nil {
		return c, err
	}
	for _, v := range []struct {
		name string
		raw  string
		dst  **url.URL
	}{
		{"AUTH_SERVICE_URL", authURL, &c.AuthURL},
		{"USER_SERVICE_URL", userURL, &c.UserURL},
		{"CHAT_SERVICE_URL", chatURL, &c.ChatURL},
		{"JWKS_URL", c.JWKSURL, nil},
		{"REVOCATIONS_URL", c.RevocationsURL, nil},
	} {
		u, err := url.Parse(v.raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.RawQuery != "" || u.Fragment != "" {
			return c, fmt.Errorf("config: %s: must be an http(s) URL without query (got %q)", v.name, v.raw)
		}
		if v.dst != nil {
			*v.dst = u
		}
	}
	for _, o := range c.AllowedOrigins {
		if !validOrigin(o) {
			return c, fmt.Errorf("config: ALLOWED_ORIGINS: %q is not an origin like https://chat.example.com (or *)", o)
		}
	}
	if _, err := httpapi.ParseTrustedProxies(c.TrustedProxies); err != nil {
		return c, fmt.Errorf("config: TRUSTED_PROXIES: %v", err)
	}
	return c, nil
}

// validOrigin accepts "*" and scheme://host[:port] without path or query.
func validOrigin(o string) bool {
	if o == "*" {
		return true
	}
	u, err := url.Parse(strings.TrimRight(o, "/"))
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.Path == "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil
}

// Run serves the gateway until ctx ends. args[1] == "healthcheck" probes a
// running instance instead.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if serve.IsHealthcheck(args) {
		return serve.HealthcheckFromEnv(ctx, getenv, DefaultPort, stdout)
	}
	cfg, err := ReadConfig(getenv)
	if err != nil {
		return err
	}
	log := logx.New(stdout, httpapi.Service, cfg.Common.LogLevel, cfg.Common.LogFormat)
	ctx, stopTracing, err := serve.StartTracing(ctx, httpapi.Service, getenv, log)
	if err != nil {
		return err
	}
	defer stopTracing()

	// The verifier fetches keys in the background for as long as the
	// server runs; auth-service need not be up yet.
	vctx, stopVerifier := context.WithCancel(ctx)
	defer stopVerifier()
	verifier, err := authn.NewJWKSVerifier(vctx, cfg.JWKSURL, authn.DefaultIssuer, authn.DefaultAudience)
	if err != nil {
		return err
	}
	// Verified tokens are remembered for at most authn.DefaultCacheTTL, which
	// bounds how long a token signed by a key since removed from the JWKS
	// stays accepted.
	// Revoked sessions and changed accounts come from auth-service's feed,
	// read every REVOCATION_POLL_INTERVAL: a map lookup per request.
	revs := authn.StartFollowing(vctx, cfg.RevocationsURL, cfg.RevocationPoll, log)
	tokens := authn.Guard{V: authn.NewCache(verifier.Verify, cfg.TokenCacheSize, authn.DefaultCacheTTL, time.Now), R: revs}

	transport := proxy.NewTransport(cfg.UpstreamTimeout)
	owned := []string{"X-Request-Id", "X-Content-Type-Options", "X-Frame-Options"}
	keep := []string{httpapi.HeaderUserID, httpapi.HeaderUserName, httpapi.HeaderUserRole, "X-Request-Id"}
	upstream := func(name, prefix string, target *url.URL, ownsCC func(string) bool) *proxy.Upstream {
		return proxy.New(proxy.Options{
			Name: name, Prefix: prefix, Target: target, Transport: tracing.Transport(transport),
			Timeout: cfg.ExchangeTimeout(), OwnedHeaders: owned, OwnsCacheControl: ownsCC, KeepHeaders: keep, Logger: log,
		})
	}
	var limiter *ratelimit.Keyed
	if cfg.RateLimitRPS > 0 {
		limiter = ratelimit.New(cfg.RateLimitRPS, cfg.RateLimitBurst)
	}
	h := health.New(httpapi.Service, Version)
	h.Registry.MustRegister(revs.Collectors(httpapi.Service)...)
	handler, err := httpapi.Routes(httpapi.Deps{
		Logger:  log,
		Health:  h,
		Version: Version,
		Verify:  tokens.Verify,
		Upstreams: httpapi.Upstreams{
			Auth: upstream("auth", "/api/auth", cfg.AuthURL, httpapi.AuthNoStore),
			User: upstream("user", "/api/users", cfg.UserURL, nil),
			Chat: upstream("chat", "/api/chat", cfg.ChatURL, nil),
		},
		AllowedOrigins: cfg.AllowedOrigins,
		Limiter:        limiter,
		MaxBodyBytes:   cfg.MaxBodyBytes,
		UploadMaxBytes: cfg.FileMaxBytes + httpapi.UploadOverhead,
		TrustedProxies: cfg.TrustedProxies,
		RequestTimeout: cfg.ExchangeTimeout() + cfg.UpstreamTimeout,
		HealthTimeout:  cfg.HealthTimeout,
	})
	if err != nil {
		return err
	}
	log.Info("routes ready",
		"auth", cfg.AuthURL.String(), "user", cfg.UserURL.String(), "chat", cfg.ChatURL.String(),
		"allowed_origins", strings.Join(cfg.AllowedOrigins, ","),
		"rate_limit_rps", cfg.RateLimitRPS, "rate_limit_burst", cfg.RateLimitBurst,
		"max_body_bytes", cfg.MaxBodyBytes, "upstream_timeout", cfg.UpstreamTimeout.String(),
		"token_cache_size", cfg.TokenCacheSize, "version", Version)

	srv := &serve.Server{
		Addr:    ":" + strconv.Itoa(cfg.Common.Port),
		Handler: handler,
		Logger:  log,
		Health:  h,
		OnShutdown: []func(context.Context) error{
			func(context.Context) error { transport.CloseIdleConnections(); return nil },
		},
	}
	return srv.Run(ctx)
}
