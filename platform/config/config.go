// Package config reads service configuration from environment variables.
// Every accessor takes a default; the first invalid value is remembered and
// reported by Err as one line naming the variable.
package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Env reads variables through a getenv function so tests can inject values.
type Env struct {
	getenv func(string) string
	err    error
}

// New wraps getenv (os.Getenv in production).
func New(getenv func(string) string) *Env {
	if getenv == nil {
		getenv = os.Getenv
	}
	return &Env{getenv: getenv}
}

// Err is the first invalid value seen, or nil.
func (e *Env) Err() error { return e.err }

func (e *Env) fail(name, format string, args ...any) {
	if e.err == nil {
		e.err = fmt.Errorf("config: %s: %s", name, fmt.Sprintf(format, args...))
	}
}

// Raw is the trimmed value of name ("" when unset).
func (e *Env) Raw(name string) string { return strings.TrimSpace(e.getenv(name)) }

// String is name's value or def when unset or blank.
func (e *Env) String(name, def string) string {
	if v := e.Raw(name); v != "" {
		return v
	}
	return def
}

// Secret reads name, or the file named by name_FILE when that is set.
// Trailing newlines in the file are dropped.
func (e *Env) Secret(name, def string) string {
	if path := e.Raw(name + "_FILE"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			e.fail(name+"_FILE", "cannot read %q: %v", path, err)
			return def
		}
		return strings.TrimRight(string(b), "\r\n")
	}
	if v := e.getenv(name); v != "" {
		return v
	}
	return def
}

// Int is name parsed as an integer in [min, max].
func (e *Env) Int(name string, def, min, max int) int {
	v := e.Raw(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		e.fail(name, "must be an integer from %d to %d (got %q)", min, max, v)
		return def
	}
	return n
}

// Float is name parsed as a number in [min, max].
func (e *Env) Float(name string, def, min, max float64) float64 {
	v := e.Raw(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < min || n > max {
		e.fail(name, "must be a number from %g to %g (got %q)", min, max, v)
		return def
	}
	return n
}

// Duration is name parsed by time.ParseDuration ("15m", "30s"), > 0.
func (e *Env) Duration(name string, def time.Duration) time.Duration {
	v := e.Raw(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		e.fail(name, "must be a positive duration like 30s or 15m (got %q)", v)
		return def
	}
	return d
}

// OptionalDuration is Duration that also accepts 0 (or "0s"), for settings
// that zero turns off.
func (e *Env) OptionalDuration(name string, def time.Duration) time.Duration {
	v := e.Raw(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		e.fail(name, "must be a duration like 10ms, or 0 to turn it off (got %q)", v)
		return def
	}
	return d
}

// Bool is name parsed as a boolean (1/0, true/false, yes/no).
func (e *Env) Bool(name string, def bool) bool {
	switch strings.ToLower(e.Raw(name)) {
	case "":
		return def
	case "1", "true", "yes", "on":
		return true
	case "0", "false", "no", "off":
		return false
	default:
		e.fail(name, "must be true or false (got %q)", e.Raw(name))
		return def
	}
}

// OneOf is name's value, which must be one of allowed.
func (e *Env) OneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(e.String(name, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	e.fail(name, "must be one of %s (got %q)", strings.Join(allowed, ", "), v)
	return def
}

// URL is name parsed as an absolute http(s) URL, without a trailing slash.
func (e *Env) URL(name, def string) string {
	v := e.String(name, def)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		e.fail(name, "must be an absolute http(s) URL (got %q)", v)
		return def
	}
	return strings.TrimRight(v, "/")
}

// List is name split on commas, blanks dropped.
func (e *Env) List(name string, def []string) []string {
	v := e.Raw(name)
	if v == "" {
		return def
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Common holds the settings every service reads (ARCHITECTURE.md, Contract: Conventions).
type Common struct {
	Port      int
	DataDir   string
	LogLevel  string
	LogFormat string
}

// ReadCommon reads PORT, DATA_DIR, LOG_LEVEL and LOG_FORMAT.
func (e *Env) ReadCommon(defaultPort int) Common {
	return Common{
		Port:      e.Int("PORT", defaultPort, 0, 65535),
		DataDir:   e.String("DATA_DIR", "./data"),
		LogLevel:  e.OneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error"),
		LogFormat: e.OneOf("LOG_FORMAT", "json", "json", "text"),
	}
}

// PrivateNetworks are loopback and the private address ranges: where a
// gateway or ingress in front of a service normally runs.
var PrivateNetworks = []string{"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"}

// Networks is name as a comma list of IP addresses and CIDRs.
func (e *Env) Networks(name string, def []string) []string {
	list := e.List(name, def)
	for _, p := range list {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				e.fail(name, "%q is neither an IP address nor a CIDR", p)
				return def
			}
		}
	}
	return list
}
