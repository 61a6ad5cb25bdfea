package manifests_test

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/e2e/kubeapi"
)

// speakerCapabilities are the only capabilities the speaker gets: NET_RAW
// for ARP/NDP on AF_PACKET sockets, NET_ADMIN for nftables, IPVS and the
// VIPs' dummy interface (see the chart's values.yaml).
var speakerCapabilities = []corev1.Capability{"NET_RAW", "NET_ADMIN"}

// TestChartSecurityRules checks the workloads of every chart case against
// the rules of docs/README "Pod security": the controller meets the Pod
// Security "restricted" profile field by field; the speaker drops every
// capability but speakerCapabilities, has a read-only root filesystem, the
// RuntimeDefault seccomp profile and no privilege escalation.
func TestChartSecurityRules(t *testing.T) {
	root := repoRoot(t)
	for _, tc := range chartCases() {
		t.Run(tc.name, func(t *testing.T) {
			r := renderCase(t, root, tc)
			checkRestricted(t, "controller", r.controller.Spec.Template.Spec)
			checkSpeaker(t, r.speaker.Spec.Template.Spec)
		})
	}
}

// TestPodSecurityAdmission lets the API server's Pod Security admission
// judge the rendered pods: the controller's pod is admitted to a namespace
// that enforces "restricted"; the speaker's is refused there (so the check
// is live) and admitted to the privileged namespace the chart renders.
func TestPodSecurityAdmission(t *testing.T) {
	root := repoRoot(t)
	api := kubeapi.Start(t, kubeapi.Options{SkipCRDs: true})
	c := api.Client(t, nil)
	ctx := context.Background()
	restricted := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "restricted", Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest",
	}}}
	if err := c.Create(ctx, restricted); err != nil {
		t.Fatal(err)
	}
	for _, tc := range chartCases() {
		t.Run(tc.name, func(t *testing.T) {
			r := renderCase(t, root, tc)
			if err := createPodDryRun(ctx, c, "restricted", r.controller.Spec.Template.Spec); err != nil {
				t.Errorf("controller pod in a restricted namespace: %v", err)
			}
			if err := createPodDryRun(ctx, c, "restricted", r.speaker.Spec.Template.Spec); err == nil {
				t.Errorf("speaker pod admitted to a restricted namespace: is Pod Security admission on?")
			}
		})
	}
	// The namespace the chart renders (namespace.create) admits the speaker.
	r := renderCase(t, root, chartCase{name: "namespace", namespace: "lb", values: "namespace:\n  create: true\n"})
	ns := find(r.docs, "Namespace", "lb")
	if ns == nil {
		t.Fatal("no Namespace rendered with namespace.create")
	}
	if err := c.Create(ctx, ns.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	if err := createPodDryRun(ctx, c, "lb", r.speaker.Spec.Template.Spec); err != nil {
		t.Errorf("speaker pod in the chart's namespace: %v", err)
	}
}

// renderCase renders the chart with a case's values and decodes it.
func renderCase(t *testing.T, root string, tc chartCase) rendered {
	t.Helper()
	docs, err := decode(helmTemplate(t, root, tc.namespace, tc.values), "helm template")
	if err != nil {
		t.Fatal(err)
	}
	r := rendered{docs: docs}
	toTyped(t, find(docs, "Deployment", "ironlb-controller"), &r.controller)
	toTyped(t, find(docs, "DaemonSet", "ironlb-speaker"), &r.speaker)
	return r
}

func createPodDryRun(ctx context.Context, c client.Client, ns string, spec corev1.PodSpec) error {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "check-"}, Spec: spec}
	return c.Create(ctx, pod, client.DryRunAll)
}

// checkRestricted is the Pod Security "restricted" profile's container
// rules, plus a read-only root filesystem.
func checkRestricted(t *testing.T, what string, spec corev1.PodSpec) {
	t.Helper()
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Errorf("%s: runAsNonRoot is not true", what)
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		t.Errorf("%s: host namespaces", what)
	}
	for _, v := range spec.Volumes {
		if v.EmptyDir == nil && v.Secret == nil && v.ConfigMap == nil && v.Projected == nil {
			t.Errorf("%s: volume %s is neither emptyDir, secret, configMap nor projected", what, v.Name)
		}
	}
	for _, ctr := range spec.Containers {
		sc := ctr.SecurityContext
		if sc == nil {
			t.Errorf("%s/%s: no securityContext", what, ctr.Name)
			continue
		}
		checkCommon(t, what+"/"+ctr.Name, psc, sc)
		if sc.Capabilities == nil || len(sc.Capabilities.Add) != 0 {
			t.Errorf("%s/%s: adds capabilities %v", what, ctr.Name, sc.Capabilities)
		}
	}
}

