package tracing_test

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.uber.org/goleak"

	"github.com/parleychat/parley/platform/broker"
	"github.com/parleychat/parley/platform/sqldb"
	"github.com/parleychat/parley/platform/testkit"
	"github.com/parleychat/parley/platform/tracing"
	"github.com/parleychat/parley/platform/tracing/tracingtest"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// exercise runs one request through what the platform instruments: a
// server (Handler) that calls a second one through Transport, writes to a
// SQLite database and publishes on a NATS broker that a second connection
// receives from. It returns the traceparent the second server was sent.
func exercise(t *testing.T, tp *tracing.Provider, natsURL string) string {
	t.Helper()
	db, err := sqldb.Open(context.Background(), sqldb.Target{Dialect: sqldb.SQLite, Path: filepath.Join(t.TempDir(), "t.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), "CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	pub, err := broker.NewNATS(natsURL, "pub")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sub, err := broker.NewNATS(natsURL, "sub")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	sub.SetTracing(tp)
	got := make(chan string, 1)
	if _, err := sub.Subscribe("chat.>", func(subject string, data []byte) { got <- string(data) }); err != nil {
		t.Fatal(err)
	}
	if err := sub.Check(context.Background()); err != nil {
		t.Fatal(err)
	}

	seen := make(chan string, 1)
	downstream := httptest.NewServer(tracing.Handler(tp, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Get("Traceparent")
	})))
	defer downstream.Close()
	client := &http.Client{Transport: tracing.Transport(http.DefaultTransport)}
	front := httptest.NewServer(tracing.Handler(tp, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, downstream.URL+"/down", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
		if err := db.Tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO t VALUES (1)")
			return err
		}); err != nil {
			t.Error(err)
		}
		if err := pub.Publish(ctx, "chat.room.1", []byte("hello")); err != nil {
			t.Error(err)
		}
	})))
	defer front.Close()
	resp, err := http.Get(front.URL + "/front")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	select {
	case data := <-got:
		if data != "hello" {
			t.Fatalf("received %q", data)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the subscriber received nothing")
	}
	return <-seen
}

// settle fails the test if a goroutine started since ignore (goleak's
// snapshot of the ones running before) is still there once the idle
// client connections of the test servers are closed: the exporter and
// its connections must be gone after Shutdown.
func settle(t *testing.T, ignore goleak.Option) {
	t.Helper()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	goleak.VerifyNone(t, ignore)
}

