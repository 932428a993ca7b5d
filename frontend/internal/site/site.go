// Package site serves the single-page app: index.html for the app's routes,
// content-addressed assets with long-lived caching, the runtime config the
// browser reads at start, and the security headers every response carries.
package site

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/httpx"
)

// Default ports used to derive the API and WebSocket addresses from the
// page's host when they are not configured (docs/ARCHITECTURE.md, Contract: Frontend).
const (
	DefaultAPIPort  = "5000"
	DefaultChatPort = "5003"
)

// Cache policies.
const (
	cacheImmutable = "public, max-age=31536000, immutable"
	cacheRevalid   = "no-cache"
	cacheNone      = "no-store"
)

// Config is what the browser is told about where the back end lives.
type Config struct {
	// APIBaseURL is the gateway's absolute http(s) URL; empty derives
	// http(s)://<page host>:5000.
	APIBaseURL string
	// ChatWSURL is chat-service's absolute ws(s) WebSocket URL, or several
	// separated by commas (one per chat replica; the browser picks one at
	// random and fails over to the others); empty derives
	// ws(s)://<page host>:5003/ws.
	ChatWSURL string
}

// Validate checks the schemes and returns one line naming the variable
// (and, for a list, the bad entry).
func (c Config) Validate() error {
	if err := checkURL("API_BASE_URL", c.APIBaseURL, "http", "https"); err != nil {
		return err
	}
	_, err := ChatWSURLs(c.ChatWSURL)
	return err
}

func checkURL(name, v string, schemes ...string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err == nil && u.Host != "" && u.User == nil && u.RawQuery == "" && u.Fragment == "" {
		for _, s := range schemes {
			if u.Scheme == s {
				return nil
			}
		}
	}
	return fmt.Errorf("config: %s: must be an absolute %s URL without query (got %q)", name, strings.Join(schemes, " or "), v)
}

// ChatWSURLs splits a CHAT_WS_URL value into its URLs: comma-separated,
// spaces trimmed, empty entries skipped, trailing slashes dropped and
// duplicates removed (the first occurrence keeps its place). Every entry
// must be an absolute ws or wss URL; the error is one line naming the bad
// entry. An empty value gives no URLs and no error (the URL is derived).
func ChatWSURLs(raw string) ([]string, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	var out []string
	seen := map[string]bool{}
	parts := strings.Split(raw, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		name := "CHAT_WS_URL"
		if len(parts) > 1 {
			name = fmt.Sprintf("CHAT_WS_URL: entry %d of %d", i+1, len(parts))
		}
		if err := checkURL(name, p, "ws", "wss"); err != nil {
			return nil, err
		}
		p = strings.TrimRight(p, "/")
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("config: CHAT_WS_URL: lists no URL (got %q)", raw)
	}
	return out, nil
}

// RuntimeConfig is the body of GET /config.json. ChatWSURL is the first of
// ChatWSURLs, for clients that know only one.
type RuntimeConfig struct {
	APIBaseURL string   `json:"api_base_url"`
	ChatWSURL  string   `json:"chat_ws_url"`
	ChatWSURLs []string `json:"chat_ws_urls"`
}

type file struct {
	body  []byte
	gz    []byte // nil when compression does not pay
	etag  string // quoted strong ETag of body
	ctype string
}

// Site is the app ready to serve.
type Site struct {
	cfg     Config
	wsURLs  []string // CHAT_WS_URL's list; nil derives one URL per request
	version string
	index   *file
	assets  map[string]*file // keyed by path below assets/
}

