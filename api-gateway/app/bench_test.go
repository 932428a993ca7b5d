package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/api-gateway/app"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/authn/authntest"
	"github.com/parleychat/parley/platform/health"
	"github.com/parleychat/parley/platform/httpx"
	"github.com/parleychat/parley/platform/logx"
	"github.com/parleychat/parley/platform/testkit"
)

// BenchmarkGatewayOverhead measures what the gateway adds to a request: the
// same cheap authenticated endpoint is loaded directly and through the
// gateway, in alternating rounds of one run, on loopback.
//
// The upstream is built like a real service (httpx engine with access log
// and metrics, authn.Require verifying the EdDSA token on every request),
// so "direct" pays for one token verification too. The gateway runs with
// its production defaults (access log at info, metrics, CORS, rate limiter,
// body limit, token check) except the rate-limit values: all load comes
// from one address.
//
//	go test -run '^$' -bench GatewayOverhead -benchtime 1x ./app/
//
// BENCH_REQUESTS (default 20000 per target) and BENCH_WORKERS (default 32)
// change the load; BENCH_SERIAL_REQUESTS (default 2000) sets the
// one-client-at-a-time phase that measures latency without queueing.
// Process CPU per request is reported too: on a machine shared with other
// work it is steadier than req/s. Sub-benchmarks run with the gateway's verified-token
// cache on (the default) and off.
func BenchmarkGatewayOverhead(b *testing.B) {
	requests := envInt("BENCH_REQUESTS", 20000)
	workers := envInt("BENCH_WORKERS", 32)
	serial := envInt("BENCH_SERIAL_REQUESTS", 2000)
	for _, cache := range []string{"10000", "0"} {
		name := "token-cache=on"
		if cache == "0" {
			name = "token-cache=off"
		}
		b.Run(name, func(b *testing.B) {
			is := authntest.New(b)
			upstream := benchUpstream(b, is.JWKSURL)
			gw := testkit.Start(b, "api-gateway", app.Run, map[string]string{
				"AUTH_SERVICE_URL": upstream.URL, "USER_SERVICE_URL": upstream.URL, "CHAT_SERVICE_URL": upstream.URL,
				"JWKS_URL": is.JWKSURL, "TOKEN_CACHE_SIZE": cache,
				// The limiter runs, with limits one address cannot reach.
				"RATE_LIMIT_RPS": "1000000", "RATE_LIMIT_BURST": "1000000",
			})
			tok := is.Token(b, 42, "alice", authn.RoleUser, time.Hour)
			direct := upstream.URL + "/ping"
			via := gw.URL + "/api/chat/ping"
			c := benchClient(workers)

			for b.Loop() {
				// Warm both paths (connections, JWKS, caches), then
				// alternate rounds so background load hits both alike.
				runLoad(b, c, direct, tok, 1000, workers)
				runLoad(b, c, via, tok, 1000, workers)
				var d, g loadResult
				const rounds = 4
				for range rounds {
					d.add(runLoad(b, c, direct, tok, requests/rounds, workers))
					g.add(runLoad(b, c, via, tok, requests/rounds, workers))
				}
				// One client at a time: latency without queueing, what
				// one hop through the gateway costs a lone request.
				var d1, g1 loadResult
				for range rounds {
					d1.add(runLoad(b, c, direct, tok, serial/rounds, 1))
					g1.add(runLoad(b, c, via, tok, serial/rounds, 1))
				}
				dp50, dp99 := d.percentile(50), d.percentile(99)
				gp50, gp99 := g.percentile(50), g.percentile(99)
				b.ReportMetric(d.rps(), "direct-req/s")
				b.ReportMetric(g.rps(), "gateway-req/s")
				b.ReportMetric(100*g.rps()/d.rps(), "ratio-%")
				b.ReportMetric(us(gp50-dp50), "added-p50-µs")
				b.ReportMetric(us(gp99-dp99), "added-p99-µs")
				b.ReportMetric(g.cpuPerReq()-d.cpuPerReq(), "added-cpu-µs/req")
				b.ReportMetric(us(g1.percentile(50)-d1.percentile(50)), "serial-added-p50-µs")
				b.ReportMetric(us(g1.percentile(99)-d1.percentile(99)), "serial-added-p99-µs")
				b.Logf("%d requests per target with %d workers, then %d with 1 worker; GOMAXPROCS %d; CPU shared with other processes",
					requests, workers, serial, runtime.GOMAXPROCS(0))
				b.Logf("%d workers  direct : %6.0f req/s  p50 %8v  p99 %8v  cpu %5.0f µs/req", workers, d.rps(), dp50, dp99, d.cpuPerReq())
				b.Logf("%d workers  gateway: %6.0f req/s  p50 %8v  p99 %8v  cpu %5.0f µs/req  (%.0f%% of direct; added p50 %v, p99 %v, cpu %.0f µs/req)",
					workers, g.rps(), gp50, gp99, g.cpuPerReq(), 100*g.rps()/d.rps(), gp50-dp50, gp99-dp99, g.cpuPerReq()-d.cpuPerReq())
				b.Logf("1 worker    direct : %6.0f req/s  p50 %8v  p99 %8v", d1.rps(), d1.percentile(50), d1.percentile(99))
				b.Logf("1 worker    gateway: %6.0f req/s  p50 %8v  p99 %8v  (added p50 %v, p99 %v)",
					g1.rps(), g1.percentile(50), g1.percentile(99), g1.percentile(50)-d1.percentile(50), g1.percentile(99)-d1.percentile(99))
			}
		})
	}
}

