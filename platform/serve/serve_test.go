package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/platform/health"
	"github.com/parleychat/parley/platform/httpx"
	"github.com/parleychat/parley/platform/logx"
	"github.com/parleychat/parley/platform/serve"
	"github.com/parleychat/parley/platform/testkit"
)

func TestRunServesHealthAndShutsDownInOrder(t *testing.T) {
	h := health.New("svc", "v1")
	var dbUp atomic.Bool
	dbUp.Store(true)
	h.Add(health.Check{Name: "database", Critical: true, Fn: func(context.Context) error {
		if !dbUp.Load() {
			return errors.New("down")
		}
		return nil
	}})
	h.Add(health.Check{Name: "optional", Fn: func(context.Context) error { return errors.New("meh") }})
	e := httpx.NewEngine(httpx.Options{Service: "svc", Registry: h.Registry})
	h.Register(e)
	// A request in flight when shutdown starts must finish.
	inFlight, release := make(chan struct{}), make(chan struct{})
	e.GET("/slow", func(c *gin.Context) {
		close(inFlight)
		<-release
		c.String(200, "done")
	})

	port := testkit.FreePort(t)
	var order []string
	srv := &serve.Server{
		Addr: "127.0.0.1:" + strconv.Itoa(port), Handler: e, Logger: logx.Discard(), Health: h,
		OnShutdown: []func(context.Context) error{
			func(context.Context) error { order = append(order, "sockets"); return nil },
			func(context.Context) error { order = append(order, "db"); return nil },
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	testkit.WaitReady(t, base, done)

	resp, err := http.Get(base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	var rep health.Report
	_ = json.NewDecoder(resp.Body).Decode(&rep)
	resp.Body.Close()
	if resp.StatusCode != 503 || rep.Status != "degraded" || rep.Checks["optional"].Status != "fail" || rep.Checks["database"].Status != "ok" {
		t.Fatalf("/health = %d %+v", resp.StatusCode, rep)
	}
	dbUp.Store(false)
	if resp, _ := http.Get(base + "/readyz"); resp == nil || resp.StatusCode != 503 {
		t.Fatal("readyz must fail when a critical check fails")
	}
	dbUp.Store(true)
	if resp, _ := http.Get(base + "/metrics"); resp == nil || resp.StatusCode != 200 {
		t.Fatal("metrics")
	}
	var out bytes.Buffer
	if err := serve.Healthcheck(context.Background(), port, &out); err != nil || out.String() != "ok\n" {
		t.Fatalf("Healthcheck = %v %q", err, out.String())
	}

	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		slow <- b.String()
	}()
	<-inFlight
	cancel()
	// The request answers only once shutdown has begun: the listener is
	// closed (no new connection gets in) while it is still in flight.
	testkit.Eventually(t, "listener closed by shutdown", 10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	close(release)
	if got := <-slow; got != "done" {
		t.Fatalf("in-flight request = %q", got)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if len(order) != 2 || order[0] != "sockets" || order[1] != "db" {
		t.Fatalf("shutdown order = %v", order)
	}
	if _, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second); err == nil {
		t.Fatal("still listening after Run returned")
	}
	if serve.Healthcheck(context.Background(), port, &out) == nil {
		t.Fatal("Healthcheck passed with no server")
	}
	if !serve.IsHealthcheck([]string{"bin", "healthcheck"}) || serve.IsHealthcheck([]string{"bin"}) {
		t.Fatal("IsHealthcheck")
	}
}
