package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/deploy/standin"
)

// TestCluster is `kubectl apply -f k8s` on a real Kubernetes (issue 21):
// ../shared/tools/kube-local-cluster.sh starts a single-node cluster built
// from Go modules (kubelet on containerd, kube-proxy, CoreDNS,
// metrics-server, a local-path StorageClass like K3s's). The test loads the
// images TestCompose built (images_test.go), applies k8s/ exactly as
// k8s/README.md tells a user, and checks what the API-server test can only
// argue: every pod scheduled, Ready and never restarted, the PVCs bound, the
// NodePorts answering, a message from the gateway reaching a WebSocket, the
// HPA reading real CPU and scaling chat-service out under a bounded load and
// back in after it, sockets spread over the new replicas, a rolling restart
// and a killed pod under load without a lost or duplicated message, the
// PostgreSQL variant of k8s/README.md, and k8s-hostnetwork/ on a fresh
// cluster. The cluster is stopped at the end even when the test fails.
//
// It needs root, Docker and the tool beside the repository; without them it
// skips locally and fails with CI set. The first run builds Kubernetes
// (~15 min on 2 cores, cached under KCLUSTER_HOME, ~/.cache/kcluster).
// A record of the run (timings, the replica count over time, CPU and
// sockets per pod) is written to test-output/cluster-run.json and .md.
func TestCluster(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	script := filepath.Join(filepath.Dir(root), "shared", "tools", "kube-local-cluster.sh")
	if _, err := os.Stat(script); err != nil {
		missing(t, "%s not found (the shared tools live beside the repository)", script)
	}
	if os.Geteuid() != 0 {
		missing(t, "the local cluster needs root (containerd, kubelet, iptables)")
	}
	needTool(t, "docker", "the cluster test loads the images Docker built")
	if out, err := run(t, 30*time.Second, "", nil, "docker", "info"); err != nil {
		missing(t, "the Docker daemon is not reachable: %v\n%s", err, tail(out, 5))
	}
	for _, c := range []string{"containerd", "runc", "iptables", "conntrack"} {
		if _, err := exec.LookPath(c); err != nil {
			missing(t, "%s is not installed (apt-get install containerd runc iptables conntrack containernetworking-plugins)", c)
		}
	}
	rec := newClusterRecord(t, root)
	k := &kcluster{t: t, script: script, root: root, rec: rec, ns: "parley"}

	// The build (cached after the first run) goes side by side with
	// TestCompose's image build.
	rec.step("build the cluster (cached after the first run)", func() {
		if out, err := k.tool(40*time.Minute, "build"); err != nil {
			t.Fatalf("kube-local-cluster.sh build: %v\n%s", err, tail(out, 40))
		}
	})
	rec.step("images (shared with TestCompose)", func() { awaitImages(t, root) })
	_, natsImage, err := (&standin.Builder{Root: root, Log: t}).Images()
	if err != nil {
		t.Fatal(err)
	}
	pgImage, err := (&standin.Builder{Root: root, Log: t}).EnsurePostgres(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	loads := []string{natsImage + "=nats:2.10-alpine", pgImage + "=postgres:16-alpine"}
	for _, s := range services {
		loads = append(loads, "parley/"+s.Name+":"+e2eTag+"=parley/"+s.Name+":latest")
	}
	loadtest := buildLoadtest(t, root)

	t.Cleanup(func() {
		if t.Failed() {
			k.dumpState(k.ns)
		}
		if out, err := k.tool(5*time.Minute, "stop"); err != nil {
			t.Errorf("kube-local-cluster.sh stop: %v\n%s", err, tail(out, 20))
		}
		rec.write()
	})
	rec.step("start the cluster", func() { k.start() })
	rec.step("load the images", func() {
		if out, err := k.tool(15*time.Minute, append([]string{"load-images"}, loads...)...); err != nil {
			t.Fatalf("load-images: %v\n%s", err, tail(out, 20))
		}
	})

	// 1. kubectl apply -f k8s, as the README says.
	rec.step("kubectl apply -f k8s", func() { k.kubectl(2*time.Minute, "apply", "-f", filepath.Join(root, "k8s")) })
	rec.step("every Deployment rolled out, every pod Ready", func() {
		k.rolledOut("parley", 4*time.Minute)
	})
	k.pvcsBound("parley", "auth-data", "users-data", "chat-data")
	k.noRestarts("parley")

	st := &stack{
		origin:  "http://localhost:30080",
		front:   "http://127.0.0.1:30080",
		gateway: "http://127.0.0.1:30000",
		chatWS:  "ws://127.0.0.1:30003/ws",
	}
	rec.step("NodePorts: app, gateway, WebSocket; a message from the gateway reaches a socket", func() {
		k.gatewayHealthy(st)
		st.checkFrontend(t)
		roundTrip(t, st, "hello from the cluster")
	})

	// 2. The HPA on real CPU: a bounded load scales chat out, and back in.
	rec.step("the HPA reads CPU", func() {
		k.eventually(3*time.Minute, "the HPA reports chat-service's CPU", func() (bool, string) {
			out := k.get("parley", "hpa", "chat-service", "{.status.currentMetrics[0].resource.current.averageUtilization}")
			return out != "", "currentMetrics " + out
		})
	})
	users := filepath.Join(t.TempDir(), "users.json")
	rec.step("register the load's users", func() {
		out, err := run(t, 5*time.Minute, root, nil, loadtest, "users", "-gateway", st.gateway, "-users", users, "-n", strconv.Itoa(loadUsers))
		if err != nil {
			t.Fatalf("loadtest users: %v\n%s", err, tail(out, 20))
		}
	})
	rec.step("scale out under load", func() { k.scaleOut(loadtest, users, st) })
	rec.step("scale in after the load (test-only patch: 30 s scale-down window)", func() { k.scaleIn() })

	// 3. A rolling restart and a killed pod, each while clients send.
	rec.step("kubectl rollout restart deployment/chat-service under load", func() {
		k.underLoad(loadtest, users, st, "rollout", func() {
			k.kubectl(time.Minute, "-n", "parley", "rollout", "restart", "deployment/chat-service")
			k.kubectl(5*time.Minute, "-n", "parley", "rollout", "status", "deployment/chat-service", "--timeout=5m")
		})
	})
	rec.step("kubectl delete pod --grace-period=0 --force under load", func() {
		k.underLoad(loadtest, users, st, "kill", func() {
			pods := k.chatPods()
			k.kubectl(time.Minute, "-n", "parley", "delete", "pod", pods[0], "--grace-period=0", "--force")
			k.eventually(3*time.Minute, "chat-service back to its replicas", func() (bool, string) {
				return len(k.readyChatPods()) >= 2, fmt.Sprint(k.readyChatPods())
			})
		})
	})
	k.noRestarts("parley")

	// 4. k8s/postgres with the Secret k8s/README.md describes.
	rec.step("k8s/postgres: the services switch to PostgreSQL", func() {
		k.switchToPostgres()
		k.tokensAccepted(st)
		roundTrip(t, st, "hello from PostgreSQL")
		out := k.kubectl(time.Minute, "-n", "parley", "exec", "postgres-0", "--", "psql", "-U", "parley", "-d", "chat", "-tAc",
			"SELECT count(*) FROM messages WHERE body = 'hello from PostgreSQL'")
		if strings.TrimSpace(out) != "1" {
			t.Errorf("chat's PostgreSQL database holds %q copies of the message, want 1", strings.TrimSpace(out))
		}
	})

	// 5. k8s-hostnetwork on a fresh start of the cluster.
	rec.step("restart the cluster empty", func() {
		if out, err := k.tool(5*time.Minute, "stop"); err != nil {
			t.Fatalf("stop: %v\n%s", err, tail(out, 20))
		}
		k.start()
	})
	rec.step("kubectl apply -f k8s-hostnetwork", func() { k.hostNetwork() })
}

// loadUsers is the load's population: registering is limited per client
// address (REGISTER_RATE_IP_BURST 30, then one per 2 s), and through a
// NodePort every client is the node's address.
const loadUsers = soakUsers + soakSenders

// ---- the cluster ---------------------------------------------------------

type kcluster struct {
	t      *testing.T
	script string
	root   string
	rec    *clusterRecord
	env    []string // KUBECONFIG and PATH with the cluster's kubectl
	ns     string   // the namespace of the current step, for dumpState
}

func (k *kcluster) tool(timeout time.Duration, args ...string) (string, error) {
	return run(k.t, timeout, "", nil, "bash", append([]string{k.script}, args...)...)
}

// start starts an empty cluster and takes its kubeconfig.
func (k *kcluster) start() {
	out, err := k.tool(10*time.Minute, "start")
	if err != nil {
		k.t.Fatalf("kube-local-cluster.sh start: %v\n%s", err, tail(out, 60))
	}
	env, err := k.tool(time.Minute, "env")
	if err != nil {
		k.t.Fatalf("kube-local-cluster.sh env: %v", err)
	}
	k.env = nil
	for _, line := range strings.Split(env, "\n") {
		line, _, _ = strings.Cut(line, "#")
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "export "); ok {
			v = strings.ReplaceAll(v, "$PATH", os.Getenv("PATH"))
			k.env = append(k.env, v)
		}
	}
	if len(k.env) == 0 {
		k.t.Fatalf("kube-local-cluster.sh env printed no export lines:\n%s", env)
	}
}

