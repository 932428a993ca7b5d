// Package tracing is Parley's OpenTelemetry set-up: one tracer provider per
// service, exporting over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set and absent otherwise, W3C trace
// context on every hop, and helpers for the spans the platform packages
// start (HTTP server and client, database, broker).
//
// The provider travels in contexts rather than in OpenTelemetry's global:
// several services share one process in the end-to-end tests, and each must
// export under its own name. A span started below another takes its parent's
// provider (Start), so only roots need one: the HTTP server (Handler puts
// the provider in every request's context), a WebSocket frame, a message
// received from the broker.
//
// Off, nothing is started: Init returns nil, Handler returns its handler
// unchanged, and every other helper costs a context lookup that finds no
// recording span.
package tracing

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Scope is the instrumentation scope of Parley's own spans.
const Scope = "github.com/parleychat/parley/platform"

// Propagator is the W3C trace context format used on HTTP and broker hops.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// Provider is a service's tracer provider. A nil *Provider is tracing off.
type Provider struct {
	sdk    *sdktrace.TracerProvider
	tracer trace.Tracer
	// conns is the exporter's transport, whose idle connections Shutdown
	// closes so that nothing of tracing outlives it.
	conns *http.Transport
}

// Init builds the provider from the standard OTEL_* variables read through
// getenv. It returns nil (tracing off) unless an OTLP endpoint is set,
// OTEL_SDK_DISABLED is not "true" and OTEL_TRACES_EXPORTER is not "none".
// Honoured: OTEL_EXPORTER_OTLP_ENDPOINT (base URL; /v1/traces is appended),
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is),
// OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL (http/protobuf only),
// OTEL_EXPORTER_OTLP_[TRACES_]HEADERS, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER and
// OTEL_TRACES_SAMPLER_ARG, OTEL_BSP_SCHEDULE_DELAY (ms).
func Init(ctx context.Context, service string, getenv func(string) string) (*Provider, error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	endpoint := get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if base := get("OTEL_EXPORTER_OTLP_ENDPOINT"); endpoint == "" && base != "" {
		endpoint = strings.TrimRight(base, "/") + "/v1/traces"
	}
	if endpoint == "" || strings.EqualFold(get("OTEL_SDK_DISABLED"), "true") || strings.EqualFold(get("OTEL_TRACES_EXPORTER"), "none") {
		return nil, nil
	}
	if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("config: OTEL_EXPORTER_OTLP_ENDPOINT: want an http:// or https:// URL, got %q", endpoint)
	}
	protocol := get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = get("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	if protocol != "" && protocol != "http/protobuf" {
		return nil, fmt.Errorf("config: OTEL_EXPORTER_OTLP_PROTOCOL: only http/protobuf is supported, got %q", protocol)
	}
	sampler, err := ParseSampler(get("OTEL_TRACES_SAMPLER"), get("OTEL_TRACES_SAMPLER_ARG"))
	if err != nil {
		return nil, err
	}
	delay := 5 * time.Second
	if v := get("OTEL_BSP_SCHEDULE_DELAY"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return nil, fmt.Errorf("config: OTEL_BSP_SCHEDULE_DELAY: want a positive number of milliseconds, got %q", v)
		}
		delay = time.Duration(ms) * time.Millisecond
	}
	headers := get("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
	if headers == "" {
		headers = get("OTEL_EXPORTER_OTLP_HEADERS")
	}
	hdr, err := parseList("OTEL_EXPORTER_OTLP_HEADERS", headers)
	if err != nil {
		return nil, err
	}
	attrs, err := parseList("OTEL_RESOURCE_ATTRIBUTES", get("OTEL_RESOURCE_ATTRIBUTES"))
	if err != nil {
		return nil, err
	}
	if name := get("OTEL_SERVICE_NAME"); name != "" {
		service = name
	}
	kv := []attribute.KeyValue{}
	for k, v := range attrs {
		kv = append(kv, attribute.String(k, v))
	}
	kv = append(kv, attribute.String("service.name", service), attribute.String("service.instance.id", instanceID()))
	conns := http.DefaultTransport.(*http.Transport).Clone()
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(endpoint),
		otlptracehttp.WithHTTPClient(&http.Client{Transport: conns, Timeout: 10 * time.Second})}
	if len(hdr) > 0 {
		opts = append(opts, otlptracehttp.WithHeaders(hdr))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sampler),
		sdktrace.WithResource(resource.NewSchemaless(kv...)),
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(delay)),
	)
	return &Provider{sdk: tp, tracer: tp.Tracer(Scope), conns: conns}, nil
}

