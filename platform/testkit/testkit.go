// Package testkit starts real Parley services inside a test: each on a free
// loopback port, through the same run function main calls, and stops them
// (checking that shutdown was clean) when the test ends.
package testkit

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/platform/serve"
)

// RunFunc is a service's run function.
type RunFunc func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Env is a getenv built from a map.
func Env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// Service is a running service.
type Service struct {
	Name string
	Port int
	URL  string
	stop context.CancelFunc
	done chan error
	// handler is what the service serves, handed over by serve.Server.Run.
	handler atomic.Value
}

// Routes lists the routes the running service registered, read from its
// gin engine; nil when its handler is not one.
func (s *Service) Routes() gin.RoutesInfo {
	e, _ := s.handler.Load().(*gin.Engine)
	if e == nil {
		return nil
	}
	return e.Routes()
}

// Stop shuts the service down and returns run's error.
func (s *Service) Stop() error {
	s.stop()
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-time.After(30 * time.Second):
		return fmt.Errorf("%s did not stop within 30s", s.Name)
	}
}

// Start runs a service with env (PORT is added when missing) and waits
// until its /readyz answers 200. Logs go to the test log when -v is given.
func Start(t testing.TB, name string, run RunFunc, env map[string]string) *Service {
	t.Helper()
	if env["PORT"] == "" {
		env["PORT"] = strconv.Itoa(FreePort(t))
	}
	port, _ := strconv.Atoi(env["PORT"])
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{Name: name, Port: port, URL: "http://127.0.0.1:" + env["PORT"], stop: cancel, done: make(chan error, 1)}
	var out io.Writer = io.Discard
	if testing.Verbose() || os.Getenv("PARLEY_TEST_LOGS") != "" {
		out = testWriter{t, name}
	}
	ctx = serve.WithHandlerHook(ctx, func(h http.Handler) {
		if h != nil {
			s.handler.Store(h)
		}
	})
	go func() { s.done <- run(ctx, []string{name}, Env(env), out) }()
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("%s: run returned %v after shutdown", name, err)
		}
	})
	WaitReady(t, s.URL, s.done)
	return s
}

// WaitReady polls url/readyz until it answers 200, failing the test if
// done yields first (the service exited) or 20 s pass.
func WaitReady(t testing.TB, url string, done chan error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("%s exited before ready: %v", url, err)
		default:
		}
		resp, err := client.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s not ready after 20s", url)
}

type testWriter struct {
	t    testing.TB
	name string
}

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("[%s] %s", w.name, p)
	return len(p), nil
}

// Eventually polls ok every 10 ms until it holds, failing the test with
// what when timeout passes first: the one way tests wait for a state that
// nothing signals.
func Eventually(t testing.TB, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
