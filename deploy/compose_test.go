package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/deploy/standin"
)

// The compose end-to-end test is the README's path from a clean Docker state:
// it removes this test's images, the offline base-image stand-ins and the
// build cache, runs scripts/offline-images.sh (the same code a user runs
// without a registry), then `up --build` through the Compose tool builds
// every image with the real Dockerfiles and starts docker-compose.yml. It
// drives Parley through the published ports the way a browser would:
// register, create a room, send a message over the WebSocket, read the
// history. Then it restarts everything and checks the data survived, and
// starts the scale profile with its env file (deploy/scale.env: NATS + a
// second chat replica) and checks a message crosses replicas. build-all.sh
// then rebuilds the same images from the build cache and must produce the
// very images compose built.
//
// It needs Docker and a Compose tool; without them it skips locally and fails
// with CI set. PARLEY_COMPOSE overrides the Compose command (e.g.
// "docker compose" or "docker-compose"). Cold, it takes ~15 minutes on 2
// cores: run it with -timeout 40m or more.

const (
	e2eTag = "e2e-test" // image tag; compose reads it as ${TAG}
	// The images are a static binary on scratch. OpenTelemetry's SDK and
	// OTLP exporter (issue 18) added about 7 MB to each Go service (auth
	// 36.4 MB, chat 38.9 MB in CI); the budget stays a guard against an
	// accidental base image or debug build, which would be far larger.
	maxImageMB = 45
)

// stack is where a running Parley answers: the browser's origin and the
// published URLs. The compose and the cluster tests each have their own.
type stack struct {
	origin  string // the app's origin as a browser sends it (ALLOWED_ORIGINS)
	front   string // the frontend, http://127.0.0.1:PORT
	gateway string // the API gateway
	chat    string // chat-service over HTTP (compose only)
	chat2   string // the second chat replica (compose's scale profile)
	chatWS  string // chat's WebSocket
	chat2WS string
}

// pickPorts chooses four free loopback ports and returns the compose
// environment that publishes on them. Ports are picked free for each run
// (other stacks may hold 8080/500x on a shared machine) and handed to
// compose with the PARLEY_*_PORT variables; the browser-facing settings
// follow them exactly as a user remapping ports would set them. Only
// loopback is published.
func pickPorts(t *testing.T) (*stack, []string) {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range 4 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	front, gw, chat, chat2 := ports[0], ports[1], ports[2], ports[3]
	st := &stack{
		origin:  fmt.Sprintf("http://localhost:%d", front),
		front:   fmt.Sprintf("http://127.0.0.1:%d", front),
		gateway: fmt.Sprintf("http://127.0.0.1:%d", gw),
		chat:    fmt.Sprintf("http://127.0.0.1:%d", chat),
		chat2:   fmt.Sprintf("http://127.0.0.1:%d", chat2),
		chatWS:  fmt.Sprintf("ws://127.0.0.1:%d/ws", chat),
		chat2WS: fmt.Sprintf("ws://127.0.0.1:%d/ws", chat2),
	}
	t.Logf("published ports: app %d, gateway %d, chat %d, chat-2 %d", front, gw, chat, chat2)
	return st, []string{
		"PARLEY_BIND=127.0.0.1",
		fmt.Sprintf("PARLEY_FRONTEND_PORT=%d", front),
		fmt.Sprintf("PARLEY_GATEWAY_PORT=%d", gw),
		fmt.Sprintf("PARLEY_CHAT_PORT=%d", chat),
		fmt.Sprintf("PARLEY_CHAT2_PORT=%d", chat2),
		"ALLOWED_ORIGINS=" + st.origin,
		fmt.Sprintf("API_BASE_URL=http://localhost:%d", gw),
	}
}

// browserWS is what the browser is told for a chat WebSocket URL.
func browserWS(ws string) string { return strings.Replace(ws, "127.0.0.1", "localhost", 1) }

