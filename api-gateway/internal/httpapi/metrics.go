package httpapi

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's own series, beside httpx's per-route latency.
type metrics struct {
	proxied      *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	rateLimited  prometheus.Counter
	authRejected *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		proxied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_upstream_requests_total",
			Help: "Requests proxied to an upstream, by upstream and the status the client got (503/504/413 when the gateway answered for it).",
		}, []string{"upstream", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gateway_upstream_request_duration_seconds",
			Help:    "Time to proxy a request to an upstream and copy its answer, by upstream.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"upstream"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gateway_rate_limited_total",
			Help: "Requests refused with 429 by the per-client rate limit.",
		}),
		authRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_auth_rejected_total",
			Help: "Requests refused with 401 by the gateway's token check, by error code.",
		}, []string{"code"}),
	}
	reg.MustRegister(m.proxied, m.latency, m.rateLimited, m.authRejected)
	return m
}

func (m *metrics) observe(upstream string, status int, d time.Duration) {
	m.proxied.WithLabelValues(upstream, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(upstream).Observe(d.Seconds())
}
