package logx

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func TestRequestIDInEveryLine(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "auth-service", "debug", "json").With("component", "test")
	ctx := WithRequestID(context.Background(), "req-123")
	log.InfoContext(ctx, "hello", "n", 1)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not JSON: %q", buf.String())
	}
	if line["req_id"] != "req-123" || line["service"] != "auth-service" || line["component"] != "test" {
		t.Fatalf("line = %v", line)
	}
	buf.Reset()
	New(&buf, "x", "warn", "json").Info("dropped")
	if buf.Len() != 0 {
		t.Fatalf("info logged at warn level: %q", buf.String())
	}
}

func TestTraceIDsInLines(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("test").Start(context.Background(), "op")
	defer span.End()
	var buf bytes.Buffer
	New(&buf, "chat-service", "info", "json").InfoContext(ctx, "hello")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not JSON: %q", buf.String())
	}
	sc := span.SpanContext()
	if line["trace_id"] != sc.TraceID().String() || line["span_id"] != sc.SpanID().String() {
		t.Fatalf("line = %v, want trace %s span %s", line, sc.TraceID(), sc.SpanID())
	}
	buf.Reset()
	New(&buf, "chat-service", "info", "json").Info("no span")
	if bytes.Contains(buf.Bytes(), []byte("trace_id")) {
		t.Fatalf("a line without a span names a trace: %s", buf.Bytes())
	}
}