// composeControlled are the variables the compose file or the env file
// decide: never taken from the environment the test runs in.
var composeControlled = []string{"COMPOSE_PROFILES", "COMPOSE_FILE", "NATS_URL", "CHAT_WS_URL", "TAG", "VERSION", "GO_IMAGE", "ADMIN_PASSWORD"}

type composeRun struct {
	t       *testing.T
	root    string
	cmd     []string // e.g. [docker-compose] or [docker compose]
	opts    []string // global options, e.g. --env-file
	project string
	env     []string
}

func (c *composeRun) run(timeout time.Duration, args ...string) (string, error) {
	c.t.Helper()
	full := append(append(append(append([]string{}, c.cmd[1:]...), c.opts...), "-p", c.project), args...)
	var env []string
	for _, kv := range os.Environ() {
		if !slices.Contains(composeControlled, strings.SplitN(kv, "=", 2)[0]) {
			env = append(env, kv)
		}
	}
	return runEnv(c.t, timeout, c.root, append(env, c.env...), c.cmd[0], full...)
}

func (c *composeRun) must(timeout time.Duration, args ...string) string {
	c.t.Helper()
	out, err := c.run(timeout, args...)
	if err != nil {
		c.t.Fatalf("compose %s: %v\n%s", strings.Join(args, " "), err, tail(out, 60))
	}
	return out
}

// down stops and removes the project. Docker sometimes still counts a
// just-removed container's endpoint on the project network ("error while
// removing network: ... has active endpoints", a daemon-side race seen in
// CI with every container already gone); the containers are gone then, so
// down is run again until the network goes too, within the timeout.
func (c *composeRun) down(timeout time.Duration, args ...string) (string, error) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := c.run(time.Until(deadline), append([]string{"down"}, args...)...)
		if err == nil || !strings.Contains(out, "has active endpoints") || time.Now().After(deadline) {
			return out, err
		}
		c.t.Logf("compose down: the network still had an endpoint; again")
	}
}

// logs is what to show when something went wrong.
func (c *composeRun) logs() string {
	out, _ := c.run(2*time.Minute, "logs", "--no-color", "--tail", "40")
	return tail(out, 200)
}

// cleanDocker removes what an earlier run left: this test's images, our
// base-image stand-ins with the build stages made from them (they carry the
// stand-in label), and the build cache. Real base images are kept.
func cleanDocker(t *testing.T) {
	t.Helper()
	b := &standin.Builder{Root: repoRoot(t), Log: t}
	goImage, natsImage, err := b.Images()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range services {
		_, _ = run(t, time.Minute, "", nil, "docker", "image", "rm", "-f", "parley/"+s.Name+":"+e2eTag)
	}
	for _, ref := range []string{goImage, natsImage} {
		if label, exists := standin.ImageLabel(context.Background(), ref, standin.Label); exists && label != "" {
			if out, err := run(t, time.Minute, "", nil, "docker", "image", "rm", "-f", ref); err != nil {
				t.Fatalf("removing the stand-in %s: %v\n%s", ref, err, out)
			}
		}
	}
	for range 2 { // a parent becomes unused only once its children are gone
		_, _ = run(t, 5*time.Minute, "", nil, "docker", "image", "prune", "-af", "--filter", "label="+standin.Label)
	}
	if out, err := run(t, 5*time.Minute, "", nil, "docker", "builder", "prune", "-af"); err != nil {
		t.Logf("docker builder prune: %v\n%s", err, tail(out, 5))
	}
	for _, ref := range []string{goImage, natsImage} {
		if label, exists := standin.ImageLabel(context.Background(), ref, standin.Label); exists && label != "" {
			t.Fatalf("the stand-in %s survived the clean-up", ref)
		}
	}
}