// benchUpstream is a cheap endpoint that still verifies the token, like
// every Parley service does.
func benchUpstream(b *testing.B, jwksURL string) *httptest.Server {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	v, err := authn.NewJWKSVerifier(ctx, jwksURL, authn.DefaultIssuer, authn.DefaultAudience)
	if err != nil {
		b.Fatal(err)
	}
	h := health.New("bench-upstream", "dev")
	eng := httpx.NewEngine(httpx.Options{
		Service: "bench-upstream", Logger: logx.New(io.Discard, "bench-upstream", "info", "json"), Registry: h.Registry,
	})
	eng.GET("/ping", authn.Require(v, httpx.Error), func(c *gin.Context) {
		id, err := authn.MustIdentity(c)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"ok": true, "user_id": id.UserID})
	})
	srv := httptest.NewServer(eng)
	b.Cleanup(srv.Close)
	return srv
}

func benchClient(workers int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns: 2 * workers, MaxIdleConnsPerHost: 2 * workers, DisableCompression: true,
	}, Timeout: 30 * time.Second}
}

type loadResult struct {
	lat     []time.Duration
	elapsed time.Duration
	cpu     time.Duration // process CPU (user+sys): client, upstream and gateway
	n       int
}

func (r *loadResult) add(o loadResult) {
	r.lat = append(r.lat, o.lat...)
	r.elapsed += o.elapsed
	r.cpu += o.cpu
	r.n += o.n
}

// cpuPerReq is the whole process's CPU per request in µs. The difference
// between the two paths is the gateway's cost, whatever else runs on the
// machine.
func (r *loadResult) cpuPerReq() float64 { return us(r.cpu) / float64(r.n) }

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (r *loadResult) rps() float64 { return float64(r.n) / r.elapsed.Seconds() }

func (r *loadResult) percentile(p int) time.Duration {
	s := slices.Clone(r.lat)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)]
}

// runLoad sends n GETs with workers concurrent clients and records each
// request's latency; every answer must be a 200.
func runLoad(b *testing.B, c *http.Client, url, tok string, n, workers int) loadResult {
	b.Helper()
	var next atomic.Int64
	lat := make([]time.Duration, n)
	var failed atomic.Value
	var wg sync.WaitGroup
	start, cpu0 := time.Now(), processCPU()
	for range workers {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				resp, err := c.Do(req)
				if err != nil {
					failed.Store(err.Error())
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[i] = time.Since(t0)
				if resp.StatusCode != http.StatusOK {
					failed.Store(fmt.Sprintf("%s answered %d", url, resp.StatusCode))
					return
				}
			}
		})
	}
	wg.Wait()
	if msg := failed.Load(); msg != nil {
		b.Fatal(msg)
	}
	return loadResult{lat: lat, elapsed: time.Since(start), cpu: processCPU() - cpu0, n: n}
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
