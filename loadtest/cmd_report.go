package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/parleychat/parley/loadtest/internal/chart"
	"github.com/parleychat/parley/loadtest/internal/stats"
)

// comparison is one target of the benchmark issue: a Parley figure over
// its baseline's, both medians of the same run's repetitions.
type comparison struct {
	what         string
	scen, target string
	metric       string
	baseScen     string
	baseTarget   string
	baseMetric   string
	// atMost: the ratio must be ≤ bound (latency, memory); else ≥ bound.
	atMost bool
	bound  float64
	// absMax, when set, also bounds Parley's own figure.
	absMax  float64
	unit    string
	baseFor string
}

var comparisons = []comparison{
	{what: "fan-out: highest sustained deliveries/s (p99 < 250 ms, 1,000 clients, 1 room)",
		scen: "saturate", target: "parley", metric: "max_deliveries_per_s",
		baseScen: "saturate", baseTarget: "gorilla", baseMetric: "max_deliveries_per_s", bound: 0.7, unit: "/s", baseFor: "gorilla examples/chat"},
	{what: "fan-out: p99 latency at 200 msg/s × 1,000 clients (200k deliveries/s)",
		scen: "fanout", target: "parley", metric: "p99_ms",
		baseScen: "fanout", baseTarget: "gorilla", baseMetric: "p99_ms", atMost: true, bound: 1.5, unit: "ms", baseFor: "gorilla examples/chat"},
	{what: "fan-out across two replicas over NATS: p99 at 200k deliveries/s",
		scen: "fanout", target: "parley-nats", metric: "p99_ms",
		baseScen: "fanout", baseTarget: "parley", baseMetric: "p99_ms", atMost: true, bound: 1.2, unit: "ms", baseFor: "Parley, one replica"},
	{what: "two replicas over NATS: p99 of the recipients on the senders' replica vs one replica (context)",
		scen: "fanout", target: "parley-nats", metric: "p99_ms_ws0",
		baseScen: "fanout", baseTarget: "parley", baseMetric: "p99_ms", unit: "ms", baseFor: "Parley, one replica"},
	{what: "two replicas over NATS: p99 of the recipients on the other replica vs one replica (context)",
		scen: "fanout", target: "parley-nats", metric: "p99_ms_ws1",
		baseScen: "fanout", baseTarget: "parley", baseMetric: "p99_ms", unit: "ms", baseFor: "Parley, one replica"},
	{what: "two replicas over NATS, every receiver on the replica the senders are not on: p99 vs one replica (context)",
		scen: "fanout", target: "parley-nats-remote", metric: "p99_ms",
		baseScen: "fanout", baseTarget: "parley", baseMetric: "p99_ms", unit: "ms", baseFor: "Parley, one replica"},
	{what: "two replicas over NATS: server CPU per delivery, both replicas and nats-server, vs one replica (context)",
		scen: "fanout", target: "parley-nats", metric: "server_cpu_us_per_delivery",
		baseScen: "fanout", baseTarget: "parley", baseMetric: "server_cpu_us_per_delivery", unit: "µs", baseFor: "Parley, one replica"},
	{what: "fan-out: server CPU per delivery at 200k deliveries/s (context: independent of other load)",
		scen: "fanout", target: "parley", metric: "server_cpu_us_per_delivery",
		baseScen: "fanout", baseTarget: "gorilla", baseMetric: "server_cpu_us_per_delivery", unit: "µs", baseFor: "gorilla examples/chat"},
	{what: "fan-out with write coalescing off (WS_WRITE_DELAY=0): p99 at 200k deliveries/s (context)",
		scen: "fanout", target: "parley-wd0", metric: "p99_ms",
		baseScen: "fanout", baseTarget: "gorilla", baseMetric: "p99_ms", unit: "ms", baseFor: "gorilla examples/chat"},
	{what: "fan-out with write coalescing off (WS_WRITE_DELAY=0): highest sustained deliveries/s (context)",
		scen: "saturate", target: "parley-wd0", metric: "max_deliveries_per_s",
		baseScen: "saturate", baseTarget: "gorilla", baseMetric: "max_deliveries_per_s", unit: "/s", baseFor: "gorilla examples/chat"},
	{what: "RSS per idle authenticated connection, 1,000 connections",
		scen: "idle-1k", target: "parley", metric: "rss_per_conn_kib",
		baseScen: "idle-1k", baseTarget: "gorilla", baseMetric: "rss_per_conn_kib", atMost: true, bound: 1.5, absMax: 32, unit: "KiB", baseFor: "gorilla examples/chat"},
	{what: "RSS per idle authenticated connection, 10,000 connections",
		scen: "idle-10k", target: "parley", metric: "rss_per_conn_kib",
		baseScen: "idle-10k", baseTarget: "gorilla", baseMetric: "rss_per_conn_kib", atMost: true, bound: 1.5, absMax: 32, unit: "KiB", baseFor: "gorilla examples/chat"},
	{what: "HTTP: authenticated GET /api/auth/me through the gateway vs a bare net/http handler",
		scen: "http", target: "gateway", metric: "requests_per_s",
		baseScen: "http", baseTarget: "hello", baseMetric: "requests_per_s", bound: 0.3, unit: "req/s", baseFor: "bare net/http hello"},
	{what: "HTTP: the same GET /me straight to auth-service vs bare net/http (context)",
		scen: "http", target: "direct", metric: "requests_per_s",
		baseScen: "http", baseTarget: "hello", baseMetric: "requests_per_s", unit: "req/s", baseFor: "bare net/http hello"},
	{what: "HTTP: through the gateway vs straight to auth-service (context)",
		scen: "http", target: "gateway", metric: "requests_per_s",
		baseScen: "http", baseTarget: "direct", baseMetric: "requests_per_s", unit: "req/s", baseFor: "auth-service direct"},
	{what: "HTTP: server CPU per request, gateway + auth-service vs bare net/http (context)",
		scen: "http", target: "gateway", metric: "server_cpu_us_per_req",
		baseScen: "http", baseTarget: "hello", baseMetric: "server_cpu_us_per_req", unit: "µs", baseFor: "bare net/http hello"},
	{what: "HTTP: a bare httputil.ReverseProxy in front of the hello handler vs the hello handler (context: the floor of one proxy hop)",
		scen: "http", target: "proxy", metric: "requests_per_s",
		baseScen: "http", baseTarget: "hello", baseMetric: "requests_per_s", unit: "req/s", baseFor: "bare net/http hello"},
	{what: "HTTP: Parley's gateway in front of the hello handler vs the bare ReverseProxy in front of it (context)",
		scen: "http", target: "gateway-hello", metric: "requests_per_s",
		baseScen: "http", baseTarget: "proxy", baseMetric: "requests_per_s", unit: "req/s", baseFor: "bare ReverseProxy → hello"},
	{what: "HTTP: server CPU per request, Parley's gateway vs the bare ReverseProxy, both in front of hello (context)",
		scen: "http", target: "gateway-hello", metric: "server_cpu_us_per_req",
		baseScen: "http", baseTarget: "proxy", baseMetric: "server_cpu_us_per_req", unit: "µs", baseFor: "bare ReverseProxy → hello"},
	{what: "persistence: chat messages/s through the WebSocket send path vs raw SQLite commits/s",
		scen: "persist", target: "parley", metric: "persisted_per_s",
		baseScen: "sqlite", baseTarget: "raw", baseMetric: "commits_per_s", bound: 0.5, unit: "/s", baseFor: "raw SQLite WAL commits"},
	{what: "logins/s through the gateway vs the bcrypt bound at the same cost",
		scen: "login", target: "parley", metric: "logins_per_s",
		baseScen: "login", baseTarget: "parley", baseMetric: "bcrypt_per_s", bound: 0.9, unit: "/s", baseFor: "bcrypt compares on all cores"},
	{what: "logins by CPU time: bcrypt compare CPU over the services' CPU per login (context)",
		scen: "login", target: "parley", metric: "bcrypt_cpu_ms",
		baseScen: "login", baseTarget: "parley", baseMetric: "server_cpu_ms_per_login", unit: "ms", baseFor: "services' CPU per login"},
}

