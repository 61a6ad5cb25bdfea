package datapath

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

const node = "node1"

var (
	vip4 = netip.MustParseAddr("203.0.113.10")
	vip6 = netip.MustParseAddr("2001:db8:300::10")
)

type svcOpt func(*corev1.Service)

func mkSvc(name string, vips []string, opts ...svcOpt) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, CreationTimestamp: metav1.NewTime(time.Unix(1000, 0))},
		Spec: corev1.ServiceSpec{
			Type:  corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}
	for _, v := range vips {
		s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: v})
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func local(s *corev1.Service) {
	s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
}
func udp(s *corev1.Service) { s.Spec.Ports[0].Protocol = corev1.ProtocolUDP }
func affinity(sec *int32) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		if sec != nil {
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: sec}}
		}
	}
}
func annotate(k, v string) svcOpt {
	return func(s *corev1.Service) {
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[k] = v
	}
}

type epSpec struct {
	addr                        string
	node                        string
	ready, serving, terminating *bool
	noAddr                      bool
}

func readyOn(addr, n string) epSpec { return epSpec{addr: addr, node: n} } // nil conditions: ready
func termOn(addr, n string, serving bool) epSpec {
	return epSpec{addr: addr, node: n, ready: ptr.To(false), serving: ptr.To(serving), terminating: ptr.To(true)}
}
func notReadyOn(addr, n string) epSpec {
	return epSpec{addr: addr, node: n, ready: ptr.To(false), serving: ptr.To(false), terminating: ptr.To(false)}
}

func mkSlice(svc, name string, at discoveryv1.AddressType, portName string, proto corev1.Protocol, port int32, eps ...epSpec) *discoveryv1.EndpointSlice {
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: at,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(portName), Protocol: ptr.To(proto), Port: ptr.To(port)}},
	}
	for _, e := range eps {
		ep := discoveryv1.Endpoint{NodeName: ptr.To(e.node), Conditions: discoveryv1.EndpointConditions{Ready: e.ready, Serving: e.serving, Terminating: e.terminating}}
		if !e.noAddr {
			ep.Addresses = []string{e.addr}
		}
		sl.Endpoints = append(sl.Endpoints, ep)
	}
	return sl
}

func key(vip netip.Addr, port uint16, p Protocol) ServiceKey {
	return ServiceKey{VIP: vip, Port: port, Protocol: p}
}

func be(addr string, w int, term, loc bool) (netip.AddrPort, Backend) {
	return netip.MustParseAddrPort(addr), Backend{Weight: w, Terminating: term, Local: loc}
}

func backends(pairs ...any) map[netip.AddrPort]Backend {
	out := map[netip.AddrPort]Backend{}
	for i := 0; i < len(pairs); i += 2 {
		out[pairs[i].(netip.AddrPort)] = pairs[i+1].(Backend)
	}
	return out
}

func b(addr string, w int, term, loc bool) []any {
	a, bk := be(addr, w, term, loc)
	return []any{a, bk}
}

func bs(list ...[]any) map[netip.AddrPort]Backend {
	var flat []any
	for _, l := range list {
		flat = append(flat, l...)
	}
	return backends(flat...)
}

var owner = types.NamespacedName{Namespace: "ns", Name: "web"}

func vsCluster(bk map[netip.AddrPort]Backend) VirtualService {
	return VirtualService{Owner: owner, PortName: "http", Scheduler: RoundRobin, Masquerade: true, Backends: bk}
}

func vsLocal(bk map[netip.AddrPort]Backend) VirtualService {
	return VirtualService{Owner: owner, PortName: "http", Scheduler: RoundRobin, LocalOnly: true, Backends: bk}
}

func withPersistence(v VirtualService, d time.Duration) VirtualService {
	v.Persistence = d
	return v
}