// ParseSampler reads OTEL_TRACES_SAMPLER and its argument; the default is
// parentbased_always_on, the ratio defaults to 1.
func ParseSampler(name, arg string) (sdktrace.Sampler, error) {
	ratio := 1.0
	if arg != "" && strings.HasSuffix(name, "traceidratio") {
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("config: OTEL_TRACES_SAMPLER_ARG: want a ratio from 0 to 1, got %q", arg)
		}
		ratio = r
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), nil
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), nil
	}
	return nil, fmt.Errorf("config: OTEL_TRACES_SAMPLER: unknown sampler %q (always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio)", name)
}

// parseList reads "k=v,k2=v2" with percent-encoded values (the OTEL_*
// list format).
func parseList(name, s string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range strings.Split(s, ",") {
		if strings.TrimSpace(item) == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("config: %s: want key=value pairs separated by commas", name)
		}
		dv, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("config: %s: value of %s is not percent-encoded correctly", name, k)
		}
		out[k] = dv
	}
	return out, nil
}

func instanceID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Shutdown flushes the spans still queued and stops the exporter. Nil-safe.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil {
		return nil
	}
	err := p.sdk.Shutdown(ctx)
	p.conns.CloseIdleConnections()
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("tracing shutdown: %w", err)
	}
	return nil
}

// Tracer is the provider's tracer, or a no-op one when p is nil.
func (p *Provider) Tracer() trace.Tracer {
	if p == nil {
		return noop.NewTracerProvider().Tracer(Scope)
	}
	return p.tracer
}

type providerKey struct{}

// WithProvider returns ctx carrying p (nothing is added when p is nil).
func WithProvider(ctx context.Context, p *Provider) context.Context {
	if p == nil {
		return ctx
	}
	return context.WithValue(ctx, providerKey{}, p)
}

// FromContext is the provider WithProvider put in ctx, or nil.
func FromContext(ctx context.Context) *Provider {
	p, _ := ctx.Value(providerKey{}).(*Provider)
	return p
}

// Start starts a span below the one in ctx, with that span's provider, when
// that span is recording; otherwise it returns ctx and its span unchanged,
// so code under an unsampled or absent trace pays one context lookup.
func Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, parent
	}
	return parent.TracerProvider().Tracer(Scope).Start(ctx, name, opts...)
}

// End ends span, recording err (when not nil) as its error status.
func End(span trace.Span, err error) {
	if !span.IsRecording() {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Handler wraps a service's HTTP handler: each request gets p in its
// context and, but for probes, scrapes and WebSocket upgrades (a socket's
// frames get spans of their own), a server span continuing the caller's
// W3C trace context. The span is named by the method until the router
// names it by route. A nil p returns next itself.
func Handler(p *Provider, next http.Handler) http.Handler {
	if p == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := WithProvider(r.Context(), p)
		switch {
		case r.Header.Get("Upgrade") != "", r.URL.Path == "/healthz", r.URL.Path == "/readyz", r.URL.Path == "/metrics":
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		ctx = Propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
		ctx, span := p.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path)))
		defer span.End()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Transport wraps an outbound RoundTripper: a request whose context holds
// a span carries it on as a W3C traceparent header, under a client span
// when the trace is recorded. Requests without one pass through untouched.
func Transport(next http.RoundTripper) http.RoundTripper { return transport{next} }

type transport struct{ next http.RoundTripper }

func (t transport) RoundTrip(r *http.Request) (*http.Response, error) {
	parent := trace.SpanFromContext(r.Context())
	if !parent.SpanContext().IsValid() {
		return t.next.RoundTrip(r)
	}
	started := parent.IsRecording()
	ctx, span := Start(r.Context(), r.Method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("server.address", r.URL.Host), attribute.String("url.path", r.URL.Path)))
	r = r.Clone(ctx)
	Propagator.Inject(ctx, propagation.HeaderCarrier(r.Header))
	resp, err := t.next.RoundTrip(r)
	if started {
		if err == nil {
			span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
			if resp.StatusCode >= 500 {
				span.SetStatus(codes.Error, resp.Status)
			}
		}
		End(span, err)
	}
	return resp, err
}
