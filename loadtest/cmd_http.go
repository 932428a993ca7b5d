package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/parleychat/parley/loadtest/internal/httpload"
	"github.com/parleychat/parley/loadtest/internal/parley"
	"github.com/parleychat/parley/loadtest/internal/proc"
)

// httpMetrics are the figures of one HTTP load run.
func httpMetrics(r httpload.Result, u proc.Usage) map[string]float64 {
	m := map[string]float64{
		"requests_per_s": math.Round(r.RequestsSec),
		"ok_per_s":       math.Round(r.OKSec),
		"requests":       float64(r.Requests),
		"failed":         float64(r.Failed),
		"p50_ms":         r.Latency.P50,
		"p90_ms":         r.Latency.P90,
		"p99_ms":         r.Latency.P99,
		"max_ms":         r.Latency.Max,
		"server_cores":   round3(u.ServerCores),
		"client_cores":   round3(u.ClientCores),
		"machine_busy":   round3(u.MachineBusy),
	}
	if r.Requests > 0 && u.ServerCores > 0 {
		m["server_cpu_us_per_req"] = math.Round(u.ServerCores * u.Seconds / float64(r.Requests) * 1e6)
	}
	return m
}

func cmdHTTP(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("http", flag.ContinueOnError)
	c := &common{stderr: stderr, stdout: stdout}
	c.register(fs, "http")
	target := fs.String("url", "", "URL to GET (required)")
	token := fs.String("token", "", "bearer token to send")
	users := fs.String("users", "", "population file: send its first user's token")
	gateway := fs.String("gateway", "http://127.0.0.1:5000", "gateway to refresh the token through when it is near expiry")
	workers := fs.Int("workers", 32, "concurrent closed-loop workers")
	duration := fs.Duration("duration", 10*time.Second, "how long")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured load first")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if err := checkLoopbackURL(*target); err != nil {
		return fmt.Errorf("-url: %w", err)
	}
	if *workers < 1 || *workers > maxWorkers || *duration <= 0 || *duration > maxDuration {
		return fmt.Errorf("-workers must be 1..%d and -duration in (0,%v]", maxWorkers, maxDuration)
	}
	watch, err := c.watch()
	if err != nil {
		return err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	if *users != "" {
		if err := checkLoopbackURL(*gateway); err != nil {
			return fmt.Errorf("-gateway: %w", err)
		}
		pop, err := parley.LoadPopulation(*users)
		if err != nil {
			return err
		}
		if len(pop.Users) == 0 {
			return fmt.Errorf("%s holds no users", *users)
		}
		pop.Users = pop.Users[:1]
		if _, err := pop.Refresh(ctx, parley.NewAPI(*gateway, 1), c.timeout+time.Minute, 1); err != nil {
			return err
		}
		*token = pop.Users[0].Token
	}
	build := func(ctx context.Context, _, _ int) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, *target, nil)
		if err == nil && *token != "" {
			req.Header.Set("Authorization", "Bearer "+*token)
		}
		return req, err
	}
	client := httpload.NewClient(*workers)
	if *warmup > 0 {
		httpload.Run(ctx, httpload.Options{Workers: *workers, Duration: *warmup, Client: client}, build)
	}
	before := watch.Snapshot()
	res := httpload.Run(ctx, httpload.Options{Workers: *workers, Duration: *duration, Client: client, Progress: c.progress, Label: c.target}, build)
	usage := proc.Since(before, watch.Snapshot())
	c.logf("%s: %.0f req/s (%d failed), p50 %.2f ms, p99 %.2f ms, server %.2f cores, client %.2f cores",
		*target, res.RequestsSec, res.Failed, res.Latency.P50, res.Latency.P99, usage.ServerCores, usage.ClientCores)
	if res.Failed > 0 {
		c.logf("failures: %v (first: %s)", res.ByStatus, res.FirstError)
	}
	return c.emit(Record{Clean: res.Failed == 0, Metrics: httpMetrics(res, usage), Detail: res,
		Params: map[string]any{"url": *target, "workers": *workers, "duration_s": duration.Seconds(), "authenticated": *token != ""}})
}

