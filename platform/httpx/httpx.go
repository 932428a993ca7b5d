// Package httpx is the HTTP bootstrap every Parley service shares: a gin
// engine with request ids, panic recovery, access logs, Prometheus metrics and
// body limits, plus the one function that writes errors and the adapter
// (Handle) through which every handler answers.
package httpx

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/logx"
	"github.com/parleychat/parley/platform/metrics"
)

// HeaderRequestID is the header that carries the request id on every hop.
const HeaderRequestID = "X-Request-ID"

// DefaultMaxBody is the request body limit when Options.MaxBodyBytes is 0.
const DefaultMaxBody = 1 << 20

// Options configures NewEngine.
type Options struct {
	Service  string
	Logger   *slog.Logger
	Registry *prometheus.Registry
	// MaxBodyBytes limits request bodies; larger ones get 413. Negative
	// means the engine sets no limit (the caller applies its own later in
	// the chain, as the gateway does after CORS).
	MaxBodyBytes int64
	// TrustedProxies are the CIDRs whose X-Forwarded-For is believed.
	TrustedProxies []string
}

// NewEngine returns gin.New() with Parley's middleware installed and JSON
// answers for unknown routes and methods.
func NewEngine(o Options) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	if o.Logger == nil {
		o.Logger = logx.Discard()
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBody
	}
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	// Only the listed proxies may set the client address; none by default.
	_ = e.SetTrustedProxies(o.TrustedProxies)
	e.Use(withErrorContext(o.Logger), RequestID(), Recover(o.Logger), Observe(o.Service, o.Logger, o.Registry))
	e.Use(traceRoute)
	if o.MaxBodyBytes > 0 {
		e.Use(BodyLimit(o.MaxBodyBytes))
	}
	e.NoRoute(func(c *gin.Context) {
		Error(c, apperr.NotFound("not_found", "no such endpoint"))
	})
	e.NoMethod(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, apperr.ToBody(&apperr.Error{
			Code: "method_not_allowed", Message: "method not allowed on this endpoint",
		}))
	})
	return e
}

// validRequestID accepts ids a client or proxy may reasonably send; anything
// else is replaced so ids can be logged without escaping concerns.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '-' || r == '_' || r == '.' || r == ':'
		if !ok {
			return false
		}
	}
	return true
}

// NewRequestID returns a random 32-hex-digit id.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// RequestID accepts or creates X-Request-ID, echoes it and puts it in the
// request context for logs and outgoing calls.
func RequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(HeaderRequestID)
		if !validRequestID(id) {
			id = NewRequestID()
		}
		c.Request.Header.Set(HeaderRequestID, id)
		c.Header(HeaderRequestID, id)
		c.Request = c.Request.WithContext(logx.WithRequestID(c.Request.Context(), id))
		c.Next()
	}
}

// Recover turns a panic into a logged 500 JSON answer without a stack trace
// for the client.
func Recover(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if v := recover(); v != nil {
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				log.ErrorContext(c.Request.Context(), "panic in handler", "panic", v, "path", c.Request.URL.Path)
				if !c.Writer.Written() {
					c.AbortWithStatusJSON(http.StatusInternalServerError, apperr.ToBody(&apperr.Error{Code: "internal", Message: "internal error"}))
				} else {
					c.Abort()
				}
			}
		}()
		c.Next()
	}
}

// Observe logs one line per request and records the per-route RED
// histogram (platform/metrics).
func Observe(service string, log *slog.Logger, reg *prometheus.Registry) gin.HandlerFunc {
	var red *metrics.HTTP
	if reg != nil {
		red = metrics.NewHTTP(service, reg)
	}
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		elapsed := time.Since(start)
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		status := c.Writer.Status()
		red.Observe(c.Request.Method, route, status, elapsed)
		level := slog.LevelInfo
		switch {
		case status >= 500:
			level = slog.LevelError
		case route == "/healthz" || route == "/readyz" || route == "/metrics" || strings.HasPrefix(route, "/internal/"):
			// Probes, scrapes and the services' own polls (the revocation
			// feed, several a second) would drown the access log.
			level = slog.LevelDebug
		}
		// The line's fields cost time to gather (the client address is
		// parsed again): only when it is written, and typed, not boxed.
		ctx := c.Request.Context()
		if !log.Enabled(ctx, level) {
			return
		}
		log.LogAttrs(ctx, level, "request",
			slog.String("method", c.Request.Method), slog.String("route", route), slog.Int("status", status),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000), slog.Int("bytes", c.Writer.Size()),
			slog.String("client_ip", c.ClientIP()))
	}
}

// BodyLimit caps request bodies at n bytes: a declared larger body is refused
// at once, an undeclared one fails when read past the limit.
func BodyLimit(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > n {
			Error(c, apperr.TooLarge("body_too_large", "request body is larger than "+strconv.FormatInt(n, 10)+" bytes"))
			return
		}
		if b := c.Request.Body; b != nil && b != http.NoBody {
			c.Request.Body = http.MaxBytesReader(c.Writer, b, n)
		}
		c.Next()
	}
}

// Error writes err as the JSON error envelope and aborts the chain. Errors
// that are not client-facing are logged with the request id and answered
// with a bare 500.
func Error(c *gin.Context, err error) {
	e, ok := apperr.From(err)
	switch {
	case !ok:
		LoggerFrom(c).ErrorContext(c.Request.Context(), "request failed", "error", err, "route", c.FullPath())
	case e.Kind == apperr.KindUnavailable && e.Err != nil:
		// A dependency that is down (a database mapped by sqldb.Wrap) is
		// the operator's business though the client only sees a 503.
		LoggerFrom(c).WarnContext(c.Request.Context(), "dependency unavailable", "error", err, "route", c.FullPath())
	}
	if e.RetryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	c.AbortWithStatusJSON(e.Status(), apperr.ToBody(e))
}

// withErrorContext stores what Error needs: the service logger.
func withErrorContext(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Set("parley.logger", log)
		c.Next()
	}
}

// LoggerFrom is the logger WithLogger stored, or slog.Default.
func LoggerFrom(c *gin.Context) *slog.Logger {
	if v, ok := c.Get("parley.logger"); ok {
		if l, ok := v.(*slog.Logger); ok {
			return l
		}
	}
	return slog.Default()
}
