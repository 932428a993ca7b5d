// Package metrics holds the Prometheus series every Parley service shares:
// the per-route RED histogram (rate, errors and duration of HTTP requests,
// recorded by httpx's middleware on every engine), the database write
// latency, and the names the alert rules and the dashboard in
// k8s/monitoring/ rely on. A service's own series (chat's fan-out, the
// gateway's upstreams) live beside its code.
package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Series names shared by several services; the alert rules and the
// dashboard (k8s/monitoring/) name them too, and e2e's metric-name test
// checks that a running service exports each one they use.
const (
	// HTTPDuration is the RED histogram: its _count is the request rate,
	// status="5xx" the errors, its buckets the latency.
	HTTPDuration = "http_request_duration_seconds"
	// DBWriteDuration times each write transaction (commit included).
	DBWriteDuration = "parley_db_write_duration_seconds"
	// DBWritable is 1 while the database takes a small write (readiness's
	// database check, run at scrape time).
	DBWritable = "parley_db_writable"
	// BrokerConnected is 1 while chat-service's broker can deliver.
	BrokerConnected = "parley_broker_connected"
)

// Help texts of the health gauges.
const (
	DBWritableHelp      = "1 while the database takes a small write (the readiness check, run at scrape time), else 0."
	BrokerConnectedHelp = "1 while the broker (NATS) is connected and answers a flush, else 0."
)

// LatencyBuckets are the HTTP and database latency buckets, in seconds.
var LatencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// StatusClass is the status label: "2xx", "4xx", "5xx" (the class keeps the
// series per route few; the gateway's own counters keep exact codes).
func StatusClass(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status/100) + "xx"
}

// HTTP records requests by route template (gin's FullPath, "unmatched" for
// no route), method and status class.
type HTTP struct {
	dur *prometheus.HistogramVec
}

// NewHTTP registers the histogram on reg, labelled with service; a nil reg
// gives an HTTP that records nothing.
func NewHTTP(service string, reg prometheus.Registerer) *HTTP {
	if reg == nil {
		return &HTTP{}
	}
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:        HTTPDuration,
		Help:        "HTTP request latency by route template, method and status class (2xx, 4xx, 5xx); _count is the request rate.",
		ConstLabels: prometheus.Labels{"service": service},
		Buckets:     LatencyBuckets,
	}, []string{"method", "route", "status"})
	reg.MustRegister(dur)
	return &HTTP{dur: dur}
}

// Observe records one request.
func (h *HTTP) Observe(method, route string, status int, d time.Duration) {
	if h == nil || h.dur == nil {
		return
	}
	if route == "" {
		route = "unmatched"
	}
	h.dur.WithLabelValues(method, route, StatusClass(status)).Observe(d.Seconds())
}

// NewDBWrites is the database write histogram for service, not yet
// registered: a service hands it to sqldb.DB.ObserveWrites as soon as the
// database is open and registers it once its registry exists.
func NewDBWrites(service string) prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:        DBWriteDuration,
		Help:        "Database write transactions (begin to commit) and statements, in seconds.",
		ConstLabels: prometheus.Labels{"service": service},
		Buckets:     LatencyBuckets,
	})
}
