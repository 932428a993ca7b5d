package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// monitoringDir is the optional monitoring set (k8s/monitoring/README.md).
const monitoringDir = "k8s/monitoring"

// The alerts the operations design asks for (DESIGN §13); the rules may
// have more, each with its own unit test.
var requiredAlerts = []string{
	"ParleyServiceDown", "ParleyHighErrorRate", "ParleyLatencyP99High",
	"ParleyBrokerDisconnected", "ParleyDBNotWritable", "ParleyHPAAtMaximum",
}

// TestPromtool runs the real promtool on the monitoring files: check config
// on both Prometheus configurations, check rules, and the rules' unit tests.
func TestPromtool(t *testing.T) {
	promtool := needTool(t, "promtool", "Debian's prometheus package checks the monitoring config and rules")
	root := repoRoot(t)
	dir := filepath.Join(root, monitoringDir)
	for _, args := range [][]string{
		{"check", "config", "config/prometheus-compose.yml"},
		{"check", "rules", "config/alerts.yml"},
		{"test", "rules", "tests/alerts_test.yml"},
	} {
		out, err := run(t, time.Minute, dir, nil, promtool, args...)
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// The Kubernetes configuration as it is, by a promtool built with
	// Kubernetes discovery; Debian's is built without it, and then the rest
	// of the file (the relabelling, the rule file, the other jobs) is checked
	// with the discovery swapped for a static target carrying the labels a
	// pod would (e2e's monitoring test scrapes real services through it).
	out, err := run(t, time.Minute, dir, nil, promtool, "check", "config", "config/prometheus.yml")
	if err != nil && strings.Contains(out, "field kubernetes_sd_configs not found") {
		t.Logf("this promtool has no Kubernetes discovery (Debian's build); checking config/prometheus.yml with a static stand-in for it")
		tmp := t.TempDir()
		cfg := withStaticPods(t, filepath.Join(dir, "config", "prometheus.yml"))
		rules, rerr := os.ReadFile(filepath.Join(dir, "config", "alerts.yml"))
		if rerr != nil {
			t.Fatal(rerr)
		}
		for name, data := range map[string][]byte{"prometheus.yml": cfg, "alerts.yml": rules} {
			if werr := os.WriteFile(filepath.Join(tmp, name), data, 0o600); werr != nil {
				t.Fatal(werr)
			}
		}
		out, err = run(t, time.Minute, tmp, nil, promtool, "check", "config", "prometheus.yml")
	}
	if err != nil {
		t.Errorf("promtool check config config/prometheus.yml: %v\n%s", err, out)
	}
}

// withStaticPods is the Prometheus config at path with every
// kubernetes_sd_configs replaced by one static target labelled like a
// scraped pod.
func withStaticPods(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	jobs, _ := cfg["scrape_configs"].([]any)
	swapped := 0
	for _, j := range jobs {
		job, _ := j.(map[string]any)
		if _, ok := job["kubernetes_sd_configs"]; !ok {
			continue
		}
		delete(job, "kubernetes_sd_configs")
		job["static_configs"] = []any{map[string]any{
			"targets": []any{"127.0.0.1:5003"},
			"labels": map[string]any{
				"__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
				"__meta_kubernetes_pod_container_port_name":             "http",
				"__meta_kubernetes_pod_label_app_kubernetes_io_name":    "chat-service",
				"__meta_kubernetes_pod_name":                            "chat-service-0",
				"__meta_kubernetes_namespace":                           "parley",
				"__meta_kubernetes_pod_phase":                           "Running",
			},
		}}
		swapped++
	}
	if swapped == 0 {
		t.Fatalf("%s: no kubernetes_sd_configs job", path)
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// alertRules are the alert names of config/alerts.yml.
func alertRules(t *testing.T) []string {
	t.Helper()
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `json:"alert"`
				Expr  string `json:"expr"`
			} `json:"rules"`
		} `json:"groups"`
	}
	readYAML(t, filepath.Join(monitoringDir, "config", "alerts.yml"), &rules)
	var names []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				names = append(names, r.Alert)
			}
		}
	}
	return names
}

