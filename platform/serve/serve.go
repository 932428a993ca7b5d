// Package serve runs a service's HTTP server until its context ends, then
// shuts it down in the order docs/ARCHITECTURE.md (Contract: Conventions)
// asks for: fail readiness, drain, Shutdown, then the caller's closers
// (WebSockets, broker, database). Program is the dispatch every service's
// app.Run shares: healthcheck, its own subcommands, or serving.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/parleychat/parley/platform/config"
	"github.com/parleychat/parley/platform/health"
	"github.com/parleychat/parley/platform/tracing"
)

// Server is one service's HTTP server.
type Server struct {
	Addr    string
	Handler http.Handler
	Logger  *slog.Logger
	Health  *health.Health
	// DrainDelay is how long readiness fails before the listener closes, so
	// load balancers notice first. Zero in tests.
	DrainDelay time.Duration
	// ShutdownTimeout bounds the wait for in-flight requests.
	ShutdownTimeout time.Duration
	// OnShutdown runs after the HTTP server stopped, in order (close
	// WebSockets, then the broker, then the database).
	OnShutdown []func(ctx context.Context) error
}

// handlerHookKey carries WithHandlerHook's function in a context.
type handlerHookKey struct{}

// WithHandlerHook returns a context under which Server.Run hands its
// Handler to f before it serves, so that a test can read the routes a
// running service registered without building the service a second time.
func WithHandlerHook(ctx context.Context, f func(http.Handler)) context.Context {
	return context.WithValue(ctx, handlerHookKey{}, f)
}

// Run listens on Addr and serves until ctx is done or the server fails.
func (s *Server) Run(ctx context.Context) error {
	if s.ShutdownTimeout == 0 {
		s.ShutdownTimeout = 20 * time.Second
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.Addr, err)
	}
	srv := &http.Server{
		// Spans for each request when the context carries a tracer
		// provider (StartTracing); the handler itself otherwise.
		Handler:           tracing.Handler(tracing.FromContext(ctx), s.Handler),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn),
	}
	if f, ok := ctx.Value(handlerHookKey{}).(func(http.Handler)); ok {
		f(s.Handler)
	}
	s.Logger.Info("listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	s.Logger.Info("shutting down")
	if s.Health != nil {
		s.Health.SetDraining()
	}
	if s.DrainDelay > 0 && serveErr == nil {
		time.Sleep(s.DrainDelay)
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.ShutdownTimeout)
	defer cancel()
	var errs []error
	if err := srv.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	for _, f := range s.OnShutdown {
		if err := f(sctx); err != nil {
			errs = append(errs, err)
		}
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		errs = append(errs, serveErr)
	}
	s.Logger.Info("stopped")
	return errors.Join(errs...)
}

// IsHealthcheck reports whether args ask for the healthcheck subcommand.
func IsHealthcheck(args []string) bool {
	return len(args) > 1 && args[1] == "healthcheck"
}

// Healthcheck asks the local server's /readyz and returns nil when it
// answers 200. It lets a scratch image have a Docker HEALTHCHECK, and
// "healthy" there means ready: its critical checks pass (the database; for
// chat-service also the NATS connection when NATS_URL is set), so compose's
// `condition: service_healthy` waits for what the service needs. A
// container that stops being ready shows as unhealthy; Docker does not
// restart it for that (Kubernetes probes /healthz and /readyz apart).
func Healthcheck(ctx context.Context, port int, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d", url, resp.StatusCode)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}

// Main is the body of every service's main: it runs run with the process's
// arguments and environment and exits 1 with one line on error.
func Main(run func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error) {
	ctx, stop := signalContext()
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, strings.TrimSpace(err.Error()))
		stop()
		os.Exit(1)
	}
}

// HealthcheckFromEnv is the `healthcheck` subcommand: it probes the server
// on PORT (defaultPort when unset), as configured for the running service.
func HealthcheckFromEnv(ctx context.Context, getenv func(string) string, defaultPort int, stdout io.Writer) error {
	env := config.New(getenv)
	port := env.Int("PORT", defaultPort, 1, 65535)
	if err := env.Err(); err != nil {
		return err
	}
	return Healthcheck(ctx, port, stdout)
}
