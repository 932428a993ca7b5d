// Package proxy forwards gateway requests to one backend service with
// net/http/httputil.ReverseProxy: the path prefix is stripped, forwarding
// headers are set from what the gateway trusts (never from what the client
// sent), gateway-owned response headers are not duplicated, and every
// transport failure becomes a JSON answer — 503 when the service cannot be
// reached, 504 when it is too slow, 413 when the client's body is too big.
package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/platform/apperr"
)

// Header names the gateway sets itself.
const (
	// HeaderClientIP carries the client address the gateway resolved (with
	// its trusted proxies) from the inbound request to the Rewrite hook,
	// which forwards it as X-Forwarded-For and X-Real-IP.
	HeaderClientIP = "X-Real-IP"
	// HeaderForwardedProto is the scheme the client used.
	HeaderForwardedProto = "X-Forwarded-Proto"
)

// StatusClientClosed is logged (never sent: nobody is listening) when the
// client went away before the upstream answered.
const StatusClientClosed = 499

// DialTimeout bounds connecting to an upstream: an unreachable service must
// become a quick 503, not a hang.
const DialTimeout = 2 * time.Second

// NewTransport returns the one tuned Transport all upstreams share: plain
// HTTP/1.1 with many kept-alive connections per service, a short dial
// timeout, and headerTimeout to wait for an upstream's answer.
func NewTransport(headerTimeout time.Duration) *http.Transport {
	dialer := &net.Dialer{Timeout: min(DialTimeout, headerTimeout), KeepAlive: 30 * time.Second}
	return &http.Transport{
		// Service-to-service traffic never goes through HTTP_PROXY.
		Proxy:       nil,
		DialContext: dialer.DialContext,
		// The gateway funnels every client onto three hosts: keep enough
		// idle connections per host that bursts do not reconnect.
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 256,
		// Shorter than the services' server IdleTimeout (120 s), so the
		// gateway closes idle connections first and never reuses one the
		// upstream is closing at the same moment.
		IdleConnTimeout:       60 * time.Second,
		ResponseHeaderTimeout: headerTimeout,
		ExpectContinueTimeout: time.Second,
		// Bodies pass through untouched, compressed or not.
		DisableCompression: true,
		ForceAttemptHTTP2:  false,
		ReadBufferSize:     16 << 10,
		WriteBufferSize:    16 << 10,
	}
}

// Options configures an Upstream.
type Options struct {
	// Name labels the upstream in logs and metrics ("auth", "user", "chat").
	Name string
	// Prefix is stripped from the inbound path ("/api/chat").
	Prefix string
	// Target is the service's base URL.
	Target *url.URL
	// Transport is shared by all upstreams.
	Transport http.RoundTripper
	// Timeout caps a whole exchange (upload, wait, download). The wait
	// for response headers is bounded by the transport's header timeout.
	Timeout time.Duration
	// OwnedHeaders are response headers the gateway writes itself; the
	// upstream's copies are dropped so they are never duplicated.
	// Access-Control-* headers are always dropped.
	OwnedHeaders []string
	// OwnsCacheControl reports, for an upstream path, whether the gateway
	// sets Cache-Control itself (the upstream's is then dropped).
	OwnsCacheControl func(path string) bool
	// KeepHeaders are request headers the gateway set on the inbound
	// request (identity, request id) that must reach the upstream even if
	// the client named them in its Connection header, which would make
	// them hop-by-hop and strip them.
	KeepHeaders []string
	Logger      *slog.Logger
}

// Upstream is one backend service behind a path prefix.
type Upstream struct {
	name    string
	prefix  string
	target  *url.URL
	timeout time.Duration
	owned   []string
	ownsCC  func(string) bool
	keep    []string
	log     *slog.Logger
	rp      *httputil.ReverseProxy
}

// New builds an Upstream.
func New(o Options) *Upstream {
	u := &Upstream{
		name: o.Name, prefix: o.Prefix, target: o.Target, timeout: o.Timeout,
		owned: o.OwnedHeaders, ownsCC: o.OwnsCacheControl, keep: canonical(o.KeepHeaders), log: o.Logger,
	}
	if u.log == nil {
		u.log = slog.New(slog.DiscardHandler)
	}
	u.rp = &httputil.ReverseProxy{
		Rewrite:        u.rewrite,
		Transport:      o.Transport,
		ModifyResponse: u.modifyResponse,
		ErrorHandler:   u.handleError,
		BufferPool:     &bufferPool{},
		ErrorLog:       slog.NewLogLogger(u.log.Handler(), slog.LevelWarn),
	}
	return u
}

// Name is the upstream's label.
func (u *Upstream) Name() string { return u.name }

// Target is the upstream's base URL.
func (u *Upstream) Target() *url.URL { return u.target }

// errExchangeTimeout is the cause of the per-exchange deadline, so it can be
// told apart from the client hanging up.
var errExchangeTimeout = errors.New("upstream exchange took too long")

// ServeHTTP forwards r to the upstream and copies its answer to w.
func (u *Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeoutCause(r.Context(), u.timeout, errExchangeTimeout)
	defer cancel()
	u.rp.ServeHTTP(w, r.WithContext(ctx))
}