// New reads the app from fsys (index.html plus assets/...), computes the
// asset version from the content of every asset and rewrites index.html's
// /assets/ references to /assets/<version>/.
func New(fsys fs.FS, cfg Config) (*Site, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.APIBaseURL = strings.TrimRight(cfg.APIBaseURL, "/")
	wsURLs, _ := ChatWSURLs(cfg.ChatWSURL) // checked by Validate
	s := &Site{cfg: cfg, wsURLs: wsURLs, assets: map[string]*file{}}
	var names []string
	err := fs.WalkDir(fsys, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names = append(names, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read assets: %w", err)
	}
	sort.Strings(names)
	sum := sha256.New()
	for _, p := range names {
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		fmt.Fprintf(sum, "%s\x00%d\x00", p, len(b))
		sum.Write(b)
		s.assets[strings.TrimPrefix(p, "assets/")] = newFile(b, contentType(p))
	}
	s.version = hex.EncodeToString(sum.Sum(nil))[:12]

	index, err := fs.ReadFile(fsys, "index.html")
	if err != nil {
		return nil, fmt.Errorf("read index.html: %w", err)
	}
	if !bytes.Contains(index, []byte(`"/assets/`)) {
		return nil, errors.New("index.html references no /assets/ file")
	}
	index = bytes.ReplaceAll(index, []byte(`"/assets/`), []byte(`"/assets/`+s.version+`/`))
	s.index = newFile(index, "text/html; charset=utf-8")
	return s, nil
}

// Version is the content hash that versions asset URLs.
func (s *Site) Version() string { return s.version }

func newFile(b []byte, ctype string) *file {
	h := sha256.Sum256(b)
	f := &file{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(h[:8]) + `"`}
	if len(b) >= 512 && compressible(ctype) {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(b)
		_ = zw.Close()
		if buf.Len() < len(b)*9/10 {
			f.gz = buf.Bytes()
		}
	}
	return f
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.Contains(ctype, "javascript") ||
		strings.Contains(ctype, "json") || strings.Contains(ctype, "svg")
}

var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".webp":        "image/webp",
	".woff2":       "font/woff2",
	".json":        "application/json",
	".webmanifest": "application/manifest+json",
	".txt":         "text/plain; charset=utf-8",
}

func contentType(p string) string {
	if ct, ok := contentTypes[path.Ext(p)]; ok {
		return ct
	}
	return "application/octet-stream"
}

// Register installs the security headers and mounts the site's routes and
// fallback on e. Call it before registering any other route (health,
// metrics): gin applies middleware only to routes registered after it.
func (s *Site) Register(e *gin.Engine) {
	e.Use(s.securityHeaders)
	e.GET("/", s.serveIndex)
	e.HEAD("/", s.serveIndex)
	e.GET("/index.html", s.serveIndex)
	e.HEAD("/index.html", s.serveIndex)
	e.GET("/config.json", s.serveConfig)
	e.HEAD("/config.json", s.serveConfig)
	e.GET("/assets/*path", s.serveAsset)
	e.HEAD("/assets/*path", s.serveAsset)
	e.NoRoute(s.fallback)
}

func (s *Site) securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", CSP(s.Resolve(c.Request)))
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	c.Next()
}

// Resolve is the runtime config for a request: the configured URLs, or
// ones derived from the request's host with the default ports.
func (s *Site) Resolve(r *http.Request) RuntimeConfig {
	rc := RuntimeConfig{APIBaseURL: s.cfg.APIBaseURL}
	if len(s.wsURLs) > 0 {
		rc.ChatWSURL, rc.ChatWSURLs = s.wsURLs[0], s.wsURLs
	}
	if rc.APIBaseURL != "" && rc.ChatWSURL != "" {
		return rc
	}
	host := requestHostname(r.Host)
	secure := r.TLS != nil || strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https")
	if rc.APIBaseURL == "" {
		scheme := "http"
		if secure {
			scheme = "https"
		}
		rc.APIBaseURL = scheme + "://" + net.JoinHostPort(host, DefaultAPIPort)
	}
	if rc.ChatWSURL == "" {
		scheme := "ws"
		if secure {
			scheme = "wss"
		}
		rc.ChatWSURL = scheme + "://" + net.JoinHostPort(host, DefaultChatPort) + "/ws"
		rc.ChatWSURLs = []string{rc.ChatWSURL}
	}
	return rc
}

// requestHostname is the Host header without its port, or "localhost" when
// the header is not a plain host name or IP address (it ends up in a header
// and a JSON body, so nothing unusual is let through).
func requestHostname(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.String()
	}
	if host == "" || len(host) > 253 {
		return "localhost"
	}
	for _, r := range host {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return "localhost"
		}
	}
	return strings.ToLower(host)
}