func TestCompose(t *testing.T) {
	// Beside TestCluster, which waits for the images built here.
	t.Parallel()
	defer imagesBuilt(errNoImages) // a no-op once the images are announced
	needTool(t, "docker", "the compose end-to-end test builds and runs the images")
	if out, err := run(t, 30*time.Second, "", nil, "docker", "info"); err != nil {
		missing(t, "the Docker daemon is not reachable: %v\n%s", err, tail(out, 5))
	}
	needTool(t, "go", "scripts/offline-images.sh builds the base images with Go")
	root := repoRoot(t)
	var composeCmd []string
	if v := os.Getenv("PARLEY_COMPOSE"); v != "" {
		composeCmd = strings.Fields(v)
	} else if tools := composeCommands(); len(tools) > 0 {
		composeCmd = tools[0]
	} else {
		missing(t, "neither `docker compose` nor `docker-compose` is installed")
	}
	for _, s := range services {
		for _, f := range []string{"main.go", "go.sum", "Dockerfile"} {
			if _, err := os.Stat(filepath.Join(root, s.Name, f)); err != nil {
				t.Fatalf("%s/%s is missing: %v", s.Name, f, err)
			}
		}
	}
	timings := map[string]time.Duration{}
	var order []string
	step := func(name string, f func()) {
		start := time.Now()
		f()
		timings[name] = time.Since(start).Round(100 * time.Millisecond)
		order = append(order, name)
		t.Logf("%s: %s", name, timings[name])
	}

	st, ports := pickPorts(t)
	base := append(ports, "TAG="+e2eTag, "VERSION=e2e", "ADMIN_PASSWORD=")
	project := fmt.Sprintf("parleye2e%d", os.Getpid())
	// The default stack; NATS_URL and the profiles empty as in a fresh checkout.
	c := &composeRun{t: t, root: root, cmd: composeCmd, project: project,
		env: append(slices.Clone(base), "NATS_URL=", "COMPOSE_PROFILES=", "CHAT_WS_URL="+browserWS(st.chatWS))}
	// The scale profile as the README starts it: the env file decides the
	// profile and NATS_URL; the shell's CHAT_WS_URL overrides the file's, as
	// the ports were moved.
	scale := &composeRun{t: t, root: root, cmd: composeCmd, opts: []string{"--env-file", scaleEnvFile}, project: project,
		env: append(slices.Clone(base), "CHAT_WS_URL="+browserWS(st.chatWS)+","+browserWS(st.chat2WS))}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("compose logs:\n%s", scale.logs())
		}
		if out, err := scale.down(3*time.Minute, "-v", "--remove-orphans", "--timeout", "10"); err != nil {
			t.Logf("compose down: %v\n%s", err, out)
		}
	})

	// 1. From a clean state: the base images (offline stand-ins unless real
	//    ones exist) through the user's script, then `up --build`.
	step("clean docker state", func() { cleanDocker(t) })
	step("scripts/offline-images.sh", func() {
		out, err := run(t, 40*time.Minute, root, nil, filepath.Join(root, "scripts", "offline-images.sh"))
		t.Logf("offline-images.sh:\n%s", tail(out, 20))
		if err != nil {
			t.Fatalf("scripts/offline-images.sh: %v", err)
		}
	})
	step("compose up --build (cold build)", func() {
		c.must(40*time.Minute, "up", "--build", "-d")
	})
	step("healthy", func() { waitHealthy(t, c, 5) })
	checkImages(t)
	imagesBuilt(nil)

	// 2. The default stack.
	var alice session
	var roomID int64
	step("register, room, WebSocket message, history", func() {
		st.checkFrontend(t)
		st.checkGatewayHealth(t)
		alice = st.register(t, "alice")
		roomID = st.createRoom(t, alice, "deploy-e2e")
		ws := st.dialChat(t, st.chatWS, alice)
		subscribe(t, ws, roomID)
		msg := sendMessage(t, ws, roomID, "hello from compose", "e2e-1")
		ws.Close()
		history := st.messages(t, alice, roomID)
		if !containsBody(history, "hello from compose") || msg.Seq < 1 {
			t.Fatalf("history %+v lacks the message sent over the WebSocket (seq %d)", history, msg.Seq)
		}
		if !strings.Contains(c.logs(), "generated password") {
			t.Errorf("auth-service did not log a generated admin password with ADMIN_PASSWORD unset")
		}
		// The WebSocket checks Origin against ALLOWED_ORIGINS.
		h := http.Header{"Origin": {"http://evil.example"}}
		if conn, resp, err := websocket.DefaultDialer.Dial(st.chatWS, h); err == nil {
			conn.Close()
			t.Errorf("a WebSocket from a foreign origin was accepted")
		} else if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("foreign origin: want 403, got %v (%v)", resp, err)
		}
	})

	// 3. Restart: the named volumes keep accounts, signing key and messages.
	step("compose restart", func() {
		c.must(5*time.Minute, "restart")
		waitHealthy(t, c, 5)
	})
	step("data after restart", func() {
		if code, body := st.call(t, "GET", st.gateway+"/api/auth/me", alice.Token, nil, nil); code != http.StatusOK {
			t.Errorf("the token issued before the restart is refused (%d %s): the signing key did not persist", code, body)
		}
		again := st.login(t, alice.Username)
		if again.UserID != alice.UserID {
			t.Errorf("after restart user id %d, want %d", again.UserID, alice.UserID)
		}
		if !containsBody(st.messages(t, again, roomID), "hello from compose") {
			t.Errorf("the message did not survive the restart")
		}
	})
	step("compose down -v", func() {
		if out, err := c.down(3*time.Minute, "-v", "--timeout", "10"); err != nil {
			t.Fatalf("compose down -v: %v\n%s", err, tail(out, 60))
		}
	})

	// 4. The scale profile from its env file: NATS + chat-service-2 sharing
	//    chat.db; `--build` again finds everything in the build cache.
	step("compose --env-file "+scaleEnvFile+" up --build", func() {
		scale.must(10*time.Minute, "up", "--build", "-d")
		waitHealthy(t, scale, 7)
		// Both replicas ready: /readyz includes their NATS connection.
		waitReady(t, st.chat)
		waitReady(t, st.chat2)
	})
	step("both chat URLs reach the browser", func() {
		st.checkChatURLs(t, browserWS(st.chatWS), browserWS(st.chat2WS))
	})
	step("message across chat replicas", func() {
		bob := st.register(t, "bob")
		carol := st.register(t, "carol")
		room := st.createRoom(t, bob, "across-replicas")
		if code, body := st.call(t, "POST", fmt.Sprintf("%s/api/chat/rooms/%d/join", st.gateway, room), carol.Token, map[string]any{}, nil); code/100 != 2 {
			t.Fatalf("join: %d %s", code, body)
		}
		onFirst := st.dialChat(t, st.chatWS, bob)
		defer onFirst.Close()
		onSecond := st.dialChat(t, st.chat2WS, carol)
		defer onSecond.Close()
		subscribe(t, onFirst, room)
		subscribe(t, onSecond, room)
		sent := sendMessage(t, onFirst, room, "via replica one", "scale-1")
		got := awaitMessage(t, onSecond, sent.ID)
		if got.Body != "via replica one" {
			t.Errorf("replica two delivered %+v", got)
		}
		back := sendMessage(t, onSecond, room, "via replica two", "scale-2")
		if m := awaitMessage(t, onFirst, back.ID); m.Seq != sent.Seq+1 {
			t.Errorf("seq across replicas: %d then %d, want consecutive (one chat.db)", sent.Seq, m.Seq)
		}
	})

	// 5. build-all.sh builds the same images from the same Dockerfiles:
	//    with compose's build cache it must reproduce them exactly.
	step("build-all.sh (from the build cache)", func() {
		before := map[string]string{}
		for _, s := range services {
			before[s.Name] = imageID(t, "parley/"+s.Name+":"+e2eTag)
		}
		out, err := run(t, 30*time.Minute, root, []string{"VERSION=e2e"}, filepath.Join(root, "build-all.sh"), "-L", "-t", e2eTag)
		if err != nil {
			t.Fatalf("build-all.sh: %v\n%s", err, tail(out, 80))
		}
		for _, s := range services {
			if after := imageID(t, "parley/"+s.Name+":"+e2eTag); after != before[s.Name] {
				t.Errorf("build-all.sh built %s anew (%s, compose built %s): the two should share one build", s.Name, after, before[s.Name])
			}
		}
	})
	var summary []string
	for _, k := range order {
		summary = append(summary, k+"="+timings[k].String())
	}
	t.Logf("timings: %s", strings.Join(summary, ", "))
}

// waitReady waits until a chat replica's /readyz answers 200.
func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	last := ""
	for time.Now().Before(deadline) {
		resp, err := httpClient.Get(base + "/readyz")
		if err == nil {
			data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, data)
		} else {
			last = err.Error()
		}
		pause(500 * time.Millisecond)
	}
	t.Fatalf("%s/readyz not ready within a minute: %s", base, last)
}

func imageID(t *testing.T, ref string) string {
	out, err := exec.Command("docker", "image", "inspect", "-f", "{{.Id}}", ref).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// checkImages: small, scratch-based, non-root, with a healthcheck.
func checkImages(t *testing.T) {
	t.Helper()
	for _, s := range services {
		ref := "parley/" + s.Name + ":" + e2eTag
		out, err := exec.Command("docker", "image", "inspect", "-f",
			`{{.Size}}|{{.Config.User}}|{{json .Config.Healthcheck.Test}}|{{json .Config.ExposedPorts}}|{{len .RootFS.Layers}}`, ref).Output()
		if err != nil {
			t.Fatalf("inspect %s: %v", ref, err)
		}
		f := strings.Split(strings.TrimSpace(string(out)), "|")
		size, _ := strconv.ParseInt(f[0], 10, 64)
		t.Logf("image %-40s %5.1f MB", ref, float64(size)/1e6)
		if size >= maxImageMB*1e6 {
			t.Errorf("%s is %.1f MB, want < %d MB", ref, float64(size)/1e6, maxImageMB)
		}
		if f[1] != "10001:10001" {
			t.Errorf("%s runs as %q, want 10001:10001", ref, f[1])
		}
		if f[2] != `["CMD","/app","healthcheck"]` {
			t.Errorf("%s healthcheck %s", ref, f[2])
		}
		if !strings.Contains(f[3], fmt.Sprintf(`"%d/tcp"`, s.Port)) {
			t.Errorf("%s exposes %s, want %d", ref, f[3], s.Port)
		}
		// scratch + CA bundle, /data, /tmp, the binary: a handful of layers, no OS.
		if n, _ := strconv.Atoi(f[4]); n > 4 {
			t.Errorf("%s has %d layers: is the runtime stage still FROM scratch?", ref, n)
		}
	}
}

// waitHealthy waits until want containers of the project run and report healthy
// (a container without a healthcheck counts when running).
func waitHealthy(t *testing.T, c *composeRun, want int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	last := ""
	for time.Now().Before(deadline) {
		ids := strings.Fields(c.must(time.Minute, "ps", "-q"))
		if len(ids) >= want {
			out, err := run(t, time.Minute, "", nil, "docker", append([]string{"inspect", "-f",
				"{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}"}, ids...)...)
			if err == nil {
				last = out
				ready := 0
				for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
					f := strings.Fields(line)
					if len(f) != 3 {
						continue
					}
					if f[1] == "exited" || f[1] == "dead" {
						t.Fatalf("container %s %s:\n%s", f[0], f[1], c.logs())
					}
					if f[1] == "running" && (f[2] == "healthy" || f[2] == "none") {
						ready++
					}
				}
				if ready == want {
					return
				}
			}
		}
		pause(time.Second)
	}
	t.Fatalf("containers not healthy within 3 minutes:\n%s\n%s", last, c.logs())
}

