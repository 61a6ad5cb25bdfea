package main

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The demo configuration compiles, and every mode shows a Cluster Service
// with pods on two nodes or more and a Local Service.
func TestDemoConfiguration(t *testing.T) {
	ms := modes()
	if _, err := configObjects(ms); err != nil {
		t.Fatal(err)
	}
	type count struct{ local, cluster int }
	perMode := map[string]*count{}
	for _, m := range ms {
		perMode[m.Name()] = &count{}
	}
	for _, s := range demoServices() {
		m := modeNamed(ms, s.Mode)
		if m == nil {
			t.Fatalf("service %s: no mode %q", s.Name, s.Mode)
		}
		svc := s.service(m.Pool().Name)
		if svc.Annotations["ironlb.io/address-pool"] != m.Pool().Name {
			t.Errorf("service %s does not ask for pool %s", s.Name, m.Pool().Name)
		}
		if got := policy(svc); got != policyName(s.Local) {
			t.Errorf("service %s: policy %s, want %s", s.Name, got, policyName(s.Local))
		}
		nodes := map[string]bool{}
		for _, p := range s.Pods {
			nodes[p.Node] = true
		}
		if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
			perMode[s.Mode].local++
			continue
		}
		perMode[s.Mode].cluster++
		if len(nodes) < 2 {
			t.Errorf("Cluster service %s has pods on %d node(s), want 2 or more", s.Name, len(nodes))
		}
	}
	for name, c := range perMode {
		if c.local == 0 || c.cluster == 0 {
			t.Errorf("mode %s: %d Local and %d Cluster services, want one of each at least", name, c.local, c.cluster)
		}
	}
}
