package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/api-gateway/internal/proxy"
	"github.com/parleychat/parley/platform/health"
	"github.com/parleychat/parley/platform/httpx"
)

// ServiceHealth is one service's line in the gateway's GET /health.
type ServiceHealth struct {
	// Status is "ok" (answered 200), "degraded" (answered another status)
	// or "down" (no answer).
	Status     string  `json:"status"`
	LatencyMS  float64 `json:"latency_ms"`
	HTTPStatus int     `json:"http_status,omitempty"`
	Version    string  `json:"version,omitempty"`
	Error      string  `json:"error,omitempty"`
}

// HealthReport is the body of the gateway's GET /health: the platform's
// {status, service, version, checks} plus per-service detail.
type HealthReport struct {
	Status   string                        `json:"status"`
	Service  string                        `json:"service"`
	Version  string                        `json:"version"`
	Checks   map[string]health.CheckResult `json:"checks"`
	Services map[string]ServiceHealth      `json:"services"`
}

type probeTarget struct {
	name string
	url  string
}

// aggregator answers GET /health by asking the three services' /health
// concurrently. Requests that arrive while a round of probes is running
// share its result, so polling /health cannot multiply load on the services.
type aggregator struct {
	targets []probeTarget
	client  *http.Client
	timeout time.Duration
	h       *health.Health
	version string
	log     *slog.Logger

	mu  sync.Mutex
	cur *probeRound
}

type probeRound struct {
	done chan struct{}
	res  map[string]ServiceHealth
}

func newAggregator(d Deps) *aggregator {
	timeout := d.HealthTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	client := d.HealthClient
	if client == nil {
		client = httpx.NewClient(timeout)
	}
	var targets []probeTarget
	for _, u := range []*proxy.Upstream{d.Upstreams.Auth, d.Upstreams.User, d.Upstreams.Chat} {
		targets = append(targets, probeTarget{name: u.Name(), url: u.Target().String() + "/health"})
	}
	return &aggregator{targets: targets, client: client, timeout: timeout, h: d.Health, version: d.Version, log: d.Logger}
}

func (a *aggregator) handle(c *gin.Context) {
	ctx := c.Request.Context()
	services := a.probe(ctx)
	rep := HealthReport{
		Status: "ok", Service: Service, Version: a.version,
		Checks: map[string]health.CheckResult{}, Services: services,
	}
	for name, s := range services {
		if s.Status != "ok" {
			rep.Status = "degraded"
			rep.Checks[name] = health.CheckResult{Status: "fail", Error: s.Error}
			continue
		}
		rep.Checks[name] = health.CheckResult{Status: "ok"}
	}
	if _, ready := a.h.Run(ctx); !ready {
		rep.Status = "draining"
	}
	status := http.StatusOK
	if rep.Status != "ok" {
		status = http.StatusServiceUnavailable
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(status, rep)
}

// probe returns the current round's result, starting a round when none is
// running.
func (a *aggregator) probe(ctx context.Context) map[string]ServiceHealth {
	a.mu.Lock()
	if r := a.cur; r != nil {
		a.mu.Unlock()
		<-r.done // bounded: every probe in a round has a.timeout
		return r.res
	}
	r := &probeRound{done: make(chan struct{})}
	a.cur = r
	a.mu.Unlock()

	// The round serves other callers too: it must not end when this
	// caller hangs up. The request id stays for the services' logs.
	ctx = context.WithoutCancel(ctx)
	res := make([]ServiceHealth, len(a.targets))
	var wg sync.WaitGroup
	for i, t := range a.targets {
		wg.Go(func() { res[i] = a.probeOne(ctx, t) })
	}
	wg.Wait()
	r.res = make(map[string]ServiceHealth, len(a.targets))
	for i, t := range a.targets {
		r.res[t.name] = res[i]
	}

	a.mu.Lock()
	a.cur = nil
	a.mu.Unlock()
	close(r.done)
	return r.res
}

func (a *aggregator) probeOne(ctx context.Context, t probeTarget) ServiceHealth {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	start := time.Now()
	elapsed := func() float64 { return float64(time.Since(start).Microseconds()) / 1000 }
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
	if err != nil {
		return ServiceHealth{Status: "down", Error: err.Error()}
	}
	resp, err := a.client.Do(req)
	if err != nil {
		a.log.WarnContext(ctx, "service health probe failed", "upstream", t.name, "error", err.Error())
		return ServiceHealth{Status: "down", LatencyMS: elapsed(), Error: describe(err, a.timeout)}
	}
	defer resp.Body.Close()
	var body struct {
		Status  string `json:"status"`
		Version string `json:"version"`
	}
	// A service's /health is small; anything else is not worth reading.
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
	s := ServiceHealth{Status: "ok", LatencyMS: elapsed(), HTTPStatus: resp.StatusCode, Version: body.Version}
	if resp.StatusCode != http.StatusOK {
		s.Status = "degraded"
		s.Error = fmt.Sprintf("answered %d", resp.StatusCode)
		if body.Status != "" {
			s.Error += " (" + body.Status + ")"
		}
	}
	return s
}

// describe says why a probe failed without naming internal addresses:
// /health is public.
func describe(err error, timeout time.Duration) string {
	var (
		nerr net.Error
		dns  *net.DNSError
	)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &dns):
		return "cannot resolve the service's host name"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &nerr) && nerr.Timeout():
		return "no answer within " + timeout.String()
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the service"
	default:
		return "request failed"
	}
}