// checkSpeaker: every capability dropped but speakerCapabilities.
func checkSpeaker(t *testing.T, spec corev1.PodSpec) {
	t.Helper()
	ctr := spec.Containers[0]
	sc := ctr.SecurityContext
	if sc == nil {
		t.Fatal("speaker: no securityContext")
	}
	checkCommon(t, "speaker", spec.SecurityContext, sc)
	if sc.Privileged != nil && *sc.Privileged {
		t.Errorf("speaker: privileged")
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Add, speakerCapabilities) {
		t.Errorf("speaker: adds capabilities %v, want exactly %v", sc.Capabilities, speakerCapabilities)
	}
}

// checkCommon: all capabilities dropped, no privilege escalation, a
// read-only root filesystem and the RuntimeDefault seccomp profile (on the
// pod or the container).
func checkCommon(t *testing.T, what string, psc *corev1.PodSecurityContext, sc *corev1.SecurityContext) {
	t.Helper()
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("%s: capabilities drop %v, want [ALL]", what, sc.Capabilities)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: allowPrivilegeEscalation is not false", what)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("%s: readOnlyRootFilesystem is not true", what)
	}
	seccomp := sc.SeccompProfile
	if seccomp == nil && psc != nil {
		seccomp = psc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: seccomp profile %v, want RuntimeDefault", what, seccomp)
	}
}

// checkServiceMonitors: a Service and a ServiceMonitor per component, named
// for the jobs manifests/monitoring assumes, scraping port metrics over
// HTTPS with the ServiceAccount token when secure.
func checkServiceMonitors(t *testing.T, r rendered, secure bool) {
	t.Helper()
	for _, comp := range []string{"controller", "speaker"} {
		name := "ironlb-" + comp
		svc := find(r.docs, "Service", name)
		if svc == nil {
			t.Errorf("no Service %s for the ServiceMonitor", name)
			continue
		}
		sel, _, _ := unstructured.NestedStringMap(svc.Object, "spec", "selector")
		wantEqual(t, name+" Service selector", sel, map[string]string{"app.kubernetes.io/name": "ironlb", "app.kubernetes.io/component": comp})
		sm := find(r.docs, "ServiceMonitor", name)
		if sm == nil {
			t.Errorf("no ServiceMonitor %s", name)
			continue
		}
		eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
		if len(eps) != 1 {
			t.Fatalf("ServiceMonitor %s: %d endpoints, want 1", name, len(eps))
		}
		ep := eps[0].(map[string]any)
		wantEqual(t, name+" endpoint port", ep["port"], any("metrics"))
		if secure {
			wantEqual(t, name+" scheme", ep["scheme"], any("https"))
			wantEqual(t, name+" bearerTokenFile", ep["bearerTokenFile"], any("/var/run/secrets/kubernetes.io/serviceaccount/token"))
			wantEqual(t, name+" tlsConfig", ep["tlsConfig"], any(map[string]any{"insecureSkipVerify": true}))
			wantEqual(t, name+" labels", sm.GetLabels()["release"], "prometheus")
		} else {
			wantEqual(t, name+" scheme", ep["scheme"], any("http"))
			if _, ok := ep["bearerTokenFile"]; ok {
				t.Errorf("ServiceMonitor %s sends a token to a plain HTTP endpoint", name)
			}
		}
	}
}

// checkNetworkPolicy: the controller's pods admit ingress on the named
// ports only; withFrom: the metrics port only from the configured peers.
func checkNetworkPolicy(t *testing.T, r rendered, ports []string, withFrom bool) {
	t.Helper()
	var np networkingv1.NetworkPolicy
	toTyped(t, find(r.docs, "NetworkPolicy", "ironlb-controller"), &np)
	wantEqual(t, "policy pod selector", np.Spec.PodSelector.MatchLabels, r.controller.Spec.Selector.MatchLabels)
	wantEqual(t, "policy types", np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress})
	var got []string
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			got = append(got, p.Port.String())
		}
		if len(rule.Ports) == 0 {
			t.Errorf("an ingress rule for every port: %+v", rule)
		}
		isMetrics := len(rule.Ports) == 1 && rule.Ports[0].Port.String() == "metrics"
		if isMetrics && withFrom != (len(rule.From) > 0) {
			t.Errorf("metrics rule from %v, want peers: %v", rule.From, withFrom)
		}
	}
	wantEqual(t, "policy ports", got, ports)
	// The named ports exist on the controller's container.
	for _, name := range ports {
		if !slices.ContainsFunc(container(t, r.controller.Spec.Template.Spec).Ports, func(p corev1.ContainerPort) bool { return p.Name == name }) {
			t.Errorf("policy port %s is not a port of the controller", name)
		}
	}
}
