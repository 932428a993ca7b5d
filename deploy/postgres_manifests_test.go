package deploy

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// TestPostgresManifests checks the optional PostgreSQL set for multi-node
// clusters: decoded strictly, in the parley namespace, wired to itself, its
// password only ever a reference to a Secret that is not committed, and
// hardened like the services.
func TestPostgresManifests(t *testing.T) {
	m := loadManifests(t, "k8s/postgres")
	if len(m.Namespaces) != 0 || len(m.Secrets) != 0 || len(m.Deployments) != 0 {
		t.Fatalf("k8s/postgres must add only PostgreSQL objects to the parley namespace (no Namespace, Secret or Deployment)")
	}
	if len(m.StatefulSets) != 1 {
		t.Fatalf("want one StatefulSet, got %d", len(m.StatefulSets))
	}
	sts := m.StatefulSets[0]
	if sts.Namespace != "parley" || sts.Spec.Replicas == nil || *sts.Spec.Replicas != 1 {
		t.Errorf("statefulset %s: namespace %q, replicas %v", sts.Name, sts.Namespace, sts.Spec.Replicas)
	}
	sel, err := metav1.LabelSelectorAsSelector(sts.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(sts.Spec.Template.Labels)) {
		t.Fatalf("selector %v does not match template labels %v", sts.Spec.Selector, sts.Spec.Template.Labels)
	}
	if len(sts.Spec.VolumeClaimTemplates) != 1 || sts.Spec.VolumeClaimTemplates[0].Name != "data" {
		t.Errorf("want one volume claim template named data")
	}
	c := sts.Spec.Template.Spec.Containers[0]
	var password bool
	for _, e := range c.Env {
		if e.Name == "POSTGRES_PASSWORD" {
			ref := e.ValueFrom
			password = e.Value == "" && ref != nil && ref.SecretKeyRef != nil && ref.SecretKeyRef.Name == "parley-postgres"
		}
	}
	if !password {
		t.Error("POSTGRES_PASSWORD must come from the parley-postgres Secret, never a literal")
	}
	sc, psc := c.SecurityContext, sts.Spec.Template.Spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.Capabilities == nil || len(sc.Capabilities.Drop) == 0 {
		t.Error("postgres must run non-root, read-only root FS, no privilege escalation, capabilities dropped")
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Error("postgres needs CPU requests and a memory limit")
	}
	if c.ReadinessProbe == nil || c.LivenessProbe == nil {
		t.Error("postgres needs readiness and liveness probes")
	}
	var svcOK bool
	for _, svc := range m.Services {
		if labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(sts.Spec.Template.Labels)) &&
			len(svc.Spec.Ports) == 1 && svc.Spec.Ports[0].Port == 5432 && svc.Spec.Ports[0].TargetPort.StrVal == c.Ports[0].Name {
			svcOK = true
		}
	}
	if !svcOK {
		t.Error("a Service must select the StatefulSet on port 5432 targeting its declared port")
	}
	if len(m.NetPols) != 2 {
		t.Errorf("want the ingress policy for postgres and the egress policy for the services, got %d", len(m.NetPols))
	}
}
