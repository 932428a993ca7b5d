package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/loadtest/internal/parley"
	"github.com/parleychat/parley/loadtest/internal/proc"
	"github.com/parleychat/parley/loadtest/internal/wsload"
)

func numCPU() int { return runtime.NumCPU() }

// wsFlags describe a WebSocket client population.
type wsFlags struct {
	protocol string
	gateway  string
	ws       string
	users    string
	clients  int
	rooms    int
	body     int
	conc     int
	remote   bool
	// handshake bounds one client's auth and subscribe (0: 20 s).
	handshake time.Duration
}

// maxConc bounds handshakes in flight (a connect storm opens many at once).
const maxConc = 4096

func (w *wsFlags) register(fs *flag.FlagSet, clients int) {
	fs.StringVar(&w.protocol, "protocol", wsload.Parley, "parley, or gorilla for the examples/chat hub")
	fs.StringVar(&w.gateway, "gateway", "http://127.0.0.1:5000", "Parley gateway (accounts and rooms; parley only)")
	fs.StringVar(&w.ws, "ws", "ws://127.0.0.1:5003/ws", "comma list of WebSocket URLs; senders use the first, the others are spread over all")
	fs.StringVar(&w.users, "users", "", "population file to reuse and extend (default: register fresh users)")
	fs.IntVar(&w.clients, "clients", clients, "WebSocket clients")
	fs.IntVar(&w.rooms, "rooms", 1, "rooms the clients are spread over (parley)")
	fs.IntVar(&w.body, "body", 64, "message body size in bytes")
	fs.IntVar(&w.conc, "conc", 32, "handshakes and HTTP setup calls in flight")
	fs.BoolVar(&w.remote, "remote", false, "with several -ws: receivers use only the URLs after the first, so deliveries cross from the senders' replica to another")
}

func (w *wsFlags) check() error {
	if w.protocol != wsload.Parley && w.protocol != wsload.Gorilla {
		return fmt.Errorf("-protocol must be %s or %s", wsload.Parley, wsload.Gorilla)
	}
	if len(splitList(w.ws)) == 0 {
		return errors.New("-ws is required")
	}
	if w.remote && len(splitList(w.ws)) < 2 {
		return errors.New("-remote needs at least two -ws URLs")
	}
	for _, u := range splitList(w.ws) {
		if err := checkLoopbackURL(u); err != nil {
			return fmt.Errorf("-ws: %w", err)
		}
	}
	if w.protocol == wsload.Parley {
		if err := checkLoopbackURL(w.gateway); err != nil {
			return fmt.Errorf("-gateway: %w", err)
		}
	}
	if w.clients < 1 || w.clients > maxClients {
		return fmt.Errorf("-clients must be 1..%d", maxClients)
	}
	if w.rooms < 1 || w.rooms > w.clients {
		return errors.New("-rooms must be 1..clients")
	}
	if w.protocol == wsload.Gorilla && w.rooms != 1 {
		return errors.New("the gorilla hub has one room: -rooms 1")
	}
	// 512 is the gorilla example's read limit; Parley allows 4000.
	if w.body < 32 || w.body > 400 {
		return errors.New("-body must be 32..400")
	}
	w.conc = min(max(w.conc, 1), maxConc)
	return nil
}

