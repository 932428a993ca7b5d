package deploy

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// composeFile is the part of docker-compose.yml the tests check.
type composeFile struct {
	Services map[string]composeService `json:"services"`
	Volumes  map[string]any            `json:"volumes"`
}

type composeService struct {
	Image string `json:"image"`
	Build *struct {
		Context    string            `json:"context"`
		Dockerfile string            `json:"dockerfile"`
		Args       map[string]string `json:"args"`
	} `json:"build"`
	Environment map[string]string `json:"environment"`
	Ports       []string          `json:"ports"`
	Volumes     []string          `json:"volumes"`
	Profiles    []string          `json:"profiles"`
	Healthcheck *struct {
		Test []string `json:"test"`
	} `json:"healthcheck"`
	DependsOn map[string]struct {
		Condition string `json:"condition"`
	} `json:"depends_on"`
	ReadOnly bool     `json:"read_only"`
	CapDrop  []string `json:"cap_drop"`
	Command  []string `json:"command"`
}

func loadCompose(t testing.TB) *composeFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return &c
}

var interpolation = regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*)(?::?-([^}]*))?\}`)

// expandDefaults resolves ${VAR:-default} the way compose does when VAR is unset.
func expandDefaults(s string) string {
	return interpolation.ReplaceAllString(s, "$2")
}

func TestComposeFile(t *testing.T) {
	c := loadCompose(t)
	names := []string{}
	for n := range c.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"api-gateway", "auth-service", "chat-service", "chat-service-2", "frontend", "grafana", "nats", "postgres", "prometheus", "user-service"}
	if !slices.Equal(names, want) {
		t.Fatalf("compose services %v, want %v", names, want)
	}
	published := map[string]string{
		"frontend":       "${PARLEY_BIND:-0.0.0.0}:${PARLEY_FRONTEND_PORT:-8080}:8080",
		"api-gateway":    "${PARLEY_BIND:-0.0.0.0}:${PARLEY_GATEWAY_PORT:-5000}:5000",
		"chat-service":   "${PARLEY_BIND:-0.0.0.0}:${PARLEY_CHAT_PORT:-5003}:5003",
		"chat-service-2": "${PARLEY_BIND:-0.0.0.0}:${PARLEY_CHAT2_PORT:-5004}:5003",
	}
	volumes := map[string]string{"auth-service": "auth-data:/data", "user-service": "users-data:/data", "chat-service": "chat-data:/data", "chat-service-2": "chat-data:/data"}
	for _, v := range []string{"auth-data", "users-data", "chat-data"} {
		if _, ok := c.Volumes[v]; !ok {
			t.Errorf("named volume %s is not declared", v)
		}
	}
	env := func(svc string) map[string]string {
		out := map[string]string{}
		for k, v := range c.Services[svc].Environment {
			out[k] = expandDefaults(v)
		}
		return out
	}
	for _, name := range names {
		s := c.Services[name]
		if name == "nats" {
			if !slices.Equal(s.Profiles, []string{"scale"}) || !strings.HasPrefix(s.Image, "nats:") {
				t.Errorf("nats: want an official nats image in the scale profile, got %q %v", s.Image, s.Profiles)
			}
			// The alpine image's busybox wget (and the offline stand-in's) asks
			// the monitoring port the command opens.
			if s.Healthcheck == nil || !slices.Equal(s.Healthcheck.Test, natsHealthcheck) {
				t.Errorf("nats: healthcheck %v, want %v", s.Healthcheck, natsHealthcheck)
			}
			if !slices.Contains(s.Command, "--http_port") || !slices.Contains(s.Command, "8222") {
				t.Errorf("nats: command %v does not open the monitoring port 8222 the healthcheck asks", s.Command)
			}
			continue
		}
		if name == "prometheus" || name == "grafana" {
			checkMonitoringService(t, name, s)
			continue
		}
		if name == "postgres" {
			// Optional: only in its own profile, its password never committed.
			if !slices.Equal(s.Profiles, []string{"postgres"}) || !strings.HasPrefix(s.Image, "postgres:") ||
				s.Environment["POSTGRES_PASSWORD"] != "${POSTGRES_PASSWORD:-}" {
				t.Errorf("postgres: want an official postgres image in the postgres profile with the password from the environment, got %q %v", s.Image, s.Profiles)
			}
			continue
		}
		svcName := strings.TrimSuffix(name, "-2")
		spec, _ := serviceByName(svcName)
		if img := "parley/" + svcName + ":${TAG:-latest}"; s.Image != img {
			t.Errorf("%s: image %q, want %q", name, s.Image, img)
		}
		if name == svcName {
			if s.Build == nil || s.Build.Context != "." || s.Build.Dockerfile != svcName+"/Dockerfile" {
				t.Errorf("%s: build should be context . with dockerfile %s/Dockerfile", name, svcName)
			} else if s.Build.Args["GO_IMAGE"] == "" {
				t.Errorf("%s: build args should pass GO_IMAGE through", name)
			}
			if len(s.Profiles) > 0 {
				t.Errorf("%s: the five services run without a profile", name)
			}
		} else if !slices.Equal(s.Profiles, []string{"scale"}) {
			t.Errorf("%s: should be in the scale profile only", name)
		}
		if s.Healthcheck == nil || !slices.Equal(s.Healthcheck.Test, []string{"CMD", "/app", "healthcheck"}) {
			t.Errorf("%s: healthcheck should run [/app healthcheck]", name)
		}
		if !s.ReadOnly || !slices.Equal(s.CapDrop, []string{"ALL"}) {
			t.Errorf("%s: want read_only and cap_drop ALL", name)
		}
		e := env(name)
		if e["PORT"] != strconv.Itoa(spec.Port) {
			t.Errorf("%s: PORT=%q, want %d", name, e["PORT"], spec.Port)
		}
		if p := published[name]; !slices.Equal(s.Ports, nonEmpty(p)) {
			t.Errorf("%s: ports %v, want %v", name, s.Ports, nonEmpty(p))
		}
		if v := volumes[name]; !slices.Equal(s.Volumes, nonEmpty(v)) {
			t.Errorf("%s: volumes %v, want %v", name, s.Volumes, nonEmpty(v))
		}
		if spec.DB != "" && e["DATA_DIR"] != "/data" {
			t.Errorf("%s: DATA_DIR=%q, want /data", name, e["DATA_DIR"])
		}
		// Service URLs use compose service names and the design's ports.
		for _, k := range []string{"AUTH_SERVICE_URL", "USER_SERVICE_URL", "CHAT_SERVICE_URL", "JWKS_URL"} {
			v, ok := e[k]
			if !ok {
				continue
			}
			u, err := url.Parse(v)
			target, known := serviceByName(u.Hostname())
			if err != nil || !known || u.Port() != strconv.Itoa(target.Port) {
				t.Errorf("%s: %s=%q should name a compose service and its port", name, k, v)
			}
		}
		for dep, cond := range s.DependsOn {
			if _, ok := c.Services[dep]; !ok {
				t.Errorf("%s: depends on unknown service %s", name, dep)
			}
			wantCond := "service_healthy"
			if cond.Condition != wantCond {
				t.Errorf("%s: depends_on %s condition %q, want %q", name, dep, cond.Condition, wantCond)
			}
		}
	}
	// What the browser and the services are told (ARCHITECTURE.md, Contract: Deployment).
	for svc, kv := range map[string]map[string]string{
		"auth-service":   {"ADMIN_PASSWORD": "", "ALLOWED_ORIGINS": "http://localhost:8080"},
		"user-service":   {"JWKS_URL": "http://auth-service:5001/.well-known/jwks.json", "CHAT_SERVICE_URL": "http://chat-service:5003"},
		"chat-service":   {"JWKS_URL": "http://auth-service:5001/.well-known/jwks.json", "USER_SERVICE_URL": "http://user-service:5002", "ALLOWED_ORIGINS": "http://localhost:8080", "NATS_URL": ""},
		"chat-service-2": {"JWKS_URL": "http://auth-service:5001/.well-known/jwks.json", "USER_SERVICE_URL": "http://user-service:5002", "ALLOWED_ORIGINS": "http://localhost:8080", "NATS_URL": ""},
		"api-gateway": {"AUTH_SERVICE_URL": "http://auth-service:5001", "USER_SERVICE_URL": "http://user-service:5002",
			"CHAT_SERVICE_URL": "http://chat-service:5003", "ALLOWED_ORIGINS": "http://localhost:8080"},
		"frontend": {"API_BASE_URL": "http://localhost:5000", "CHAT_WS_URL": "ws://localhost:5003/ws"},
	} {
		e := env(svc)
		for k, v := range kv {
			if got, ok := e[k]; !ok || got != v {
				t.Errorf("%s: %s=%q (set: %v), want %q by default", svc, k, got, ok, v)
			}
		}
	}
	// No committed secret: the admin password only ever comes from the caller's environment.
	if raw := c.Services["auth-service"].Environment["ADMIN_PASSWORD"]; raw != "${ADMIN_PASSWORD:-}" {
		t.Errorf("auth-service: ADMIN_PASSWORD=%q; it must only pass the caller's value through", raw)
	}
	for _, s := range []string{"chat-service", "chat-service-2"} {
		if raw := c.Services[s].Environment["NATS_URL"]; raw != "${NATS_URL:-}" {
			t.Errorf("%s: NATS_URL=%q, want ${NATS_URL:-} (the scale profile is started with NATS_URL set)", s, raw)
		}
	}
}

// natsHealthcheck is the nats service's healthcheck; the offline stand-in
// (deploy/standin) provides a wget that supports exactly these arguments.
var natsHealthcheck = []string{"CMD", "wget", "-q", "--spider", "http://127.0.0.1:8222/healthz"}

// scaleEnvFile is the env file that starts the scale profile:
// `docker compose --env-file deploy/scale.env up --build -d`.
const scaleEnvFile = "deploy/scale.env"

// readEnvFile parses a compose env file (KEY=VALUE lines, # comments).
func readEnvFile(t testing.TB, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`).MatchString(k) || strings.ContainsAny(v, `"' $`) {
			t.Fatalf("%s:%d: want KEY=VALUE without quotes, spaces or $, got %q", path, i+1, line)
		}
		if _, dup := out[k]; dup {
			t.Fatalf("%s:%d: %s set twice", path, i+1, k)
		}
		out[k] = v
	}
	return out
}

// TestScaleEnvFile: the committed env file starts the scale profile with the
// broker both replicas need, and tells the browser both replicas' published
// (default) ports.
func TestScaleEnvFile(t *testing.T) {
	c := loadCompose(t)
	env := readEnvFile(t, filepath.Join(repoRoot(t), scaleEnvFile))
	keys := []string{}
	for k := range env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"CHAT_WS_URL", "COMPOSE_PROFILES", "NATS_URL"}; !slices.Equal(keys, want) {
		t.Errorf("%s sets %v, want exactly %v", scaleEnvFile, keys, want)
	}
	if env["COMPOSE_PROFILES"] != "scale" {
		t.Errorf("%s: COMPOSE_PROFILES=%q, want scale", scaleEnvFile, env["COMPOSE_PROFILES"])
	}
	// NATS_URL names the nats service and the client port its command opens.
	u, err := url.Parse(env["NATS_URL"])
	if err != nil || u.Scheme != "nats" || u.Hostname() != "nats" || !slices.Contains(c.Services["nats"].Command, u.Port()) {
		t.Errorf("%s: NATS_URL=%q should be nats://nats:<the port nats listens on, %v>", scaleEnvFile, env["NATS_URL"], c.Services["nats"].Command)
	}
	// CHAT_WS_URL lists chat-service then chat-service-2 at their default
	// published ports, on the host the default API_BASE_URL names.
	api, _ := url.Parse(expandDefaults(c.Services["frontend"].Environment["API_BASE_URL"]))
	urls := strings.Split(env["CHAT_WS_URL"], ",")
	replicas := []string{"chat-service", "chat-service-2"}
	if len(urls) != len(replicas) {
		t.Fatalf("%s: CHAT_WS_URL=%q, want one URL for each of %v", scaleEnvFile, env["CHAT_WS_URL"], replicas)
	}
	for i, svc := range replicas {
		ports := c.Services[svc].Ports
		if len(ports) != 1 {
			t.Fatalf("%s publishes %v, want one port", svc, ports)
		}
		parts := strings.Split(expandDefaults(ports[0]), ":") // bind:host:container
		want := "ws://" + api.Hostname() + ":" + parts[1] + "/ws"
		if urls[i] != want {
			t.Errorf("%s: CHAT_WS_URL entry %d is %q, want %q (%s's published port)", scaleEnvFile, i+1, urls[i], want, svc)
		}
	}
	// The file the compose header and the README tell users to pass.
	for _, doc := range []string{"docker-compose.yml", "README.md"} {
		data, err := os.ReadFile(filepath.Join(repoRoot(t), doc))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "--env-file "+scaleEnvFile+" up --build") {
			t.Errorf("%s does not show `--env-file %s up --build`", doc, scaleEnvFile)
		}
	}
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// TestComposeConfig asks the real Compose tools to parse and validate the
// file, with and without the scale profile.
func TestComposeConfig(t *testing.T) {
	root := repoRoot(t)
	tools := composeCommands()
	if len(tools) == 0 {
		missing(t, "neither `docker compose` nor `docker-compose` is installed")
	}
	for _, tool := range tools {
		for _, profile := range [][]string{nil, {"--profile", "scale"}, {"--env-file", scaleEnvFile}, {"--profile", "monitoring"}} {
			args := append(append(slices.Clone(tool[1:]), profile...), "config", "-q")
			out, err := run(t, time.Minute, root, []string{"NATS_URL=nats://nats:4222"}, tool[0], args...)
			if err != nil {
				t.Errorf("%s %s: %v\n%s", tool[0], strings.Join(args, " "), err, out)
			}
		}
	}
}

