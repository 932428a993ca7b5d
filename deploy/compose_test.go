package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The compose end-to-end test builds every image with the real Dockerfiles
// (through build-all.sh), runs docker-compose.yml, and drives Parley through
// the published ports the way a browser would: register, create a room, send
// a message over the WebSocket, read the history. Then it restarts everything
// and checks the data survived, and runs the scale profile (NATS + a second
// chat replica) and checks a message crosses replicas.
//
// It needs Docker and a Compose tool; without them it skips locally and fails
// with CI set. PARLEY_COMPOSE overrides the Compose command (e.g.
// "docker compose" or "docker-compose").

const (
	e2eTag     = "e2e-test" // image tag; compose reads it as ${TAG}
	maxImageMB = 30
)

// The published ports are picked free for each run (other stacks may hold
// 8080/500x on a shared machine) and handed to compose with the
// PARLEY_*_PORT variables; the browser-facing settings follow them exactly as
// a user remapping ports would set them. Only loopback is published.
var (
	appOrigin  string
	gatewayURL string
	frontURL   string
	chatWS     string
	chat2WS    string
)

// pickPorts chooses four free loopback ports and returns the compose
// environment that publishes on them.
func pickPorts(t *testing.T) []string {
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
	appOrigin = fmt.Sprintf("http://localhost:%d", front)
	frontURL = fmt.Sprintf("http://127.0.0.1:%d", front)
	gatewayURL = fmt.Sprintf("http://127.0.0.1:%d", gw)
	chatWS = fmt.Sprintf("ws://127.0.0.1:%d/ws", chat)
	chat2WS = fmt.Sprintf("ws://127.0.0.1:%d/ws", chat2)
	t.Logf("published ports: app %d, gateway %d, chat %d, chat-2 %d", front, gw, chat, chat2)
	return []string{
		"PARLEY_BIND=127.0.0.1",
		fmt.Sprintf("PARLEY_FRONTEND_PORT=%d", front),
		fmt.Sprintf("PARLEY_GATEWAY_PORT=%d", gw),
		fmt.Sprintf("PARLEY_CHAT_PORT=%d", chat),
		fmt.Sprintf("PARLEY_CHAT2_PORT=%d", chat2),
		"ALLOWED_ORIGINS=" + appOrigin,
		fmt.Sprintf("API_BASE_URL=http://localhost:%d", gw),
		fmt.Sprintf("CHAT_WS_URL=ws://localhost:%d/ws", chat),
	}
}

type composeRun struct {
	t       *testing.T
	root    string
	cmd     []string // e.g. [docker-compose] or [docker compose]
	project string
	env     []string
}

func (c *composeRun) run(timeout time.Duration, extraEnv []string, args ...string) (string, error) {
	c.t.Helper()
	full := append(append(append([]string{}, c.cmd[1:]...), "-p", c.project), args...)
	return run(c.t, timeout, c.root, append(append([]string{}, c.env...), extraEnv...), c.cmd[0], full...)
}

func (c *composeRun) must(timeout time.Duration, extraEnv []string, args ...string) string {
	c.t.Helper()
	out, err := c.run(timeout, extraEnv, args...)
	if err != nil {
		c.t.Fatalf("compose %s: %v\n%s", strings.Join(args, " "), err, tail(out, 60))
	}
	return out
}

// logs is what to show when something went wrong.
func (c *composeRun) logs(extraEnv []string) string {
	out, _ := c.run(2*time.Minute, extraEnv, "logs", "--no-color", "--tail", "40")
	return tail(out, 200)
}

