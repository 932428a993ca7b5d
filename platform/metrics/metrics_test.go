package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestStatusClass(t *testing.T) {
	for status, want := range map[int]string{200: "2xx", 204: "2xx", 301: "3xx", 404: "4xx", 429: "4xx", 500: "5xx", 503: "5xx", 0: "other", 99: "other", 600: "other"} {
		if got := StatusClass(status); got != want {
			t.Errorf("StatusClass(%d) = %q, want %q", status, got, want)
		}
	}
}

// Requests are counted by route template, method and status class; an
// unmatched route has its own label value, and a nil registry records
// nothing without failing.
func TestHTTP(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := NewHTTP("svc", reg)
	h.Observe("GET", "/rooms/:id", 200, time.Millisecond)
	h.Observe("GET", "/rooms/:id", 201, time.Millisecond)
	h.Observe("POST", "/rooms/:id", 503, time.Second)
	h.Observe("GET", "", 404, time.Millisecond)
	for _, want := range []string{
		`http_request_duration_seconds_count{method="GET",route="/rooms/:id",service="svc",status="2xx"} 2`,
		`http_request_duration_seconds_count{method="POST",route="/rooms/:id",service="svc",status="5xx"} 1`,
		`http_request_duration_seconds_count{method="GET",route="unmatched",service="svc",status="4xx"} 1`,
	} {
		if n, err := testutil.GatherAndCount(reg, HTTPDuration); err != nil || n != 3 {
			t.Fatalf("series %d, %v", n, err)
		}
		if !strings.Contains(gatherText(t, reg), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	NewHTTP("svc", nil).Observe("GET", "/x", 200, time.Millisecond)
}

func gatherText(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	w := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	return w.Body.String()
}
