package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// manifestSet is every object of one manifest directory, by kind.
type manifestSet struct {
	Dir          string
	Namespaces   []*corev1.Namespace
	ConfigMaps   []*corev1.ConfigMap
	Secrets      []*corev1.Secret
	PVCs         []*corev1.PersistentVolumeClaim
	Deployments  []*appsv1.Deployment
	StatefulSets []*appsv1.StatefulSet
	Services     []*corev1.Service
	HPAs         []*autoscalingv2.HorizontalPodAutoscaler
	PDBs         []*policyv1.PodDisruptionBudget
	NetPols      []*networkingv1.NetworkPolicy
	Ingresses    []*networkingv1.Ingress
	CronJobs     []*batchv1.CronJob
	// ServiceAccounts and RBAC: only k8s/monitoring has them.
	ServiceAccounts []*corev1.ServiceAccount
	Roles           []*rbacv1.Role
	RoleBindings    []*rbacv1.RoleBinding
	objectsCount    int
}

var manifestScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, autoscalingv2.AddToScheme,
		policyv1.AddToScheme, networkingv1.AddToScheme, batchv1.AddToScheme, rbacv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}()

// loadManifests decodes every YAML document of dir (files in the order
// kubectl applies them) strictly: an unknown, misspelt or duplicated field,
// or a kind/apiVersion outside the scheme, is an error.
func loadManifests(t *testing.T, dir string) *manifestSet {
	t.Helper()
	root := repoRoot(t)
	files, err := filepath.Glob(filepath.Join(root, dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if yml, _ := filepath.Glob(filepath.Join(root, dir, "*.yml")); len(yml) > 0 {
		t.Errorf("%s: use the .yaml extension: %v", dir, yml)
	}
	if len(files) == 0 {
		t.Fatalf("%s: no manifests", dir)
	}
	sort.Strings(files)
	set := &manifestSet{Dir: dir}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		set.decode(t, filepath.Join(dir, filepath.Base(f)), data)
	}
	if t.Failed() {
		t.FailNow()
	}
	return set
}

// decode adds every YAML document of data (named rel in errors) to m,
// strictly.
func (set *manifestSet) decode(t *testing.T, rel string, data []byte) {
	t.Helper()
	strict := json.NewSerializerWithOptions(json.DefaultMetaFactory, manifestScheme, manifestScheme,
		json.SerializerOptions{Yaml: true, Strict: true})
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: document %d: %v", rel, i, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		obj, gvk, err := strict.Decode(doc, nil, nil)
		if err != nil {
			t.Errorf("%s: document %d: %v", rel, i, err)
			continue
		}
		set.objectsCount++
		switch o := obj.(type) {
		case *corev1.Namespace:
			set.Namespaces = append(set.Namespaces, o)
		case *corev1.ConfigMap:
			set.ConfigMaps = append(set.ConfigMaps, o)
		case *corev1.Secret:
			set.Secrets = append(set.Secrets, o)
		case *corev1.PersistentVolumeClaim:
			set.PVCs = append(set.PVCs, o)
		case *appsv1.Deployment:
			set.Deployments = append(set.Deployments, o)
		case *appsv1.StatefulSet:
			set.StatefulSets = append(set.StatefulSets, o)
		case *corev1.Service:
			set.Services = append(set.Services, o)
		case *autoscalingv2.HorizontalPodAutoscaler:
			set.HPAs = append(set.HPAs, o)
		case *policyv1.PodDisruptionBudget:
			set.PDBs = append(set.PDBs, o)
		case *networkingv1.NetworkPolicy:
			set.NetPols = append(set.NetPols, o)
		case *networkingv1.Ingress:
			set.Ingresses = append(set.Ingresses, o)
		case *corev1.ServiceAccount:
			set.ServiceAccounts = append(set.ServiceAccounts, o)
		case *rbacv1.Role:
			set.Roles = append(set.Roles, o)
		case *rbacv1.RoleBinding:
			set.RoleBindings = append(set.RoleBindings, o)
		case *batchv1.CronJob:
			set.CronJobs = append(set.CronJobs, o)
		default:
			t.Errorf("%s: document %d: unexpected kind %s", rel, i, gvk)
		}
	}
}

func stripComments(doc []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if l := bytes.TrimSpace(line); len(l) > 0 && l[0] != '#' {
			out = append(out, line...)
			out = append(out, '\n')
		}
	}
	return out
}

func (m *manifestSet) deployment(name string) *appsv1.Deployment {
	for _, d := range m.Deployments {
		if d.Name == name {
			return d
		}
	}
	return nil
}