func (u *Upstream) rewrite(pr *httputil.ProxyRequest) {
	in, out := pr.In, pr.Out
	out.URL.Path = stripPrefix(in.URL.Path, u.prefix)
	out.URL.RawPath = ""
	if in.URL.RawPath != "" && strings.HasPrefix(in.URL.RawPath, u.prefix) {
		// Keep the client's escaping (e.g. %2F inside a segment) when it
		// is not the default one.
		out.URL.RawPath = stripPrefix(in.URL.RawPath, u.prefix)
	}
	pr.SetURL(u.target)
	for _, k := range u.keep {
		if v, ok := in.Header[k]; ok {
			out.Header[k] = v
		}
	}
	// ReverseProxy removed the client's X-Forwarded-*: what the upstream
	// gets is only what the gateway itself resolved.
	if ip := in.Header.Get(HeaderClientIP); ip != "" {
		out.Header.Set("X-Forwarded-For", ip)
	}
	out.Header.Set("X-Forwarded-Host", in.Host)
	if proto := in.Header.Get(HeaderForwardedProto); proto != "" {
		out.Header.Set(HeaderForwardedProto, proto)
	} else if in.TLS != nil {
		out.Header.Set(HeaderForwardedProto, "https")
	} else {
		out.Header.Set(HeaderForwardedProto, "http")
	}
}

func canonical(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = http.CanonicalHeaderKey(k)
	}
	return out
}

func stripPrefix(p, prefix string) string {
	p = strings.TrimPrefix(p, prefix)
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	return p
}

func (u *Upstream) modifyResponse(res *http.Response) error {
	h := res.Header
	for k := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			delete(h, k)
		}
	}
	for _, k := range u.owned {
		h.Del(k)
	}
	if u.ownsCC != nil && u.ownsCC(res.Request.URL.Path) {
		h.Del("Cache-Control")
	}
	// The gateway always answers "Vary: Origin"; keep the upstream's other
	// Vary entries without repeating Origin.
	if vs, ok := h["Vary"]; ok {
		h["Vary"] = withoutToken(vs, "Origin")
		if len(h["Vary"]) == 0 {
			delete(h, "Vary")
		}
	}
	return nil
}

// withoutToken drops tok (case-insensitively) from comma-separated header
// values.
func withoutToken(values []string, tok string) []string {
	var out []string
	for _, v := range values {
		var keep []string
		for _, part := range strings.Split(v, ",") {
			if p := strings.TrimSpace(part); p != "" && !strings.EqualFold(p, tok) {
				keep = append(keep, p)
			}
		}
		if len(keep) > 0 {
			out = append(out, strings.Join(keep, ", "))
		}
	}
	return out
}

// handleError answers a request the upstream did not answer. It runs only
// before any of the upstream's response was written.
func (u *Upstream) handleError(w http.ResponseWriter, r *http.Request, err error) {
	status, e := Classify(r.Context(), err)
	ctx := r.Context()
	if status == StatusClientClosed {
		u.log.DebugContext(ctx, "client went away before upstream answered", "upstream", u.name)
		w.WriteHeader(StatusClientClosed)
		return
	}
	if status != http.StatusRequestEntityTooLarge {
		u.log.WarnContext(ctx, "upstream request failed",
			"upstream", u.name, "method", r.Method, "path", LogPath(r.URL.Path), "status", status, "error", err.Error())
	}
	WriteError(w, status, e)
}

// Classify maps a proxying error to the status and error the client gets.
// ctx is the exchange's context.
func Classify(ctx context.Context, err error) (int, *apperr.Error) {
	var (
		mbe  *http.MaxBytesError
		op   *net.OpError
		nerr net.Error
	)
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, apperr.TooLarge("body_too_large",
			fmt.Sprintf("request body is larger than %d bytes", mbe.Limit))
	case errors.Is(context.Cause(ctx), errExchangeTimeout):
		return http.StatusGatewayTimeout, timeoutError()
	case ctx.Err() != nil:
		return StatusClientClosed, nil
	case errors.As(err, &op) && op.Op == "dial":
		// Refused, unresolvable or unroutable: the service is not there.
		return http.StatusServiceUnavailable, unavailableError()
	case errors.As(err, &nerr) && nerr.Timeout():
		return http.StatusGatewayTimeout, timeoutError()
	default:
		// Reset or closed mid-exchange: the service went away.
		return http.StatusServiceUnavailable, unavailableError()
	}
}

func timeoutError() *apperr.Error {
	return &apperr.Error{Code: "upstream_timeout", Message: "the service did not answer in time"}
}

func unavailableError() *apperr.Error {
	return apperr.Unavailable("upstream_unavailable", "the service is unavailable, try again shortly", nil)
}

// WriteError writes the JSON error envelope with status.
func WriteError(w http.ResponseWriter, status int, e *apperr.Error) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Del("Content-Length")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(apperr.ToBody(e))
}

// bufferPool recycles the 32 KiB buffers ReverseProxy copies bodies with.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

// LogPath is a request path as logs may show it: an incoming webhook's
// URL is its credential, so the segment after /hooks/ is replaced.
func LogPath(p string) string {
	if i := strings.Index(p, "/hooks/"); i >= 0 {
		return p[:i] + "/hooks/[redacted]"
	}
	return p
}
