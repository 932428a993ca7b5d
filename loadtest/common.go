package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/loadtest/internal/proc"
)

// Bounds every run respects, whatever the flags say.
const (
	maxClients  = 20_000
	maxRate     = 100_000 // messages per second
	maxDuration = 10 * time.Minute
	maxWorkers  = 1024
)

// errNotLoopback refuses targets off this machine: the harness is for
// measuring a local Parley, never for loading someone else's server.
var errNotLoopback = errors.New("refusing a non-loopback target")

// checkLoopbackHost accepts localhost and loopback IPs only.
func checkLoopbackHost(host string) error {
	if host == "" {
		return fmt.Errorf("%w: empty host (give 127.0.0.1)", errNotLoopback)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %q", errNotLoopback, host)
	}
	return nil
}

// checkLoopbackURL checks an http(s) or ws(s) URL.
func checkLoopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("bad URL %q: %w", raw, err)
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss":
	default:
		return fmt.Errorf("bad URL %q: scheme must be http, https, ws or wss", raw)
	}
	return checkLoopbackHost(u.Hostname())
}

// checkLoopbackAddr checks a host:port to listen on.
func checkLoopbackAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("bad address %q: %w", addr, err)
	}
	return checkLoopbackHost(host)
}

// common are the flags every measuring command has.
type common struct {
	name    string
	target  string
	rep     int
	out     string
	timeout time.Duration
	pids    string
	ports   string
	quiet   bool
	cpuprof string

	stderr io.Writer
	stdout io.Writer
	mu     sync.Mutex
}

func (c *common) register(fs *flag.FlagSet, name string) {
	fs.StringVar(&c.name, "name", name, "scenario name in the JSON record")
	fs.StringVar(&c.target, "target", "", "what is measured (e.g. parley, gorilla), for the JSON record")
	fs.IntVar(&c.rep, "rep", 0, "repetition number, for the JSON record")
	fs.StringVar(&c.out, "out", "", "append the JSON record to this file (default: stdout)")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Minute, "hard bound on the whole command")
	fs.StringVar(&c.pids, "pid", "", "comma list of local server process ids to sample (CPU, RSS)")
	fs.StringVar(&c.ports, "port", "", "comma list of local ports whose listening processes to sample")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress lines")
	fs.StringVar(&c.cpuprof, "cpuprofile", "", "write the harness's own CPU profile here (where the client side spends)")
}

func parse(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return nil
}

// bound applies the command's time bound and starts the harness's CPU
// profile when asked; the returned cancel ends both.
func (c *common) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	c.timeout = min(max(c.timeout, time.Second), 30*time.Minute)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	if c.cpuprof == "" {
		return ctx, cancel
	}
	f, err := os.Create(c.cpuprof)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		c.logf("cpuprofile: %v", err)
		return ctx, cancel
	}
	return ctx, func() {
		pprof.StopCPUProfile()
		f.Close()
		cancel()
	}
}

// watch resolves -pid and -port into a process watcher.
func (c *common) watch() (proc.Watch, error) {
	var w proc.Watch
	for _, s := range splitList(c.pids) {
		pid, err := strconv.Atoi(s)
		if err != nil || pid <= 0 {
			return w, fmt.Errorf("-pid: bad process id %q", s)
		}
		w.PIDs = append(w.PIDs, pid)
	}
	for _, s := range splitList(c.ports) {
		port, err := strconv.Atoi(s)
		if err != nil || port <= 0 || port > 65535 {
			return w, fmt.Errorf("-port: bad port %q", s)
		}
		pid, err := proc.PIDByPort(port)
		if err != nil {
			return w, err
		}
		w.PIDs = append(w.PIDs, pid)
	}
	return w, nil
}

// progress writes a status line to stderr, overwriting the previous one
// when stderr is a terminal.
func (c *common) progress(line string) {
	if c.quiet {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.stderr, "[%s %s] %s\n", c.name, c.target, line)
}

func (c *common) logf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.stderr, "[%s %s] %s\n", c.name, c.target, fmt.Sprintf(format, args...))
}

// Record is the JSON line every measuring command prints.
type Record struct {
	Scenario string    `json:"scenario"`
	Target   string    `json:"target"`
	Rep      int       `json:"rep"`
	At       time.Time `json:"at"`
	// LoadAvg is the machine's 1/5/15-minute load average at the end.
	LoadAvg [3]float64 `json:"loadavg"`
	NumCPU  int        `json:"num_cpu"`
	// Metrics are the figures the report tabulates.
	Metrics map[string]float64 `json:"metrics"`
	// Clean is false when anything was lost, duplicated or refused.
	Clean  bool           `json:"clean"`
	Params map[string]any `json:"params,omitempty"`
	Detail any            `json:"detail,omitempty"`
}

func (c *common) emit(r Record) error {
	r.Scenario, r.Target, r.Rep = c.name, c.target, c.rep
	r.At = time.Now().UTC().Truncate(time.Second)
	r.LoadAvg = proc.LoadAvg()
	r.NumCPU = numCPU()
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	raw = append(raw, '\n')
	if c.out == "" {
		_, err = c.stdout.Write(raw)
		return err
	}
	f, err := os.OpenFile(c.out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }
