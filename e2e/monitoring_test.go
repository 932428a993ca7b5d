package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/parleychat/parley/platform/testkit"
)

// notExported are the names the rules and the dashboard may use that no
// Parley service exports: Prometheus's own `up`, and kube-state-metrics'
// HPA series (the HPA alert needs kube-state-metrics,
// k8s/monitoring/README.md).
var notExported = []string{
	"up",
	"kube_horizontalpodautoscaler_status_current_replicas",
	"kube_horizontalpodautoscaler_spec_max_replicas",
}

// TestMonitoring runs the five services (two chat replicas on NATS), makes
// some traffic, then checks the monitoring files against them: every metric
// named by an alert rule or a dashboard query is exported by a running
// service, and a real Prometheus, configured from k8s/monitoring's scrape
// configuration and rules, scrapes them on loopback and answers queries
// about them.
func TestMonitoring(t *testing.T) {
	promBin := needPrometheus(t, "prometheus")
	s := startReplicaStack(t)
	traffic(t, s)

	services := map[string][]string{
		"auth-service": {s.Auth.URL}, "user-service": {s.User.URL},
		"chat-service": {s.Chat.URL, s.ChatB.URL}, "api-gateway": {s.Gateway.URL}, "frontend": {s.Frontend.URL},
	}
	exported := map[string]bool{}
	for _, urls := range services {
		for _, u := range urls {
			for name := range scrapeNames(t, u+"/metrics") {
				exported[name] = true
			}
		}
	}
	for _, want := range []string{
		"http_request_duration_seconds_bucket", "parley_db_write_duration_seconds_bucket", "parley_db_writable",
		"parley_broker_connected", "chat_ws_connections", "chat_ws_subscriptions", "chat_fanout_deliveries_total",
		"chat_ws_write_batch_frames_bucket", "chat_broker_lag_seconds_bucket", "revocations_applied_total",
	} {
		if !exported[want] {
			t.Errorf("no service exports %s", want)
		}
	}

	used := usedMetricNames(t)
	if len(used) < 20 {
		t.Fatalf("found only %d metric names in the rules and dashboard: %v", len(used), used)
	}
	for _, name := range used {
		if !exported[name] && !slices.Contains(notExported, name) {
			t.Errorf("%s is used by the rules or the dashboard but no running service exports it", name)
		}
	}

	// A real Prometheus with the Kubernetes scrape configuration: its pod
	// discovery replaced by static targets that carry the labels a pod
	// would, so the relabelling under test is the committed one.
	prom := startPrometheus(t, promBin, services)
	testkit.Eventually(t, "prometheus scrapes every service", 60*time.Second, func() bool {
		up := prom.query(t, `up == 1`)
		jobs := map[string]int{}
		for _, r := range up {
			jobs[r.Metric["job"]]++
		}
		return jobs["auth-service"] == 1 && jobs["user-service"] == 1 && jobs["chat-service"] == 2 &&
			jobs["api-gateway"] == 1 && jobs["frontend"] == 1 && len(up) == 6
	})
	for _, r := range prom.query(t, `up`) {
		if r.Metric["namespace"] != "parley" || !strings.HasPrefix(r.Metric["pod"], r.Metric["job"]) {
			t.Errorf("target labels %v: want namespace parley and the pod name", r.Metric)
		}
	}
	checks := []struct {
		query string
		want  func(results []promResult) bool
	}{
		{`sum by (job) (http_request_duration_seconds_count)`, func(r []promResult) bool { return len(r) == 5 }},
		{`sum by (job) (parley_db_writable) `, func(r []promResult) bool { return len(r) == 3 && allValues(r, func(v float64) bool { return v >= 1 }) }},
		{`parley_broker_connected == 1`, func(r []promResult) bool { return len(r) == 2 }},
		{`chat_broker_lag_seconds_count{path="remote"} > 0`, func(r []promResult) bool { return len(r) >= 1 }},
		{`sum(chat_fanout_deliveries_total) > 0`, func(r []promResult) bool { return len(r) == 1 }},
	}
	for _, c := range checks {
		testkit.Eventually(t, "prometheus answers "+c.query, 30*time.Second, func() bool { return c.want(prom.query(t, c.query)) })
	}
	// The rules loaded and evaluate without error.
	var rules struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name   string `json:"name"`
					Health string `json:"health"`
					Error  string `json:"lastError"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	testkit.Eventually(t, "the alert rules evaluated", 30*time.Second, func() bool {
		prom.get(t, "/api/v1/rules", &rules)
		n := 0
		for _, g := range rules.Data.Groups {
			for _, r := range g.Rules {
				if r.Health != "ok" {
					return false
				}
				n++
			}
		}
		return n >= 6
	})
}

// traffic makes every route family the rules and dashboard look at move:
// sign-ups and logins, a room, messages fanned out to a socket on each chat
// replica (one of them through NATS), an error or two.
func traffic(t *testing.T, s *stack) {
	t.Helper()
	anon := &api{t: t, base: s.Gateway.URL}
	alice, _ := register(t, anon, "alice")
	bob, bs := register(t, anon, "bob")
	anon.do("POST", "/api/auth/login", map[string]string{"username": "alice", "password": "wrong"})
	anon.do("GET", "/api/chat/rooms", nil) // 401 at the gateway's gate
	var r room
	alice.must(201, "POST", "/api/chat/rooms", map[string]string{"name": "ops", "kind": "public"}, &r)
	rid := strconv.FormatInt(r.ID, 10)
	bob.must(200, "POST", "/api/chat/rooms/"+rid+"/join", nil, nil)
	bob.must(200, "GET", "/api/users/profiles/me", nil, nil)
	alice.do("GET", "/api/chat/rooms/999999", nil)

	onA := dialChat(t, s, bs.AccessToken)
	b := *s
	b.ChatWS = s.ChatWSB
	onB := dialChat(t, &b, bs.AccessToken)
	for _, c := range []*wsClient{onA, onB} {
		c.send(map[string]any{"type": "subscribe", "room_id": r.ID})
		c.await("subscribed")
	}
	for i := range 5 {
		alice.must(201, "POST", "/api/chat/rooms/"+rid+"/messages", map[string]string{"body": fmt.Sprintf("metric %d", i)}, nil)
		onA.awaitMessage()
		onB.awaitMessage()
	}
	if resp, err := http.Get(s.Frontend.URL + "/"); err == nil {
		resp.Body.Close()
	}
}

// scrapeNames is the set of sample names in one /metrics answer.
func scrapeNames(t *testing.T, u string) map[string]bool {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source")
	}
	return filepath.Dir(filepath.Dir(file))
}

// usedMetricNames reads every expression of the alert rules and the
// dashboard and returns the metric names they select.
func usedMetricNames(t *testing.T) []string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "k8s", "monitoring", "config")
	var exprs []string
	var rules struct {
		Groups []struct {
			Rules []struct {
				Expr string `json:"expr"`
			} `json:"rules"`
		} `json:"groups"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &rules); err != nil {
		t.Fatal(err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
		}
	}
	var dash struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	data, err = os.ReadFile(filepath.Join(dir, "parley-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	for _, p := range dash.Panels {
		for _, q := range p.Targets {
			exprs = append(exprs, q.Expr)
		}
	}
	set := map[string]bool{}
	for _, e := range exprs {
		names, err := promqlMetricNames(e)
		if err != nil {
			t.Errorf("%q: %v", e, err)
		}
		for _, n := range names {
			set[n] = true
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// promqlMetricNames returns the metric names an expression selects. It is a
// small PromQL lexer (the prometheus/prometheus module, which has the real
// parser, would raise gorilla/websocket for the whole workspace): strings,
// label matchers {…} and ranges […] are skipped; an identifier followed by
// "(" is a function or aggregation, the parenthesised list after by,
// without, on, ignoring, group_left and group_right holds labels, and the
// keywords are keywords. Anything else that is an identifier is a metric.
func promqlMetricNames(expr string) ([]string, error) {
	keywords := map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true}
	labelLists := map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}
	var names []string
	isStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isPart := func(c byte) bool { return isStart(c) || c >= '0' && c <= '9' }
	skipSpace := func(i int) int {
		for i < len(expr) && strings.ContainsRune(" \t\n\r", rune(expr[i])) {
			i++
		}
		return i
	}
	skipTo := func(i int, open, close byte) (int, error) {
		depth := 0
		for ; i < len(expr); i++ {
			switch c := expr[i]; {
			case c == '"' || c == '\'' || c == '`':
				j := strings.IndexByte(expr[i+1:], c)
				if j < 0 {
					return 0, fmt.Errorf("unterminated string at %d", i)
				}
				i += j + 1
			case c == open:
				depth++
			case c == close:
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("unbalanced %c", open)
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '{':
			j, err := skipTo(i, '{', '}')
			if err != nil {
				return nil, err
			}
			i = j
		case c == '[':
			j, err := skipTo(i, '[', ']')
			if err != nil {
				return nil, err
			}
			i = j
		case c == '"' || c == '\'' || c == '`':
			j := strings.IndexByte(expr[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			i += j + 2
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isPart(expr[i]) || expr[i] == '.') {
				i++ // a number or a duration (5m, 1e3)
			}
		case isStart(c):
			j := i
			for j < len(expr) && isPart(expr[j]) {
				j++
			}
			word := expr[i:j]
			next := skipSpace(j)
			switch {
			case labelLists[strings.ToLower(word)]:
				if next < len(expr) && expr[next] == '(' {
					k, err := skipTo(next, '(', ')')
					if err != nil {
						return nil, err
					}
					j = k
				}
			case keywords[strings.ToLower(word)]:
			case next < len(expr) && expr[next] == '(', aggregation(expr[next:]):
				// a function, or an aggregation (its by/without may come first)
			default:
				names = append(names, word)
			}
			i = j
		default:
			i++
		}
	}
	return names, nil
}

// aggregation reports whether rest starts with an aggregation's grouping
// clause: "sum by (job) (…)".
func aggregation(rest string) bool {
	for _, kw := range []string{"by", "without"} {
		if after, ok := strings.CutPrefix(strings.ToLower(rest), kw); ok {
			after = strings.TrimLeft(after, " \t\n\r")
			return strings.HasPrefix(after, "(")
		}
	}
	return false
}

func TestPromQLMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (job, le) (rate(a_bucket{route!~"/ws|{x}"}[5m])) / on (job) group_left(pod) b > 0.5`: {"a_bucket", "b"},
		`up{job=~"x"} == 0 or absent(up{job="y"})`:                                                   {"up", "up"},
		`histogram_quantile(0.99, sum by (le) (rate(c[$__rate_interval]))) and bool d offset 5m`:     {"c", "d"},
		`max without (instance) (e:rate5m) * 1e3`:                                                    {"e:rate5m"},
	} {
		got, err := promqlMetricNames(expr)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("promqlMetricNames(%q) = %v, %v; want %v", expr, got, err, want)
		}
	}
	if _, err := promqlMetricNames(`sum(rate(x{a="b}[5m]))`); err == nil {
		t.Error("an unterminated string was accepted")
	}
}

// needPrometheus finds a Prometheus tool, skipping locally and failing in
// CI when it is missing (Debian's prometheus package has both binaries).
func needPrometheus(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and %s is not installed (apt-get install prometheus)", name)
		}
		t.Skipf("skipping: %s is not installed (apt-get install prometheus; set CI=1 to make this a failure)", name)
	}
	return p
}

type promServer struct{ base string }

type promResult struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func allValues(rs []promResult, ok func(float64) bool) bool {
	for _, r := range rs {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || !ok(v) {
			return false
		}
	}
	return true
}

func (p *promServer) get(t *testing.T, path string, out any) {
	t.Helper()
	resp, err := http.Get(p.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

func (p *promServer) query(t *testing.T, q string) []promResult {
	t.Helper()
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []promResult `json:"result"`
		} `json:"data"`
	}
	p.get(t, "/api/v1/query?query="+url.QueryEscape(q), &r)
	if r.Status != "success" {
		t.Fatalf("query %s: status %s", q, r.Status)
	}
	return r.Data.Result
}

// startPrometheus runs a real Prometheus on loopback with
// k8s/monitoring/config/prometheus.yml, its kubernetes_sd_configs replaced
// by one static target per service instance labelled as a pod (plus a pod
// without the scrape annotation, which the relabelling must drop), a 1 s
// scrape interval and the committed rules.
func startPrometheus(t *testing.T, bin string, services map[string][]string) *promServer {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "k8s", "monitoring", "config")
	data, err := os.ReadFile(filepath.Join(dir, "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["global"] = map[string]any{"scrape_interval": "1s", "evaluation_interval": "1s"}
	var targets []any
	pod := func(u, app, name, scrape string) map[string]any {
		return map[string]any{
			"targets": []any{strings.TrimPrefix(u, "http://")},
			"labels": map[string]any{
				"__meta_kubernetes_pod_annotation_prometheus_io_scrape": scrape,
				"__meta_kubernetes_pod_container_port_name":             "http",
				"__meta_kubernetes_pod_label_app_kubernetes_io_name":    app,
				"__meta_kubernetes_pod_name":                            name,
				"__meta_kubernetes_namespace":                           "parley",
				"__meta_kubernetes_pod_phase":                           "Running",
			},
		}
	}
	for app, urls := range services {
		for i, u := range urls {
			targets = append(targets, pod(u, app, fmt.Sprintf("%s-%d", app, i), "true"))
		}
	}
	targets = append(targets, pod(services["frontend"][0], "not-annotated", "not-annotated-0", ""))
	var jobs []any
	for _, j := range cfg["scrape_configs"].([]any) {
		job := j.(map[string]any)
		if _, ok := job["kubernetes_sd_configs"]; !ok {
			continue // kube-state-metrics: not here
		}
		delete(job, "kubernetes_sd_configs")
		job["static_configs"] = targets
		jobs = append(jobs, job)
	}
	cfg["scrape_configs"] = jobs
	tmp := t.TempDir()
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := os.ReadFile(filepath.Join(dir, "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"prometheus.yml": out, "alerts.yml": rules} {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+filepath.Join(tmp, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(tmp, "data"), "--web.listen-address="+addr)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("prometheus log:\n%s", logs.String())
		}
	})
	p := &promServer{base: "http://" + addr}
	testkit.Eventually(t, "prometheus ready", 30*time.Second, func() bool {
		select {
		case <-exited:
			t.Fatalf("prometheus exited:\n%s", logs.String())
		default:
		}
		resp, err := http.Get(p.base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return p
}