func (m *manifestSet) service(name string) *corev1.Service {
	for _, s := range m.Services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func (m *manifestSet) configMap(name string) *corev1.ConfigMap {
	for _, c := range m.ConfigMaps {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// containerPort resolves a probe or Service target port against a
// container's declared ports; 0 when it is not declared.
func containerPort(c corev1.Container, p intstr.IntOrString) int32 {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort
		}
	}
	return 0
}

func envValue(c corev1.Container, name string) (corev1.EnvVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

// The two variants and what differs between them.
var variants = []struct {
	dir         string
	namespace   string
	hostNetwork bool
}{
	{dir: "k8s", namespace: "parley"},
	{dir: "k8s-hostnetwork", namespace: "parley-hostnet", hostNetwork: true},
}

func TestManifests(t *testing.T) {
	compose := loadCompose(t)
	for _, v := range variants {
		t.Run(v.dir, func(t *testing.T) {
			m := loadManifests(t, v.dir)
			t.Logf("%s: %d objects decoded strictly", v.dir, m.objectsCount)
			checkNamespace(t, m, v.namespace, v.hostNetwork)
			checkDeployments(t, m, v.hostNetwork, compose)
			checkEnvRefs(t, m)
			checkConfigURLs(t, m, v.hostNetwork)
			checkServices(t, m, v.hostNetwork)
			checkStorage(t, m, v.hostNetwork)
			checkAutoscaling(t, m, v.hostNetwork)
			checkNetworkPolicies(t, m, v.hostNetwork)
			checkIngress(t, m, v.hostNetwork)
			checkBackups(t, m, v.hostNetwork)
		})
	}
}

func checkNamespace(t *testing.T, m *manifestSet, ns string, hostNetwork bool) {
	t.Helper()
	if len(m.Namespaces) != 1 || m.Namespaces[0].Name != ns {
		t.Fatalf("%s: want exactly one Namespace %q, got %d", m.Dir, ns, len(m.Namespaces))
	}
	// kubectl applies a directory's files in name order: the namespace must come first.
	first, _ := filepath.Glob(filepath.Join(repoRoot(t), m.Dir, "*.yaml"))
	sort.Strings(first)
	if data, err := os.ReadFile(first[0]); err != nil || !bytes.Contains(data, []byte("kind: Namespace")) {
		t.Errorf("%s: the first file in apply order (%s) must declare the Namespace", m.Dir, filepath.Base(first[0]))
	}
	level := m.Namespaces[0].Labels["pod-security.kubernetes.io/enforce"]
	if want := map[bool]string{false: "restricted", true: "privileged"}[hostNetwork]; level != want {
		t.Errorf("%s: pod-security enforce level %q, want %q", m.Dir, level, want)
	}
	// Nothing secret is committed; Secrets are only ever optional references.
	if len(m.Secrets) > 0 {
		t.Errorf("%s: a Secret is committed (%s); reference it optionally instead", m.Dir, m.Secrets[0].Name)
	}
	each := func(kind, name, got string) {
		if got != ns {
			t.Errorf("%s: %s %s is in namespace %q, want %q", m.Dir, kind, name, got, ns)
		}
	}
	for _, o := range m.ConfigMaps {
		each("ConfigMap", o.Name, o.Namespace)
	}
	for _, o := range m.PVCs {
		each("PersistentVolumeClaim", o.Name, o.Namespace)
	}
	for _, o := range m.CronJobs {
		each("CronJob", o.Name, o.Namespace)
	}
	for _, o := range m.Deployments {
		each("Deployment", o.Name, o.Namespace)
	}
	for _, o := range m.Services {
		each("Service", o.Name, o.Namespace)
	}
	for _, o := range m.HPAs {
		each("HorizontalPodAutoscaler", o.Name, o.Namespace)
	}
	for _, o := range m.PDBs {
		each("PodDisruptionBudget", o.Name, o.Namespace)
	}
	for _, o := range m.NetPols {
		each("NetworkPolicy", o.Name, o.Namespace)
	}
	for _, o := range m.Ingresses {
		each("Ingress", o.Name, o.Namespace)
	}
}

func checkDeployments(t *testing.T, m *manifestSet, hostNetwork bool, compose *composeFile) {
	t.Helper()
	want := []string{}
	for _, s := range services {
		want = append(want, s.Name)
	}
	if !hostNetwork {
		want = append(want, "nats")
	}
	var got []string
	for _, d := range m.Deployments {
		got = append(got, d.Name)
	}
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s: Deployments %v, want %v", m.Dir, got, want)
	}

	for _, d := range m.Deployments {
		name := m.Dir + " deployment/" + d.Name
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || sel.Empty() {
			t.Errorf("%s: invalid or empty selector: %v", name, err)
			continue
		}
		if !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("%s: selector %s does not match the template labels %v", name, sel, d.Spec.Template.Labels)
		}
		if d.Spec.Template.Labels["app.kubernetes.io/name"] != d.Name {
			t.Errorf("%s: template label app.kubernetes.io/name = %q, want the deployment name", name, d.Spec.Template.Labels["app.kubernetes.io/name"])
		}
		pod := d.Spec.Template.Spec
		checkPodSecurity(t, name, pod)
		if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
			t.Errorf("%s: automountServiceAccountToken should be false (no service talks to the API)", name)
		}
		if pod.HostNetwork != hostNetwork {
			t.Errorf("%s: hostNetwork = %v, want %v", name, pod.HostNetwork, hostNetwork)
		}
		if hostNetwork {
			if pod.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
				t.Errorf("%s: dnsPolicy = %q, want ClusterFirstWithHostNet", name, pod.DNSPolicy)
			}
			if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
				t.Errorf("%s: want exactly one replica on the host network", name)
			}
			if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
				t.Errorf("%s: strategy %q, want Recreate (the old pod holds the host port)", name, d.Spec.Strategy.Type)
			}
			if pod.Affinity == nil || pod.Affinity.PodAffinity == nil || len(pod.Affinity.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution) == 0 {
				t.Errorf("%s: want a required podAffinity keeping all pods on one node (they talk over 127.0.0.1)", name)
			}
		}

		if len(pod.Containers) != 1 {
			t.Errorf("%s: want one container, got %d", name, len(pod.Containers))
			continue
		}
		c := pod.Containers[0]
		checkContainer(t, name, pod, c, hostNetwork)

		if d.Name == "nats" {
			if c.Image != compose.Services["nats"].Image {
				t.Errorf("%s: image %q differs from docker-compose.yml's %q", name, c.Image, compose.Services["nats"].Image)
			}
			continue
		}
		spec, _ := serviceByName(d.Name)
		if want := "parley/" + d.Name + ":latest"; c.Image != want {
			t.Errorf("%s: image %q, want %q", name, c.Image, want)
		}
		if cs, ok := compose.Services[d.Name]; !ok {
			t.Errorf("%s: not in docker-compose.yml", name)
		} else if img := expandDefaults(cs.Image); img != c.Image {
			t.Errorf("%s: image %q, docker-compose.yml has %q", name, c.Image, img)
		} else if cs.Environment["PORT"] != strconv.Itoa(spec.Port) {
			t.Errorf("%s: docker-compose.yml PORT=%q, want %d", name, cs.Environment["PORT"], spec.Port)
		}
		if len(c.Ports) != 1 || c.Ports[0].ContainerPort != int32(spec.Port) {
			t.Errorf("%s: want one container port %d, got %+v", name, spec.Port, c.Ports)
		}
		if hostNetwork && len(c.Ports) == 1 && c.Ports[0].HostPort != c.Ports[0].ContainerPort {
			t.Errorf("%s: hostPort %d must equal containerPort %d", name, c.Ports[0].HostPort, c.Ports[0].ContainerPort)
		}
		if e, ok := envValue(c, "PORT"); !ok || e.Value != strconv.Itoa(spec.Port) {
			t.Errorf("%s: env PORT = %q, want %d", name, e.Value, spec.Port)
		}
		if spec.DB != "" {
			if e, ok := envValue(c, "DATA_DIR"); !ok || e.Value != "/data" {
				t.Errorf("%s: env DATA_DIR = %q, want /data", name, e.Value)
			}
			if !slices.ContainsFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool { return vm.MountPath == "/data" && !vm.ReadOnly }) {
				t.Errorf("%s: no writable volume mounted on /data", name)
			}
		}
		if !hostNetwork {
			if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Sleep.Seconds < 1 {
				t.Errorf("%s: want a preStop sleep so endpoints drop the pod before SIGTERM", name)
			} else if g := pod.TerminationGracePeriodSeconds; g == nil || *g <= c.Lifecycle.PreStop.Sleep.Seconds+10 {
				t.Errorf("%s: terminationGracePeriodSeconds must leave time for the drain after the preStop sleep", name)
			}
			switch d.Name {
			case "chat-service":
				if d.Spec.Replicas != nil {
					t.Errorf("%s: leave replicas unset: the HPA owns the count", name)
				}
			default:
				if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
					t.Errorf("%s: want at least 2 replicas", name)
				}
			}
		}
	}
}