func TestDesired(t *testing.T) {
	v4Slice := func(proto corev1.Protocol, eps ...epSpec) *discoveryv1.EndpointSlice {
		return mkSlice("web", "web-v4", discoveryv1.AddressTypeIPv4, "http", proto, 8080, eps...)
	}
	v6Slice := func(proto corev1.Protocol, eps ...epSpec) *discoveryv1.EndpointSlice {
		return mkSlice("web", "web-v6", discoveryv1.AddressTypeIPv6, "http", proto, 8080, eps...)
	}
	mixed4 := []epSpec{readyOn("192.0.2.18", node), readyOn("192.0.2.33", "node2"), termOn("192.0.2.19", node, true), notReadyOn("192.0.2.20", node)}
	mixed6 := []epSpec{readyOn("2001:db8:200:1::18", node), readyOn("2001:db8:200:2::33", "node2"), termOn("2001:db8:200:1::19", node, true), notReadyOn("2001:db8:200:1::20", node)}

	tests := []struct {
		name     string
		svcs     []*corev1.Service
		slices   []*discoveryv1.EndpointSlice
		want     map[ServiceKey]VirtualService
		problems []string // substrings, one per expected problem
	}{
		{
			name:   "cluster tcp v4: ready endpoints everywhere, terminating drains, not ready left out",
			svcs:   []*corev1.Service{mkSvc("web", []string{"203.0.113.10"})},
			slices: []*discoveryv1.EndpointSlice{v4Slice(corev1.ProtocolTCP, mixed4...)},
			want: map[ServiceKey]VirtualService{key(vip4, 80, TCP): vsCluster(bs(
				b("192.0.2.18:8080", 1, false, true), b("192.0.2.33:8080", 1, false, false), b("192.0.2.19:8080", 0, true, true)))},
		},
		{
			name:   "local tcp v4: only this node's endpoints, no masquerade",
			svcs:   []*corev1.Service{mkSvc("web", []string{"203.0.113.10"}, local)},
			slices: []*discoveryv1.EndpointSlice{v4Slice(corev1.ProtocolTCP, mixed4...)},
			want: map[ServiceKey]VirtualService{key(vip4, 80, TCP): vsLocal(bs(
				b("192.0.2.18:8080", 1, false, true), b("192.0.2.19:8080", 0, true, true)))},
		},
		{
			name:   "cluster udp v6",
			svcs:   []*corev1.Service{mkSvc("web", []string{"2001:db8:300::10"}, udp)},
			slices: []*discoveryv1.EndpointSlice{v6Slice(corev1.ProtocolUDP, mixed6...)},
			want: map[ServiceKey]VirtualService{key(vip6, 80, UDP): vsCluster(bs(
				b("[2001:db8:200:1::18]:8080", 1, false, true), b("[2001:db8:200:2::33]:8080", 1, false, false), b("[2001:db8:200:1::19]:8080", 0, true, true)))},
		},
		{
			name:   "local udp v6",
			svcs:   []*corev1.Service{mkSvc("web", []string{"2001:db8:300::10"}, udp, local)},
			slices: []*discoveryv1.EndpointSlice{v6Slice(corev1.ProtocolUDP, mixed6...)},
			want: map[ServiceKey]VirtualService{key(vip6, 80, UDP): vsLocal(bs(
				b("[2001:db8:200:1::18]:8080", 1, false, true), b("[2001:db8:200:1::19]:8080", 0, true, true)))},
		},
		{
			name:   "affinity with default timeout",
			svcs:   []*corev1.Service{mkSvc("web", []string{"203.0.113.10"}, affinity(nil))},
			slices: []*discoveryv1.EndpointSlice{v4Slice(corev1.ProtocolTCP, readyOn("192.0.2.18", node))},
			want:   map[ServiceKey]VirtualService{key(vip4, 80, TCP): withPersistence(vsCluster(bs(b("192.0.2.18:8080", 1, false, true))), 10800*time.Second)},
		},
		{
			name:   "affinity with timeout, local v6",
			svcs:   []*corev1.Service{mkSvc("web", []string{"2001:db8:300::10"}, affinity(ptr.To[int32](60)), local)},
			slices: []*discoveryv1.EndpointSlice{v6Slice(corev1.ProtocolTCP, readyOn("2001:db8:200:1::18", node))},
			want:   map[ServiceKey]VirtualService{key(vip6, 80, TCP): withPersistence(vsLocal(bs(b("[2001:db8:200:1::18]:8080", 1, false, true))), time.Minute)},
		},
		{
			name:     "affinity timeout out of range: default and a problem",
			svcs:     []*corev1.Service{mkSvc("web", []string{"203.0.113.10"}, affinity(ptr.To[int32](0)))},
			slices:   []*discoveryv1.EndpointSlice{v4Slice(corev1.ProtocolTCP, readyOn("192.0.2.18", node))},
			want:     map[ServiceKey]VirtualService{key(vip4, 80, TCP): withPersistence(vsCluster(bs(b("192.0.2.18:8080", 1, false, true))), 10800*time.Second)},
			problems: []string{"Service ns/web: spec.sessionAffinityConfig.clientIP.timeoutSeconds: 0 is outside"},
		},
		{
			name: "cluster: no ready endpoint anywhere, serving terminating ones take new connections (KEP-1669)",
			svcs: []*corev1.Service{mkSvc("web", []string{"203.0.113.10"})},
			slices: []*discoveryv1.EndpointSlice{v4Slice(corev1.ProtocolTCP,
				termOn("192.0.2.18", node, true), termOn("192.0.2.33", "node2", true), termOn("192.0.2.19", node, false), notReadyOn("192.0.2.20", node))},
			want: map[ServiceKey]VirtualService{key(vip4, 80, TCP): vsCluster(bs(b("192.0.2.18:8080", 1, true, true), b("192.0.2.33:8080", 1, true, false)))},
		},
		{
			name: "local: remote ready endpoints do not stop the local terminating fallback",
			svcs: []*corev1.Service{mkSvc("web", []string{"203.0.113.10"}, local)},
			slices: []*discoveryv1.EndpointSlice{v4Slice(corev1.ProtocolTCP,
				termOn("192.0.2.18", node, true), readyOn("192.0.2.33", "node2"))},
			want: map[ServiceKey]VirtualService{key(vip4, 80, TCP): vsLocal(bs(b("192.0.2.18:8080", 1, true, true)))},
		},
		{
			name:   "local: only remote endpoints means none (never fall back to remote)",
			svcs:   []*corev1.Service{mkSvc("web", []string{"203.0.113.10"}, local)},
			slices: []*discoveryv1.EndpointSlice{v4Slice(corev1.ProtocolTCP, readyOn("192.0.2.33", "node2"))},
			want:   map[ServiceKey]VirtualService{key(vip4, 80, TCP): vsLocal(bs())},
		},
		{
			name: "no endpoints: the service exists with no backends (refused)",
			svcs: []*corev1.Service{mkSvc("web", []string{"203.0.113.10"})},
			want: map[ServiceKey]VirtualService{key(vip4, 80, TCP): vsCluster(bs())},
		},
		{
			name: "duplicated endpoint across slices: ready copy wins, local if any copy is",
			svcs: []*corev1.Service{mkSvc("web", []string{"203.0.113.10"})},
			slices: []*discoveryv1.EndpointSlice{
				mkSlice("web", "web-b", discoveryv1.AddressTypeIPv4, "http", corev1.ProtocolTCP, 8080, termOn("192.0.2.18", node, true), readyOn("192.0.2.19", "node2")),
				mkSlice("web", "web-a", discoveryv1.AddressTypeIPv4, "http", corev1.ProtocolTCP, 8080, readyOn("192.0.2.18", "node2"), readyOn("192.0.2.19", node)),
			},
			want: map[ServiceKey]VirtualService{key(vip4, 80, TCP): vsCluster(bs(b("192.0.2.18:8080", 1, false, true), b("192.0.2.19:8080", 1, false, true)))},
		},
		{
			name:     "endpoint without addresses: skipped with a problem",
			svcs:     []*corev1.Service{mkSvc("web", []string{"203.0.113.10"})},
			slices:   []*discoveryv1.EndpointSlice{v4Slice(corev1.ProtocolTCP, epSpec{noAddr: true, node: node}, readyOn("192.0.2.18", node))},
			want:     map[ServiceKey]VirtualService{key(vip4, 80, TCP): vsCluster(bs(b("192.0.2.18:8080", 1, false, true)))},
			problems: []string{"EndpointSlice ns/web-v4: endpoints[0].addresses: no address"},
		},
		{
			name:     "bad and wrong-family endpoint addresses: skipped with problems",
			svcs:     []*corev1.Service{mkSvc("web", []string{"203.0.113.10"})},
			slices:   []*discoveryv1.EndpointSlice{v4Slice(corev1.ProtocolTCP, readyOn("not-an-ip", node), readyOn("2001:db8::1", node), readyOn("192.0.2.18", node))},
			want:     map[ServiceKey]VirtualService{key(vip4, 80, TCP): vsCluster(bs(b("192.0.2.18:8080", 1, false, true)))},
			problems: []string{"endpoints[0].addresses[0]: \"not-an-ip\" is not an IP", "endpoints[1].addresses[0]: 2001:db8::1 does not match addressType IPv4"},
		},
		{
			name: "ports resolved by name and protocol through the slice's ports",
			svcs: []*corev1.Service{mkSvc("web", []string{"203.0.113.10"}, func(s *corev1.Service) {
				s.Spec.Ports = []corev1.ServicePort{
					{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP},
					{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
					{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP},
				}
			})},
			slices: []*discoveryv1.EndpointSlice{{
				ObjectMeta:  metav1.ObjectMeta{Namespace: "ns", Name: "web-x", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
				AddressType: discoveryv1.AddressTypeIPv4,
				Ports: []discoveryv1.EndpointPort{
					{Name: ptr.To("dns"), Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To[int32](5353)},
					{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To[int32](8080)},
					{Name: ptr.To("dns-tcp"), Port: ptr.To[int32](5354)}, // protocol unset: TCP
				},
				Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.18"}, NodeName: ptr.To(node)}},
			}},
			want: map[ServiceKey]VirtualService{
				key(vip4, 80, TCP): vsCluster(bs(b("192.0.2.18:8080", 1, false, true))),
				key(vip4, 53, UDP): func() VirtualService {
					v := vsCluster(bs(b("192.0.2.18:5353", 1, false, true)))
					v.PortName = "dns"
					return v
				}(),
				key(vip4, 53, TCP): func() VirtualService {
					v := vsCluster(bs(b("192.0.2.18:5354", 1, false, true)))
					v.PortName = "dns-tcp"
					return v
				}(),
			},
		},
		{
			name: "dual-stack service: one virtual service per VIP, each from its family's slices",
			svcs: []*corev1.Service{mkSvc("web", []string{"203.0.113.10", "2001:db8:300::10"})},
			slices: []*discoveryv1.EndpointSlice{
				v4Slice(corev1.ProtocolTCP, readyOn("192.0.2.18", node)),
				v6Slice(corev1.ProtocolTCP, readyOn("2001:db8:200:1::18", node)),
				mkSlice("web", "web-fqdn", discoveryv1.AddressTypeFQDN, "http", corev1.ProtocolTCP, 8080, readyOn("example.org", node)),
			},
			want: map[ServiceKey]VirtualService{
				key(vip4, 80, TCP): vsCluster(bs(b("192.0.2.18:8080", 1, false, true))),
				key(vip6, 80, TCP): vsCluster(bs(b("[2001:db8:200:1::18]:8080", 1, false, true))),
			},
		},
		{
			name:   "single-stack v6 service ignores IPv4 slices",
			svcs:   []*corev1.Service{mkSvc("web", []string{"2001:db8:300::10"})},
			slices: []*discoveryv1.EndpointSlice{v4Slice(corev1.ProtocolTCP, readyOn("192.0.2.18", node))},
			want:   map[ServiceKey]VirtualService{key(vip6, 80, TCP): vsCluster(bs())},
		},
		{
			name: "slices of other services, or without the label, are ignored",
			svcs: []*corev1.Service{mkSvc("web", []string{"203.0.113.10"})},
			slices: []*discoveryv1.EndpointSlice{
				mkSlice("other", "other-v4", discoveryv1.AddressTypeIPv4, "http", corev1.ProtocolTCP, 8080, readyOn("192.0.2.18", node)),
				func() *discoveryv1.EndpointSlice {
					s := v4Slice(corev1.ProtocolTCP, readyOn("192.0.2.19", node))
					s.Labels = nil
					return s
				}(),
				func() *discoveryv1.EndpointSlice {
					s := v4Slice(corev1.ProtocolTCP, readyOn("192.0.2.20", node))
					s.Namespace = "elsewhere"
					return s
				}(),
			},
			want: map[ServiceKey]VirtualService{key(vip4, 80, TCP): vsCluster(bs())},
		},
		{
			name:   "scheduler and flags from annotations",
			svcs:   []*corev1.Service{mkSvc("web", []string{"203.0.113.10"}, annotate(AnnotationScheduler, "MH"), annotate(AnnotationSchedulerFlags, "mh-port, mh-fallback"))},
			slices: []*discoveryv1.EndpointSlice{v4Slice(corev1.ProtocolTCP, readyOn("192.0.2.18", node))},
			want: map[ServiceKey]VirtualService{key(vip4, 80, TCP): func() VirtualService {
				v := vsCluster(bs(b("192.0.2.18:8080", 1, false, true)))
				v.Scheduler = MaglevHashing
				v.Flags = SchedulerFlags{Fallback: true, Port: true}
				return v
			}()},
		},
		{
			name:   "unknown scheduler: rr and a problem; flags for another scheduler ignored",
			svcs:   []*corev1.Service{mkSvc("web", []string{"203.0.113.10"}, annotate(AnnotationScheduler, "fastest"), annotate(AnnotationSchedulerFlags, "sh-port,bogus"))},
			slices: []*discoveryv1.EndpointSlice{v4Slice(corev1.ProtocolTCP, readyOn("192.0.2.18", node))},
			want:   map[ServiceKey]VirtualService{key(vip4, 80, TCP): vsCluster(bs(b("192.0.2.18:8080", 1, false, true)))},
			problems: []string{
				`metadata.annotations[ironlb.io/scheduler-flags]: flag "sh-port" does not apply to scheduler rr`,
				`metadata.annotations[ironlb.io/scheduler-flags]: unknown flag "bogus"`,
				`metadata.annotations[ironlb.io/scheduler]: unknown scheduler "fastest"`,
			},
		},
		{
			name: "bad ingress IPs and ports are skipped with problems",
			svcs: []*corev1.Service{mkSvc("web", []string{"nope", "0.0.0.0", "::ffff:203.0.113.10", "203.0.113.10"}, func(s *corev1.Service) {
				s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "bad", Port: 70000}, corev1.ServicePort{Name: "icmp", Port: 1, Protocol: "ICMP"})
			})},
			want: map[ServiceKey]VirtualService{key(vip4, 80, TCP): vsCluster(bs())},
			problems: []string{
				"spec.ports[1].port: 70000 is not a port number",
				`spec.ports[2].protocol: unsupported protocol "ICMP"`,
				`status.loadBalancer.ingress[0].ip: "nope" is not an IP address`,
				"status.loadBalancer.ingress[1].ip: 0.0.0.0 cannot be a VIP",
			},
		},
		{
			name: "two services claim the same VIP port: the older wins, the other is reported",
			svcs: []*corev1.Service{
				func() *corev1.Service {
					s := mkSvc("young", []string{"203.0.113.10"})
					s.CreationTimestamp = metav1.NewTime(time.Unix(2000, 0))
					return s
				}(),
				mkSvc("web", []string{"203.0.113.10"}),
				nil,
			},
			want:     map[ServiceKey]VirtualService{key(vip4, 80, TCP): vsCluster(bs())},
			problems: []string{"Service ns/young: spec.ports[0]: 203.0.113.10:80/TCP is already served for Service ns/web"},
		},
		{
			name: "services sharing a VIP on different ports",
			svcs: []*corev1.Service{
				mkSvc("web", []string{"203.0.113.10"}),
				mkSvc("dns", []string{"203.0.113.10"}, udp, func(s *corev1.Service) { s.Spec.Ports[0].Port = 53 }),
			},
			want: map[ServiceKey]VirtualService{
				key(vip4, 80, TCP): vsCluster(bs()),
				key(vip4, 53, UDP): func() VirtualService {
					v := vsCluster(bs())
					v.Owner.Name = "dns"
					return v
				}(),
			},
		},
		{
			name: "service without VIPs is not served",
			svcs: []*corev1.Service{mkSvc("web", nil, func(s *corev1.Service) {
				s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{Hostname: "lb.example.org"}}
			})},
			want: map[ServiceKey]VirtualService{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Desired(Inputs{Node: node, Services: tc.svcs, EndpointSlices: tc.slices})
			if !reflect.DeepEqual(got.Services, tc.want) {
				t.Errorf("services:\n got %s\nwant %s", dump(got.Services), dump(tc.want))
			}
			checkProblems(t, got.Problems, tc.problems)
			// Deterministic whatever the input order.
			rs := slices.Clone(tc.svcs)
			slices.Reverse(rs)
			rsl := slices.Clone(tc.slices)
			slices.Reverse(rsl)
			again := Desired(Inputs{Node: node, Services: rs, EndpointSlices: rsl})
			if !reflect.DeepEqual(again, got) {
				t.Errorf("input order changed the result:\n%s\n%s", dump(again.Services), dump(got.Services))
			}
		})
	}
}

