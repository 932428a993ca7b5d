package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/parleychat/parley/loadtest/internal/wsload"
)

// cmdSoak runs clients that reconnect and resume (docs/PROTOCOL.md,
// Reconnecting) while senders send, for runs across replica restarts (a
// rolling restart, a deleted pod): whatever closes the sockets, it counts
// acknowledged messages some subscribed client never got, messages a
// resend stored twice, and how long each client took from the close to
// resumed. It prints one record and fails only on harness errors (setup,
// the first connect, the time bound): the caller judges lost and
// duplicates.
func cmdSoak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	c := &common{stderr: stderr, stdout: stdout}
	c.register(fs, "soak")
	w := &wsFlags{}
	w.register(fs, 200)
	fs.StringVar(&w.ws, "urls", w.ws, "the same as -ws")
	rate := fs.Float64("rate", 20, "messages per second, all senders together")
	senders := fs.Int("senders", 0, "sending clients, each a distinct user (0: one per 5 msg/s, within Parley's per-user send rate of 10/s)")
	duration := fs.Duration("duration", 30*time.Second, "sending time")
	catchUp := fs.Duration("catch-up", time.Minute, "longest wait after sending for every client to be connected and caught up")
	distinct := fs.Int("distinct-users", 0, "users the clients share, client i being user i mod N (0: one user per client); Parley allows 20 sockets per user per replica")
	handshake := fs.Duration("handshake-timeout", 30*time.Second, "longest one connection attempt (dial, auth, subscribe and replay) may take")
	maxBackoff := fs.Duration("max-backoff", 30*time.Second, "cap of the reconnect backoff")
	readIdle := fs.Duration("read-idle", time.Minute, "drop and reconnect a connection silent this long (the server pings every 25 s; a force-deleted pod may never close its sockets)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	w.protocol = wsload.Parley
	w.handshake = *handshake
	if w.remote {
		return fmt.Errorf("-remote is not a soak option: client i connects to URL i mod n")
	}
	if err := w.check(); err != nil {
		return err
	}
	if *rate <= 0 || *rate > maxRate || *duration <= 0 || *duration > maxDuration || *catchUp <= 0 || *catchUp > maxDuration {
		return fmt.Errorf("-rate must be in (0,%d], -duration and -catch-up in (0,%v]", maxRate, maxDuration)
	}
	if *handshake <= 0 || *handshake > maxDuration || *maxBackoff < time.Second || *maxBackoff > time.Minute || *readIdle < 30*time.Second || *readIdle > maxDuration {
		return fmt.Errorf("-handshake-timeout must be in (0,%v], -max-backoff in [1s,1m], -read-idle in [30s,%v]", maxDuration, maxDuration)
	}
	if *senders <= 0 {
		*senders = autoSenders(*rate, 5)
	}
	*senders = min(*senders, w.clients)
	users := w.clients
	if *distinct > 0 {
		users = min(*distinct, w.clients)
	}
	if users < *senders {
		return fmt.Errorf("-distinct-users %d is fewer than the %d senders (each sender is its own user)", users, *senders)
	}
	if per := (w.clients + users - 1) / users; per > 20 {
		c.logf("warning: %d sockets per user; a replica refuses more than 20 (4429) and the clients will retry", per)
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	members, rooms, err := population(ctx, c, w, users, *senders, c.timeout+5*time.Minute)
	if err != nil {
		return err
	}
	clients := make([]wsload.Member, w.clients)
	for i := range clients {
		clients[i] = members[i%users]
	}
	start := time.Now()
	fleet, err := wsload.ConnectResuming(ctx, wsload.Config{
		Protocol: wsload.Parley, URLs: splitList(w.ws), Members: clients, RoomIDs: rooms, Subscribe: true,
		MaxSenders: *senders, BodySize: w.body, ConnectConcurrency: w.conc, HandshakeTimeout: w.handshake,
		MaxBackoff: *maxBackoff, ReadIdle: *readIdle, Progress: c.progress,
	})
	if err != nil {
		return err
	}
	defer fleet.Close()
	c.logf("%d clients (%d users) connected in %v; sending at %.0f msg/s from %d senders for %v",
		w.clients, users, time.Since(start).Round(time.Millisecond), *rate, *senders, *duration)
	res, err := fleet.Soak(ctx, wsload.SoakPhase{Rate: *rate, Duration: *duration, Senders: *senders, CatchUp: *catchUp})
	c.logf("acked %d of %d, lost %d (%d clients), duplicates %d, resumed %d of %d reconnected (max %.0f ms, p99 %.0f ms), ack p99 %.1f ms, caught up %v, disconnects %v",
		res.Acked, res.Sent, res.Lost, res.LostClients, res.Duplicates, res.Resumed, res.Reconnected, res.ResumeMS.Max, res.ResumeMS.P99,
		res.Ack.P99, res.CaughtUp, res.Disconnects)
	clean := res.Lost == 0 && res.Duplicates == 0 && res.NotResumed == 0 && res.CaughtUp && res.Unacked == 0 && res.Refused == 0
	if emitErr := c.emit(Record{Metrics: soakMetrics(res), Clean: clean, Detail: res,
		Params: map[string]any{"clients": w.clients, "users": users, "rooms": w.rooms, "rate": *rate, "senders": *senders,
			"duration_s": duration.Seconds(), "catch_up_s": catchUp.Seconds(), "body": w.body, "ws": splitList(w.ws)}}); emitErr != nil {
		return emitErr
	}
	return err
}

// soakMetrics flattens a soak's result for the report and for callers that
// read one JSON line (deploy's cluster test).
func soakMetrics(r wsload.SoakResult) map[string]float64 {
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	disc := 0
	for _, n := range r.Disconnects {
		disc += n
	}
	m := map[string]float64{
		"clients":             float64(r.Clients),
		"senders":             float64(r.Senders),
		"sent":                float64(r.Sent),
		"acked":               float64(r.Acked),
		"unacked":             float64(r.Unacked),
		"refused":             float64(r.Refused),
		"resends":             float64(r.Resends),
		"expected":            float64(r.Expected),
		"lost":                float64(r.Lost),
		"lost_clients":        float64(r.LostClients),
		"duplicates":          float64(r.Duplicates),
		"redelivered":         float64(r.Redelivered),
		"reconnected":         float64(r.Reconnected),
		"resumed":             float64(r.Resumed),
		"not_resumed":         float64(r.NotResumed),
		"reconnects":          float64(r.Reconnects),
		"resume_p50_ms":       r.ResumeMS.P50,
		"resume_p99_ms":       r.ResumeMS.P99,
		"resume_max_ms":       r.ResumeMS.Max,
		"ack_p50_ms":          r.Ack.P50,
		"ack_p99_ms":          r.Ack.P99,
		"ack_max_ms":          r.Ack.Max,
		"ack_direct_p99_ms":   r.AckDirect.P99,
		"baseline_ack_p99_ms": r.BaselineP99,
		"caught_up":           b(r.CaughtUp),
		"catch_up_s":          round3(r.CatchUpS),
		"outages":             float64(len(r.Outages)),
		"disconnects":         float64(disc),
		"shed":                float64(r.Sheds),
		"bad_frames":          float64(r.BadFrames),
	}
	for i, o := range r.Outages {
		p := fmt.Sprintf("outage%d_", i+1)
		m[p+"at_s"] = round3(o.AtS)
		m[p+"clients"] = float64(o.Clients)
		m[p+"resumed"] = float64(o.Resumed)
		m[p+"all_resumed_s"] = round3(o.AllS)
		m[p+"max_resume_ms"] = o.MaxMS
		m[p+"other_ack_p99_ms"] = o.OtherP99MS
	}
	for reason, n := range r.Disconnects {
		m["close_"+metricName(reason)] = float64(n)
	}
	return m
}

// metricName makes a close reason ("1013 overloaded (handshake)") a metric
// name suffix ("1013_overloaded_handshake").
func metricName(s string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			under = false
		} else if !under && b.Len() > 0 {
			b.WriteByte('_')
			under = true
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}