func checkPodSecurity(t *testing.T, name string, pod corev1.PodSpec) {
	t.Helper()
	sc := pod.SecurityContext
	if sc == nil {
		t.Errorf("%s: no pod securityContext", name)
		return
	}
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("%s: pod runAsNonRoot must be true", name)
	}
	if sc.RunAsUser == nil || *sc.RunAsUser != 10001 || sc.RunAsGroup == nil || *sc.RunAsGroup != 10001 {
		t.Errorf("%s: pod must run as 10001:10001 (the images' USER)", name)
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod seccompProfile must be RuntimeDefault", name)
	}
}

func checkContainer(t *testing.T, name string, pod corev1.PodSpec, c corev1.Container, hostNetwork bool) {
	t.Helper()
	if c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("%s: imagePullPolicy %q, want IfNotPresent (images imported into K3s have no registry)", name, c.ImagePullPolicy)
	}
	// Resources: the HPA computes utilisation from CPU requests; limits keep
	// one service from starving the node.
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, ok := c.Resources.Requests[r]
		if !ok || req.IsZero() {
			t.Errorf("%s: no %s request", name, r)
		}
		lim, ok := c.Resources.Limits[r]
		if !ok || lim.IsZero() {
			t.Errorf("%s: no %s limit", name, r)
		} else if req.Cmp(lim) > 0 {
			t.Errorf("%s: %s request %s above limit %s", name, r, req.String(), lim.String())
		}
	}
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Errorf("%s: no container securityContext", name)
	default:
		if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("%s: runAsNonRoot must be true", name)
		}
		if sc.RunAsUser == nil || *sc.RunAsUser != 10001 {
			t.Errorf("%s: runAsUser must be 10001", name)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s: readOnlyRootFilesystem must be true", name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s: allowPrivilegeEscalation must be false", name)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("%s: privileged", name)
		}
		if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
			t.Errorf("%s: capabilities must drop ALL and add none", name)
		}
		if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: seccompProfile must be RuntimeDefault", name)
		}
	}
	// A read-only root needs a writable /tmp.
	if !slices.ContainsFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool { return vm.MountPath == "/tmp" }) {
		t.Errorf("%s: no /tmp volume (the root filesystem is read-only)", name)
	}
	for _, vm := range c.VolumeMounts {
		if !slices.ContainsFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == vm.Name }) {
			t.Errorf("%s: mounts undeclared volume %q", name, vm.Name)
		}
	}
	for _, v := range pod.Volumes {
		if hostNetwork && v.PersistentVolumeClaim != nil {
			t.Errorf("%s: volume %q: the host-network variant keeps data on hostPath", name, v.Name)
		}
		if !hostNetwork && v.HostPath != nil {
			t.Errorf("%s: volume %q: hostPath outside the host-network variant", name, v.Name)
		}
		if v.HostPath != nil && (v.HostPath.Type == nil || *v.HostPath.Type != corev1.HostPathDirectoryOrCreate || !strings.HasPrefix(v.HostPath.Path, "/var/lib/parley/")) {
			t.Errorf("%s: hostPath %q should be a DirectoryOrCreate under /var/lib/parley/", name, v.HostPath.Path)
		}
	}
	// A Job's pod runs to completion and serves nothing: no probes.
	if pod.RestartPolicy == corev1.RestartPolicyOnFailure || pod.RestartPolicy == corev1.RestartPolicyNever {
		if c.LivenessProbe != nil || c.ReadinessProbe != nil || len(c.Ports) > 0 {
			t.Errorf("%s: a job's container needs no ports or probes", name)
		}
		return
	}
	// Probes: liveness on /healthz, readiness on /readyz, on a declared port.
	probe := func(kind string, p *corev1.Probe, path string) {
		switch {
		case p == nil:
			t.Errorf("%s: no %s probe", name, kind)
		case p.HTTPGet == nil:
			t.Errorf("%s: %s probe is not an HTTP GET", name, kind)
		case p.HTTPGet.Path != path:
			t.Errorf("%s: %s probe path %q, want %q", name, kind, p.HTTPGet.Path, path)
		case containerPort(c, p.HTTPGet.Port) == 0:
			t.Errorf("%s: %s probe port %s is not a declared container port", name, kind, p.HTTPGet.Port.String())
		}
	}
	ready := "/readyz"
	if strings.HasPrefix(c.Image, "nats:") {
		ready = "/healthz" // NATS's monitoring port has /healthz only
	}
	probe("liveness", c.LivenessProbe, "/healthz")
	probe("readiness", c.ReadinessProbe, ready)
	if c.StartupProbe != nil {
		probe("startup", c.StartupProbe, "/healthz")
	}
}