// CSP is the Content-Security-Policy for a page using rc: only this origin
// for code and styles, plus the API origin for avatars and calls and every
// WebSocket origin for the live connection.
func CSP(rc RuntimeConfig) string {
	api := origin(rc.APIBaseURL)
	img := "'self' data: blob:"
	connect := "'self'"
	named := map[string]bool{}
	if api != "" {
		img += " " + api
		connect += " " + api
		named[api] = true
	}
	for _, u := range append([]string{rc.ChatWSURL}, rc.ChatWSURLs...) {
		if ws := origin(u); ws != "" && !named[ws] {
			named[ws] = true
			connect += " " + ws
		}
	}
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src " + img +
		"; connect-src " + connect + "; font-src 'self'; manifest-src 'self'; object-src 'none'" +
		"; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
}

func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func (s *Site) serveConfig(c *gin.Context) {
	b, _ := json.Marshal(s.Resolve(c.Request))
	c.Header("Cache-Control", cacheNone)
	c.Data(http.StatusOK, "application/json", b)
}

func (s *Site) serveIndex(c *gin.Context) {
	c.Header("Cache-Control", cacheRevalid)
	// The CSP names origins derived from Host and X-Forwarded-Proto.
	c.Header("Vary", "Accept-Encoding, X-Forwarded-Proto")
	write(c, s.index)
}

// serveAsset answers /assets/<version>/<path>. The current version is cached
// for a year: its URL changes whenever any asset changes. Another version
// (an old or newer replica's index.html during a rolling update) still gets
// the file, but revalidated, so a mismatched file is never pinned in caches.
func (s *Site) serveAsset(c *gin.Context) {
	p := strings.TrimPrefix(c.Param("path"), "/")
	version, rest, ok := strings.Cut(p, "/")
	f := s.assets[rest]
	if !ok || f == nil || strings.Contains(rest, "..") {
		httpx.Error(c, apperr.NotFound("asset_not_found", "no such asset"))
		return
	}
	if version == s.version {
		c.Header("Cache-Control", cacheImmutable)
	} else {
		c.Header("Cache-Control", cacheRevalid)
	}
	c.Header("Vary", "Accept-Encoding")
	write(c, f)
}

// fallback serves index.html for the app's own routes (/rooms/3, /profile)
// so deep links and reloads work, and a JSON 404 for everything that looks
// like a file or an API call.
func (s *Site) fallback(c *gin.Context) {
	r := c.Request
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && isAppRoute(r.URL.Path) {
		s.serveIndex(c)
		return
	}
	httpx.Error(c, apperr.NotFound("not_found", "no such page"))
}

var fileExts = map[string]bool{
	".js": true, ".mjs": true, ".css": true, ".map": true, ".svg": true, ".png": true, ".jpg": true,
	".jpeg": true, ".gif": true, ".webp": true, ".ico": true, ".txt": true, ".json": true, ".xml": true,
	".woff": true, ".woff2": true, ".ttf": true, ".webmanifest": true, ".html": true, ".php": true,
}

func isAppRoute(p string) bool {
	if strings.HasPrefix(p, "/api/") || p == "/api" || p == "/ws" || strings.HasPrefix(p, "/assets/") ||
		strings.HasPrefix(p, "/.well-known/") {
		return false
	}
	return !fileExts[strings.ToLower(path.Ext(p))]
}

// write sends f (gzipped when the client accepts it), answering 304 when
// the client's copy is current.
func write(c *gin.Context, f *file) {
	body, etag := f.body, f.etag
	if f.gz != nil && acceptsGzip(c.GetHeader("Accept-Encoding")) {
		body, etag = f.gz, strings.TrimSuffix(f.etag, `"`)+`-gz"`
		c.Header("Content-Encoding", "gzip")
	}
	c.Header("ETag", etag)
	if etagMatches(c.GetHeader("If-None-Match"), etag) {
		c.Writer.Header().Del("Content-Encoding")
		c.Status(http.StatusNotModified)
		c.Writer.WriteHeaderNow()
		return
	}
	c.Header("Content-Type", f.ctype)
	c.Header("Content-Length", fmt.Sprint(len(body)))
	c.Status(http.StatusOK)
	if c.Request.Method == http.MethodHead {
		c.Writer.WriteHeaderNow()
		return
	}
	_, _ = c.Writer.Write(body)
}

func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// etagMatches is the weak comparison If-None-Match asks for.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
