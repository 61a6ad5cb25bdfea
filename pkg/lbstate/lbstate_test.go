package lbstate

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func lb(name, pool string, local bool, ips ...string) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Annotations: map[string]string{}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80}}},
	}
	if pool != "" {
		s.Annotations["ironlb.io/ip-allocated-from-pool"] = pool
	}
	if local {
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}
	for _, ip := range ips {
		s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
	}
	return s
}

func b(v bool) *bool { return &v }

func ptrTo[T any](v T) *T { return &v }

type ep struct {
	addr, node     string
	ready, serving *bool
}

func slice(svc string, eps ...ep) *discoveryv1.EndpointSlice {
	return sliceOn(svc, "http", eps...)
}

// sliceOn is a slice whose endpoints serve the named TCP port.
func sliceOn(svc, port string, eps ...ep) *discoveryv1.EndpointSlice {
	es := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "ns", Name: svc + "-x", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &port, Port: ptrTo(int32(8080))}},
	}
	for _, e := range eps {
		node := e.node
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{e.addr},
			NodeName:   &node,
			Conditions: discoveryv1.EndpointConditions{Ready: e.ready, Serving: e.serving, Terminating: b(e.ready != nil && !*e.ready)},
		})
	}
	return es
}

func TestBuild(t *testing.T) {
	svcs := []*corev1.Service{
		lb("web", "lab", false, "203.0.113.1", "2001:db8:300::1"),
		lb("unassigned", "", false, "203.0.113.9"), // not IronLB's
		lb("pending", "lab", false),
		lb("local", "lab", true, "203.0.113.2"),
		lb("draining", "lab", false, "203.0.113.3"),
		lb("otherport", "lab", false, "203.0.113.4"),
	}
	eps := []*discoveryv1.EndpointSlice{
		slice("web", ep{"192.0.2.1", "n1", nil, nil}, ep{"192.0.2.2", "n2", b(true), b(true)}, ep{"192.0.2.3", "n3", b(false), b(true)}),
		slice("web", ep{"192.0.2.1", "n1", nil, nil}), // duplicate across slices counts once
		slice("local", ep{"192.0.2.17", "n2", b(true), b(true)}),
		slice("draining", ep{"192.0.2.33", "n3", b(false), b(true)}, ep{"192.0.2.34", "n1", b(false), b(false)}),
		// Ready, but on a port the Service does not have: the datapath
		// never forwards to it, so it must not attract traffic either.
		sliceOn("otherport", "metrics", ep{"192.0.2.49", "n1", b(true), b(true)}),
	}
	got := Build(svcs, eps)
	if len(got) != 4 {
		t.Fatalf("got %d services, want web, local, draining, otherport: %+v", len(got), got)
	}
	byName := map[string]Service{}
	for _, s := range got {
		byName[s.Key.Name] = s
	}
	web := byName["web"]
	if len(web.IPs) != 2 || web.IPs[0] != netip.MustParseAddr("203.0.113.1") || web.Pool != "lab" || web.Local {
		t.Errorf("web = %+v", web)
	}
	if web.Endpoints.Of("n1") != 1 || web.Endpoints.Of("n2") != 1 || web.Endpoints.Of("n3") != 0 {
		t.Errorf("web endpoints = %v, want n1:1 n2:1 (n3 not ready; duplicates once)", web.Endpoints)
	}
	local := byName["local"]
	if !local.Local || !local.HasLocalEndpoints("n2") || local.HasLocalEndpoints("n1") {
		t.Errorf("local = %+v", local)
	}
	dr := byName["draining"]
	if !dr.HasEndpoints() || dr.Endpoints.Of("n3") != 1 || dr.Endpoints.Of("n1") != 0 {
		t.Errorf("draining = %+v, want only the serving terminating endpoint on n3", dr)
	}
	if op := byName["otherport"]; op.HasEndpoints() {
		t.Errorf("otherport = %+v, want no usable endpoint (its slice lacks the Service's port)", op)
	}
}