// checkEnvRefs: every value taken from a ConfigMap or Secret names a declared
// object and key, or is optional.
func checkEnvRefs(t *testing.T, m *manifestSet) {
	t.Helper()
	for _, d := range m.Deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			if len(c.EnvFrom) > 0 {
				t.Errorf("%s deployment/%s: use explicit env entries, not envFrom (so each key is checked)", m.Dir, d.Name)
			}
			seen := map[string]bool{}
			for _, e := range c.Env {
				where := fmt.Sprintf("%s deployment/%s env %s", m.Dir, d.Name, e.Name)
				if seen[e.Name] {
					t.Errorf("%s: set twice", where)
				}
				seen[e.Name] = true
				if e.ValueFrom == nil {
					continue
				}
				switch {
				case e.ValueFrom.ConfigMapKeyRef != nil:
					ref := e.ValueFrom.ConfigMapKeyRef
					optional := ref.Optional != nil && *ref.Optional
					cm := m.configMap(ref.Name)
					if cm == nil && !optional {
						t.Errorf("%s: ConfigMap %q is not declared", where, ref.Name)
					} else if cm != nil {
						if _, ok := cm.Data[ref.Key]; !ok && !optional {
							t.Errorf("%s: ConfigMap %q has no key %q", where, ref.Name, ref.Key)
						}
					}
				case e.ValueFrom.SecretKeyRef != nil:
					ref := e.ValueFrom.SecretKeyRef
					if ref.Optional == nil || !*ref.Optional {
						t.Errorf("%s: Secret %q key %q must be optional: no Secret is committed", where, ref.Name, ref.Key)
					}
				default:
					t.Errorf("%s: unexpected valueFrom", where)
				}
			}
		}
	}
}

