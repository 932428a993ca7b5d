package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestManifestsOnAPIServer applies k8s/ and k8s-hostnetwork/ to a real
// kube-apiserver + etcd on loopback (shared/tools/kube-apiserver-local.sh):
// a server-side dry run, then a real apply. That is the API's own schema,
// defaulting, field validation and admission (Pod Security included) — what
// `kubectl apply` on a cluster would say. No controllers or kubelet run, so
// nothing is scheduled (see k8s/README.md).
//
// The first run builds kube-apiserver and etcd from Go modules (~8 minutes on
// 2 cores), cached under ~/.cache/kapi (or $KAPI_HOME) afterwards.
func TestManifestsOnAPIServer(t *testing.T) {
	root := repoRoot(t)
	script := filepath.Join(filepath.Dir(root), "shared", "tools", "kube-apiserver-local.sh")
	if _, err := os.Stat(script); err != nil {
		missing(t, "%s not found (the shared tools live beside the repository)", script)
	}
	needTool(t, "kubectl", "the script applies the manifests with kubectl")
	needTool(t, "curl", "the script polls the API server with curl")
	needTool(t, "openssl", "the script makes the API server's keys with openssl")

	// A private state directory, so that nobody else's API server (the
	// script's default state lives in ~/.cache/kapi/run) is reused, stopped or
	// disturbed; the built binaries are shared through symlinks.
	shared := os.Getenv("KAPI_HOME")
	if shared == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatal(err)
		}
		shared = filepath.Join(home, ".cache", "kapi")
	}
	kapiHome := t.TempDir()
	for _, d := range []string{"bin", "src"} {
		if err := os.MkdirAll(filepath.Join(shared, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(shared, d), filepath.Join(kapiHome, d)); err != nil {
			t.Fatal(err)
		}
	}
	kenv := []string{"KAPI_HOME=" + kapiHome}
	t.Cleanup(func() {
		if out, err := run(t, time.Minute, root, kenv, script, "stop"); err != nil {
			t.Logf("stopping the API server: %v\n%s", err, out)
		}
	})
	// k8s/monitoring is a kustomization (kubectl apply -k): what it applies
	// is rendered first and validated with the rest.
	monitoring := filepath.Join(t.TempDir(), "monitoring")
	kustomize := exec.Command("kubectl", "kustomize", "k8s/monitoring")
	kustomize.Dir = root
	rendered, err := kustomize.Output()
	if err != nil {
		t.Fatalf("kubectl kustomize k8s/monitoring: %v", err)
	}
	if err := os.MkdirAll(monitoring, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(monitoring, "monitoring.yaml"), rendered, 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, err := run(t, 20*time.Minute, root, kenv, script, "validate", "k8s", "k8s-hostnetwork", "k8s/postgres", monitoring)
	if err != nil {
		t.Fatalf("kube-apiserver-local.sh validate k8s k8s-hostnetwork k8s/postgres k8s/monitoring: %v\n%s", err, tail(out, 60))
	}
	t.Logf("validated on a real kube-apiserver in %s", time.Since(start).Round(time.Second))
	// Warnings are how the API server reports Pod Security violations and
	// deprecated APIs on a Deployment: treat them as failures.
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "Warning:") {
			t.Errorf("API server warning: %s", line)
		}
	}
	// Both passes saw the objects (names are the same in both namespaces).
	for _, obj := range []string{
		"namespace/parley ", "namespace/parley-hostnet ", "deployment.apps/chat-service ",
		"horizontalpodautoscaler.autoscaling/chat-service ", "ingress.networking.k8s.io/parley ",
		"networkpolicy.networking.k8s.io/default-deny ",
	} {
		dry, real := false, false
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, obj) {
				if strings.HasSuffix(line, "(server dry run)") {
					dry = true
				} else {
					real = true
				}
			}
		}
		if !dry || !real {
			t.Errorf("%sseen in the dry run: %v, in the real apply: %v\n%s", obj, dry, real, tail(out, 80))
		}
	}

	// deploy-all.sh against the same API server: it applies, rewrites the
	// browser config for --host, and pins every Deployment to the built tag.
	// No controller runs there, so the rollout wait must time out, and the
	// script must say so.
	envOut, err := run(t, 30*time.Second, root, kenv, script, "env")
	kubeconfig := strings.TrimPrefix(strings.TrimSpace(envOut), "export KUBECONFIG=")
	if err != nil || kubeconfig == "" {
		t.Fatalf("%s env: %v %q", script, err, envOut)
	}
	for _, c := range []struct {
		args   []string
		ns     string
		config map[string]string
	}{
		{[]string{"--host", "parley.example"}, "parley", map[string]string{
			"API_BASE_URL": "http://parley.example:30000", "CHAT_WS_URL": "ws://parley.example:30003/ws",
			"ALLOWED_ORIGINS": "http://parley.example:30080,http://parley.example"}},
		{[]string{"--host", "parley.example", "--ingress"}, "parley", map[string]string{
			"API_BASE_URL": "http://parley.example", "CHAT_WS_URL": "ws://parley.example/ws"}},
		{[]string{"--host", "parley.example", "--hostnetwork"}, "parley-hostnet", map[string]string{
			"ALLOWED_ORIGINS": "http://parley.example:8080"}},
	} {
		args := append([]string{"--push", "--no-build", "--tag", "t1", "--timeout", "1"}, c.args...)
		out, err := run(t, 5*time.Minute, root, []string{"KUBECONFIG=" + kubeconfig, "KUBECTL=kubectl", "REGISTRY=registry.example:5000"},
			filepath.Join(root, "deploy-all.sh"), args...)
		if err == nil || !strings.Contains(out, "did not become ready within 1s") {
			t.Errorf("deploy-all.sh %v: want the rollout wait to time out with an explanation (no controllers here), got %v:\n%s", args, err, tail(out, 30))
		}
		get := func(args ...string) string {
			out, err := run(t, time.Minute, root, []string{"KUBECONFIG=" + kubeconfig}, "kubectl", append([]string{"-n", c.ns, "get"}, args...)...)
			if err != nil {
				t.Fatalf("kubectl get %v: %v\n%s", args, err, out)
			}
			return strings.TrimSpace(out)
		}
		for k, v := range c.config {
			if got := get("configmap", "parley-config", "-o", "jsonpath={.data."+k+"}"); got != v {
				t.Errorf("deploy-all.sh %v: %s=%q, want %q", args, k, got, v)
			}
		}
		for _, s := range services {
			img := get("deployment", s.Name, "-o", "jsonpath={.spec.template.spec.containers[0].image}")
			if want := "registry.example:5000/parley/" + s.Name + ":t1"; img != want {
				t.Errorf("deploy-all.sh %v: deployment/%s image %q, want %q", args, s.Name, img, want)
			}
			if h := get("deployment", s.Name, "-o", `jsonpath={.spec.template.metadata.annotations.parley\.chat/config-hash}`); len(h) != 16 {
				t.Errorf("deploy-all.sh %v: deployment/%s config-hash annotation %q", args, s.Name, h)
			}
		}
	}
}
