package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/parleychat/parley/loadtest/internal/proc"
	"github.com/parleychat/parley/loadtest/internal/wsload"
)

// cmdStorm is a connect storm into big rooms: N clients (all members of
// their room, as everyone is of General) connect, authenticate and
// subscribe at once. It reports the time until the last one is
// subscribed, the presence bytes every client received during the storm
// and through a settle time after it, and how many handshakes the server
// shed (1013 overloaded, retried after the hint).
func cmdStorm(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("storm", flag.ContinueOnError)
	c := &common{stderr: stderr, stdout: stdout}
	c.register(fs, "storm")
	w := &wsFlags{}
	w.register(fs, 10_000)
	settle := fs.Duration("settle", 3*time.Second, "keep counting presence bytes this long after the last subscribe")
	handshake := fs.Duration("handshake-timeout", 2*time.Minute, "longest one client's auth and subscribe may take")
	join := fs.Bool("join", true, "make every client a member of its room first (as everyone is of General)")
	conc := fs.Int("storm-conc", 1000, "handshakes in flight during the storm (-conc is for the HTTP setup)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	w.protocol = wsload.Parley
	w.handshake = *handshake
	if err := w.check(); err != nil {
		return err
	}
	if *settle < 0 || *settle > maxDuration || *handshake <= 0 || *handshake > maxDuration {
		return fmt.Errorf("-settle and -handshake-timeout must be in [0,%v]", maxDuration)
	}
	watch, err := c.watch()
	if err != nil {
		return err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	joiners := 0
	if *join {
		joiners = w.clients
	}
	members, rooms, err := population(ctx, c, w, w.clients, joiners, c.timeout+5*time.Minute)
	if err != nil {
		return err
	}
	storm := *w
	storm.conc = min(max(*conc, 1), maxConc)
	before := watch.Snapshot()
	start := time.Now()
	fleet, err := connect(ctx, c, &storm, members, rooms, 0, true)
	if err != nil {
		return err
	}
	defer fleet.Close()
	stormSecs := time.Since(start).Seconds()
	during := watch.Snapshot()
	framesStorm, bytesStorm := fleet.Presence()
	pause(ctx, *settle)
	after := watch.Snapshot()
	_, bytesAll := fleet.Presence()
	n := float64(fleet.Size())
	u := proc.Since(before, during)
	c.logf("%d clients in %d room(s) subscribed in %.2fs (%d shed and retried): presence %.0f B/client during the storm (%.1f frames), %.0f B/client with %v settle; server %.1f CPU-s, RSS %.0f MiB",
		fleet.Size(), len(rooms), stormSecs, fleet.Sheds(), float64(bytesStorm)/n, float64(framesStorm)/n, float64(bytesAll)/n, *settle,
		(during.ServerCPU - before.ServerCPU).Seconds(), float64(after.ServerRSS)/(1<<20))
	m := map[string]float64{
		"clients":                     n,
		"rooms":                       float64(len(rooms)),
		"storm_s":                     round3(stormSecs),
		"subscribes_per_s":            round3(n / stormSecs),
		"shed":                        float64(fleet.Sheds()),
		"subscribe_retries":           float64(fleet.SubscribeRetries()),
		"presence_bytes_per_client":   round3(float64(bytesStorm) / n),
		"presence_frames_per_client":  round3(float64(framesStorm) / n),
		"presence_bytes_per_client_2": round3(float64(bytesAll) / n),
		"server_cpu_s":                round3((during.ServerCPU - before.ServerCPU).Seconds()),
		"server_cores":                round3(u.ServerCores),
		"client_cores":                round3(u.ClientCores),
		"machine_busy":                round3(u.MachineBusy),
		"server_rss_mib":              round3(float64(after.ServerRSS) / (1 << 20)),
		"disconnects":                 float64(len(fleet.Disconnects())),
	}
	return c.emit(Record{Clean: fleet.Connected() == fleet.Size(), Metrics: m,
		Params: map[string]any{"protocol": w.protocol, "clients": w.clients, "rooms": w.rooms, "joined": *join,
			"storm_conc": storm.conc, "settle_s": settle.Seconds(), "ws": splitList(w.ws)}})
}