// population makes sure n users exist (registering the missing ones) with
// tokens valid for horizon, creates the rooms and makes the first joiners
// clients members of their room (senders must be members; receivers of a
// public room need not be).
func population(ctx context.Context, c *common, w *wsFlags, n, joiners int, horizon time.Duration) ([]wsload.Member, []int64, error) {
	if w.protocol == wsload.Gorilla {
		return make([]wsload.Member, n), nil, nil
	}
	api := parley.NewAPI(w.gateway, w.conc)
	pop, err := parley.LoadPopulation(w.users)
	if err != nil {
		return nil, nil, err
	}
	start := time.Now()
	before := len(pop.Users)
	err = pop.Ensure(ctx, api, n, min(w.conc, 16), func(done, want int) {
		if done%500 == 0 || done == want {
			c.progress(fmt.Sprintf("registered %d/%d users", done, want))
		}
	})
	if err != nil {
		return nil, nil, err
	}
	if added := len(pop.Users) - before; added > 0 {
		c.logf("registered %d users in %v", added, time.Since(start).Round(time.Millisecond))
	}
	if renewed, err := pop.Refresh(ctx, api, horizon, min(w.conc, 16)); err != nil {
		return nil, nil, err
	} else if renewed > 0 {
		c.logf("logged %d users in again (tokens near expiry)", renewed)
	}
	if err := pop.Save(w.users); err != nil {
		return nil, nil, err
	}
	members := make([]wsload.Member, n)
	for i := range members {
		members[i] = wsload.Member{UserID: pop.Users[i].ID, Token: pop.Users[i].Token}
	}
	owner := pop.Users[0].Token
	run := parley.RunID()
	rooms := make([]int64, w.rooms)
	for i := range rooms {
		r, err := api.CreateRoom(ctx, owner, fmt.Sprintf("lt-%s-%d", run, i))
		if err != nil {
			return nil, nil, fmt.Errorf("create room: %w", err)
		}
		rooms[i] = r.ID
	}
	err = forEach(ctx, joiners, w.conc, func(i int) error {
		return api.JoinRoom(ctx, members[i].Token, rooms[i%len(rooms)])
	})
	if err != nil {
		return nil, nil, fmt.Errorf("join: %w", err)
	}
	return members, rooms, nil
}

