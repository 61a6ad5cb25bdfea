package readiness

import (
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestOf(t *testing.T) {
	tests := []struct {
		name     string
		c        discoveryv1.EndpointConditions
		want     State
		fallback bool
	}{
		{"all unset: ready and serving", discoveryv1.EndpointConditions{}, State{Ready: true, Serving: true}, false},
		{"not ready, serving unset, not terminating", discoveryv1.EndpointConditions{Ready: ptr.To(false)}, State{Serving: true}, false},
		{"serving and terminating", discoveryv1.EndpointConditions{Ready: ptr.To(false), Serving: ptr.To(true), Terminating: ptr.To(true)}, State{Serving: true, Terminating: true}, true},
		{"terminating, serving unset", discoveryv1.EndpointConditions{Ready: ptr.To(false), Terminating: ptr.To(true)}, State{Serving: true, Terminating: true}, true},
		{"terminating, not serving", discoveryv1.EndpointConditions{Ready: ptr.To(false), Serving: ptr.To(false), Terminating: ptr.To(true)}, State{Terminating: true}, false},
		{"serving but not terminating is no fallback", discoveryv1.EndpointConditions{Ready: ptr.To(false), Serving: ptr.To(true), Terminating: ptr.To(false)}, State{Serving: true}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Of(tc.c)
			if got != tc.want || got.Fallback() != tc.fallback {
				t.Errorf("Of = %+v (fallback %v), want %+v (fallback %v)", got, got.Fallback(), tc.want, tc.fallback)
			}
		})
	}
}

func port(name *string, proto *corev1.Protocol, n int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: name, Protocol: proto, Port: &n}
}

func TestSlicePort(t *testing.T) {
	udp := ptr.To(corev1.ProtocolUDP)
	tests := []struct {
		name   string
		ports  []discoveryv1.EndpointPort
		svc    string
		proto  corev1.Protocol
		want   uint16
		wantOK bool
	}{
		{"same name, protocol unset on both is TCP", []discoveryv1.EndpointPort{port(ptr.To("http"), nil, 8080)}, "http", "", 8080, true},
		{"unnamed matches unnamed", []discoveryv1.EndpointPort{port(ptr.To(""), nil, 8080)}, "", corev1.ProtocolTCP, 8080, true},
		{"nil name matches nothing", []discoveryv1.EndpointPort{port(nil, nil, 8080)}, "", corev1.ProtocolTCP, 0, false},
		{"other name", []discoveryv1.EndpointPort{port(ptr.To("metrics"), nil, 9090)}, "http", corev1.ProtocolTCP, 0, false},
		{"other protocol", []discoveryv1.EndpointPort{port(ptr.To("dns"), udp, 53)}, "dns", corev1.ProtocolTCP, 0, false},
		{"the matching one of several", []discoveryv1.EndpointPort{port(ptr.To("dns"), nil, 5353), port(ptr.To("dns"), udp, 53)}, "dns", corev1.ProtocolUDP, 53, true},
		{"port 0", []discoveryv1.EndpointPort{port(ptr.To("http"), nil, 0)}, "http", corev1.ProtocolTCP, 0, false},
		{"port above 65535", []discoveryv1.EndpointPort{port(ptr.To("http"), nil, 70000)}, "http", corev1.ProtocolTCP, 0, false},
		{"nil port", []discoveryv1.EndpointPort{{Name: ptr.To("http")}}, "http", corev1.ProtocolTCP, 0, false},
		{"no ports", nil, "http", corev1.ProtocolTCP, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := SlicePort(&discoveryv1.EndpointSlice{Ports: tc.ports}, tc.svc, tc.proto)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("SlicePort = %d, %v; want %d, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestAddress(t *testing.T) {
	v4 := &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4}
	v6 := &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv6}
	fqdn := &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeFQDN}
	tests := []struct {
		name  string
		sl    *discoveryv1.EndpointSlice
		addrs []string
		want  string
		skip  Skip
	}{
		{"v4", v4, []string{"192.0.2.1", "192.0.2.2"}, "192.0.2.1", OK},
		{"v6", v6, []string{"2001:db8::1"}, "2001:db8::1", OK},
		{"mapped v4 in a v4 slice", v4, []string{"::ffff:192.0.2.1"}, "192.0.2.1", OK},
		{"none", v4, nil, "", NoAddress},
		{"not an IP", v4, []string{"web.example"}, "", NotIP},
		{"zone", v6, []string{"fe80::1%eth0"}, "", NotIP},
		{"v6 in a v4 slice", v4, []string{"2001:db8::1"}, "", WrongFamily},
		{"FQDN slice", fqdn, []string{"192.0.2.1"}, "", WrongFamily},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, skip := Address(tc.sl, discoveryv1.Endpoint{Addresses: tc.addrs})
			want := netip.Addr{}
			if tc.want != "" {
				want = netip.MustParseAddr(tc.want)
			}
			if got != want || skip != tc.skip {
				t.Errorf("Address = %v, %v; want %v, %v", got, skip, want, tc.skip)
			}
		})
	}
}

type ep struct {
	addr, node string
	c          discoveryv1.EndpointConditions
}

var (
	ready       = discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)}
	notReady    = discoveryv1.EndpointConditions{Ready: ptr.To(false), Serving: ptr.To(false), Terminating: ptr.To(false)}
	terminating = discoveryv1.EndpointConditions{Ready: ptr.To(false), Serving: ptr.To(true), Terminating: ptr.To(true)}
	gone        = discoveryv1.EndpointConditions{Ready: ptr.To(false), Serving: ptr.To(false), Terminating: ptr.To(true)}
)

