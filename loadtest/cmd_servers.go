package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/http/pprof"
	"net/url"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	gateway "github.com/parleychat/parley/api-gateway/app"
	auth "github.com/parleychat/parley/auth-service/app"
	chat "github.com/parleychat/parley/chat-service/app"
	users "github.com/parleychat/parley/user-service/app"
)

// serveUntilDone serves h on a loopback address until ctx ends.
func serveUntilDone(ctx context.Context, addr string, h http.Handler, stderr io.Writer, what string) error {
	if err := checkLoopbackAddr(addr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stderr, "%s listening on %s\n", what, ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// helloHandler is the floor any Go HTTP service stands on: net/http, one
// route, a constant answer.
func helloHandler() http.Handler {
	body := []byte("hello\n")
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
}

func cmdHello(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("hello", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:5099", "loopback address to listen on")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	return serveUntilDone(ctx, *addr, helloHandler(), stderr, "hello")
}

// cmdOTLPSink is the collector stand-in for runs with tracing on: it
// accepts OTLP/HTTP exports (POST /v1/traces), reads and drops them, and
// prints how many requests and bytes it took when it stops.
func cmdOTLPSink(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("otlp-sink", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:4318", "loopback address to listen on")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	var reqs, bytes atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		reqs.Add(1)
		bytes.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})
	err := serveUntilDone(ctx, *addr, h, stderr, "otlp-sink")
	fmt.Fprintf(stderr, "otlp-sink: %d export requests, %d bytes\n", reqs.Load(), bytes.Load())
	return err
}

// bareProxy is the floor any Go reverse proxy stands on: the standard
// library's httputil.ReverseProxy to one upstream with nothing else in the
// way — no routing, token check, CORS, rate limit, logs or metrics. Its
// only tuning is enough idle connections per host that a closed-loop load
// of many workers never reconnects (the default keeps two), as the gateway's
// transport does.
func bareProxy(to *url.URL) http.Handler {
	rp := httputil.NewSingleHostReverseProxy(to)
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 1024, 256
	rp.Transport = t
	return rp
}

func cmdProxy(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:5098", "loopback address to listen on")
	to := fs.String("to", "http://127.0.0.1:5099", "loopback base URL to forward every request to")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if err := checkLoopbackURL(*to); err != nil {
		return fmt.Errorf("-to: %w", err)
	}
	u, err := url.Parse(*to)
	if err != nil {
		return fmt.Errorf("-to: %w", err)
	}
	return serveUntilDone(ctx, *addr, bareProxy(u), stderr, "proxy")
}

// services are the Parley services the harness can run in-process.
var services = map[string]func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error{
	"chat-service": chat.Run,
	"auth-service": auth.Run,
	"api-gateway":  gateway.Run,
	"user-service": users.Run,
}

// cmdService runs one Parley service itself (its app.Run, configured from
// the environment exactly like its binary) with the profiler on
// PPROF_ADDR, so a load run can take CPU profiles of the real code without
// the services carrying a profiling endpoint.
func cmdService(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("service", flag.ContinueOnError)
	name := fs.String("name", "chat-service", "chat-service, auth-service, api-gateway or user-service")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	runSvc, ok := services[*name]
	if !ok {
		return fmt.Errorf("-name: unknown service %q", *name)
	}
	if addr := os.Getenv("PPROF_ADDR"); addr != "" {
		if err := checkLoopbackAddr(addr); err != nil {
			return fmt.Errorf("PPROF_ADDR: %w", err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		go func() {
			if err := serveUntilDone(ctx, addr, mux, stderr, "pprof"); err != nil {
				fmt.Fprintln(stderr, "pprof:", err)
			}
		}()
	}
	return runSvc(ctx, []string{*name}, os.Getenv, stdout)
}

// cmdNATS runs a NATS server in this process, for two chat replicas to
// fan out through.
func cmdNATS(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("nats", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:4222", "loopback address to listen on")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if err := checkLoopbackAddr(*addr); err != nil {
		return err
	}
	host, portStr, _ := net.SplitHostPort(*addr)
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("-addr: bad port %q", portStr)
	}
	// Defaults otherwise, as the deployment's NATS runs.
	ns, err := server.NewServer(&server.Options{Host: host, Port: port, NoSigs: true, NoLog: true})
	if err != nil {
		return err
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return errors.New("nats server not ready after 10s")
	}
	fmt.Fprintf(stderr, "nats listening on %s\n", ns.Addr())
	<-ctx.Done()
	ns.Shutdown()
	ns.WaitForShutdown()
	return nil
}
