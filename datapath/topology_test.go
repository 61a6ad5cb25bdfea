package datapath

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// hinted sets the hints of a slice's endpoints, one entry per endpoint:
// zones (comma-free names) and nodes; nil leaves the endpoint unhinted.
type hint struct{ zones, nodes []string }

func withHints(sl *discoveryv1.EndpointSlice, hs ...*hint) *discoveryv1.EndpointSlice {
	for i, h := range hs {
		if h == nil {
			continue
		}
		eh := &discoveryv1.EndpointHints{}
		for _, z := range h.zones {
			eh.ForZones = append(eh.ForZones, discoveryv1.ForZone{Name: z})
		}
		for _, n := range h.nodes {
			eh.ForNodes = append(eh.ForNodes, discoveryv1.ForNode{Name: n})
		}
		sl.Endpoints[i].Hints = eh
	}
	return sl
}

func zones(z ...string) *hint { return &hint{zones: z} }

// Topology hints narrow the endpoints of Cluster services as kube-proxy's
// CategorizeEndpoints does; endpoints they leave out drain (weight 0).
func TestDesiredTopologyHints(t *testing.T) {
	eps := []epSpec{readyOn("192.0.2.18", node), readyOn("192.0.2.33", "node2"), readyOn("192.0.2.34", "node3")}
	slice := func(hs ...*hint) *discoveryv1.EndpointSlice {
		return withHints(mkSlice("web", "web-v4", discoveryv1.AddressTypeIPv4, "http", corev1.ProtocolTCP, 8080, eps...), hs...)
	}
	all := bs(b("192.0.2.18:8080", 1, false, true), b("192.0.2.33:8080", 1, false, false), b("192.0.2.34:8080", 1, false, false))
	tests := []struct {
		name  string
		zone  string
		svc   *corev1.Service
		slice *discoveryv1.EndpointSlice
		want  map[ServiceKey]VirtualService
	}{
		{
			name: "zone hints: this zone's endpoints only, the others drain",
			zone: "a", svc: mkSvc("web", []string{"203.0.113.10"}),
			slice: slice(zones("b"), zones("a"), zones("a")),
			want: map[ServiceKey]VirtualService{key(vip4, 80, TCP): vsCluster(bs(
				b("192.0.2.18:8080", 0, false, true), b("192.0.2.33:8080", 1, false, false), b("192.0.2.34:8080", 1, false, false)))},
		},
		{
			name: "node hints win over zone hints",
			zone: "a", svc: mkSvc("web", []string{"203.0.113.10"}),
			slice: slice(&hint{zones: []string{"a"}, nodes: []string{node}}, &hint{zones: []string{"a"}, nodes: []string{"node2"}}, &hint{zones: []string{"a"}, nodes: []string{"node3"}}),
			want: map[ServiceKey]VirtualService{key(vip4, 80, TCP): vsCluster(bs(
				b("192.0.2.18:8080", 1, false, true), b("192.0.2.33:8080", 0, false, false), b("192.0.2.34:8080", 0, false, false)))},
		},
		{
			name: "one ready endpoint without hints: hints ignored",
			zone: "a", svc: mkSvc("web", []string{"203.0.113.10"}),
			slice: slice(zones("b"), zones("a"), nil),
			want:  map[ServiceKey]VirtualService{key(vip4, 80, TCP): vsCluster(all)},
		},
		{
			name: "no endpoint for this zone: hints ignored",
			zone: "c", svc: mkSvc("web", []string{"203.0.113.10"}),
			slice: slice(zones("b"), zones("a"), zones("a")),
			want:  map[ServiceKey]VirtualService{key(vip4, 80, TCP): vsCluster(all)},
		},
		{
			name: "node without a zone label: zone hints ignored",
			zone: "", svc: mkSvc("web", []string{"203.0.113.10"}),
			slice: slice(zones("b"), zones("a"), zones("a")),
			want:  map[ServiceKey]VirtualService{key(vip4, 80, TCP): vsCluster(all)},
		},
		{
			name: "Local policy: hints do not apply",
			zone: "b", svc: mkSvc("web", []string{"203.0.113.10"}, local),
			slice: slice(zones("a"), zones("b"), zones("b")),
			want:  map[ServiceKey]VirtualService{key(vip4, 80, TCP): vsLocal(bs(b("192.0.2.18:8080", 1, false, true)))},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Desired(Inputs{Node: node, Zone: tc.zone, Services: []*corev1.Service{tc.svc}, EndpointSlices: []*discoveryv1.EndpointSlice{tc.slice}})
			if !reflect.DeepEqual(got.Services, tc.want) {
				t.Errorf("services:\n got %s\nwant %s", dump(got.Services), dump(tc.want))
			}
		})
	}
}