// pause waits without time.Sleep-as-synchronisation: it is only the poll
// interval of a loop bounded by a deadline.
func pause(d time.Duration) { <-time.After(d) }

// ---- HTTP helpers --------------------------------------------------------

var httpClient = &http.Client{Timeout: 15 * time.Second}

// call sends a JSON request and decodes a JSON answer into out (when non-nil).
func (st *stack) call(t *testing.T, method, url, token string, body any, out any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", st.origin)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, data, err)
		}
	}
	return resp.StatusCode, string(data)
}

func (st *stack) checkFrontend(t *testing.T) {
	t.Helper()
	resp, err := httpClient.Get(st.front + "/")
	if err != nil {
		t.Fatalf("the app at %s: %v", st.front, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET / on the frontend: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var cfg struct {
		API string `json:"api_base_url"`
	}
	if code, body := st.call(t, "GET", st.front+"/config.json", "", nil, &cfg); code != http.StatusOK {
		t.Fatalf("GET /config.json: %d %s", code, body)
	}
	if wantAPI := strings.Replace(st.gateway, "127.0.0.1", "localhost", 1); cfg.API != wantAPI {
		t.Errorf("config.json api_base_url = %q, want %s (API_BASE_URL)", cfg.API, wantAPI)
	}
	st.checkChatURLs(t, browserWS(st.chatWS))
}

// checkChatURLs: the browser is told exactly these chat WebSocket URLs
// (CHAT_WS_URL), the first also as chat_ws_url for one-URL clients.
func (st *stack) checkChatURLs(t *testing.T, want ...string) {
	t.Helper()
	var cfg struct {
		WS  string   `json:"chat_ws_url"`
		WSs []string `json:"chat_ws_urls"`
	}
	if code, body := st.call(t, "GET", st.front+"/config.json", "", nil, &cfg); code != http.StatusOK {
		t.Fatalf("GET /config.json: %d %s", code, body)
	}
	if cfg.WS != want[0] || !slices.Equal(cfg.WSs, want) {
		t.Errorf("config.json chat_ws_url %q, chat_ws_urls %q; want %q and %q (CHAT_WS_URL)", cfg.WS, cfg.WSs, want[0], want)
	}
}

func (st *stack) checkGatewayHealth(t *testing.T) {
	t.Helper()
	var h struct {
		Status string `json:"status"`
	}
	if code, body := st.call(t, "GET", st.gateway+"/health", "", nil, &h); code != http.StatusOK {
		t.Errorf("gateway /health: %d %s", code, body)
	}
}

type session struct {
	Username string
	UserID   int64
	Token    string
}

const e2ePassword = "correct horse battery staple"

func (st *stack) register(t *testing.T, name string) session {
	t.Helper()
	username := fmt.Sprintf("%s_%d", name, time.Now().UnixNano()%1e9)
	return st.authenticate(t, "/api/auth/register", username, http.StatusCreated)
}

func (st *stack) login(t *testing.T, username string) session {
	t.Helper()
	return st.authenticate(t, "/api/auth/login", username, http.StatusOK)
}

func (st *stack) authenticate(t *testing.T, path, username string, want int) session {
	t.Helper()
	var out struct {
		User struct {
			ID       int64  `json:"id"`
			Username string `json:"username"`
		} `json:"user"`
		AccessToken string `json:"access_token"`
	}
	code, body := st.call(t, "POST", st.gateway+path, "", map[string]string{"username": username, "password": e2ePassword}, &out)
	if code != want || out.AccessToken == "" || out.User.ID == 0 {
		t.Fatalf("POST %s: %d %s", path, code, body)
	}
	return session{Username: username, UserID: out.User.ID, Token: out.AccessToken}
}

func (st *stack) createRoom(t *testing.T, s session, name string) int64 {
	t.Helper()
	var room struct {
		ID int64 `json:"id"`
	}
	code, body := st.call(t, "POST", st.gateway+"/api/chat/rooms", s.Token,
		map[string]string{"name": fmt.Sprintf("%s-%d", name, time.Now().UnixNano()%1e6), "kind": "public"}, &room)
	if code != http.StatusCreated || room.ID == 0 {
		t.Fatalf("create room: %d %s", code, body)
	}
	return room.ID
}

type chatMessage struct {
	ID     int64  `json:"id"`
	RoomID int64  `json:"room_id"`
	Seq    int64  `json:"seq"`
	Body   string `json:"body"`
}

func (st *stack) messages(t *testing.T, s session, room int64) []chatMessage {
	t.Helper()
	var out struct {
		Messages []chatMessage `json:"messages"`
	}
	if code, body := st.call(t, "GET", fmt.Sprintf("%s/api/chat/rooms/%d/messages", st.gateway, room), s.Token, nil, &out); code != http.StatusOK {
		t.Fatalf("history: %d %s", code, body)
	}
	return out.Messages
}

func containsBody(ms []chatMessage, body string) bool {
	for _, m := range ms {
		if m.Body == body {
			return true
		}
	}
	return false
}

// ---- WebSocket helpers ---------------------------------------------------

type frame struct {
	Type        string          `json:"type"`
	Code        string          `json:"code"`
	Message     json.RawMessage `json:"message"`
	ClientMsgID string          `json:"client_msg_id"`
	Ref         string          `json:"ref"`
}

func (st *stack) dialChat(t *testing.T, url string, s session) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conn, resp, err := d.Dial(url, http.Header{"Origin": {st.origin}})
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", url, err, resp)
	}
	writeFrame(t, conn, map[string]any{"type": "auth", "token": s.Token})
	await(t, conn, func(f frame) bool { return f.Type == "ready" })
	return conn
}

