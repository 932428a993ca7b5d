// Package health serves the probe and metrics endpoints every service has:
// /healthz (alive), /readyz (able to serve), /health (JSON detail) and
// /metrics (Prometheus).
package health

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check reports whether one dependency works.
type Check struct {
	Name string
	// Critical checks decide readiness; the others only show in /health.
	Critical bool
	Fn       func(ctx context.Context) error
	// Gauge, when set, names a 0/1 gauge (e.g. metrics.DBWritable) that
	// runs the check at each scrape, so an alert sees the dependency fail
	// even when nobody asks /readyz.
	Gauge string
	// Help describes Gauge.
	Help string
}

// Health holds a service's checks and its draining flag.
type Health struct {
	Service  string
	Version  string
	Registry *prometheus.Registry
	Timeout  time.Duration

	mu       sync.Mutex
	checks   []Check
	draining atomic.Bool
}

// New returns a Health with a fresh registry that already has the Go and
// process collectors.
func New(service, version string) *Health {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Health{Service: service, Version: version, Registry: reg, Timeout: 2 * time.Second}
}

// Add registers a check, and its gauge when it names one.
func (h *Health) Add(c Check) {
	h.mu.Lock()
	h.checks = append(h.checks, c)
	h.mu.Unlock()
	if c.Gauge != "" && h.Registry != nil {
		h.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: c.Gauge, Help: c.Help, ConstLabels: prometheus.Labels{"service": h.Service},
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
			defer cancel()
			if c.Fn(ctx) != nil {
				return 0
			}
			return 1
		}))
	}
}

// SetDraining makes /readyz fail so load balancers stop sending new work
// while in-flight requests finish.
func (h *Health) SetDraining() { h.draining.Store(true) }

// CheckResult is one check's outcome in /health.
type CheckResult struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// Report is the /health body.
type Report struct {
	Status  string                 `json:"status"`
	Service string                 `json:"service"`
	Version string                 `json:"version"`
	Checks  map[string]CheckResult `json:"checks"`
}

// Run runs every check concurrently and reports; ready is false when a
// critical check failed or the service is draining.
func (h *Health) Run(ctx context.Context) (rep Report, ready bool) {
	h.mu.Lock()
	checks := append([]Check(nil), h.checks...)
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	results := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = c.Fn(ctx)
		}()
	}
	wg.Wait()
	rep = Report{Status: "ok", Service: h.Service, Version: h.Version, Checks: map[string]CheckResult{}}
	ready = !h.draining.Load()
	if !ready {
		rep.Status = "draining"
	}
	for i, c := range checks {
		if err := results[i]; err != nil {
			rep.Checks[c.Name] = CheckResult{Status: "fail", Error: err.Error()}
			if rep.Status == "ok" {
				rep.Status = "degraded"
			}
			if c.Critical {
				ready = false
			}
			continue
		}
		rep.Checks[c.Name] = CheckResult{Status: "ok"}
	}
	return rep, ready
}

// Register mounts the four endpoints on r.
func (h *Health) Register(r gin.IRoutes) {
	r.GET("/healthz", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	r.GET("/readyz", func(c *gin.Context) {
		rep, ready := h.Run(c.Request.Context())
		if !ready {
			c.JSON(http.StatusServiceUnavailable, rep)
			return
		}
		c.JSON(http.StatusOK, rep)
	})
	r.GET("/health", func(c *gin.Context) {
		rep, _ := h.Run(c.Request.Context())
		status := http.StatusOK
		if rep.Status != "ok" {
			status = http.StatusServiceUnavailable
		}
		c.JSON(status, rep)
	})
	metrics := promhttp.HandlerFor(h.Registry, promhttp.HandlerOpts{})
	r.GET("/metrics", gin.WrapH(metrics))
}
