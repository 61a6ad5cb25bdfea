package healthcheck

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

const node = "node-a"

type svcOpt func(*corev1.Service)

func lbLocal(ns, name string, hcPort int32, opts ...svcOpt) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Type:                  corev1.ServiceTypeLoadBalancer,
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
			HealthCheckNodePort:   hcPort,
			ClusterIP:             "198.51.100.10",
			ClusterIPs:            []string{"198.51.100.10"},
			Ports:                 []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func dualStack(s *corev1.Service) {
	s.Spec.ClusterIPs = []string{"198.51.100.10", "2001:db8::10"}
	s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
}

type ep struct {
	addr     string
	node     *string
	ready    *bool
	serving  *bool
	terminat *bool
	noAddr   bool
}

func here(addr string) ep  { return ep{addr: addr, node: ptr.To(node)} }
func there(addr string) ep { return ep{addr: addr, node: ptr.To("node-b")} }
func (e ep) readyIs(b bool) ep {
	e.ready = ptr.To(b)
	return e
}
func (e ep) terminatingServing() ep {
	e.ready, e.serving, e.terminat = ptr.To(false), ptr.To(true), ptr.To(true)
	return e
}

var defaultPorts = []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}}

func slice(ns, svc, name string, at discoveryv1.AddressType, ports []discoveryv1.EndpointPort, eps ...ep) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: at,
		Ports:       ports,
	}
	for _, e := range eps {
		d := discoveryv1.Endpoint{NodeName: e.node, Conditions: discoveryv1.EndpointConditions{Ready: e.ready, Serving: e.serving, Terminating: e.terminat}}
		if !e.noAddr {
			d.Addresses = []string{e.addr}
		}
		s.Endpoints = append(s.Endpoints, d)
	}
	return s
}

func v4(name string, eps ...ep) *discoveryv1.EndpointSlice {
	return slice("ns", "web", name, discoveryv1.AddressTypeIPv4, defaultPorts, eps...)
}

func web(n int) map[uint16]Entry {
	return map[uint16]Entry{30100: {Service: types.NamespacedName{Namespace: "ns", Name: "web"}, LocalEndpoints: n}}
}

