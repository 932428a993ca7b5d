package serve_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parleychat/parley/platform/serve"
)

func TestProgramDispatch(t *testing.T) {
	var served, copied []string
	p := serve.Program{
		Service: "test-service", DefaultPort: 1,
		Commands: map[string]serve.Command{
			"copy-db": func(_ context.Context, args []string, _ func(string) string, _ io.Writer) error {
				copied = args
				return nil
			},
		},
		Serve: func(_ context.Context, getenv func(string) string, _ *slog.Logger) error {
			served = append(served, getenv("X"))
			return nil
		},
	}
	getenv := func(k string) string { return map[string]string{"X": "x"}[k] }
	ctx := context.Background()
	if err := p.Run(ctx, []string{"test-service"}, getenv, io.Discard); err != nil || len(served) != 1 || served[0] != "x" {
		t.Fatalf("no subcommand: err %v, served %v", err, served)
	}
	if err := p.Run(ctx, []string{"test-service", "copy-db", "--to", "pg"}, getenv, io.Discard); err != nil || strings.Join(copied, " ") != "--to pg" {
		t.Fatalf("copy-db: err %v, args %v", err, copied)
	}
	err := p.Run(ctx, []string{"test-service", "cpoy-db"}, getenv, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `unknown command "cpoy-db"`) || !strings.Contains(err.Error(), "healthcheck, copy-db") {
		t.Fatalf("unknown command: %v", err)
	}
	if len(served) != 1 {
		t.Fatal("an unknown command started the service")
	}

	// healthcheck probes /readyz on PORT: live but not ready is a failure.
	var ready atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/healthz":
			w.WriteHeader(http.StatusOK)
		case r.URL.Path == "/readyz" && ready.Load():
			w.WriteHeader(http.StatusOK)
		case r.URL.Path == "/readyz":
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	env := func(k string) string {
		if k == "PORT" {
			return port
		}
		return ""
	}
	var out bytes.Buffer
	if err := p.Run(ctx, []string{"test-service", "healthcheck"}, env, &out); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("healthcheck against a live server that is not ready: %v, want the 503", err)
	}
	ready.Store(true)
	if err := p.Run(ctx, []string{"test-service", "healthcheck"}, env, &out); err != nil {
		t.Fatalf("healthcheck against a ready server: %v (%s)", err, out.String())
	}
	srv.Close()
	n, _ := strconv.Atoi(port)
	if err := p.Run(ctx, []string{"test-service", "healthcheck"}, func(k string) string {
		if k == "PORT" {
			return strconv.Itoa(n)
		}
		return ""
	}, io.Discard); err == nil {
		t.Fatal("healthcheck passed with the server down")
	}
}