// checkConfigURLs: the service URLs in the ConfigMap point at something that
// exists: a Service and its port, or (host network) the port on 127.0.0.1.
func checkConfigURLs(t *testing.T, m *manifestSet, hostNetwork bool) {
	t.Helper()
	cm := m.configMap("parley-config")
	if cm == nil {
		t.Fatalf("%s: no ConfigMap parley-config", m.Dir)
	}
	target := map[string]string{
		"AUTH_SERVICE_URL": "auth-service", "USER_SERVICE_URL": "user-service",
		"CHAT_SERVICE_URL": "chat-service", "JWKS_URL": "auth-service",
	}
	if !hostNetwork {
		target["NATS_URL"] = "nats"
	} else if _, ok := cm.Data["NATS_URL"]; ok {
		t.Errorf("%s: NATS_URL set, but the host-network variant runs one chat replica with the in-process broker", m.Dir)
	}
	for key, svc := range target {
		raw, ok := cm.Data[key]
		if !ok {
			t.Errorf("%s: parley-config has no %s", m.Dir, key)
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || u.Port() == "" {
			t.Errorf("%s: %s=%q is not a URL with a port", m.Dir, key, raw)
			continue
		}
		port, _ := strconv.Atoi(u.Port())
		if hostNetwork {
			spec, _ := serviceByName(svc)
			if u.Hostname() != "127.0.0.1" || port != spec.Port {
				t.Errorf("%s: %s=%q, want 127.0.0.1:%d", m.Dir, key, raw, spec.Port)
			}
			continue
		}
		s := m.service(svc)
		if u.Hostname() != svc || s == nil || !slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return int(p.Port) == port }) {
			t.Errorf("%s: %s=%q does not name Service %s and one of its ports", m.Dir, key, raw, svc)
		}
	}
	if want := "/.well-known/jwks.json"; !strings.HasSuffix(cm.Data["JWKS_URL"], want) {
		t.Errorf("%s: JWKS_URL=%q should end in %s", m.Dir, cm.Data["JWKS_URL"], want)
	}
}

func checkServices(t *testing.T, m *manifestSet, hostNetwork bool) {
	t.Helper()
	if hostNetwork {
		if len(m.Services) > 0 {
			t.Errorf("%s: host-network pods are reached on the node's ports; no Services expected", m.Dir)
		}
		return
	}
	for _, s := range m.Services {
		name := m.Dir + " service/" + s.Name
		if len(s.Spec.Selector) == 0 {
			t.Errorf("%s: no selector", name)
			continue
		}
		var target *appsv1.Deployment
		for _, d := range m.Deployments {
			if labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
				if target != nil {
					t.Errorf("%s: selects both %s and %s", name, target.Name, d.Name)
				}
				target = d
			}
		}
		if target == nil {
			t.Errorf("%s: selector %v matches no Deployment", name, s.Spec.Selector)
			continue
		}
		c := target.Spec.Template.Spec.Containers[0]
		for _, p := range s.Spec.Ports {
			tp := p.TargetPort
			if tp.Type == intstr.Int && tp.IntVal == 0 {
				tp = intstr.FromInt32(p.Port)
			}
			cp := containerPort(c, tp)
			if cp == 0 {
				t.Errorf("%s: port %d targets %s, not a declared port of deployment/%s", name, p.Port, tp.String(), target.Name)
			} else if cp != p.Port {
				t.Errorf("%s: port %d forwards to container port %d; keep them equal (the URLs use one number)", name, p.Port, cp)
			}
		}
		spec, isApp := serviceByName(s.Name)
		switch {
		case isApp && spec.NodePort != 0:
			if s.Spec.Type != corev1.ServiceTypeNodePort || len(s.Spec.Ports) != 1 || s.Spec.Ports[0].NodePort != int32(spec.NodePort) {
				t.Errorf("%s: want a NodePort service on %d", name, spec.NodePort)
			}
		default:
			if s.Spec.Type != "" && s.Spec.Type != corev1.ServiceTypeClusterIP {
				t.Errorf("%s: internal service must be ClusterIP, is %s", name, s.Spec.Type)
			}
		}
	}
	for _, d := range m.Deployments {
		if m.service(d.Name) == nil {
			t.Errorf("%s: deployment/%s has no Service of the same name", m.Dir, d.Name)
		}
	}
}

func checkStorage(t *testing.T, m *manifestSet, hostNetwork bool) {
	t.Helper()
	if hostNetwork {
		if len(m.PVCs) > 0 {
			t.Errorf("%s: PVCs in the host-network variant (it uses hostPath)", m.Dir)
		}
		return
	}
	claims := map[string]*corev1.PersistentVolumeClaim{}
	for _, p := range m.PVCs {
		claims[p.Name] = p
		if p.Spec.StorageClassName == nil || *p.Spec.StorageClassName != "local-path" {
			t.Errorf("%s: pvc/%s: storageClassName should be local-path (K3s)", m.Dir, p.Name)
		}
		if !slices.Equal(p.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) {
			t.Errorf("%s: pvc/%s: access modes %v, want [ReadWriteOnce]", m.Dir, p.Name, p.Spec.AccessModes)
		}
	}
	used := map[string]string{}
	for _, d := range m.Deployments {
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.PersistentVolumeClaim == nil {
				continue
			}
			if claims[v.PersistentVolumeClaim.ClaimName] == nil {
				t.Errorf("%s: deployment/%s uses undeclared PVC %q", m.Dir, d.Name, v.PersistentVolumeClaim.ClaimName)
			}
			if other, ok := used[v.PersistentVolumeClaim.ClaimName]; ok {
				t.Errorf("%s: PVC %q used by %s and %s: no service opens another's database", m.Dir, v.PersistentVolumeClaim.ClaimName, other, d.Name)
			}
			used[v.PersistentVolumeClaim.ClaimName] = d.Name
		}
	}
	for _, s := range services {
		d := m.deployment(s.Name)
		if d == nil {
			continue
		}
		hasPVC := slices.ContainsFunc(d.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool { return v.PersistentVolumeClaim != nil })
		if hasPVC != (s.DB != "") {
			t.Errorf("%s: deployment/%s: has a PVC = %v, owns a database = %v", m.Dir, s.Name, hasPVC, s.DB != "")
		}
	}
	if len(claims) != 4 || claims[backupClaim] == nil {
		t.Errorf("%s: want 4 PVCs (auth, users, chat and %s), got %d", m.Dir, backupClaim, len(claims))
	}
	for name := range claims {
		if _, ok := used[name]; !ok && name != backupClaim {
			t.Errorf("%s: PVC %q is used by no deployment", m.Dir, name)
		}
	}
}