// forEach runs fn(0..n-1), conc at a time, stopping at the first error.
func forEach(ctx context.Context, n, conc int, fn func(i int) error) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	jobs := make(chan int)
	for range max(conc, 1) {
		wg.Go(func() {
			for i := range jobs {
				if err := fn(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		mu.Lock()
		stop := firstErr != nil
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

func connect(ctx context.Context, c *common, w *wsFlags, members []wsload.Member, rooms []int64, senders int, subscribe bool) (*wsload.Fleet, error) {
	start := time.Now()
	f, err := wsload.Connect(ctx, wsload.Config{
		Protocol: w.protocol, URLs: splitList(w.ws), RemoteReceivers: w.remote, Members: members, RoomIDs: rooms, Subscribe: subscribe,
		MaxSenders: senders, BodySize: w.body, ConnectConcurrency: w.conc, Progress: c.progress, HandshakeTimeout: w.handshake,
	})
	if err != nil {
		return nil, err
	}
	c.logf("%d clients connected in %v", f.Size(), time.Since(start).Round(time.Millisecond))
	return f, nil
}

// phaseMetrics are the figures of one fan-out phase.
func phaseMetrics(r wsload.Result, u proc.Usage) map[string]float64 {
	disc := 0
	for _, n := range r.Disconnects {
		disc += n
	}
	perDelivery := func(cores float64) float64 {
		if r.Delivered == 0 {
			return 0
		}
		return round3(cores * u.Seconds / float64(r.Delivered) * 1e6)
	}
	m := map[string]float64{
		// CPU per delivery does not depend on how much of the machine
		// other processes took, so it compares servers on a shared box.
		"server_cpu_us_per_delivery": perDelivery(u.ServerCores),
		"client_cpu_us_per_delivery": perDelivery(u.ClientCores),
		"deliveries_per_s":           math.Round(r.DeliveriesPerSec),
		"offered_rate":               r.Rate,
		"send_rate":                  math.Round(r.SendRate*10) / 10,
		"senders":                    float64(r.Senders),
		"recipients":                 float64(r.Recipients),
		"p50_ms":                     r.Latency.P50,
		"p90_ms":                     r.Latency.P90,
		"p99_ms":                     r.Latency.P99,
		"max_ms":                     r.Latency.Max,
		"mean_ms":                    r.Latency.Mean,
		"ack_p50_ms":                 r.AckLatency.P50,
		"ack_p99_ms":                 r.AckLatency.P99,
		"sent":                       float64(r.Sent),
		"accepted":                   float64(r.Accepted),
		"expected":                   float64(r.Expected),
		"delivered":                  float64(r.Delivered),
		"lost":                       float64(r.Lost),
		"duplicates":                 float64(r.Duplicates),
		"unexpected":                 float64(r.Unexpected),
		"late":                       float64(r.Late),
		"send_errors":                float64(r.SendErrors),
		"unanswered":                 float64(r.Unanswered),
		"disconnects":                float64(disc),
		"sender_lag_ms":              r.SenderLagMaxMS,
		"server_cores":               round3(u.ServerCores),
		"client_cores":               round3(u.ClientCores),
		"machine_busy":               round3(u.MachineBusy),
		"server_rss_mib":             round3(float64(u.ServerRSS) / (1 << 20)),
	}
	// Several endpoints (replicas): latency of the recipients on each, and
	// each watched process's CPU, in -ws and -pid order.
	for i, l := range r.LatencyByURL {
		m[fmt.Sprintf("p50_ms_ws%d", i)] = l.P50
		m[fmt.Sprintf("p99_ms_ws%d", i)] = l.P99
	}
	for i, cores := range u.PerServerCores {
		m[fmt.Sprintf("server_cores_pid%d", i)] = round3(cores)
	}
	return m
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func autoSenders(rate float64, perSender float64) int {
	return max(int(math.Ceil(rate/perSender)), 1)
}

func cmdUsers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("users", flag.ContinueOnError)
	gateway := fs.String("gateway", "http://127.0.0.1:5000", "Parley gateway")
	file := fs.String("users", "", "population file (required)")
	n := fs.Int("n", 1000, "users wanted in the file")
	conc := fs.Int("conc", 16, "registrations in flight")
	horizon := fs.Duration("valid-for", 30*time.Minute, "log in again users whose token expires sooner")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("-users is required")
	}
	if err := checkLoopbackURL(*gateway); err != nil {
		return err
	}
	if *n < 1 || *n > maxClients {
		return fmt.Errorf("-n must be 1..%d", maxClients)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	c := &common{name: "users", stderr: stderr, stdout: stdout}
	w := &wsFlags{protocol: wsload.Parley, gateway: *gateway, users: *file, conc: min(max(*conc, 1), 64), rooms: 1}
	api := parley.NewAPI(w.gateway, w.conc)
	pop, err := parley.LoadPopulation(*file)
	if err != nil {
		return err
	}
	start, before := time.Now(), len(pop.Users)
	if err := pop.Ensure(ctx, api, *n, w.conc, func(done, want int) {
		if done%500 == 0 || done == want {
			c.progress(fmt.Sprintf("registered %d/%d", done, want))
		}
	}); err != nil {
		return err
	}
	if _, err := pop.Refresh(ctx, api, *horizon, w.conc); err != nil {
		return err
	}
	if err := pop.Save(*file); err != nil {
		return err
	}
	added := len(pop.Users) - before
	secs := time.Since(start).Seconds()
	c.logf("%d users in %s (%d registered in %.1fs, %.0f/s)", len(pop.Users), *file, added, secs, float64(added)/secs)
	return nil
}

func cmdFanout(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fanout", flag.ContinueOnError)
	c := &common{stderr: stderr, stdout: stdout}
	c.register(fs, "fanout")
	w := &wsFlags{}
	w.register(fs, 1000)
	rate := fs.Float64("rate", 200, "messages per second, all senders together")
	senders := fs.Int("senders", 0, "sending clients (0: one per 20 msg/s; Parley limits a connection to 50 frames/s)")
	duration := fs.Duration("duration", 15*time.Second, "measured sending time")
	warmup := fs.Duration("warmup", 3*time.Second, "unmeasured sending time first")
	drain := fs.Duration("drain", 10*time.Second, "longest wait for the last deliveries")
	settle := fs.Duration("settle", 2*time.Second, "pause after connecting (presence updates settle)")
	roomMembers := fs.Int("members", 0, "members of the (one) room, most of them offline: the first -clients connect (0: only the senders join)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if err := w.check(); err != nil {
		return err
	}
	if *roomMembers != 0 && (w.rooms != 1 || *roomMembers < w.clients || *roomMembers > maxClients || w.protocol != wsload.Parley) {
		return fmt.Errorf("-members needs -protocol parley, -rooms 1 and -clients..%d members", maxClients)
	}
	if *rate <= 0 || *rate > maxRate || *duration <= 0 || *duration > maxDuration || *warmup > maxDuration {
		return fmt.Errorf("-rate must be in (0,%d], -duration in (0,%v]", maxRate, maxDuration)
	}
	if *senders <= 0 {
		*senders = autoSenders(*rate, 20)
	}
	*senders = min(*senders, w.clients)
	watch, err := c.watch()
	if err != nil {
		return err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()

	members, rooms, err := population(ctx, c, w, max(w.clients, *roomMembers), max(*senders, *roomMembers), c.timeout+5*time.Minute)
	if err != nil {
		return err
	}
	if *roomMembers > 0 {
		c.logf("room %d has %d members, %d of them connect", rooms[0], *roomMembers, w.clients)
	}
	fleet, err := connect(ctx, c, w, members[:w.clients], rooms, *senders, true)
	if err != nil {
		return err
	}
	defer fleet.Close()
	pause(ctx, *settle)
	if *warmup > 0 {
		if _, err := fleet.Run(ctx, wsload.Phase{Rate: *rate, Duration: *warmup, Senders: *senders, Drain: *drain, Label: "warmup"}); err != nil {
			return err
		}
	}
	before := watch.Snapshot()
	res, err := fleet.Run(ctx, wsload.Phase{Rate: *rate, Duration: *duration, Senders: *senders, Drain: *drain, Label: "measure"})
	if err != nil {
		return err
	}
	usage := proc.Since(before, watch.Snapshot())
	c.logf("deliveries %.0f/s, p50 %.2f ms, p99 %.2f ms, max %.1f ms, lost %d, dup %d, send errors %d, server %.2f cores, client %.2f cores",
		res.DeliveriesPerSec, res.Latency.P50, res.Latency.P99, res.Latency.Max, res.Lost, res.Duplicates, res.SendErrors,
		usage.ServerCores, usage.ClientCores)
	if !res.Clean() {
		c.logf("NOT CLEAN: %+v", res)
	}
	return c.emit(Record{Metrics: phaseMetrics(res, usage), Clean: res.Clean(), Detail: res,
		Params: map[string]any{"protocol": w.protocol, "clients": w.clients, "rooms": w.rooms, "members": *roomMembers, "rate": *rate, "senders": *senders,
			"duration_s": duration.Seconds(), "body": w.body, "ws": splitList(w.ws), "remote": w.remote}})
}

func pause(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}

// Step is one rung of a saturation ladder.
type Step struct {
	wsload.Result
	Usage  proc.Usage `json:"usage"`
	Passed bool       `json:"passed"`
	Why    string     `json:"why,omitempty"`
}

func cmdSaturate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("saturate", flag.ContinueOnError)
	c := &common{stderr: stderr, stdout: stdout}
	c.register(fs, "saturate")
	w := &wsFlags{}
	w.register(fs, 1000)
	ratesFlag := fs.String("rates", "50,100,150,200,250,300,400,500,650,800,1000", "send rates to step through (messages/s)")
	step := fs.Duration("step", 6*time.Second, "sending time per step")
	perSender := fs.Float64("per-sender", 25, "messages/s per sending client (Parley caps a connection at 50 frames/s)")
	limit := fs.Duration("p99-limit", 250*time.Millisecond, "a step passes with p99 at or under this")
	drain := fs.Duration("drain", 8*time.Second, "longest wait for the last deliveries of a step")
	settle := fs.Duration("settle", 2*time.Second, "pause after connecting and between steps")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if err := w.check(); err != nil {
		return err
	}
	var rates []float64
	for _, s := range splitList(*ratesFlag) {
		r, err := strconv.ParseFloat(s, 64)
		if err != nil || r <= 0 || r > maxRate {
			return fmt.Errorf("-rates: bad rate %q", s)
		}
		rates = append(rates, r)
	}
	if len(rates) == 0 || *step <= 0 || *step > maxDuration || *perSender <= 0 || *perSender > 45 {
		return errors.New("need -rates, a positive -step and -per-sender ≤ 45")
	}
	maxSenders := min(autoSenders(rates[len(rates)-1], *perSender), w.clients)
	watch, err := c.watch()
	if err != nil {
		return err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	members, rooms, err := population(ctx, c, w, w.clients, maxSenders, c.timeout+5*time.Minute)
	if err != nil {
		return err
	}
	fleet, err := connect(ctx, c, w, members, rooms, maxSenders, true)
	if err != nil {
		return err
	}
	defer fleet.Close()
	pause(ctx, *settle)
	if _, err := fleet.Run(ctx, wsload.Phase{Rate: rates[0], Duration: min(2*time.Second, *step), Senders: autoSenders(rates[0], *perSender), Drain: *drain, Label: "warmup"}); err != nil {
		return err
	}
	var steps []Step
	best := -1
	for _, r := range rates {
		pause(ctx, *settle)
		before := watch.Snapshot()
		res, err := fleet.Run(ctx, wsload.Phase{Rate: r, Duration: *step, Senders: autoSenders(r, *perSender), Drain: *drain,
			Label: fmt.Sprintf("step %.0f/s", r)})
		if err != nil {
			return err
		}
		s := Step{Result: res, Usage: proc.Since(before, watch.Snapshot())}
		s.Passed, s.Why = judge(res, *limit)
		steps = append(steps, s)
		c.logf("rate %.0f/s: deliveries %.0f/s p99 %.1f ms lost %d dup %d errors %d server %.2f cores client %.2f cores: %s",
			r, res.DeliveriesPerSec, res.Latency.P99, res.Lost, res.Duplicates, res.SendErrors, s.Usage.ServerCores, s.Usage.ClientCores,
			passText(s.Passed, s.Why))
		if !s.Passed {
			break
		}
		best = len(steps) - 1
	}
	m := map[string]float64{"steps": float64(len(steps)), "p99_limit_ms": ms(*limit)}
	if best >= 0 {
		b := steps[best]
		m["max_deliveries_per_s"] = math.Round(b.DeliveriesPerSec)
		m["max_rate"] = b.Rate
		m["p99_ms_at_max"] = b.Latency.P99
		m["server_cores_at_max"] = round3(b.Usage.ServerCores)
		m["client_cores_at_max"] = round3(b.Usage.ClientCores)
	} else {
		m["max_deliveries_per_s"] = 0
	}
	if best == len(steps)-1 {
		m["ladder_exhausted"] = 1 // never failed: the true maximum is higher
	}
	clean := true
	for _, s := range steps[:best+1] {
		clean = clean && s.Clean()
	}
	return c.emit(Record{Metrics: m, Clean: clean, Detail: map[string]any{"steps": steps},
		Params: map[string]any{"protocol": w.protocol, "clients": w.clients, "rooms": w.rooms, "rates": rates, "step_s": step.Seconds(),
			"per_sender": *perSender, "p99_limit_ms": ms(*limit)}})
}

// judge decides whether a step was sustained: everything delivered exactly
// once, the offered rate actually sent, and p99 within the limit.
func judge(r wsload.Result, limit time.Duration) (bool, string) {
	switch {
	case !r.Clean():
		return false, fmt.Sprintf("not clean (lost %d, dup %d, send errors %d, disconnects %v, unanswered %d)",
			r.Lost, r.Duplicates, r.SendErrors, r.Disconnects, r.Unanswered)
	case r.DrainTimedOut:
		return false, "deliveries still arriving after the drain timeout"
	case r.SendRate < 0.95*r.Rate:
		return false, fmt.Sprintf("senders fell behind (%.0f of %.0f msg/s)", r.SendRate, r.Rate)
	case r.Latency.P99 > ms(limit):
		return false, fmt.Sprintf("p99 %.1f ms over %.0f ms", r.Latency.P99, ms(limit))
	}
	return true, ""
}

func passText(ok bool, why string) string {
	if ok {
		return "sustained"
	}
	return "FAILED: " + why
}

func cmdIdle(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	c := &common{stderr: stderr, stdout: stdout}
	c.register(fs, "idle")
	w := &wsFlags{}
	w.register(fs, 1000)
	subscribe := fs.Bool("subscribe", true, "subscribe each Parley connection to its room, as a browser does")
	settle := fs.Duration("settle", 5*time.Second, "wait after connecting before reading RSS")
	metricsURL := fs.String("metrics", "", "the server's Prometheus /metrics, to split memory into goroutine stacks and heap (Parley)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *metricsURL != "" {
		if err := checkLoopbackURL(*metricsURL); err != nil {
			return fmt.Errorf("-metrics: %w", err)
		}
	}
	roomsSet := false
	fs.Visit(func(f *flag.Flag) { roomsSet = roomsSet || f.Name == "rooms" })
	if !roomsSet && w.protocol == wsload.Parley {
		// 100 per room: one room of 10,000 would measure presence fan-out
		// during the connect storm rather than the cost of a connection.
		w.rooms = max(w.clients/100, 1)
	}
	if err := w.check(); err != nil {
		return err
	}
	watch, err := c.watch()
	if err != nil {
		return err
	}
	if len(watch.PIDs) == 0 {
		return errors.New("idle needs -pid or -port of the server to measure")
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	members, rooms, err := population(ctx, c, w, w.clients, 0, c.timeout+5*time.Minute)
	if err != nil {
		return err
	}
	gauges0, _ := scrapeGauges(ctx, *metricsURL)
	before := watch.Snapshot()
	start := time.Now()
	fleet, err := connect(ctx, c, w, members, rooms, 0, *subscribe)
	if err != nil {
		return err
	}
	defer fleet.Close()
	connectSecs := time.Since(start).Seconds()
	// Read RSS every half second while settling; report the last reading.
	deadline := time.Now().Add(*settle)
	var after proc.Snapshot
	for {
		after = watch.Snapshot()
		if !time.Now().Before(deadline) || ctx.Err() != nil {
			break
		}
		pause(ctx, 500*time.Millisecond)
	}
	connected := fleet.Connected()
	perConn := float64(after.ServerRSS-before.ServerRSS) / float64(connected)
	c.logf("%d connected: server RSS %.1f MiB -> %.1f MiB, %.1f KiB per connection", connected,
		float64(before.ServerRSS)/(1<<20), float64(after.ServerRSS)/(1<<20), perConn/1024)
	m := map[string]float64{}
	if gauges1, err := scrapeGauges(ctx, *metricsURL); err == nil && gauges0 != nil {
		per := func(name string) float64 { return (gauges1[name] - gauges0[name]) / float64(connected) }
		m["goroutines_per_conn"] = round3(per("go_goroutines"))
		m["stack_per_conn_kib"] = round3(per("go_memstats_stack_inuse_bytes") / 1024)
		m["heap_per_conn_kib"] = round3(per("go_memstats_heap_inuse_bytes") / 1024)
		c.logf("per connection: %.2f goroutines, %.1f KiB stack, %.1f KiB heap in use", m["goroutines_per_conn"], m["stack_per_conn_kib"], m["heap_per_conn_kib"])
	} else if *metricsURL != "" {
		c.logf("metrics: %v", err)
	}
	for k, v := range map[string]float64{
		"clients":               float64(connected),
		"rss_before_mib":        round3(float64(before.ServerRSS) / (1 << 20)),
		"rss_after_mib":         round3(float64(after.ServerRSS) / (1 << 20)),
		"rss_per_conn_kib":      round3(perConn / 1024),
		"connect_s":             round3(connectSecs),
		"connects_per_s":        math.Round(float64(connected) / connectSecs),
		"server_cpu_s_connects": round3((after.ServerCPU - before.ServerCPU).Seconds()),
	} {
		m[k] = v
	}
	return c.emit(Record{Clean: connected == w.clients, Metrics: m,
		Params: map[string]any{"protocol": w.protocol, "clients": w.clients, "rooms": w.rooms, "subscribe": *subscribe}})
}

// scrapeGauges reads the unlabelled samples of a Prometheus text page.
func scrapeGauges(ctx context.Context, url string) (map[string]float64, error) {
	if url == "" {
		return nil, errors.New("no metrics URL")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}

func cmdPersist(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("persist", flag.ContinueOnError)
	c := &common{stderr: stderr, stdout: stdout}
	c.register(fs, "persist")
	w := &wsFlags{}
	w.register(fs, 200)
	perSender := fs.Float64("per-sender", 40, "most messages/s one connection sends (Parley: 50 frames/s per connection)")
	duration := fs.Duration("duration", 10*time.Second, "sending time")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured sending first")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	w.protocol = wsload.Parley
	if err := w.check(); err != nil {
		return err
	}
	if *duration <= 0 || *duration > maxDuration || *perSender <= 0 || *perSender > 45 {
		return errors.New("need a positive -duration and -per-sender ≤ 45")
	}
	watch, err := c.watch()
	if err != nil {
		return err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	members, rooms, err := population(ctx, c, w, w.clients, w.clients, c.timeout+5*time.Minute)
	if err != nil {
		return err
	}
	// Senders are not subscribed: this measures the write path, not fan-out.
	fleet, err := connect(ctx, c, w, members, rooms, w.clients, false)
	if err != nil {
		return err
	}
	defer fleet.Close()
	if *warmup > 0 {
		if _, err := fleet.Run(ctx, wsload.Phase{Rate: float64(w.clients) * *perSender, Duration: *warmup, Senders: w.clients,
			ClosedLoop: true, Label: "warmup"}); err != nil {
			return err
		}
	}
	before := watch.Snapshot()
	res, err := fleet.Run(ctx, wsload.Phase{Rate: float64(w.clients) * *perSender, Duration: *duration, Senders: w.clients,
		ClosedLoop: true, Label: "persist"})
	if err != nil {
		return err
	}
	usage := proc.Since(before, watch.Snapshot())
	perSec := float64(res.Accepted) / duration.Seconds()
	c.logf("%.0f messages persisted/s (%d senders, ack p50 %.2f ms p99 %.2f ms, refused %d), server %.2f cores",
		perSec, w.clients, res.AckLatency.P50, res.AckLatency.P99, res.Refused, usage.ServerCores)
	return c.emit(Record{Clean: res.SendErrors == 0 && len(res.Disconnects) == 0, Detail: res, Metrics: map[string]float64{
		"persisted_per_s":       math.Round(perSec),
		"server_cpu_us_per_msg": math.Round(usage.ServerCores * usage.Seconds / float64(max(res.Accepted, 1)) * 1e6),
		"offered_max":           float64(w.clients) * *perSender,
		"ack_p50_ms":            res.AckLatency.P50,
		"ack_p99_ms":            res.AckLatency.P99,
		"send_errors":           float64(res.SendErrors),
		"server_cores":          round3(usage.ServerCores),
		"client_cores":          round3(usage.ClientCores),
		"machine_busy":          round3(usage.MachineBusy),
	}, Params: map[string]any{"senders": w.clients, "rooms": w.rooms, "per_sender": *perSender, "duration_s": duration.Seconds()}})
}