// checkMonitoringService checks the monitoring profile: official images,
// only in that profile, and mounting the one copy of the Prometheus config,
// rules and dashboard that Kubernetes uses (k8s/monitoring/config).
func checkMonitoringService(t *testing.T, name string, s composeService) {
	t.Helper()
	image := map[string]string{"prometheus": "prom/prometheus:", "grafana": "grafana/grafana:"}[name]
	if !slices.Equal(s.Profiles, []string{"monitoring"}) || !strings.HasPrefix(s.Image, image) {
		t.Errorf("%s: want an official %s image in the monitoring profile, got %q %v", name, image, s.Image, s.Profiles)
	}
	if !slices.Contains(s.Volumes, "./k8s/monitoring/config:"+map[string]string{"prometheus": "/etc/prometheus:ro", "grafana": "/etc/parley-dashboards:ro"}[name]) {
		t.Errorf("%s: volumes %v should mount ./k8s/monitoring/config read-only", name, s.Volumes)
	}
	if name == "prometheus" && !slices.Contains(s.Command, "--config.file=/etc/prometheus/prometheus-compose.yml") {
		t.Errorf("prometheus: command %v should load prometheus-compose.yml", s.Command)
	}
	if _, err := os.Stat(filepath.Join(repoRoot(t), "k8s", "monitoring", "config", "prometheus-compose.yml")); err != nil {
		t.Error(err)
	}
}