// backupClaim is the volume the backup CronJobs write to.
const backupClaim = "parley-backups"

// checkBackups: every service with a database has a backup CronJob that
// runs its own image's backup subcommand on the same data volume, on the
// node of its pods (required podAffinity: ReadWriteOnce local volumes),
// writing to the backup volume, as locked down as the services.
func checkBackups(t *testing.T, m *manifestSet, hostNetwork bool) {
	t.Helper()
	if hostNetwork {
		if len(m.CronJobs) > 0 {
			t.Errorf("%s: backup CronJobs in the host-network variant", m.Dir)
		}
		return
	}
	jobs := map[string]*batchv1.CronJob{}
	for _, j := range m.CronJobs {
		jobs[j.Name] = j
	}
	for _, s := range services {
		if s.DB == "" {
			continue
		}
		name := "cronjob/" + s.Name + "-backup"
		j := jobs[s.Name+"-backup"]
		d := m.deployment(s.Name)
		if j == nil || d == nil {
			t.Errorf("%s: %s missing", m.Dir, name)
			continue
		}
		if j.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
			t.Errorf("%s: concurrencyPolicy %q, want Forbid", name, j.Spec.ConcurrencyPolicy)
		}
		pod := j.Spec.JobTemplate.Spec.Template.Spec
		if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
			t.Errorf("%s: automountServiceAccountToken should be false", name)
		}
		checkPodSecurity(t, name, pod)
		if len(pod.Containers) != 1 {
			t.Fatalf("%s: want one container", name)
		}
		c := pod.Containers[0]
		checkContainer(t, name, pod, c, false)
		if want := d.Spec.Template.Spec.Containers[0].Image; c.Image != want {
			t.Errorf("%s: image %q, want the service's %q", name, c.Image, want)
		}
		if len(c.Args) < 3 || c.Args[0] != "backup" || c.Args[1] != "--to" || c.Args[2] != "/backups" {
			t.Errorf("%s: args %v, want backup --to /backups ...", name, c.Args)
		}
		if e, ok := envValue(c, "DATA_DIR"); !ok || e.Value != "/data" {
			t.Errorf("%s: DATA_DIR = %q, want /data", name, e.Value)
		}
		// The same DATABASE_URL reference as the service's.
		je, _ := envValue(c, "DATABASE_URL")
		de, _ := envValue(d.Spec.Template.Spec.Containers[0], "DATABASE_URL")
		if je.ValueFrom == nil || de.ValueFrom == nil || je.ValueFrom.SecretKeyRef == nil || de.ValueFrom.SecretKeyRef == nil ||
			je.ValueFrom.SecretKeyRef.Key != de.ValueFrom.SecretKeyRef.Key {
			t.Errorf("%s: DATABASE_URL must come from the service's secret key", name)
		}
		claimAt := map[string]string{}
		for _, vm := range c.VolumeMounts {
			for _, v := range pod.Volumes {
				if v.Name == vm.Name && v.PersistentVolumeClaim != nil {
					claimAt[vm.MountPath] = v.PersistentVolumeClaim.ClaimName
				}
			}
		}
		var dataClaim string
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.PersistentVolumeClaim != nil {
				dataClaim = v.PersistentVolumeClaim.ClaimName
			}
		}
		if claimAt["/data"] != dataClaim || claimAt["/backups"] != backupClaim {
			t.Errorf("%s: mounts %v, want /data=%s (the service's) and /backups=%s", name, claimAt, dataClaim, backupClaim)
		}
		var sameNode bool
		if a := pod.Affinity; a != nil && a.PodAffinity != nil {
			for _, term := range a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
				sel, err := metav1.LabelSelectorAsSelector(term.LabelSelector)
				if err == nil && term.TopologyKey == "kubernetes.io/hostname" && sel.Matches(labels.Set(d.Spec.Template.Labels)) {
					sameNode = true
				}
			}
		}
		if !sameNode {
			t.Errorf("%s: want a required podAffinity to %s's pods on kubernetes.io/hostname (its ReadWriteOnce volume is on their node)", name, s.Name)
		}
	}
	if len(jobs) != 3 {
		t.Errorf("%s: want 3 backup CronJobs, got %d", m.Dir, len(jobs))
	}
}