func TestOffExportsNothingAndStartsNothing(t *testing.T) {
	rcv := tracingtest.Start(t)
	natsURL := testkit.StartNATS(t)
	before := goleak.IgnoreCurrent()
	// Everything but the endpoint: still off.
	tp, err := tracing.Init(context.Background(), "svc", env(map[string]string{"OTEL_TRACES_SAMPLER": "always_on", "OTEL_BSP_SCHEDULE_DELAY": "10"}))
	if err != nil || tp != nil {
		t.Fatalf("Init without an endpoint = %v, %v; want nil, nil", tp, err)
	}
	h := &http.ServeMux{}
	if got, ok := tracing.Handler(nil, h).(*http.ServeMux); !ok || got != h {
		t.Fatal("Handler with tracing off must return the handler itself")
	}
	if parent := exercise(t, tp, natsURL); parent != "" {
		t.Fatalf("a traceparent was sent with tracing off: %q", parent)
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	settle(t, before)
	if n := rcv.Requests(); n != 0 {
		t.Fatalf("the receiver got %d export requests with tracing off", n)
	}
}

func TestOnExportsOneConnectedTrace(t *testing.T) {
	rcv := tracingtest.Start(t)
	natsURL := testkit.StartNATS(t)
	before := goleak.IgnoreCurrent()
	tp, err := tracing.Init(context.Background(), "svc", env(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.Endpoint(), "OTEL_TRACES_SAMPLER": "always_on",
		"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test",
	}))
	if err != nil || tp == nil {
		t.Fatalf("Init = %v, %v", tp, err)
	}
	parent := exercise(t, tp, natsURL)
	if !strings.HasPrefix(parent, "00-") || len(parent) != 55 {
		t.Fatalf("downstream traceparent = %q", parent)
	}
	// Shutdown flushes: everything is at the receiver when it returns.
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if errs := rcv.Errors(); len(errs) > 0 {
		t.Fatalf("receiver refused: %v", errs)
	}
	traceID := strings.Split(parent, "-")[1]
	spans := rcv.Trace(traceID)
	byID := map[string]tracingtest.Span{}
	kinds := map[string]tracepb.Span_SpanKind{}
	for _, s := range spans {
		byID[s.SpanID] = s
		kinds[s.Name] = s.Kind
		if s.Service != "svc" {
			t.Errorf("span %s has service %q", s.Name, s.Service)
		}
	}
	for name, kind := range map[string]tracepb.Span_SpanKind{
		"GET": tracepb.Span_SPAN_KIND_SERVER, "db.tx": tracepb.Span_SPAN_KIND_CLIENT,
		"broker publish": tracepb.Span_SPAN_KIND_PRODUCER, "broker receive": tracepb.Span_SPAN_KIND_CONSUMER,
	} {
		if k, ok := kinds[name]; !ok || k != kind {
			t.Errorf("span %q: kind %v (present %v), want %v; trace: %+v", name, k, ok, kind, spans)
		}
	}
	roots := 0
	for _, s := range spans {
		if s.ParentID == "" {
			roots++
			continue
		}
		if _, ok := byID[s.ParentID]; !ok {
			t.Errorf("span %s: parent %s not in the trace", s.Name, s.ParentID)
		}
	}
	// The front server span is the one root: the downstream server, the
	// client span, the database and both broker spans hang below it.
	if roots != 1 || len(spans) < 6 {
		t.Errorf("%d roots in %d spans, want 1 root in at least 6: %+v", roots, len(spans), spans)
	}
	settle(t, before)
}

func TestInitRefusesBadConfig(t *testing.T) {
	for _, m := range []map[string]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_SAMPLER": "sometimes"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_BSP_SCHEDULE_DELAY": "soon"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_EXPORTER_OTLP_HEADERS": "novalue"},
	} {
		tp, err := tracing.Init(context.Background(), "svc", env(m))
		if err == nil || !strings.HasPrefix(err.Error(), "config: OTEL_") {
			_ = tp.Shutdown(context.Background())
			t.Errorf("Init(%v) = %v, want a config error naming the variable", m, err)
		}
	}
	// Explicitly disabled beats an endpoint.
	for _, m := range []map[string]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_EXPORTER": "none"},
	} {
		if tp, err := tracing.Init(context.Background(), "svc", env(m)); tp != nil || err != nil {
			t.Errorf("Init(%v) = %v, %v; want off", m, tp, err)
		}
	}
}

func TestSamplerRatio(t *testing.T) {
	s, err := tracing.ParseSampler("parentbased_traceidratio", "0.01")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.Description(), "0.01") {
		t.Fatalf("sampler = %s", s.Description())
	}
	if s, _ := tracing.ParseSampler("", ""); !strings.Contains(s.Description(), "AlwaysOnSampler") {
		t.Fatalf("default sampler = %s", s.Description())
	}
}

func TestStartWithoutRecordingParentIsFree(t *testing.T) {
	ctx := context.Background()
	got, span := tracing.Start(ctx, "child")
	if got != ctx || span.SpanContext().IsValid() || span.IsRecording() {
		t.Fatal("Start below no span must return the context and a no-op span")
	}
	tracing.End(span, io.EOF) // must not panic
	if tracing.FromContext(ctx) != nil || (*tracing.Provider)(nil).Tracer() == nil {
		t.Fatal("nil provider helpers")
	}
	_ = trace.SpanFromContext(ctx)
}
