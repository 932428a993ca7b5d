package hub

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Rebalancing (ARCHITECTURE.md, Connection balance). A WebSocket stays on
// the replica that accepted it, so replicas added by a scale-out take only
// new sockets. Every replica piggybacks its socket count on its presence
// heartbeat; every RebalanceInterval a replica holding more than
// (1+RebalanceSlack) × the mean over the live replicas, and more than
// RebalanceMin, closes a random share of its excess with 1012 and
// {"code":"rebalance","retry_after_ms":N}; the clients resume elsewhere
// with after_seq, so nothing is lost, and the Service spreads them.
//
// It never oscillates: a replica acts only above the slack band and sheds
// down to the mean, never below it (the gap is the hysteresis); at most
// RebalanceShare of its sockets go per round; and after a round it waits
// until every peer has announced a count taken after the moved sockets
// could have landed (the longest retry hint), so it never acts twice on
// the same stale picture. A replica that knows no live peer never acts.

// Rebalance defaults.
const (
	DefaultRebalanceInterval = 10 * time.Second
	DefaultRebalanceSlack    = 0.2
	DefaultRebalanceMin      = 50
	DefaultRebalanceShare    = 0.1
	DefaultRebalanceRetryMax = 5 * time.Second
)

// rebalanceReason is the close reason of a socket asked to move.
type rebalanceReason struct {
	Code         string `json:"code"`
	RetryAfterMS int64  `json:"retry_after_ms"`
}

// RebalanceShed is how many sockets a replica holding own, whose live
// peers hold peers, asks to move this round: 0 when it is alone, holds at
// most minConns, or is within (1+slack) × the mean; otherwise its excess
// over the mean (rounded up), at most share of own (at least one). The
// mean counts at least floor sockets in all: sockets asked to move in the
// last round and not yet counted anywhere are still somebody's, and
// leaving them out would lower the mean and move too many.
func RebalanceShed(own int, peers []int, floor int, slack float64, minConns int, share float64) int {
	if len(peers) == 0 || own <= minConns {
		return 0
	}
	total := own
	for _, n := range peers {
		total += n
	}
	total = max(total, floor)
	mean := float64(total) / float64(len(peers)+1)
	if float64(own) <= (1+slack)*mean {
		return 0
	}
	excess := own - int(math.Ceil(mean))
	limit := max(1, int(share*float64(own)))
	return max(0, min(excess, limit))
}

type rebalanceMetrics struct {
	moved  prometheus.Counter
	rounds prometheus.Counter
}

func newRebalanceMetrics(reg *prometheus.Registry, h *Hub) rebalanceMetrics {
	m := rebalanceMetrics{
		moved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chat_ws_rebalanced_total",
			Help: "Sockets closed with 1012 rebalance so that they reconnect to a less loaded replica.",
		}),
		rounds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chat_ws_rebalance_rounds_total",
			Help: "Rebalance checks run (one per WS_REBALANCE_INTERVAL while enabled).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.moved, m.rounds,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "chat_ws_cluster_connections",
				Help: "WebSockets open on the live replicas this one knows (itself included), from their presence heartbeats.",
			}, func() float64 { n, _ := h.clusterConns(); return float64(n) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "chat_ws_cluster_replicas",
				Help: "Live replicas this one knows a socket count for (itself included).",
			}, func() float64 { _, r := h.clusterConns(); return float64(r) }))
	}
	return m
}

// clusterConns sums the socket counts of this replica and its live peers.
func (h *Hub) clusterConns() (conns, replicas int) {
	peers, _ := h.presence.peerConns(time.Time{})
	conns = h.Conns()
	for _, n := range peers {
		conns += n
	}
	return conns, len(peers) + 1
}

// rebalanceLoop runs a rebalance round every RebalanceInterval.
func (h *Hub) rebalanceLoop(ctx context.Context) {
	t := time.NewTicker(h.o.RebalanceInterval)
	defer t.Stop()
	var (
		settle time.Time // no round before every peer counted after this
		// floor is the most sockets seen in all since moves began: until
		// the total is back to it (or a few quiet rounds pass: people do
		// leave), some of the moved sockets are still on their way.
		floor int
		quiet int
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.rm.rounds.Inc()
		peers, fresh := h.presence.peerConns(settle)
		if !fresh {
			continue
		}
		moved, total := h.rebalance(peers, floor)
		if moved > 0 {
			settle = h.o.Now().Add(h.o.RebalanceRetryMax)
			floor, quiet = max(floor, total), 0
		} else if quiet++; quiet >= 3 || total >= floor {
			floor = 0
		}
	}
}

// rebalance runs one round against the live peers' counts and returns how
// many sockets it asked to move and the cluster's total it saw.
func (h *Hub) rebalance(peers []int, floor int) (moved, total int) {
	now := h.clock()
	minAge := int64(h.o.RebalanceInterval)
	h.mu.RLock()
	// Sockets already closing (moved last round, perhaps, and still in
	// their close handshake) are neither counted nor picked again.
	own := 0
	pick := make([]*Conn, 0, len(h.conns))
	for c := range h.conns {
		c.mu.Lock()
		closing := c.closing
		c.mu.Unlock()
		if closing {
			continue
		}
		own++
		// Authenticated sockets open for at least a round: one that just
		// arrived (perhaps moved here) is not bounced again.
		if c.userID != 0 && now-c.opened >= minAge {
			pick = append(pick, c)
		}
	}
	h.mu.RUnlock()
	total = own
	for _, n := range peers {
		total += n
	}
	k := RebalanceShed(own, peers, floor, h.o.RebalanceSlack, h.o.RebalanceMin, h.o.RebalanceShare)
	if k == 0 || len(pick) == 0 {
		return 0, total
	}
	k = min(k, len(pick))
	for i := range k {
		j := i + rand.IntN(len(pick)-i)
		pick[i], pick[j] = pick[j], pick[i]
	}
	window := h.o.RebalanceRetryMax.Milliseconds()
	for _, c := range pick[:k] {
		text, _ := json.Marshal(rebalanceReason{Code: "rebalance", RetryAfterMS: rand.Int64N(window + 1)})
		c.CloseWith(CloseServiceRestart, string(text))
	}
	h.rm.moved.Add(float64(k))
	h.o.Logger.Info("rebalance: asked sockets to reconnect elsewhere", "moved", k, "conns", own, "peers", len(peers))
	return k, total
}