func (k *kcluster) kubectlErr(timeout time.Duration, args ...string) (string, error) {
	name := "kubectl"
	for _, e := range k.env {
		if p, ok := strings.CutPrefix(e, "PATH="); ok {
			for _, dir := range filepath.SplitList(p) {
				if fi, err := os.Stat(filepath.Join(dir, "kubectl")); err == nil && !fi.IsDir() {
					name = filepath.Join(dir, "kubectl")
					break
				}
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), k.env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out) + stderr.String(), fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

func (k *kcluster) kubectl(timeout time.Duration, args ...string) string {
	k.t.Helper()
	out, err := k.kubectlErr(timeout, args...)
	if err != nil {
		k.t.Fatalf("%v\n%s", err, tail(out, 40))
	}
	return out
}

// get reads one jsonpath of an object; "" when it is absent.
func (k *kcluster) get(ns, kind, name, path string) string {
	out, err := k.kubectlErr(30*time.Second, "-n", ns, "get", kind, name, "-o", "jsonpath="+path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

// eventually polls cond every second until it holds or the time is up.
func (k *kcluster) eventually(within time.Duration, what string, cond func() (bool, string)) {
	k.t.Helper()
	deadline := time.Now().Add(within)
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			k.t.Fatalf("%s: not within %v (last: %s)", what, within, last)
		}
		pause(time.Second)
	}
}

// rolledOut waits for every Deployment and StatefulSet of ns to roll out
// and every pod to be Ready.
func (k *kcluster) rolledOut(ns string, within time.Duration) {
	k.t.Helper()
	for _, kind := range []string{"deployment", "statefulset"} {
		names := strings.Fields(k.kubectl(time.Minute, "-n", ns, "get", kind, "-o", "jsonpath={.items[*].metadata.name}"))
		for _, n := range names {
			k.kubectl(within+time.Minute, "-n", ns, "rollout", "status", kind+"/"+n, fmt.Sprintf("--timeout=%ds", int(within.Seconds())))
		}
	}
	k.eventually(within, "every pod of "+ns+" Ready", func() (bool, string) {
		out, err := k.kubectlErr(30*time.Second, "-n", ns, "get", "pods", "-o",
			`jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
		if err != nil {
			return false, err.Error()
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			if len(f) == 3 && f[1] == "Succeeded" {
				continue // a finished Job's pod
			}
			if len(f) != 3 || f[2] != "True" {
				return false, out
			}
		}
		return true, ""
	})
}

func (k *kcluster) pvcsBound(ns string, names ...string) {
	k.t.Helper()
	for _, n := range names {
		if phase := k.get(ns, "pvc", n, "{.status.phase}"); phase != "Bound" {
			k.t.Errorf("PVC %s/%s is %q, want Bound", ns, n, phase)
		}
	}
}

// noRestarts: no container of ns has restarted since it started.
func (k *kcluster) noRestarts(ns string) {
	k.t.Helper()
	out := k.kubectl(time.Minute, "-n", ns, "get", "pods", "-o",
		`jsonpath={range .items[*]}{.metadata.name} {range .status.containerStatuses[*]}{.restartCount} {end}{"\n"}{end}`)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		for _, c := range f[1:] {
			if c != "0" {
				k.t.Errorf("pod %s restarted: %s", f[0], line)
			}
		}
	}
}

func (k *kcluster) chatPods() []string {
	out := k.kubectl(time.Minute, "-n", "parley", "get", "pods", "-l", "app.kubernetes.io/name=chat-service",
		"--field-selector=status.phase=Running", "-o", "jsonpath={.items[*].metadata.name}")
	return strings.Fields(out)
}

// readyChatPods: name → pod IP of every Ready, not terminating chat pod.
func (k *kcluster) readyChatPods() map[string]string {
	out, err := k.kubectlErr(30*time.Second, "-n", "parley", "get", "pods", "-l", "app.kubernetes.io/name=chat-service", "-o",
		`jsonpath={range .items[*]}{.metadata.name} {.status.podIP} {.metadata.deletionTimestamp} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
	pods := map[string]string{}
	if err != nil {
		return pods
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[2] == "True" { // no deletionTimestamp
			pods[f[0]] = f[1]
		}
	}
	return pods
}

// dumpState logs what an operator would look at after a failure.
func (k *kcluster) dumpState(ns string) {
	if k.env == nil {
		return
	}
	for _, args := range [][]string{
		{"get", "all,pvc,hpa,pdb", "-o", "wide"},
		{"get", "events", "--sort-by=.lastTimestamp"},
		{"top", "pods"},
	} {
		out, err := k.kubectlErr(time.Minute, append([]string{"-n", ns}, args...)...)
		k.t.Logf("kubectl %s (%v):\n%s", strings.Join(args, " "), err, tail(out, 60))
	}
	for _, s := range services {
		out, _ := k.kubectlErr(time.Minute, "-n", ns, "logs", "deploy/"+s.Name, "--tail=30", "--all-containers")
		k.t.Logf("logs of %s:\n%s", s.Name, out)
	}
}

// ---- the steps -------------------------------------------------------------

// gatewayHealthy waits for the gateway's /health to report every service
// ok: the HPA takes chat-service from the Deployment's one replica to its
// minimum of two right after the apply, and a replica still connecting to
// NATS reports itself degraded for a moment.
func (k *kcluster) gatewayHealthy(st *stack) {
	k.t.Helper()
	k.eventually(2*time.Minute, "the gateway's /health ok on its NodePort", func() (bool, string) {
		resp, err := httpClient.Get(st.gateway + "/health")
		if err != nil {
			return false, err.Error()
		}
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Sprintf("%d %s", resp.StatusCode, data)
	})
}

// roundTrip: a user registered through the gateway posts over HTTP; another
// user's WebSocket on chat's NodePort receives it.
func roundTrip(t *testing.T, st *stack, body string) {
	t.Helper()
	alice := st.register(t, "alice")
	bob := st.register(t, "bob")
	room := st.createRoom(t, alice, "cluster")
	if code, b := st.call(t, "POST", fmt.Sprintf("%s/api/chat/rooms/%d/join", st.gateway, room), bob.Token, map[string]any{}, nil); code/100 != 2 {
		t.Fatalf("join: %d %s", code, b)
	}
	ws := st.dialChat(t, st.chatWS, bob)
	defer ws.Close()
	subscribe(t, ws, room)
	var posted chatMessage
	code, b := st.call(t, "POST", fmt.Sprintf("%s/api/chat/rooms/%d/messages", st.gateway, room), alice.Token,
		map[string]any{"body": body, "client_msg_id": fmt.Sprintf("rt-%d", time.Now().UnixNano())}, &posted)
	if code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("post through the gateway: %d %s", code, b)
	}
	if got := awaitMessage(t, ws, posted.ID); got.Body != body {
		t.Errorf("the socket received %+v", got)
	}
}

// chatSockets reads chat_ws_connections from each Ready chat pod's /metrics
// (the host reaches pod addresses over the cluster's bridge).
func (k *kcluster) chatSockets() map[string]int {
	re := regexp.MustCompile(`(?m)^(?:parley_)?chat_ws_connections ([0-9.e+]+)$`)
	out := map[string]int{}
	for name, ip := range k.readyChatPods() {
		resp, err := httpClient.Get("http://" + ip + ":5003/metrics")
		if err != nil {
			continue
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if m := re.FindSubmatch(data); m != nil {
			f, _ := strconv.ParseFloat(string(m[1]), 64)
			out[name] = int(f)
		}
	}
	return out
}

// chatCPU reads `kubectl top` for the chat pods, in millicores.
func (k *kcluster) chatCPU() map[string]int {
	out, err := k.kubectlErr(30*time.Second, "-n", "parley", "top", "pods", "-l", "app.kubernetes.io/name=chat-service", "--no-headers")
	cpu := map[string]int{}
	if err != nil {
		return cpu
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			m, _ := strconv.Atoi(strings.TrimSuffix(f[1], "m"))
			cpu[f[0]] = m
		}
	}
	return cpu
}

// scaleOut runs a bounded load against chat's NodePort and watches the HPA
// take chat-service from 2 replicas up; then measures the spread of sockets
// and CPU over the replicas right after the scale-out and again after the
// overloaded replicas handed sockets to the new ones.
func (k *kcluster) scaleOut(loadtest, users string, st *stack) {
	t := k.t
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	load := startSoak(t, ctx, k.root, loadtest, users, st, "hpa", 330*time.Second, 160)
	var mu sync.Mutex
	stopSampling := k.sampleReplicas(&mu)
	defer stopSampling()
	max := 0
	k.eventually(200*time.Second, "chat-service scaled out to 8 replicas", func() (bool, string) {
		n := len(k.readyChatPods())
		if n > max {
			max = n
		}
		return n >= 8, fmt.Sprintf("%d Ready replicas; HPA %s", n, k.hpaLine())
	})
	k.rec.Balance = append(k.rec.Balance, k.balance("right after the scale-out"))
	// The new replicas take sockets as the overloaded ones hand them over
	// (1012 rebalance), not only new connections.
	// No pod keeps more than twice its share (the rule stops shedding at
	// 1.2 × the mean, WS_REBALANCE_SLACK; reconnects land at random).
	k.eventually(150*time.Second, "sockets spread over the replicas", func() (bool, string) {
		s := k.chatSockets()
		total := 0
		for _, n := range s {
			total += n
		}
		lo, hi := spread(s)
		return len(s) >= 8 && lo > 0 && hi <= 2*total/len(s), fmt.Sprint(s)
	})
	k.rec.Balance = append(k.rec.Balance, k.balance("after the rebalance"))
	res := load.wait(t)
	k.rec.Loads = append(k.rec.Loads, res)
	res.check(t, "the HPA load")
}

func spread(m map[string]int) (lo, hi int) {
	first := true
	for _, v := range m {
		if first || v < lo {
			lo = v
		}
		if first || v > hi {
			hi = v
		}
		first = false
	}
	return lo, hi
}

func (k *kcluster) balance(when string) podBalance {
	b := podBalance{When: when, Sockets: k.chatSockets(), CPU: k.chatCPU()}
	k.t.Logf("%s: sockets %v, CPU (m) %v", when, b.Sockets, b.CPU)
	return b
}

func (k *kcluster) hpaLine() string {
	return k.get("parley", "hpa", "chat-service", "{.status.currentReplicas}/{.status.desiredReplicas} at {.status.currentMetrics[0].resource.current.averageUtilization}%")
}

// sampleReplicas records the HPA's replica count every 5 s until stopped.
func (k *kcluster) sampleReplicas(mu *sync.Mutex) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			n, _ := strconv.Atoi(k.get("parley", "deployment", "chat-service", "{.status.readyReplicas}"))
			util, _ := strconv.Atoi(k.get("parley", "hpa", "chat-service", "{.status.currentMetrics[0].resource.current.averageUtilization}"))
			mu.Lock()
			k.rec.Replicas = append(k.rec.Replicas, replicaSample{At: time.Since(k.rec.began).Round(time.Second).Seconds(), Ready: n, CPUPercent: util})
			mu.Unlock()
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// scaleIn shortens the HPA's scale-down window (a test-only patch: the
// manifest's 5 minutes and one pod a minute would take 11 minutes) and
// waits for chat-service to return to 2 replicas.
func (k *kcluster) scaleIn() {
	k.kubectl(time.Minute, "-n", "parley", "patch", "hpa", "chat-service", "--type=merge", "-p",
		`{"spec":{"behavior":{"scaleDown":{"stabilizationWindowSeconds":30,"policies":[{"type":"Pods","value":3,"periodSeconds":15}]}}}}`)
	var mu sync.Mutex
	stop := k.sampleReplicas(&mu)
	defer stop()
	k.eventually(4*time.Minute, "chat-service back to 2 replicas", func() (bool, string) {
		n := k.get("parley", "deployment", "chat-service", "{.status.replicas}")
		return n == "2" && len(k.readyChatPods()) == 2, "replicas " + n + "; HPA " + k.hpaLine()
	})
}

// underLoad runs clients that send and receive through chat's NodePort
// while disrupt runs, and checks the PodDisruptionBudget's floor held
// throughout (never fewer Ready chat pods than it allows) and that no
// acknowledged message was lost or duplicated.
func (k *kcluster) underLoad(loadtest, users string, st *stack, name string, disrupt func()) {
	t := k.t
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	load := startSoak(t, ctx, k.root, loadtest, users, st, name, 90*time.Second, 60)
	desired, _ := strconv.Atoi(k.get("parley", "pdb", "chat-service", "{.status.desiredHealthy}"))
	floor := make(chan int, 1)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		low := 1 << 30
		for {
			if n := len(k.readyChatPods()); n < low {
				low = n
			}
			select {
			case <-done:
				floor <- low
				return
			case <-time.After(time.Second):
			}
		}
	})
	load.awaitConnected(k)
	disrupt()
	close(done)
	wg.Wait()
	if low := <-floor; name == "rollout" && low < desired {
		t.Errorf("%s: %d Ready chat pods at the lowest, the PodDisruptionBudget wants %d", name, low, desired)
	}
	res := load.wait(t)
	k.rec.Loads = append(k.rec.Loads, res)
	res.check(t, name)
	if res.n("resumed") == 0 {
		t.Errorf("%s: no client had to resume: the disruption reached no socket", name)
	}
}

// switchToPostgres follows k8s/README.md's PostgreSQL section.
func (k *kcluster) switchToPostgres() {
	pw := fmt.Sprintf("pw%d", time.Now().UnixNano())
	k.kubectl(time.Minute, "-n", "parley", "create", "secret", "generic", "parley-postgres", "--from-literal=POSTGRES_PASSWORD="+pw)
	k.kubectl(time.Minute, "apply", "-f", filepath.Join(k.root, "k8s", "postgres"))
	k.kubectl(5*time.Minute, "-n", "parley", "rollout", "status", "statefulset/postgres", "--timeout=5m")
	url := func(db string) string {
		return fmt.Sprintf("postgres://parley:%s@postgres:5432/%s?sslmode=disable", pw, db)
	}
	k.kubectl(time.Minute, "-n", "parley", "create", "secret", "generic", "parley-secrets",
		"--from-literal=AUTH_DATABASE_URL="+url("auth"),
		"--from-literal=USERS_DATABASE_URL="+url("users"),
		"--from-literal=CHAT_DATABASE_URL="+url("chat"))
	k.kubectl(time.Minute, "-n", "parley", "rollout", "restart", "deployment")
	k.rolledOut("parley", 5*time.Minute)
	k.pvcsBound("parley", "data-postgres-0")
}

// tokensAccepted waits until a token of the new auth database is accepted
// by the gateway and by chat's sockets. auth-service on PostgreSQL signs
// with a new key; a verifier that fetched the JWKS from an old pod during
// the rollout learns the new kid on its first token, refetching at most
// every 5 s (platform/authn), so the switch has a moment of 401s.
func (k *kcluster) tokensAccepted(st *stack) {
	k.t.Helper()
	probe := st.register(k.t, "probe")
	k.eventually(90*time.Second, "a new token accepted by the gateway and chat's sockets", func() (bool, string) {
		for range 10 {
			req, _ := http.NewRequest("GET", st.gateway+"/api/chat/rooms", nil)
			req.Header.Set("Authorization", "Bearer "+probe.Token)
			resp, err := httpClient.Do(req)
			if err != nil {
				return false, err.Error()
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return false, fmt.Sprintf("GET /api/chat/rooms: %d", resp.StatusCode)
			}
		}
		for range 6 {
			conn, _, err := websocket.DefaultDialer.Dial(st.chatWS, http.Header{"Origin": {st.origin}})
			if err != nil {
				return false, err.Error()
			}
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			err = conn.WriteJSON(map[string]any{"type": "auth", "token": probe.Token})
			var f frame
			for i := 0; err == nil && i < 10 && f.Type != "ready" && f.Type != "error"; i++ {
				err = conn.ReadJSON(&f)
			}
			conn.Close()
			if err != nil || f.Type != "ready" {
				return false, fmt.Sprintf("socket auth: %v %+v", err, f)
			}
		}
		return true, ""
	})
}

// hostNetwork applies k8s-hostnetwork/ as its README says and checks the
// host ports it documents.
func (k *kcluster) hostNetwork() {
	t := k.t
	for _, port := range []int{8080, 5000, 5001, 5002, 5003} {
		if ln, err := net.Listen("tcp", fmt.Sprintf(":%d", port)); err != nil {
			t.Fatalf("k8s-hostnetwork needs host port %d, which is taken on this machine: %v", port, err)
		} else {
			ln.Close()
		}
	}
	if _, err := os.Stat("/var/lib/parley"); err == nil {
		t.Fatalf("/var/lib/parley exists on this machine: the test will not touch it")
	}
	t.Cleanup(func() { os.RemoveAll("/var/lib/parley") })
	for _, d := range []string{"auth", "users", "chat"} {
		dir := filepath.Join("/var/lib/parley", d)
		if err := os.MkdirAll(dir, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, 10001, 10001); err != nil {
			t.Fatal(err)
		}
	}
	k.ns = "parley-hostnet"
	k.kubectl(2*time.Minute, "apply", "-f", filepath.Join(k.root, "k8s-hostnetwork"))
	k.rolledOut("parley-hostnet", 4*time.Minute)
	k.noRestarts("parley-hostnet")
	hn := &stack{origin: "http://localhost:8080", front: "http://127.0.0.1:8080", gateway: "http://127.0.0.1:5000", chatWS: "ws://127.0.0.1:5003/ws"}
	k.gatewayHealthy(hn)
	resp, err := httpClient.Get(hn.front + "/")
	if err != nil {
		t.Fatalf("the app on host port 8080: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET / on host port 8080: %d", resp.StatusCode)
	}
	roundTrip(t, hn, "hello over the host network")
}

// ---- the load ------------------------------------------------------------

// buildLoadtest builds the harness once for the test.
func buildLoadtest(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "loadtest")
	if out, err := run(t, 10*time.Minute, filepath.Join(root, "loadtest"), nil, "go", "build", "-o", bin, "."); err != nil {
		t.Fatalf("go build loadtest: %v\n%s", err, out)
	}
	return bin
}

// soakResult is the part of `loadtest soak`'s JSON record the test reads
// (loadtest/cmd_soak.go): its "metrics".
type soakResult struct {
	Name    string             `json:"name"`
	Clean   bool               `json:"clean"`
	Metrics map[string]float64 `json:"metrics"`
}

func (r soakResult) n(key string) int64 { return int64(r.Metrics[key]) }

func (r soakResult) check(t *testing.T, name string) {
	t.Helper()
	m := r.Metrics
	t.Logf("%s: %d clients, %d acknowledged, %d lost, %d duplicates, %d resumed (p99 %.0f ms, longest %.0f ms), send→ack p99 %.0f ms",
		name, r.n("clients"), r.n("acked"), r.n("lost"), r.n("duplicates"), r.n("resumed"), m["resume_p99_ms"], m["resume_max_ms"], m["ack_p99_ms"])
	if r.n("acked") == 0 {
		t.Errorf("%s: no message was acknowledged", name)
	}
	if !r.Clean || r.n("lost") != 0 || r.n("duplicates") != 0 || r.n("not_resumed") != 0 {
		t.Errorf("%s: %d acknowledged messages lost, %d duplicates, %d clients not resumed, %d sends never acknowledged, %d refused, caught up %v (%v)",
			name, r.n("lost"), r.n("duplicates"), r.n("not_resumed"), r.n("unacked"), r.n("refused"), m["caught_up"] == 1, m)
	}
}

type soakRun struct {
	name    string
	clients int
	out     strings.Builder
	done    chan error
}

// soakClients share soakUsers accounts (at most 20 sockets per user on a
// replica); each of the soakSenders is an account of its own.
const (
	soakClients = 400
	soakUsers   = 40
	soakSenders = 20
)

// startSoak starts `loadtest soak` against chat's NodePort: clients that
// reconnect and resume, senders at rate messages/s for d, then at most two
// minutes for every client to catch up.
func startSoak(t *testing.T, ctx context.Context, root, loadtest, users string, st *stack, name string, d time.Duration, rate int) *soakRun {
	t.Helper()
	s := &soakRun{name: name, clients: soakClients, done: make(chan error, 1)}
	cmd := exec.CommandContext(ctx, loadtest, "soak", "-quiet",
		"-gateway", st.gateway, "-ws", st.chatWS, "-users", users,
		"-clients", strconv.Itoa(soakClients), "-distinct-users", strconv.Itoa(soakUsers),
		"-senders", strconv.Itoa(soakSenders), "-rooms", "4", "-rate", strconv.Itoa(rate),
		"-duration", d.String(), "-catch-up", "2m", "-timeout", (d + 6*time.Minute).String())
	cmd.Dir = root
	cmd.Stdout = &s.out
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.WaitDelay = time.Minute
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := cmd.Wait()
		if err != nil {
			err = fmt.Errorf("%w: %s", err, tail(stderr.String(), 20))
		}
		s.done <- err
	}()
	return s
}

// awaitConnected waits until the chat pods hold the load's sockets.
func (s *soakRun) awaitConnected(k *kcluster) {
	k.t.Helper()
	k.eventually(3*time.Minute, "the load's "+strconv.Itoa(s.clients)+" sockets connected", func() (bool, string) {
		total := 0
		socks := k.chatSockets()
		for _, n := range socks {
			total += n
		}
		return total >= s.clients, fmt.Sprint(socks)
	})
}

func (s *soakRun) wait(t *testing.T) soakResult {
	t.Helper()
	var err error
	select {
	case err = <-s.done:
	case <-time.After(15 * time.Minute):
		t.Fatalf("soak %s did not end", s.name)
	}
	var r soakResult
	lines := strings.Split(strings.TrimSpace(s.out.String()), "\n")
	if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil || jerr != nil {
		t.Fatalf("soak %s: %v; output %q (%v)", s.name, err, tail(s.out.String(), 10), jerr)
	}
	r.Name = s.name
	return r
}

// ---- the record ------------------------------------------------------------

type replicaSample struct {
	At         float64 `json:"at_s"`
	Ready      int     `json:"ready"`
	CPUPercent int     `json:"cpu_percent"`
}

type podBalance struct {
	When    string         `json:"when"`
	Sockets map[string]int `json:"sockets"`
	CPU     map[string]int `json:"cpu_millicores"`
}