type key struct{ scen, target string }

func loadRecords(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || !strings.HasPrefix(line, "{") {
			continue
		}
		var r Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

// medians of every metric of every (scenario, target), and the values.
func medians(recs []Record) (map[key]map[string]float64, map[key]map[string][]float64) {
	vals := map[key]map[string][]float64{}
	for _, r := range recs {
		k := key{r.Scenario, r.Target}
		if vals[k] == nil {
			vals[k] = map[string][]float64{}
		}
		for m, v := range r.Metrics {
			vals[k][m] = append(vals[k][m], v)
		}
	}
	med := map[key]map[string]float64{}
	for k, ms := range vals {
		med[k] = map[string]float64{}
		for m, v := range ms {
			med[k][m] = stats.Median(v)
		}
	}
	return med, vals
}

func cmdReport(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	results := fs.String("results", "", "results file: the JSON lines of the runs (required)")
	chartPath := fs.String("chart", "", "write the p99-vs-rate PNG here")
	mdPath := fs.String("md", "", "write the markdown summary here (default: stdout)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *results == "" {
		return errors.New("-results is required")
	}
	recs, err := loadRecords(*results)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return fmt.Errorf("%s holds no records", *results)
	}
	var out io.Writer = stdout
	if *mdPath != "" {
		f, err := os.Create(*mdPath)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	writeReport(out, recs)
	if *chartPath != "" {
		if err := writeChart(*chartPath, recs); err != nil {
			return fmt.Errorf("chart: %w", err)
		}
		fmt.Fprintf(stderr, "chart written to %s\n", *chartPath)
	}
	return nil
}

func fmtNum(v float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case math.Abs(v) >= 1000:
		return commas(int64(math.Round(v)))
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func commas(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func writeReport(w io.Writer, recs []Record) {
	med, vals := medians(recs)
	get := func(scen, target, metric string) (float64, []float64) {
		k := key{scen, target}
		v, ok := med[k][metric]
		if !ok {
			return math.NaN(), nil
		}
		return v, vals[k][metric]
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range recs {
		lo, hi = math.Min(lo, r.LoadAvg[0]), math.Max(hi, r.LoadAvg[0])
	}
	fmt.Fprintf(w, "%d runs, %s to %s; 1-minute load average during the runs %.2f–%.2f on %d CPUs.\n\n",
		len(recs), recs[0].At.Format("2006-01-02 15:04"), recs[len(recs)-1].At.Format("15:04 MST"), lo, hi, recs[0].NumCPU)

	fmt.Fprintln(w, "| figure | Parley (median) | baseline (median) | ratio | target | met |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, c := range comparisons {
		v, vs := get(c.scen, c.target, c.metric)
		b, bs := get(c.baseScen, c.baseTarget, c.baseMetric)
		if math.IsNaN(v) && math.IsNaN(b) {
			continue
		}
		ratio := v / b
		target, met := "—", "—"
		if c.bound > 0 {
			op := "≥"
			if c.atMost {
				op = "≤"
			}
			target = fmt.Sprintf("%s %.2g×", op, c.bound)
			ok := ratio >= c.bound
			if c.atMost {
				ok = ratio <= c.bound
			}
			if c.absMax > 0 {
				target += fmt.Sprintf(", ≤ %g %s", c.absMax, c.unit)
				ok = ok && v <= c.absMax
			}
			met = "yes"
			if !ok {
				met = "**no**"
			}
			if math.IsNaN(ratio) {
				met = "—"
			}
		}
		fmt.Fprintf(w, "| %s | %s %s %s | %s %s %s (%s) | %s | %s | %s |\n", c.what,
			fmtNum(v), c.unit, reps(vs), fmtNum(b), c.unit, reps(bs), c.baseFor, fmtRatio(ratio), target, met)
	}

	fmt.Fprintln(w, "\nEvery run's headline figures (median, then each repetition in order):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| scenario | target | figure | median | runs |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	keys := make([]key, 0, len(med))
	for k := range med {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := strings.Compare(a.scen, b.scen); c != 0 {
			return c
		}
		return strings.Compare(a.target, b.target)
	})
	for _, k := range keys {
		for _, m := range headline(k.scen, med[k]) {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", k.scen, k.target, m, fmtNum(med[k][m]), reps(vals[k][m]))
		}
	}
	var dirty []string
	for _, r := range recs {
		if !r.Clean {
			dirty = append(dirty, fmt.Sprintf("%s/%s rep %d", r.Scenario, r.Target, r.Rep))
		}
	}
	if len(dirty) > 0 {
		fmt.Fprintf(w, "\nRuns with losses, duplicates, refusals or failed requests: %s.\n", strings.Join(dirty, ", "))
	} else {
		fmt.Fprintln(w, "\nEvery run was clean: no message lost or duplicated, no send refused, no request failed.")
	}
}

// headline picks the metrics worth a row for a scenario.
func headline(scen string, m map[string]float64) []string {
	var want []string
	switch {
	case scen == "storm":
		want = []string{"clients", "rooms", "storm_s", "subscribes_per_s", "shed", "presence_bytes_per_client", "presence_frames_per_client",
			"presence_bytes_per_client_2", "server_cpu_s", "server_rss_mib", "machine_busy"}
	case strings.HasPrefix(scen, "fanout"):
		want = []string{"deliveries_per_s", "p50_ms", "p90_ms", "p99_ms", "max_ms", "ack_p50_ms", "ack_p99_ms", "lost", "duplicates", "send_errors",
			"server_cores", "client_cores", "machine_busy", "server_cpu_us_per_delivery", "client_cpu_us_per_delivery", "server_rss_mib",
			"p50_ms_ws0", "p99_ms_ws0", "p50_ms_ws1", "p99_ms_ws1", "server_cores_pid0", "server_cores_pid1", "server_cores_pid2"}
	case scen == "saturate":
		want = []string{"max_deliveries_per_s", "max_rate", "p99_ms_at_max", "server_cores_at_max", "client_cores_at_max", "ladder_exhausted"}
	case strings.HasPrefix(scen, "idle"):
		want = []string{"clients", "rss_before_mib", "rss_after_mib", "rss_per_conn_kib", "goroutines_per_conn", "stack_per_conn_kib", "heap_per_conn_kib", "connects_per_s"}
	case scen == "http":
		want = []string{"requests_per_s", "p50_ms", "p99_ms", "server_cores", "server_cpu_us_per_req", "client_cores", "failed"}
	case scen == "history":
		want = []string{"rooms_requests_per_s", "rooms_p50_ms", "rooms_p99_ms", "history_requests_per_s", "history_p50_ms", "history_p99_ms"}
	case scen == "persist":
		want = []string{"persisted_per_s", "ack_p50_ms", "ack_p99_ms", "server_cores", "server_cpu_us_per_msg", "send_errors"}
	case scen == "rolling" || scen == "soak":
		want = []string{"clients", "acked", "lost", "duplicates", "unacked", "reconnected", "resumed", "not_resumed", "resume_p99_ms", "resume_max_ms",
			"outage1_all_resumed_s", "outage2_all_resumed_s", "outage1_other_ack_p99_ms", "outage2_other_ack_p99_ms", "baseline_ack_p99_ms",
			"ack_direct_p99_ms", "ack_p99_ms", "redelivered", "close_1012", "catch_up_s"}
	case scen == "sqlite":
		want = []string{"commits_per_s", "p50_ms", "p99_ms"}
	case scen == "login":
		want = []string{"logins_per_s", "bcrypt_per_s", "ratio", "bcrypt_cpu_ms", "server_cpu_ms_per_login", "ratio_cpu", "server_cores", "p50_ms", "p99_ms", "failed"}
	default:
		for k := range m {
			want = append(want, k)
		}
		slices.Sort(want)
	}
	var out []string
	for _, k := range want {
		if _, ok := m[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

func reps(vs []float64) string {
	if len(vs) < 2 {
		return ""
	}
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmtNum(v)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func fmtRatio(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "—"
	}
	return fmt.Sprintf("%.2f×", r)
}

// stepPoint is the part of a saturation step the chart needs.
type stepPoint struct {
	Rate             float64 `json:"offered_rate"`
	DeliveriesPerSec float64 `json:"deliveries_per_s"`
	Latency          struct {
		P99 float64 `json:"p99_ms"`
	} `json:"latency"`
}

var seriesNames = map[string]string{
	"parley":      "Parley chat-service (persists every message)",
	"gorilla":     "gorilla/websocket examples/chat (no auth, no storage)",
	"parley-nats": "Parley, two replicas over NATS",
	"parley-wd0":  "Parley with write coalescing off (WS_WRITE_DELAY=0)",
}

// writeChart plots each target's saturation steps: at every offered rate,
// the median delivery rate and median p99 over the repetitions that ran it.
func writeChart(path string, recs []Record) error {
	byTarget := map[string]map[float64][]stepPoint{}
	for _, r := range recs {
		if r.Scenario != "saturate" {
			continue
		}
		raw, err := json.Marshal(r.Detail)
		if err != nil {
			return err
		}
		var d struct {
			Steps []stepPoint `json:"steps"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			return err
		}
		if byTarget[r.Target] == nil {
			byTarget[r.Target] = map[float64][]stepPoint{}
		}
		for _, s := range d.Steps {
			byTarget[r.Target][s.Rate] = append(byTarget[r.Target][s.Rate], s)
		}
	}
	targets := make([]string, 0, len(byTarget))
	for t := range byTarget {
		targets = append(targets, t)
	}
	slices.Sort(targets)
	var series []chart.Series
	for _, t := range targets {
		name := seriesNames[t]
		if name == "" {
			name = t
		}
		s := chart.Series{Name: name}
		for _, pts := range byTarget[t] {
			var d, p []float64
			for _, pt := range pts {
				d = append(d, pt.DeliveriesPerSec)
				p = append(p, pt.Latency.P99)
			}
			s.Points = append(s.Points, chart.Point{DeliveriesPerSec: stats.Median(d), P99MS: stats.Median(p)})
		}
		series = append(series, s)
	}
	if len(series) == 0 {
		return errors.New("no saturation runs in the results")
	}
	return chart.P99VsRate(path, "1,000 WebSocket clients in one room: p99 latency vs delivery rate", 250, series)
}