func TestCompose(t *testing.T) {
	needTool(t, "docker", "the compose end-to-end test builds and runs the images")
	if out, err := run(t, 30*time.Second, "", nil, "docker", "info"); err != nil {
		missing(t, "the Docker daemon is not reachable: %v\n%s", err, tail(out, 5))
	}
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
	step := func(name string, f func()) {
		start := time.Now()
		f()
		timings[name] = time.Since(start).Round(100 * time.Millisecond)
		t.Logf("%s: %s", name, timings[name])
	}

	// 1. Base images (offline stand-ins unless real ones exist), then the
	//    five service images from the real Dockerfiles.
	step("base images", func() {
		ensureStandIn(t, dockerfileGoImage(t), goBuilderKey(t), func(ref, key string) { buildGoStandIn(t, ref, key) })
		ensureStandIn(t, loadCompose(t).Services["nats"].Image, natsKey(t), func(ref, key string) { buildNATSStandIn(t, ref, key) })
	})
	step("build-all.sh", func() {
		old := map[string]string{}
		for _, s := range services {
			old[s.Name] = imageID(t, "parley/"+s.Name+":"+e2eTag)
		}
		out, err := run(t, 30*time.Minute, root, []string{"VERSION=e2e"}, filepath.Join(root, "build-all.sh"), "-L", "-t", e2eTag)
		if err != nil {
			t.Fatalf("build-all.sh: %v\n%s", err, tail(out, 80))
		}
		// Drop the images this tag pointed at before, so reruns do not pile up.
		for name, id := range old {
			if id != "" && id != imageID(t, "parley/"+name+":"+e2eTag) {
				_, _ = run(t, time.Minute, "", nil, "docker", "image", "rm", id)
			}
		}
	})
	checkImages(t)

	c := &composeRun{t: t, root: root, cmd: composeCmd, project: fmt.Sprintf("parleye2e%d", os.Getpid()),
		env: append(pickPorts(t), "TAG="+e2eTag, "ADMIN_PASSWORD=", "NATS_URL=", "COMPOSE_PROFILES=")}
	scaleEnv := []string{"NATS_URL=nats://nats:4222"}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("compose logs:\n%s", c.logs(scaleEnv))
		}
		if out, err := c.run(3*time.Minute, scaleEnv, "--profile", "scale", "down", "-v", "--remove-orphans", "--timeout", "10"); err != nil {
			t.Logf("compose down: %v\n%s", err, out)
		}
	})

	// 2. The default stack.
	step("compose up", func() {
		c.must(5*time.Minute, nil, "up", "-d", "--no-build")
		waitHealthy(t, c, nil, 5)
	})
	var alice session
	var roomID int64
	step("register, room, WebSocket message, history", func() {
		checkFrontend(t)
		checkGatewayHealth(t)
		alice = register(t, "alice")
		roomID = createRoom(t, alice, "deploy-e2e")
		ws := dialChat(t, chatWS, alice)
		subscribe(t, ws, roomID)
		msg := sendMessage(t, ws, roomID, "hello from compose", "e2e-1")
		ws.Close()
		history := messages(t, alice, roomID)
		if !containsBody(history, "hello from compose") || msg.Seq < 1 {
			t.Fatalf("history %+v lacks the message sent over the WebSocket (seq %d)", history, msg.Seq)
		}
		if !strings.Contains(c.logs(nil), "generated password") {
			t.Errorf("auth-service did not log a generated admin password with ADMIN_PASSWORD unset")
		}
		// The WebSocket checks Origin against ALLOWED_ORIGINS.
		h := http.Header{"Origin": {"http://evil.example"}}
		if conn, resp, err := websocket.DefaultDialer.Dial(chatWS, h); err == nil {
			conn.Close()
			t.Errorf("a WebSocket from a foreign origin was accepted")
		} else if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("foreign origin: want 403, got %v (%v)", resp, err)
		}
	})

	// 3. Restart: the named volumes keep accounts, signing key and messages.
	step("compose restart", func() {
		c.must(5*time.Minute, nil, "restart")
		waitHealthy(t, c, nil, 5)
	})
	step("data after restart", func() {
		if code, body := call(t, "GET", gatewayURL+"/api/auth/me", alice.Token, nil, nil); code != http.StatusOK {
			t.Errorf("the token issued before the restart is refused (%d %s): the signing key did not persist", code, body)
		}
		again := login(t, alice.Username)
		if again.UserID != alice.UserID {
			t.Errorf("after restart user id %d, want %d", again.UserID, alice.UserID)
		}
		if !containsBody(messages(t, again, roomID), "hello from compose") {
			t.Errorf("the message did not survive the restart")
		}
	})
	step("compose down -v", func() {
		c.must(3*time.Minute, nil, "down", "-v", "--timeout", "10")
	})

	// 4. The scale profile: NATS + chat-service-2 sharing chat.db.
	step("compose --profile scale up", func() {
		c.must(5*time.Minute, scaleEnv, "--profile", "scale", "up", "-d", "--no-build")
		waitHealthy(t, c, scaleEnv, 7)
	})
	step("message across chat replicas", func() {
		bob := register(t, "bob")
		carol := register(t, "carol")
		room := createRoom(t, bob, "across-replicas")
		if code, body := call(t, "POST", fmt.Sprintf("%s/api/chat/rooms/%d/join", gatewayURL, room), carol.Token, map[string]any{}, nil); code/100 != 2 {
			t.Fatalf("join: %d %s", code, body)
		}
		onFirst := dialChat(t, chatWS, bob)
		defer onFirst.Close()
		onSecond := dialChat(t, chat2WS, carol)
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
	var summary []string
	for k, v := range timings {
		summary = append(summary, k+"="+v.String())
	}
	t.Logf("timings: %s", strings.Join(summary, ", "))
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
// (NATS, which has no healthcheck, counts when running).
func waitHealthy(t *testing.T, c *composeRun, extraEnv []string, want int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	last := ""
	for time.Now().Before(deadline) {
		ids := strings.Fields(c.must(time.Minute, extraEnv, "ps", "-q"))
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
						t.Fatalf("container %s %s:\n%s", f[0], f[1], c.logs(extraEnv))
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
	t.Fatalf("containers not healthy within 3 minutes:\n%s\n%s", last, c.logs(extraEnv))
}

// pause waits without time.Sleep-as-synchronisation: it is only the poll
// interval of a loop bounded by a deadline.
func pause(d time.Duration) { <-time.After(d) }

// ---- HTTP helpers --------------------------------------------------------

var httpClient = &http.Client{Timeout: 15 * time.Second}

// call sends a JSON request and decodes a JSON answer into out (when non-nil).
func call(t *testing.T, method, url, token string, body any, out any) (int, string) {
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
	req.Header.Set("Origin", appOrigin)
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

func checkFrontend(t *testing.T) {
	t.Helper()
	resp, err := httpClient.Get(frontURL + "/")
	if err != nil {
		t.Fatalf("the app at %s: %v", frontURL, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET / on the frontend: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var cfg struct {
		API string `json:"api_base_url"`
		WS  string `json:"chat_ws_url"`
	}
	if code, body := call(t, "GET", frontURL+"/config.json", "", nil, &cfg); code != http.StatusOK {
		t.Fatalf("GET /config.json: %d %s", code, body)
	}
	wantAPI := strings.Replace(gatewayURL, "127.0.0.1", "localhost", 1)
	wantWS := strings.Replace(chatWS, "127.0.0.1", "localhost", 1)
	if cfg.API != wantAPI || cfg.WS != wantWS {
		t.Errorf("config.json = %+v, want %s and %s (API_BASE_URL, CHAT_WS_URL)", cfg, wantAPI, wantWS)
	}
}

func checkGatewayHealth(t *testing.T) {
	t.Helper()
	var h struct {
		Status string `json:"status"`
	}
	if code, body := call(t, "GET", gatewayURL+"/health", "", nil, &h); code != http.StatusOK {
		t.Errorf("gateway /health: %d %s", code, body)
	}
}

type session struct {
	Username string
	UserID   int64
	Token    string
}

const e2ePassword = "correct horse battery staple"

func register(t *testing.T, name string) session {
	t.Helper()
	username := fmt.Sprintf("%s_%d", name, time.Now().UnixNano()%1e9)
	return authenticate(t, "/api/auth/register", username, http.StatusCreated)
}

func login(t *testing.T, username string) session {
	t.Helper()
	return authenticate(t, "/api/auth/login", username, http.StatusOK)
}

func authenticate(t *testing.T, path, username string, want int) session {
	t.Helper()
	var out struct {
		User struct {
			ID       int64  `json:"id"`
			Username string `json:"username"`
		} `json:"user"`
		AccessToken string `json:"access_token"`
	}
	code, body := call(t, "POST", gatewayURL+path, "", map[string]string{"username": username, "password": e2ePassword}, &out)
	if code != want || out.AccessToken == "" || out.User.ID == 0 {
		t.Fatalf("POST %s: %d %s", path, code, body)
	}
	return session{Username: username, UserID: out.User.ID, Token: out.AccessToken}
}

func createRoom(t *testing.T, s session, name string) int64 {
	t.Helper()
	var room struct {
		ID int64 `json:"id"`
	}
	code, body := call(t, "POST", gatewayURL+"/api/chat/rooms", s.Token,
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

func messages(t *testing.T, s session, room int64) []chatMessage {
	t.Helper()
	var out struct {
		Messages []chatMessage `json:"messages"`
	}
	if code, body := call(t, "GET", fmt.Sprintf("%s/api/chat/rooms/%d/messages", gatewayURL, room), s.Token, nil, &out); code != http.StatusOK {
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

func dialChat(t *testing.T, url string, s session) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conn, resp, err := d.Dial(url, http.Header{"Origin": {appOrigin}})
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