// checkProblems: one problem per want, in order, each containing its want.
func checkProblems(t *testing.T, got []Problem, want []string) {
	t.Helper()
	var ps []string
	for _, p := range got {
		ps = append(ps, p.String())
	}
	if len(ps) != len(want) {
		t.Fatalf("problems %q, want %d matching %q", ps, len(want), want)
	}
	for i, w := range want {
		if !strings.Contains(ps[i], w) {
			t.Errorf("problem %d: %q does not contain %q", i, ps[i], w)
		}
	}
}

func dump(m map[ServiceKey]VirtualService) string {
	var b strings.Builder
	keys := State{Services: m}.SortedKeys()
	for _, k := range keys {
		v := m[k]
		fmt.Fprintf(&b, "\n  %s owner=%s port=%q sched=%s flags=%+v persist=%s masq=%v local=%v", k, v.Owner, v.PortName, v.Scheduler, v.Flags, v.Persistence, v.Masquerade, v.LocalOnly)
		for _, a := range v.SortedBackends() {
			fmt.Fprintf(&b, "\n    %s %+v", a, v.Backends[a])
		}
	}
	return b.String()
}

// Malformed objects never panic.
func TestDesiredSurvivesNils(t *testing.T) {
	s := mkSvc("web", []string{"203.0.113.10"}, affinity(nil))
	s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{}
	sl := mkSlice("web", "web-v4", discoveryv1.AddressTypeIPv4, "http", corev1.ProtocolTCP, 8080, readyOn("192.0.2.18", node))
	sl.Ports = append(sl.Ports, discoveryv1.EndpointPort{})
	sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{})
	got := Desired(Inputs{Node: node, Services: []*corev1.Service{nil, s, {}}, EndpointSlices: []*discoveryv1.EndpointSlice{nil, sl, {}}})
	if len(got.Services) != 1 {
		t.Fatalf("services %s", dump(got.Services))
	}
}
