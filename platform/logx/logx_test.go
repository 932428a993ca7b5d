package logx

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
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
