package deploy

import (
	"os"
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
// 2 cores), cached under ~/.cache/kapi (KAPI_HOME) afterwards.
func TestManifestsOnAPIServer(t *testing.T) {
	root := repoRoot(t)
	script := filepath.Join(filepath.Dir(root), "shared", "tools", "kube-apiserver-local.sh")
	if _, err := os.Stat(script); err != nil {
		missing(t, "%s not found (the shared tools live beside the repository)", script)
	}
	needTool(t, "kubectl", "the script applies the manifests with kubectl")
	needTool(t, "curl", "the script polls the API server with curl")
	needTool(t, "openssl", "the script makes the API server's keys with openssl")

	// Leave the machine as we found it: stop the API server only if this
	// test started it.
	if _, err := run(t, 30*time.Second, root, nil, script, "status"); err != nil {
		t.Cleanup(func() {
			if out, err := run(t, time.Minute, root, nil, script, "stop"); err != nil {
				t.Logf("stopping the API server: %v\n%s", err, out)
			}
		})
	}
	start := time.Now()
	out, err := run(t, 20*time.Minute, root, nil, script, "validate", "k8s", "k8s-hostnetwork")
	if err != nil {
		t.Fatalf("kube-apiserver-local.sh validate k8s k8s-hostnetwork: %v\n%s", err, tail(out, 60))
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
}
