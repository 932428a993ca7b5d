// Package httpload is a closed-loop HTTP load generator: a fixed number of
// workers each send a request, wait for the answer and send the next, for
// a bounded time or count, and report requests per second, latency
// percentiles and failures by status.
package httpload

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/loadtest/internal/stats"
)

// Request builds one request for worker w's n-th call.
type Request func(ctx context.Context, w, n int) (*http.Request, error)

// Options bound a run.
type Options struct {
	Workers  int
	Duration time.Duration
	// MaxRequests stops early (0: no count bound).
	MaxRequests int64
	// OK says whether an answer counts as a success (default: 2xx).
	OK func(status int) bool
	// Client defaults to a keep-alive client sized for Workers.
	Client   *http.Client
	Progress func(line string)
	Label    string
}

// Result is what a run measured.
type Result struct {
	Label       string           `json:"label,omitempty"`
	Workers     int              `json:"workers"`
	Seconds     float64          `json:"seconds"`
	Requests    int64            `json:"requests"`
	OK          int64            `json:"ok"`
	Failed      int64            `json:"failed"`
	ByStatus    map[string]int64 `json:"by_status,omitempty"`
	RequestsSec float64          `json:"requests_per_s"`
	// OKSec counts only successful requests.
	OKSec   float64       `json:"ok_per_s"`
	Latency stats.Summary `json:"latency"`
	// FirstError is one failure, for the log.
	FirstError string `json:"first_error,omitempty"`

	hist *stats.Histogram
}

// Combine sums runs made one after another (rates over their total time).
func Combine(rs ...Result) Result {
	var out Result
	var h stats.Histogram
	for _, r := range rs {
		if out.Label == "" {
			out.Label = r.Label
		}
		out.Workers = max(out.Workers, r.Workers)
		out.Seconds += r.Seconds
		out.Requests += r.Requests
		out.OK += r.OK
		out.Failed += r.Failed
		for k, v := range r.ByStatus {
			if out.ByStatus == nil {
				out.ByStatus = map[string]int64{}
			}
			out.ByStatus[k] += v
		}
		if out.FirstError == "" {
			out.FirstError = r.FirstError
		}
		if r.hist != nil {
			h.Merge(r.hist)
		}
	}
	if out.Seconds > 0 {
		out.RequestsSec = float64(out.Requests) / out.Seconds
		out.OKSec = float64(out.OK) / out.Seconds
	}
	out.Latency = h.Summarize()
	out.hist = &h
	return out
}

// NewClient is a keep-alive client for n concurrent workers.
func NewClient(n int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 2 * n
	tr.MaxIdleConnsPerHost = 2 * n
	tr.DisableCompression = true
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// Run drives the load.
func Run(ctx context.Context, o Options, build Request) Result {
	o.Workers = max(o.Workers, 1)
	if o.Client == nil {
		o.Client = NewClient(o.Workers)
	}
	if o.OK == nil {
		o.OK = func(s int) bool { return s/100 == 2 }
	}
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var (
		issued, done, okN atomic.Int64
		mu                sync.Mutex
		hist              stats.Histogram
		byStatus          = map[string]int64{}
		firstErr          string
		wg                sync.WaitGroup
	)
	start := time.Now()
	stop := make(chan struct{})
	var pw sync.WaitGroup
	if o.Progress != nil {
		pw.Go(func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			last, lastT := int64(0), start
			for {
				select {
				case <-stop:
					return
				case now := <-t.C:
					n := done.Load()
					o.Progress(fmt.Sprintf("%s t=%4.1fs requests=%d (%.0f/s) ok=%d", o.Label, now.Sub(start).Seconds(), n,
						float64(n-last)/now.Sub(lastT).Seconds(), okN.Load()))
					last, lastT = n, now
				}
			}
		})
	}
	for w := range o.Workers {
		wg.Go(func() {
			var local stats.Histogram
			localStatus := map[string]int64{}
			var localErr string
			for n := 0; ctx.Err() == nil; n++ {
				if o.MaxRequests > 0 && issued.Add(1) > o.MaxRequests {
					break
				}
				req, err := build(ctx, w, n)
				if err != nil {
					localStatus["build error"]++
					localErr = err.Error()
					break
				}
				t0 := time.Now()
				resp, err := o.Client.Do(req)
				if err != nil {
					if ctx.Err() != nil {
						break // the run ended mid-request; not a failure
					}
					localStatus["transport error"]++
					if localErr == "" {
						localErr = err.Error()
					}
					done.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				local.Record(time.Since(t0))
				done.Add(1)
				if o.OK(resp.StatusCode) {
					okN.Add(1)
				} else {
					localStatus[strconv.Itoa(resp.StatusCode)]++
					if localErr == "" {
						localErr = req.Method + " " + req.URL.Path + ": " + resp.Status
					}
				}
			}
			mu.Lock()
			hist.Merge(&local)
			for k, v := range localStatus {
				byStatus[k] += v
			}
			if firstErr == "" {
				firstErr = localErr
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	close(stop)
	pw.Wait()
	secs := time.Since(start).Seconds()
	r := Result{Label: o.Label, Workers: o.Workers, Seconds: secs, Requests: done.Load(), OK: okN.Load(),
		Latency: hist.Summarize(), FirstError: firstErr, hist: &hist}
	r.Failed = r.Requests - r.OK
	r.RequestsSec = float64(r.Requests) / secs
	r.OKSec = float64(r.OK) / secs
	if len(byStatus) > 0 {
		r.ByStatus = byStatus
	}
	return r
}
