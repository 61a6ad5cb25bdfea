package datapath

import (
	"net/netip"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestSetAsideOnDeadNodes checks that the endpoints reported set aside
// are exactly those the datapath stops sending new connections to because
// their node is held dead.
func TestSetAsideOnDeadNodes(t *testing.T) {
	web := types.NamespacedName{Namespace: "ns", Name: "web"}
	aside := func(ep, n string) SetAside {
		return SetAside{Service: web, Endpoint: netip.MustParseAddrPort(ep), Node: n}
	}
	dead := map[string]bool{"node2": true}
	v4 := func(eps ...epSpec) *discoveryv1.EndpointSlice {
		return mkSlice("web", "web-v4", discoveryv1.AddressTypeIPv4, "http", corev1.ProtocolTCP, 8080, eps...)
	}
	tests := []struct {
		name   string
		svc    *corev1.Service
		slices []*discoveryv1.EndpointSlice
		dead   map[string]bool
		want   []SetAside
	}{
		{
			name:   "the dead node's ready endpoint",
			svc:    mkSvc("web", []string{"203.0.113.10"}),
			slices: []*discoveryv1.EndpointSlice{v4(readyOn("192.0.2.18", node), readyOn("192.0.2.33", "node2"), readyOn("192.0.2.34", "node3"))},
			dead:   dead,
			want:   []SetAside{aside("192.0.2.33:8080", "node2")},
		},
		{
			name:   "no node dead",
			svc:    mkSvc("web", []string{"203.0.113.10"}),
			slices: []*discoveryv1.EndpointSlice{v4(readyOn("192.0.2.18", node), readyOn("192.0.2.33", "node2"))},
		},
		{
			name:   "only the dead node has ready endpoints: they serve, nothing is set aside",
			svc:    mkSvc("web", []string{"203.0.113.10"}),
			slices: []*discoveryv1.EndpointSlice{v4(readyOn("192.0.2.33", "node2"), termOn("192.0.2.18", node, true))},
			dead:   dead,
		},
		{
			name:   "a dead node's endpoint that is not ready is left out for that reason, not set aside",
			svc:    mkSvc("web", []string{"203.0.113.10"}),
			slices: []*discoveryv1.EndpointSlice{v4(readyOn("192.0.2.18", node), notReadyOn("192.0.2.33", "node2"))},
			dead:   dead,
		},
		{
			name:   "Local policy never uses another node's endpoints",
			svc:    mkSvc("web", []string{"203.0.113.10"}, local),
			slices: []*discoveryv1.EndpointSlice{v4(readyOn("192.0.2.18", node), readyOn("192.0.2.33", "node2"))},
			dead:   dead,
		},
		{
			name: "every node of several dead, two VIPs: each endpoint once, sorted",
			svc:  mkSvc("web", []string{"203.0.113.10", "203.0.113.11"}),
			slices: []*discoveryv1.EndpointSlice{v4(readyOn("192.0.2.52", "node3"), readyOn("192.0.2.18", node),
				readyOn("192.0.2.33", "node2"), readyOn("192.0.2.35", "node2"))},
			dead: map[string]bool{"node2": true, "node3": true},
			want: []SetAside{aside("192.0.2.33:8080", "node2"), aside("192.0.2.35:8080", "node2"), aside("192.0.2.52:8080", "node3")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := SetAsideOnDeadNodes(Inputs{Node: node, Services: []*corev1.Service{tc.svc}, EndpointSlices: tc.slices, DeadNodes: tc.dead})
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}
