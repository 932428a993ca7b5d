package httpapi

import (
	"encoding/json"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// Admission defaults (WS_ADMIT_RATE, WS_ADMIT_BURST, WS_ADMIT_MAX_PENDING;
// WS_MAX_CONNS is off by default). docs/BENCHMARKS.md, "Big rooms", has the
// measurements behind them: one admission (auth, recording the user, the
// first subscribe with its presence snapshot) costs a replica about 1.7 ms
// of CPU, so 2 cores admit at most about 1,100 a second; 1,000 a second
// (burst 1,000) lets 10,000 reconnecting clients in within about ten
// seconds when the cores are free, and 512 in their auth and subscribe
// phase is half a second of that work queued — past it the replica is
// behind, and a socket told to come back in 1–5 s costs less than one
// waiting in the queue.
const (
	DefaultAdmitRate       = 1000
	DefaultAdmitBurst      = 1000
	DefaultAdmitMaxPending = 512
)

// Retry hints of a shed socket: between shedRetryMin and shedRetryMax,
// jittered, the upper end growing with how overloaded the replica is.
const (
	shedRetryMin = time.Second
	shedRetryMax = 5 * time.Second
)

// Shed reasons (the label of chat_ws_connections_shed_total).
const (
	shedFull    = "max_conns"
	shedPending = "pending"
	shedRate    = "rate"
)

// admission decides whether a new socket may start its auth and subscribe
// work. A replica in a reconnect storm admits what it can and sheds the
// rest: it accepts the WebSocket and closes it at once with 1013 and
// {"code":"overloaded","retry_after_ms":N}, so every client (a browser
// cannot read an HTTP status of a failed handshake) learns when to retry,
// and the retries of a storm spread over the next seconds instead of
// returning together.
//
// Three measures, checked in this order:
//   - maxConns (0: none): sockets open on this replica;
//   - maxPending: sockets admitted but not yet through their auth and
//     first frame after it (the subscribe) — the expensive phase, so this
//     bounds the work queued behind a slow database or a busy CPU whatever
//     the rate;
//   - a token bucket of admissions per second (rate, burst).
type admission struct {
	limiter    *rate.Limiter
	maxPending int64
	maxConns   int64
	rate       float64

	pending atomic.Int64
	open    atomic.Int64

	// sheds in the current second, to scale the retry hint.
	mu        sync.Mutex
	window    time.Time
	windowN   int
	shedCount *prometheus.CounterVec
	now       func() time.Time
}

func newAdmission(o WSOptions, reg prometheus.Registerer) *admission {
	a := &admission{
		limiter:    rate.NewLimiter(rate.Limit(o.AdmitRate), o.AdmitBurst),
		maxPending: int64(o.AdmitMaxPending),
		maxConns:   int64(o.MaxConns),
		rate:       o.AdmitRate,
		now:        time.Now,
		shedCount: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chat_ws_connections_shed_total",
			Help: "WebSockets accepted and closed at once with 1013 overloaded (reason: max_conns, pending or rate).",
		}, []string{"reason"}),
	}
	for _, r := range []string{shedFull, shedPending, shedRate} {
		a.shedCount.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(a.shedCount)
	}
	return a
}

// ticket is one admitted socket's claim on the admission counters.
type ticket struct {
	a       *admission
	pending atomic.Bool
	open    atomic.Bool
}

// admit takes a ticket, or says why not and how loaded the replica is
// (0..1, for the retry hint).
func (a *admission) admit() (*ticket, string, float64) {
	if a.maxConns > 0 && a.open.Load() >= a.maxConns {
		return nil, shedFull, 1
	}
	if p := a.pending.Add(1); p > a.maxPending {
		a.pending.Add(-1)
		return nil, shedPending, 1
	}
	if !a.limiter.Allow() {
		a.pending.Add(-1)
		return nil, shedRate, a.rateLoad()
	}
	// open may overshoot maxConns by the admissions racing this one; the
	// cap is a safety bound, not an exact count.
	a.open.Add(1)
	t := &ticket{a: a}
	t.pending.Store(true)
	t.open.Store(true)
	return t, "", 0
}

// rateLoad is the sheds of the current second over the admission rate,
// at most 1.
func (a *admission) rateLoad() float64 {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if now.Sub(a.window) >= time.Second {
		a.window, a.windowN = now, 0
	}
	a.windowN++
	return min(float64(a.windowN)/max(a.rate, 1), 1)
}

// settled ends the ticket's pending phase (idempotent).
func (t *ticket) settled() {
	if t != nil && t.pending.CompareAndSwap(true, false) {
		t.a.pending.Add(-1)
	}
}

// done returns everything the ticket holds (idempotent).
func (t *ticket) done() {
	if t == nil {
		return
	}
	t.settled()
	if t.open.CompareAndSwap(true, false) {
		t.a.open.Add(-1)
	}
}

// overloadedReason is the close reason of a shed socket.
type overloadedReason struct {
	Code         string `json:"code"`
	RetryAfterMS int64  `json:"retry_after_ms"`
}

// retryAfter jitters the hint over [min, min + span], the span growing
// with load from a quarter to all of shedRetryMax-shedRetryMin.
func retryAfter(load float64) time.Duration {
	span := float64(shedRetryMax-shedRetryMin) * (0.25 + 0.75*min(max(load, 0), 1))
	return shedRetryMin + time.Duration(rand.Float64()*span)
}

// shed closes a freshly upgraded socket with 1013 and the retry hint, then
// waits (briefly, on its own goroutine) for the client's close reply, so
// the close frame is not lost to a reset of a socket with unread input.
func (a *admission) shed(ws *websocket.Conn, reason string, load float64) {
	a.shedCount.WithLabelValues(reason).Inc()
	text, _ := json.Marshal(overloadedReason{Code: "overloaded", RetryAfterMS: retryAfter(load).Milliseconds()})
	deadline := time.Now().Add(time.Second)
	if err := ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseTryAgainLater, string(text)), deadline); err != nil {
		_ = ws.Close()
		return
	}
	go func() {
		defer ws.Close()
		_ = ws.SetReadDeadline(deadline)
		for {
			if _, _, err := ws.NextReader(); err != nil {
				return
			}
		}
	}()
}