func slice(name string, at discoveryv1.AddressType, ports []discoveryv1.EndpointPort, eps ...ep) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, AddressType: at, Ports: ports}
	for _, e := range eps {
		d := discoveryv1.Endpoint{Addresses: []string{e.addr}, Conditions: e.c}
		if e.node != "" {
			d.NodeName = ptr.To(e.node)
		}
		s.Endpoints = append(s.Endpoints, d)
	}
	return s
}

func TestUsableByNode(t *testing.T) {
	svcPorts := []corev1.ServicePort{{Name: "http", Port: 80}, {Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}}
	http := []discoveryv1.EndpointPort{port(ptr.To("http"), nil, 8080)}
	dns := []discoveryv1.EndpointPort{port(ptr.To("dns"), ptr.To(corev1.ProtocolUDP), 5353)}
	metrics := []discoveryv1.EndpointPort{port(ptr.To("metrics"), nil, 9090)}
	v4, v6 := discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6
	tests := []struct {
		name   string
		slices []*discoveryv1.EndpointSlice
		want   map[string]int
	}{
		{"ready endpoints per node, both families",
			[]*discoveryv1.EndpointSlice{
				slice("a", v4, http, ep{"192.0.2.1", "n1", ready}, ep{"192.0.2.2", "n2", ready}, ep{"192.0.2.3", "n3", notReady}),
				slice("b", v6, http, ep{"2001:db8::1", "n1", ready}),
			},
			map[string]int{"n1": 2, "n2": 1}},
		{"a slice without any of the Service's ports serves nothing",
			[]*discoveryv1.EndpointSlice{slice("a", v4, metrics, ep{"192.0.2.1", "n1", ready})},
			nil},
		{"one of the Service's ports is enough",
			[]*discoveryv1.EndpointSlice{
				slice("a", v4, metrics, ep{"192.0.2.1", "n1", ready}),
				slice("b", v4, dns, ep{"192.0.2.2", "n2", ready}),
			},
			map[string]int{"n2": 1}},
		{"serving terminating ones only when nothing is ready",
			[]*discoveryv1.EndpointSlice{slice("a", v4, http, ep{"192.0.2.1", "n1", terminating}, ep{"192.0.2.2", "n2", gone}, ep{"192.0.2.3", "n3", notReady})},
			map[string]int{"n1": 1}},
		{"serving terminating ones do not count beside a ready one",
			[]*discoveryv1.EndpointSlice{slice("a", v4, http, ep{"192.0.2.1", "n1", terminating}, ep{"192.0.2.2", "n2", ready})},
			map[string]int{"n2": 1}},
		{"a ready endpoint without the Service's port does not stop the fallback",
			[]*discoveryv1.EndpointSlice{
				slice("a", v4, metrics, ep{"192.0.2.1", "n1", ready}),
				slice("b", v4, http, ep{"192.0.2.2", "n2", terminating}),
			},
			map[string]int{"n2": 1}},
		{"an address in two slices counts once, as its best copy",
			[]*discoveryv1.EndpointSlice{
				slice("a", v4, http, ep{"192.0.2.1", "n1", notReady}),
				slice("b", v4, http, ep{"192.0.2.1", "n1", ready}),
			},
			map[string]int{"n1": 1}},
		{"endpoints without a node count under \"\"; bad addresses not at all",
			[]*discoveryv1.EndpointSlice{slice("a", v4, http, ep{"192.0.2.1", "", ready}, ep{"2001:db8::1", "n1", ready}, ep{"nope", "n1", ready})},
			map[string]int{"": 1}},
		{"no slices", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := UsableByNode(svcPorts, tc.slices)
			if !slices.Equal(got, CountsOf(tc.want)) {
				t.Errorf("UsableByNode = %v, want %v", got, tc.want)
			}
			// Slice order must not matter.
			rev := make([]*discoveryv1.EndpointSlice, len(tc.slices))
			for i, s := range tc.slices {
				rev[len(rev)-1-i] = s
			}
			if again := UsableByNode(svcPorts, rev); !slices.Equal(again, got) {
				t.Errorf("reversed slices: %v, want %v", again, got)
			}
		})
	}
}

func TestNodeCounts(t *testing.T) {
	c := CountsOf(map[string]int{"n2": 1, "": 3, "n1": 2, "gone": 0})
	if want := (NodeCounts{{"", 3}, {"n1", 2}, {"n2", 1}}); !slices.Equal(c, want) {
		t.Fatalf("CountsOf = %v, want %v (sorted, without zeros)", c, want)
	}
	for _, tc := range []struct {
		node string
		want int
	}{{"", 3}, {"n1", 2}, {"n2", 1}, {"gone", 0}, {"n3", 0}} {
		if got := c.Of(tc.node); got != tc.want {
			t.Errorf("Of(%q) = %d, want %d", tc.node, got, tc.want)
		}
	}
	if got := countNames([]string{"b", "a", "b", "", "b"}); !slices.Equal(got, NodeCounts{{"", 1}, {"a", 1}, {"b", 3}}) {
		t.Errorf("countNames = %v", got)
	}
	if CountsOf(nil) != nil || countNames(nil) != nil {
		t.Error("no counts: want nil")
	}
}