type clusterRecord struct {
	t        *testing.T
	root     string
	began    time.Time
	Steps    []stepTime      `json:"steps"`
	Replicas []replicaSample `json:"replicas"`
	Balance  []podBalance    `json:"balance"`
	Loads    []soakResult    `json:"loads"`
}

type stepTime struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

func newClusterRecord(t *testing.T, root string) *clusterRecord {
	return &clusterRecord{t: t, root: root, began: time.Now()}
}

func (r *clusterRecord) step(name string, f func()) {
	start := time.Now()
	defer func() {
		d := time.Since(start).Round(100 * time.Millisecond)
		r.Steps = append(r.Steps, stepTime{Name: name, Seconds: d.Seconds()})
		r.t.Logf("step %q: %v", name, d)
	}()
	f()
}

// write saves the record as JSON and as the Markdown docs/BENCHMARKS.md
// quotes: step timings, the replica count over time as a chart, sockets and
// CPU per pod, and each load's outcome.
func (r *clusterRecord) write() {
	dir := filepath.Join(r.root, "test-output")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.t.Logf("record: %v", err)
		return
	}
	data, _ := json.MarshalIndent(r, "", "  ")
	_ = os.WriteFile(filepath.Join(dir, "cluster-run.json"), data, 0o644)
	var b strings.Builder
	fmt.Fprintf(&b, "| step | seconds |\n|---|---:|\n")
	for _, s := range r.Steps {
		fmt.Fprintf(&b, "| %s | %.1f |\n", s.Name, s.Seconds)
	}
	b.WriteString("\nchat-service Ready replicas over time (HPA's average CPU in % of the request):\n\n```\n")
	for _, s := range r.Replicas {
		fmt.Fprintf(&b, "%5.0fs %-8s %d  (%d%%)\n", s.At, strings.Repeat("█", s.Ready), s.Ready, s.CPUPercent)
	}
	b.WriteString("```\n")
	for _, bal := range r.Balance {
		names := make([]string, 0, len(bal.Sockets))
		for n := range bal.Sockets {
			names = append(names, n)
		}
		slices.Sort(names)
		fmt.Fprintf(&b, "\n%s:\n\n| pod | sockets | CPU (m) |\n|---|---:|---:|\n", bal.When)
		for _, n := range names {
			fmt.Fprintf(&b, "| %s | %d | %d |\n", n, bal.Sockets[n], bal.CPU[n])
		}
	}
	b.WriteString("\n| load | clients | acked | lost | duplicates | resumed | longest resume (ms) | send→ack p99 (ms) |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, l := range r.Loads {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %.0f | %.0f |\n", l.Name, l.n("clients"), l.n("acked"), l.n("lost"), l.n("duplicates"), l.n("resumed"), l.Metrics["resume_max_ms"], l.Metrics["ack_p99_ms"])
	}
	_ = os.WriteFile(filepath.Join(dir, "cluster-run.md"), []byte(b.String()), 0o644)
}