func checkAutoscaling(t *testing.T, m *manifestSet, hostNetwork bool) {
	t.Helper()
	if hostNetwork {
		if len(m.HPAs)+len(m.PDBs) > 0 {
			t.Errorf("%s: HPA/PDB in the one-replica host-network variant", m.Dir)
		}
		return
	}
	if len(m.HPAs) != 1 {
		t.Fatalf("%s: want one HPA, got %d", m.Dir, len(m.HPAs))
	}
	h := m.HPAs[0]
	ref := h.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || ref.Name != "chat-service" || m.deployment(ref.Name) == nil {
		t.Errorf("%s: HPA targets %s %s/%s, want the chat-service Deployment", m.Dir, ref.APIVersion, ref.Kind, ref.Name)
	}
	if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas != 2 || h.Spec.MaxReplicas != 8 {
		t.Errorf("%s: HPA replicas %v..%d, want 2..8", m.Dir, h.Spec.MinReplicas, h.Spec.MaxReplicas)
	}
	if len(h.Spec.Metrics) != 1 || h.Spec.Metrics[0].Type != autoscalingv2.ResourceMetricSourceType ||
		h.Spec.Metrics[0].Resource == nil || h.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU ||
		h.Spec.Metrics[0].Resource.Target.Type != autoscalingv2.UtilizationMetricType ||
		h.Spec.Metrics[0].Resource.Target.AverageUtilization == nil || *h.Spec.Metrics[0].Resource.Target.AverageUtilization != 70 {
		t.Errorf("%s: HPA metric should be CPU utilization 70%%: %+v", m.Dir, h.Spec.Metrics)
	}
	if b := h.Spec.Behavior; b == nil || b.ScaleDown == nil || b.ScaleDown.StabilizationWindowSeconds == nil || *b.ScaleDown.StabilizationWindowSeconds < 120 {
		t.Errorf("%s: HPA needs a scale-down stabilization window (each removed chat pod reconnects its clients)", m.Dir)
	}

	covered := map[string]bool{}
	for _, p := range m.PDBs {
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil || sel.Empty() {
			t.Errorf("%s: pdb/%s: bad selector", m.Dir, p.Name)
			continue
		}
		if (p.Spec.MaxUnavailable == nil) == (p.Spec.MinAvailable == nil) {
			t.Errorf("%s: pdb/%s: set exactly one of maxUnavailable/minAvailable", m.Dir, p.Name)
		}
		n := 0
		for _, d := range m.Deployments {
			if sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				n++
				covered[d.Name] = true
				replicas := int32(1)
				if d.Spec.Replicas != nil {
					replicas = *d.Spec.Replicas
				}
				if d.Name == h.Spec.ScaleTargetRef.Name && h.Spec.MinReplicas != nil {
					replicas = *h.Spec.MinReplicas
				}
				if replicas < 2 {
					t.Errorf("%s: pdb/%s covers deployment/%s with %d replica(s): it would block every drain", m.Dir, p.Name, d.Name, replicas)
				}
			}
		}
		if n != 1 {
			t.Errorf("%s: pdb/%s matches %d deployments, want 1", m.Dir, p.Name, n)
		}
	}
	for _, s := range services {
		if !covered[s.Name] {
			t.Errorf("%s: deployment/%s has no PodDisruptionBudget", m.Dir, s.Name)
		}
	}
}