func cmdHistory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	c := &common{stderr: stderr, stdout: stdout}
	c.register(fs, "history")
	gateway := fs.String("gateway", "http://127.0.0.1:5000", "Parley gateway")
	users := fs.String("users", "", "population file (default: register fresh users)")
	messages := fs.Int("messages", 1000, "messages in the room paged through")
	page := fs.Int("page", 50, "messages per page")
	workers := fs.Int("workers", 16, "concurrent closed-loop workers")
	duration := fs.Duration("duration", 10*time.Second, "time per endpoint (room list, then history)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if err := checkLoopbackURL(*gateway); err != nil {
		return fmt.Errorf("-gateway: %w", err)
	}
	if *messages < 1 || *messages > 100_000 || *page < 1 || *page > 200 || *workers < 1 || *workers > maxWorkers ||
		*duration <= 0 || *duration > maxDuration {
		return errors.New("-messages 1..100000, -page 1..200, -workers 1..1024, -duration > 0")
	}
	watch, err := c.watch()
	if err != nil {
		return err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	w := &wsFlags{protocol: "parley", gateway: *gateway, users: *users, rooms: 1, conc: 16}
	// One user per worker, all members of one room.
	members, rooms, err := population(ctx, c, w, *workers, *workers, c.timeout+5*time.Minute)
	if err != nil {
		return err
	}
	room := rooms[0]
	api := parley.NewAPI(*gateway, 16)
	run := parley.RunID()
	start := time.Now()
	err = forEach(ctx, *messages, 16, func(i int) error {
		m := members[i%len(members)]
		return api.PostMessage(ctx, m.Token, room, fmt.Sprintf("history message %d of %d", i, *messages), fmt.Sprintf("h%s-%d", run, i))
	})
	if err != nil {
		return fmt.Errorf("post history: %w", err)
	}
	c.logf("posted %d messages over HTTP in %v", *messages, time.Since(start).Round(time.Millisecond))

	client := httpload.NewClient(*workers)
	get := func(ctx context.Context, w int, path string) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, *gateway+path, nil)
		if err == nil {
			req.Header.Set("Authorization", "Bearer "+members[w].Token)
		}
		return req, err
	}
	// The room list: every public room with unread counts and last message.
	before := watch.Snapshot()
	list := httpload.Run(ctx, httpload.Options{Workers: *workers, Duration: *duration, Client: client, Progress: c.progress, Label: "rooms"},
		func(ctx context.Context, w, _ int) (*http.Request, error) {
			return get(ctx, w, "/api/chat/rooms?limit=50")
		})
	listUsage := proc.Since(before, watch.Snapshot())
	// History: each worker pages from the newest message back to the first
	// (seqs are gap-free, so the cursor of page k is known), then again.
	pages := (*messages + *page - 1) / *page
	last := int64(*messages)
	before = watch.Snapshot()
	hist := httpload.Run(ctx, httpload.Options{Workers: *workers, Duration: *duration, Client: client, Progress: c.progress, Label: "history"},
		func(ctx context.Context, w, n int) (*http.Request, error) {
			k := n % pages
			path := "/api/chat/rooms/" + strconv.FormatInt(room, 10) + "/messages?limit=" + strconv.Itoa(*page)
			if k > 0 {
				path += "&before_seq=" + strconv.FormatInt(last+1-int64(k**page), 10)
			}
			return get(ctx, w, path)
		})
	histUsage := proc.Since(before, watch.Snapshot())
	c.logf("room list %.0f req/s p99 %.2f ms; history pages %.0f req/s p99 %.2f ms", list.RequestsSec, list.Latency.P99, hist.RequestsSec, hist.Latency.P99)
	m := map[string]float64{}
	for k, v := range httpMetrics(list, listUsage) {
		m["rooms_"+k] = v
	}
	for k, v := range httpMetrics(hist, histUsage) {
		m["history_"+k] = v
	}
	return c.emit(Record{Clean: list.Failed == 0 && hist.Failed == 0, Metrics: m, Detail: map[string]any{"rooms": list, "history": hist},
		Params: map[string]any{"messages": *messages, "page": *page, "workers": *workers, "duration_s": duration.Seconds()}})
}