func readYAML(t *testing.T, rel string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

// TestEveryAlertHasUnitTest: each alert of the rules is expected to fire in
// at least one case of tests/alerts_test.yml (and the design's six exist).
func TestEveryAlertHasUnitTest(t *testing.T) {
	alerts := alertRules(t)
	for _, want := range requiredAlerts {
		if !slices.Contains(alerts, want) {
			t.Errorf("config/alerts.yml has no alert %s", want)
		}
	}
	var tests struct {
		RuleFiles          []string `json:"rule_files"`
		EvaluationInterval string   `json:"evaluation_interval"`
		Tests              []struct {
			Interval    string           `json:"interval"`
			InputSeries []map[string]any `json:"input_series"`
			AlertTests  []struct {
				EvalTime  string           `json:"eval_time"`
				Alertname string           `json:"alertname"`
				ExpAlerts []map[string]any `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	readYAML(t, filepath.Join(monitoringDir, "tests", "alerts_test.yml"), &tests)
	if !slices.Equal(tests.RuleFiles, []string{"../config/alerts.yml"}) {
		t.Errorf("tests/alerts_test.yml: rule_files %v, want the one rules file", tests.RuleFiles)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertTests {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	for _, a := range alerts {
		if !fires[a] || !quiet[a] {
			t.Errorf("alert %s: tests/alerts_test.yml needs a case where it fires and one where it does not yet (fires %v, quiet %v)", a, fires[a], quiet[a])
		}
	}
}

// TestMonitoringManifests builds k8s/monitoring with kubectl's kustomize
// (what `kubectl apply -k` applies) and decodes the result strictly.
func TestMonitoringManifests(t *testing.T) {
	kubectl := needTool(t, "kubectl", "k8s/monitoring is applied with kubectl apply -k")
	root := repoRoot(t)
	out, err := runEnv(t, time.Minute, root, os.Environ(), kubectl, "kustomize", monitoringDir)
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", monitoringDir, err, out)
	}
	m := &manifestSet{Dir: monitoringDir}
	m.decode(t, "kubectl kustomize "+monitoringDir, []byte(out))
	if t.Failed() {
		t.FailNow()
	}
	if len(m.Namespaces) != 0 || len(m.Secrets) != 0 || len(m.Deployments) != 1 || len(m.Roles) != 1 || len(m.RoleBindings) != 1 || len(m.ServiceAccounts) != 1 {
		t.Fatalf("want one Deployment, ServiceAccount, Role and RoleBinding and no Namespace or Secret; got %d deployments, %d roles", len(m.Deployments), len(m.Roles))
	}
	d := m.Deployments[0]
	pod := d.Spec.Template.Spec
	if d.Namespace != "parley" || pod.ServiceAccountName != "prometheus" || !strings.HasPrefix(pod.Containers[0].Image, "prom/prometheus:") {
		t.Errorf("deployment %s/%s: service account %q, image %q", d.Namespace, d.Name, pod.ServiceAccountName, pod.Containers[0].Image)
	}
	psc, sc := pod.SecurityContext, pod.Containers[0].SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil || len(sc.Capabilities.Drop) == 0 {
		t.Error("prometheus must run non-root, read-only root FS, no privilege escalation, capabilities dropped")
	}
	// Discovery may only read pods, in this namespace.
	for _, r := range m.Roles[0].Rules {
		if !slices.Equal(r.Resources, []string{"pods"}) || slices.ContainsFunc(r.Verbs, func(v string) bool { return v != "get" && v != "list" && v != "watch" }) {
			t.Errorf("role rule %+v grants more than reading pods", r)
		}
	}
	// The generated ConfigMaps hold exactly the files compose mounts.
	var cfgName string
	for _, v := range pod.Volumes {
		if v.ConfigMap != nil {
			cfgName = v.ConfigMap.Name
		}
	}
	files := map[string]string{
		"prometheus.yml":        "config/prometheus.yml",
		"alerts.yml":            "config/alerts.yml",
		"parley-dashboard.json": "config/parley-dashboard.json",
	}
	seen := 0
	for _, cm := range m.ConfigMaps {
		for key, val := range cm.Data {
			rel, ok := files[key]
			if !ok {
				t.Errorf("configmap %s: unexpected key %s", cm.Name, key)
				continue
			}
			data, err := os.ReadFile(filepath.Join(root, monitoringDir, rel))
			if err != nil {
				t.Fatal(err)
			}
			if val != string(data) {
				t.Errorf("configmap %s key %s differs from %s", cm.Name, key, rel)
			}
			seen++
		}
		if cm.Data["parley-dashboard.json"] != "" && cm.Labels["grafana_dashboard"] != "1" {
			t.Errorf("configmap %s: the dashboard needs the label grafana_dashboard=1 for Grafana's sidecar", cm.Name)
		}
		if cm.Data["prometheus.yml"] != "" && cm.Name != cfgName {
			t.Errorf("the deployment mounts configmap %q, not %s", cfgName, cm.Name)
		}
	}
	if seen != len(files) {
		t.Errorf("want the %d files in the generated configmaps, saw %d", len(files), seen)
	}
	// Every service's pods carry the annotation the scrape config keeps,
	// and a container port named http, which it scrapes.
	svc := loadManifests(t, "k8s")
	for _, name := range []string{"auth-service", "user-service", "chat-service", "api-gateway", "frontend"} {
		dep := svc.deployment(name)
		if dep == nil {
			t.Fatalf("k8s: no deployment %s", name)
		}
		if dep.Spec.Template.Annotations["prometheus.io/scrape"] != "true" {
			t.Errorf("k8s deployment %s: pods need the annotation prometheus.io/scrape: \"true\"", name)
		}
		if !slices.ContainsFunc(dep.Spec.Template.Spec.Containers[0].Ports, func(p corev1.ContainerPort) bool { return p.Name == "http" }) {
			t.Errorf("k8s deployment %s: no container port named http", name)
		}
	}
}

// TestDashboard parses the Grafana dashboard: one row per service and a
// chat fan-out row, every panel with a query on the ${datasource}. Its
// metric names are checked against running services by e2e's
// TestMonitoring.
func TestDashboard(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), monitoringDir, "config", "parley-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Type       string         `json:"type"`
			Title      string         `json:"title"`
			Datasource map[string]any `json:"datasource"`
			Targets    []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("parley-dashboard.json: %v", err)
	}
	var rows []string
	for _, p := range d.Panels {
		if p.Type == "row" {
			rows = append(rows, p.Title)
			continue
		}
		if len(p.Targets) == 0 || p.Datasource["uid"] != "${datasource}" {
			t.Errorf("panel %q: needs queries on the ${datasource} variable", p.Title)
		}
		for _, q := range p.Targets {
			if strings.TrimSpace(q.Expr) == "" {
				t.Errorf("panel %q: empty query", p.Title)
			}
		}
	}
	want := []string{"auth-service", "user-service", "chat-service", "api-gateway", "frontend", "chat fan-out"}
	if !slices.Equal(rows, want) || d.UID == "" {
		t.Errorf("dashboard rows %v (uid %q), want %v", rows, d.UID, want)
	}
}