func writeFrame(t *testing.T, conn *websocket.Conn, v any) {
	t.Helper()
	_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := conn.WriteJSON(v); err != nil {
		t.Fatalf("write %v: %v", v, err)
	}
}

// await reads frames until match accepts one; error frames fail the test.
func await(t *testing.T, conn *websocket.Conn, match func(frame) bool) frame {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		var f frame
		_, data, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("read from %s: %v", conn.RemoteAddr(), err)
		}
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatalf("frame %q: %v", data, err)
		}
		if f.Type == "error" {
			t.Fatalf("error frame: %s", data)
		}
		if match(f) {
			return f
		}
	}
}

// subscribe subscribes and waits until the server processed it (a ping sent
// after it is answered in order).
func subscribe(t *testing.T, conn *websocket.Conn, room int64) {
	t.Helper()
	writeFrame(t, conn, map[string]any{"type": "subscribe", "room_id": room})
	ref := fmt.Sprintf("sub-%d", room)
	writeFrame(t, conn, map[string]any{"type": "ping", "ref": ref})
	await(t, conn, func(f frame) bool { return f.Type == "pong" && f.Ref == ref })
}

func sendMessage(t *testing.T, conn *websocket.Conn, room int64, body, clientID string) chatMessage {
	t.Helper()
	writeFrame(t, conn, map[string]any{"type": "send", "room_id": room, "body": body, "client_msg_id": clientID})
	f := await(t, conn, func(f frame) bool { return f.Type == "ack" && f.ClientMsgID == clientID })
	var m chatMessage
	if err := json.Unmarshal(f.Message, &m); err != nil || m.ID == 0 || m.Body != body {
		t.Fatalf("ack carries %s (%v)", f.Message, err)
	}
	return m
}

func awaitMessage(t *testing.T, conn *websocket.Conn, id int64) chatMessage {
	t.Helper()
	var m chatMessage
	await(t, conn, func(f frame) bool {
		if f.Type != "message" {
			return false
		}
		_ = json.Unmarshal(f.Message, &m)
		return m.ID == id
	})
	return m
}