func cmdLogin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("login", flag.ContinueOnError)
	c := &common{stderr: stderr, stdout: stdout}
	c.register(fs, "login")
	gateway := fs.String("gateway", "http://127.0.0.1:5000", "Parley gateway")
	nUsers := fs.Int("users", 16, "accounts to log in as (registered at the server's current BCRYPT_COST)")
	workers := fs.Int("workers", 8, "concurrent closed-loop login workers")
	duration := fs.Duration("duration", 10*time.Second, "login storm time, and again for the bcrypt bound")
	cost := fs.Int("cost", 10, "bcrypt cost auth-service is configured with (for the bound)")
	rounds := fs.Int("rounds", 4, "alternations of login storm and bcrypt bound")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if err := checkLoopbackURL(*gateway); err != nil {
		return fmt.Errorf("-gateway: %w", err)
	}
	if *nUsers < 1 || *nUsers > 1000 || *workers < 1 || *workers > 256 || *duration <= 0 || *duration > maxDuration ||
		*cost < bcrypt.MinCost || *cost > 16 || *rounds < 1 || *rounds > 100 {
		return errors.New("-users 1..1000, -workers 1..256, -duration > 0, -cost 4..16, -rounds 1..100")
	}
	watch, err := c.watch()
	if err != nil {
		return err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	api := parley.NewAPI(*gateway, *workers)
	pop := &parley.Population{}
	start := time.Now()
	if err := pop.Ensure(ctx, api, *nUsers, min(*workers, 4), nil); err != nil {
		return err
	}
	c.logf("registered %d users in %v", *nUsers, time.Since(start).Round(time.Millisecond))

	bodies := make([][]byte, len(pop.Users))
	for i, u := range pop.Users {
		bodies[i] = fmt.Appendf(nil, `{"username":%q,"password":%q}`, u.Username, u.Password)
	}
	build := func(ctx context.Context, w, n int) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, *gateway+"/api/auth/login", bytes.NewReader(bodies[(w+n**workers)%len(bodies)]))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, err
	}
	client := httpload.NewClient(*workers)
	httpload.Run(ctx, httpload.Options{Workers: *workers, Duration: min(time.Second, *duration/4), Client: client}, build)
	// Storm and bound alternate in short slices, so load from anything
	// else on the machine weighs on both alike.
	hash, err := bcrypt.GenerateFromPassword([]byte("bound-password"), *cost)
	if err != nil {
		return err
	}
	slice := *duration / time.Duration(*rounds)
	var (
		storm            []httpload.Result
		stormCPU         time.Duration
		stormWall        time.Duration
		compares         int64
		boundCPU, boundT time.Duration
	)
	for i := range *rounds {
		before := watch.Snapshot()
		storm = append(storm, httpload.Run(ctx, httpload.Options{Workers: *workers, Duration: slice, Client: client, Label: "logins"}, build))
		after := watch.Snapshot()
		stormCPU += after.ServerCPU - before.ServerCPU
		stormWall += after.At.Sub(before.At)
		n, cpu, took := bcryptBound(ctx, hash, slice)
		compares += n
		boundCPU += cpu
		boundT += took
		c.progress(fmt.Sprintf("round %d/%d: %d logins, %d compares", i+1, *rounds, storm[len(storm)-1].OK, n))
	}
	res := httpload.Combine(storm...)
	if res.Failed > 0 {
		c.logf("failures: %v (first: %s)", res.ByStatus, res.FirstError)
	}
	usage := proc.Usage{Seconds: stormWall.Seconds()}
	if stormWall > 0 {
		usage.ServerCores = stormCPU.Seconds() / stormWall.Seconds()
	}
	bound := float64(compares) / boundT.Seconds()
	cpuPerOp := boundCPU.Seconds() * 1e3 / float64(max(compares, 1))
	ratio := res.OKSec / bound
	m := httpMetrics(res, usage)
	m["logins_per_s"] = round3(res.OKSec)
	m["bcrypt_per_s"] = round3(bound)
	m["bcrypt_cpu_ms"] = round3(cpuPerOp)
	m["ratio"] = round3(ratio)
	if res.OK > 0 && stormCPU > 0 {
		perLogin := stormCPU.Seconds() * 1e3 / float64(res.OK)
		m["server_cpu_ms_per_login"] = round3(perLogin)
		// By CPU time: what a compare costs over what a login costs the
		// services (auth-service and the gateway), immune to how much of
		// the machine other processes took.
		m["ratio_cpu"] = round3(cpuPerOp / perLogin)
	}
	c.logf("logins %.2f/s (p50 %.0f ms, p99 %.0f ms, services %.2f cores, %.1f ms CPU each) vs bcrypt bound %.2f/s at cost %d (%.1f ms CPU each): %.2f (by CPU %.2f)",
		res.OKSec, res.Latency.P50, res.Latency.P99, usage.ServerCores, m["server_cpu_ms_per_login"], bound, *cost, cpuPerOp, ratio, m["ratio_cpu"])
	return c.emit(Record{Clean: res.Failed == 0, Metrics: m, Detail: res,
		Params: map[string]any{"users": *nUsers, "workers": *workers, "cost": *cost, "duration_s": duration.Seconds()}})
}

// bcryptBound runs bcrypt compares on every core for d: how many, the CPU
// they took and the wall time.
func bcryptBound(ctx context.Context, hash []byte, d time.Duration) (n int64, cpu, took time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var count atomic.Int64
	var wg sync.WaitGroup
	cpu0, t0 := proc.SelfCPU(), time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for ctx.Err() == nil {
				_ = bcrypt.CompareHashAndPassword(hash, []byte("bound-password"))
				count.Add(1)
			}
		})
	}
	wg.Wait()
	return count.Load(), proc.SelfCPU() - cpu0, time.Since(t0)
}
