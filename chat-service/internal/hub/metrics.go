package hub

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// fanoutMetrics are the fan-out series beside metrics (hub.go): room
// subscriptions, deliveries, the frames one socket write carries (the
// coalescing of Options.WriteDelay) and how long an event took from its
// publish to its receipt here, split by whether it came from this replica
// (in-process) or another one (through NATS).
type fanoutMetrics struct {
	deliveries prometheus.Counter
	batch      prometheus.Histogram
	lag        *prometheus.HistogramVec
	lagLocal   prometheus.Observer
	lagRemote  prometheus.Observer
}

func newFanoutMetrics(reg *prometheus.Registry, h *Hub) fanoutMetrics {
	m := fanoutMetrics{
		deliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chat_fanout_deliveries_total",
			Help: "Room and user events handed to a WebSocket connection's queue (one per recipient connection).",
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "chat_ws_write_batch_frames",
			Help:    "Frames carried by one socket write (WS_WRITE_DELAY coalesces a busy connection's frames).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}),
		lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chat_broker_lag_seconds",
			Help:    "Time from an event's publish to its receipt by this replica's hub; path is local (this replica published it) or remote (another replica, through NATS; includes clock skew between hosts).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"path"}),
	}
	m.lagLocal = m.lag.WithLabelValues("local")
	m.lagRemote = m.lag.WithLabelValues("remote")
	if reg != nil {
		reg.MustRegister(m.deliveries, m.batch, m.lag, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "chat_ws_subscriptions",
			Help: "Room subscriptions held by this replica's connections.",
		}, func() float64 { return float64(h.subscriptions()) }))
	}
	return m
}

// received records an event's publish→receive lag.
func (h *Hub) received(env envelope) {
	if env.Published == 0 {
		return // from a replica that does not stamp yet
	}
	lag := time.Duration(h.o.Now().UnixNano() - env.Published).Seconds()
	if lag < 0 {
		lag = 0 // another host's clock ahead of ours
	}
	if env.Origin == h.o.ReplicaID {
		h.fm.lagLocal.Observe(lag)
	} else {
		h.fm.lagRemote.Observe(lag)
	}
}

// subscriptions counts the room subscriptions of every connection here.
func (h *Hub) subscriptions() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for _, set := range h.rooms {
		n += len(set)
	}
	return n
}