func TestDesired(t *testing.T) {
	twoPorts := []discoveryv1.EndpointPort{
		{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)},
		{Name: ptr.To("https"), Port: ptr.To[int32](8443), Protocol: ptr.To(corev1.ProtocolTCP)},
	}
	tests := []struct {
		name     string
		svcs     []*corev1.Service
		slices   []*discoveryv1.EndpointSlice
		node     string
		want     map[uint16]Entry
		problems []string // substrings, in order
	}{
		{
			name: "nothing",
			want: map[uint16]Entry{},
		},
		{
			name: "only LoadBalancer with policy Local and a port",
			svcs: []*corev1.Service{
				lbLocal("ns", "web", 30100),
				lbLocal("ns", "cluster", 30101, func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster }),
				lbLocal("ns", "nodeport", 30102, func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort }),
				lbLocal("ns", "clusterip", 30103, func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP }),
				lbLocal("ns", "headless", 30104, func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = corev1.ClusterIPNone, nil }),
				lbLocal("ns", "noip", 30105, func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "", nil }),
				nil,
			},
			want: web(0),
		},
		{
			name:     "policy Local without a port is reported",
			svcs:     []*corev1.Service{lbLocal("ns", "web", 0)},
			want:     map[uint16]Entry{},
			problems: []string{"Service ns/web: spec.healthCheckNodePort: externalTrafficPolicy is Local but no health check node port"},
		},
		{
			name:     "port out of range is reported",
			svcs:     []*corev1.Service{lbLocal("ns", "web", 70000), lbLocal("ns", "neg", -1)},
			want:     map[uint16]Entry{},
			problems: []string{"Service ns/neg: spec.healthCheckNodePort: -1 is not a port number", "Service ns/web: spec.healthCheckNodePort: 70000 is not a port number"},
		},
		{
			name:   "ready nil counts as ready; ready false does not",
			svcs:   []*corev1.Service{lbLocal("ns", "web", 30100)},
			slices: []*discoveryv1.EndpointSlice{v4("a", here("203.0.113.1"), here("203.0.113.2").readyIs(true), here("203.0.113.3").readyIs(false))},
			want:   web(2),
		},
		{
			name: "serving-terminating endpoints do not count even when nothing else is local",
			svcs: []*corev1.Service{lbLocal("ns", "web", 30100)},
			slices: []*discoveryv1.EndpointSlice{v4("a",
				here("203.0.113.1").terminatingServing(), here("203.0.113.2").terminatingServing(), there("203.0.113.3"))},
			want: web(0),
		},
		{
			name: "other nodes and endpoints without node name do not count",
			svcs: []*corev1.Service{lbLocal("ns", "web", 30100)},
			slices: []*discoveryv1.EndpointSlice{v4("a",
				there("203.0.113.1"), ep{addr: "203.0.113.2"}, here("203.0.113.3"))},
			want: web(1),
		},
		{
			name:   "empty node name matches nothing",
			svcs:   []*corev1.Service{lbLocal("ns", "web", 30100)},
			slices: []*discoveryv1.EndpointSlice{v4("a", ep{addr: "203.0.113.1", node: ptr.To("")})},
			node:   "-",
			want:   web(0),
		},
		{
			name: "an IP counts once across ports and slices",
			svcs: []*corev1.Service{lbLocal("ns", "web", 30100)},
			slices: []*discoveryv1.EndpointSlice{
				slice("ns", "web", "a", discoveryv1.AddressTypeIPv4, twoPorts, here("203.0.113.1"), here("203.0.113.2")),
				v4("b", here("203.0.113.1"), here("203.0.113.4")),
			},
			want: web(3),
		},
		{
			// kube-proxy would count "unnamed" and "metrics"; no traffic
			// of the Service's port reaches them, so here they do not.
			name: "slices without a valid port or without the Service's port contribute nothing",
			svcs: []*corev1.Service{lbLocal("ns", "web", 30100)},
			slices: []*discoveryv1.EndpointSlice{
				slice("ns", "web", "noports", discoveryv1.AddressTypeIPv4, nil, here("203.0.113.1")),
				slice("ns", "web", "nilname", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{{Port: ptr.To[int32](80)}}, here("203.0.113.2")),
				slice("ns", "web", "zeroport", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](0)}}, here("203.0.113.3")),
				slice("ns", "web", "unnamed", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{{Name: ptr.To(""), Port: ptr.To[int32](80)}}, here("203.0.113.4")),
				slice("ns", "web", "metrics", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{{Name: ptr.To("metrics"), Port: ptr.To[int32](9090)}}, here("203.0.113.5")),
				slice("ns", "web", "udp", discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To[int32](8080)}}, here("203.0.113.6")),
				v4("good", here("203.0.113.7")),
			},
			want: web(1),
		},
		{
			name: "endpoints without addresses are ignored",
			svcs: []*corev1.Service{lbLocal("ns", "web", 30100)},
			slices: []*discoveryv1.EndpointSlice{v4("a",
				ep{noAddr: true, node: ptr.To(node)}, here("203.0.113.1"))},
			want: web(1),
		},
		{
			name: "slices of other Services, other namespaces, unlabelled, FQDN are ignored",
			svcs: []*corev1.Service{lbLocal("ns", "web", 30100)},
			slices: []*discoveryv1.EndpointSlice{
				slice("ns", "other", "a", discoveryv1.AddressTypeIPv4, defaultPorts, here("203.0.113.1")),
				slice("ns2", "web", "b", discoveryv1.AddressTypeIPv4, defaultPorts, here("203.0.113.2")),
				slice("ns", "web", "fqdn", discoveryv1.AddressTypeFQDN, defaultPorts, here("web.example")),
				func() *discoveryv1.EndpointSlice {
					s := v4("unlabelled", here("203.0.113.3"))
					s.Labels = nil
					return s
				}(),
				nil,
			},
			want: web(0),
		},
		{
			name: "single-stack IPv4 Service ignores IPv6 slices",
			svcs: []*corev1.Service{lbLocal("ns", "web", 30100)},
			slices: []*discoveryv1.EndpointSlice{
				slice("ns", "web", "v6", discoveryv1.AddressTypeIPv6, defaultPorts, here("2001:db8::1"), here("2001:db8::2")),
			},
			want: web(0),
		},
		{
			name: "IPv6 Service counts IPv6 slices, normalised",
			svcs: []*corev1.Service{lbLocal("ns", "web", 30100, func(s *corev1.Service) {
				s.Spec.ClusterIP, s.Spec.ClusterIPs = "2001:db8::10", []string{"2001:db8::10"}
			})},
			slices: []*discoveryv1.EndpointSlice{
				slice("ns", "web", "v6", discoveryv1.AddressTypeIPv6, defaultPorts, here("2001:db8::1"), here("2001:DB8:0::1"), here("2001:db8::2")),
			},
			want: web(2),
		},
		{
			name: "dual-stack Service takes the larger family count",
			svcs: []*corev1.Service{lbLocal("ns", "web", 30100, dualStack)},
			slices: []*discoveryv1.EndpointSlice{
				v4("v4", here("203.0.113.1")),
				slice("ns", "web", "v6", discoveryv1.AddressTypeIPv6, defaultPorts, here("2001:db8::1"), here("2001:db8::2")),
			},
			want: web(2),
		},
		{
			name: "bad addresses are reported and skipped",
			svcs: []*corev1.Service{lbLocal("ns", "web", 30100)},
			slices: []*discoveryv1.EndpointSlice{
				v4("a", here("not-an-ip"), here("2001:db8::1"), here("203.0.113.1")),
			},
			want: web(1),
			problems: []string{
				`EndpointSlice ns/a: endpoints[0].addresses[0]: "not-an-ip" is not an IPv4 address`,
				`EndpointSlice ns/a: endpoints[1].addresses[0]: "2001:db8::1" is not an IPv4 address`,
			},
		},
		{
			name: "two Services on one port: first by namespace/name keeps it",
			svcs: []*corev1.Service{
				lbLocal("ns", "zeta", 30100),
				lbLocal("ns", "web", 30100),
				lbLocal("a-ns", "late", 30200),
			},
			slices: []*discoveryv1.EndpointSlice{v4("a", here("203.0.113.1"))},
			want: map[uint16]Entry{
				30100: {Service: types.NamespacedName{Namespace: "ns", Name: "web"}, LocalEndpoints: 1},
				30200: {Service: types.NamespacedName{Namespace: "a-ns", Name: "late"}},
			},
			problems: []string{"Service ns/zeta: spec.healthCheckNodePort: port 30100 is already the health check port of Service ns/web"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := node
			if tc.node == "-" {
				n = ""
			}
			got, problems := Desired(tc.svcs, tc.slices, n)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Desired() = %v, want %v", got, tc.want)
			}
			if len(problems) != len(tc.problems) {
				t.Fatalf("problems = %v, want %d matching %q", problems, len(tc.problems), tc.problems)
			}
			for i, p := range problems {
				if !strings.Contains(p.String(), tc.problems[i]) {
					t.Errorf("problem %d = %q, want it to contain %q", i, p.String(), tc.problems[i])
				}
			}
		})
	}
}

// The collision winner must not depend on input order.
func TestDesiredCollisionIsDeterministic(t *testing.T) {
	a, b := lbLocal("ns", "a", 30100), lbLocal("ns", "b", 30100)
	x, _ := Desired([]*corev1.Service{a, b}, nil, node)
	y, _ := Desired([]*corev1.Service{b, a}, nil, node)
	if !reflect.DeepEqual(x, y) || x[30100].Service.Name != "a" {
		t.Fatalf("order changed the winner: %v vs %v", x, y)
	}
}