// checkNetworkPolicies evaluates the policies for every pair of workloads and
// port, and compares the allowed flows with ARCHITECTURE.md, Contract: Shape and ports.
func checkNetworkPolicies(t *testing.T, m *manifestSet, hostNetwork bool) {
	t.Helper()
	if hostNetwork {
		if len(m.NetPols) > 0 {
			t.Errorf("%s: NetworkPolicies do not apply to host-network pods", m.Dir)
		}
		return
	}
	type flow struct{ from, to string }
	want := map[flow]bool{
		{"api-gateway", "auth-service"}: true, {"api-gateway", "user-service"}: true, {"api-gateway", "chat-service"}: true,
		{"user-service", "auth-service"}: true, {"user-service", "chat-service"}: true,
		{"chat-service", "auth-service"}: true, {"chat-service", "user-service"}: true, {"chat-service", "nats"}: true,
	}
	podLabels := map[string]map[string]string{}
	for _, d := range m.Deployments {
		podLabels[d.Name] = d.Spec.Template.Labels
	}
	// the outside world: Traefik in kube-system, a NodePort client
	outside := map[string]string{"app.kubernetes.io/name": "traefik"}
	const outsideNS = "kube-system"

	selects := func(sel metav1.LabelSelector, l map[string]string) bool {
		s, err := metav1.LabelSelectorAsSelector(&sel)
		if err != nil {
			t.Errorf("bad selector %v: %v", sel, err)
			return false
		}
		return s.Matches(labels.Set(l))
	}
	peerMatches := func(peers []networkingv1.NetworkPolicyPeer, l map[string]string, ns string) bool {
		if len(peers) == 0 {
			return true
		}
		for _, p := range peers {
			if p.IPBlock != nil {
				return true // treated as "anywhere" for this check
			}
			nsOK := ns == m.Namespaces[0].Name
			if p.NamespaceSelector != nil {
				nsOK = selects(*p.NamespaceSelector, map[string]string{"kubernetes.io/metadata.name": ns})
			}
			podOK := p.PodSelector == nil || selects(*p.PodSelector, l)
			if nsOK && podOK {
				return true
			}
		}
		return false
	}
	portMatches := func(ports []networkingv1.NetworkPolicyPort, port int32) bool {
		if len(ports) == 0 {
			return true
		}
		for _, p := range ports {
			if (p.Protocol == nil || *p.Protocol == corev1.ProtocolTCP) && (p.Port == nil || p.Port.IntVal == port) {
				return true
			}
		}
		return false
	}
	has := func(types []networkingv1.PolicyType, pt networkingv1.PolicyType) bool {
		return slices.Contains(types, pt)
	}
	ingressOK := func(to string, from map[string]string, fromNS string, port int32) bool {
		isolated := false
		for _, p := range m.NetPols {
			if !has(p.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) || !selects(p.Spec.PodSelector, podLabels[to]) {
				continue
			}
			isolated = true
			for _, r := range p.Spec.Ingress {
				if peerMatches(r.From, from, fromNS) && portMatches(r.Ports, port) {
					return true
				}
			}
		}
		return !isolated
	}
	egressOK := func(from, to string, port int32) bool {
		isolated := false
		for _, p := range m.NetPols {
			if !has(p.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) || !selects(p.Spec.PodSelector, podLabels[from]) {
				continue
			}
			isolated = true
			for _, r := range p.Spec.Egress {
				if peerMatches(r.To, podLabels[to], m.Namespaces[0].Name) && portMatches(r.Ports, port) {
					return true
				}
			}
		}
		return !isolated
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range podLabels {
			if !yield(n) {
				return
			}
		}
	})
	for _, from := range names {
		for _, to := range names {
			if from == to {
				continue
			}
			for _, cp := range m.deployment(to).Spec.Template.Spec.Containers[0].Ports {
				got := egressOK(from, to, cp.ContainerPort) && ingressOK(to, podLabels[from], m.Namespaces[0].Name, cp.ContainerPort)
				wantIt := want[flow{from, to}] && (to != "nats" || cp.ContainerPort == 4222)
				if got != wantIt {
					t.Errorf("%s: NetworkPolicies allow %s -> %s:%d = %v, want %v", m.Dir, from, to, cp.ContainerPort, got, wantIt)
				}
			}
		}
	}
	// From outside the namespace only the three public entry points are open.
	public := map[string]bool{"frontend": true, "api-gateway": true, "chat-service": true}
	for _, to := range names {
		for _, cp := range m.deployment(to).Spec.Template.Spec.Containers[0].Ports {
			if got := ingressOK(to, outside, outsideNS, cp.ContainerPort); got != public[to] {
				t.Errorf("%s: NetworkPolicies allow outside -> %s:%d = %v, want %v", m.Dir, to, cp.ContainerPort, got, public[to])
			}
		}
	}
	// Every pod can resolve names.
	dns := map[string]string{"k8s-app": "kube-dns"}
	for _, from := range names {
		ok := false
		for _, p := range m.NetPols {
			if !has(p.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) || !selects(p.Spec.PodSelector, podLabels[from]) {
				continue
			}
			for _, r := range p.Spec.Egress {
				if peerMatches(r.To, dns, "kube-system") && portMatches(r.Ports, 53) {
					ok = true
				}
			}
		}
		if !ok {
			t.Errorf("%s: %s cannot reach cluster DNS", m.Dir, from)
		}
	}
}

func checkIngress(t *testing.T, m *manifestSet, hostNetwork bool) {
	t.Helper()
	if hostNetwork {
		if len(m.Ingresses) > 0 {
			t.Errorf("%s: no Ingress expected (no Services)", m.Dir)
		}
		return
	}
	if len(m.Ingresses) != 1 {
		t.Fatalf("%s: want one Ingress, got %d", m.Dir, len(m.Ingresses))
	}
	ing := m.Ingresses[0]
	if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "traefik" {
		t.Errorf("%s: ingressClassName should be traefik (K3s's default)", m.Dir)
	}
	want := map[string]string{"/": "frontend", "/api": "api-gateway", "/ws": "chat-service"}
	got := map[string]string{}
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			if p.PathType == nil || *p.PathType != networkingv1.PathTypePrefix {
				t.Errorf("%s: ingress path %s: want pathType Prefix", m.Dir, p.Path)
			}
			b := p.Backend.Service
			if b == nil {
				t.Errorf("%s: ingress path %s has no service backend", m.Dir, p.Path)
				continue
			}
			got[p.Path] = b.Name
			s := m.service(b.Name)
			if s == nil || !slices.ContainsFunc(s.Spec.Ports, func(sp corev1.ServicePort) bool {
				return (b.Port.Name != "" && sp.Name == b.Port.Name) || (b.Port.Number != 0 && sp.Port == b.Port.Number)
			}) {
				t.Errorf("%s: ingress path %s -> %s:%v is not a declared Service port", m.Dir, p.Path, b.Name, b.Port)
			}
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: ingress routes %v, want %v", m.Dir, got, want)
	}
}
