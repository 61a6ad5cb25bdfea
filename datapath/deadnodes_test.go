package datapath

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// TestDesiredAvoidsDeadNodes checks whole-path failover: endpoints on nodes
// the speakers hold dead get no new connections while a ready endpoint on
// a live node is left.
func TestDesiredAvoidsDeadNodes(t *testing.T) {
	dead := map[string]bool{"node2": true}
	tests := []struct {
		name string
		svc  *corev1.Service
		eps  []epSpec
		dead map[string]bool
		want VirtualService
	}{
		{
			name: "the dead node's endpoint drains, the others serve",
			svc:  mkSvc("web", []string{"203.0.113.10"}),
			eps:  []epSpec{readyOn("192.0.2.18", node), readyOn("192.0.2.33", "node2"), readyOn("192.0.2.34", "node3")},
			dead: dead,
			want: vsCluster(bs(b("192.0.2.18:8080", 1, false, true), b("192.0.2.33:8080", 0, false, false), b("192.0.2.34:8080", 1, false, false))),
		},
		{
			name: "no node dead: every endpoint serves",
			svc:  mkSvc("web", []string{"203.0.113.10"}),
			eps:  []epSpec{readyOn("192.0.2.18", node), readyOn("192.0.2.33", "node2")},
			want: vsCluster(bs(b("192.0.2.18:8080", 1, false, true), b("192.0.2.33:8080", 1, false, false))),
		},
		{
			// A speaker dead on a live node must not empty the Service.
			name: "only the dead node has endpoints: used as before",
			svc:  mkSvc("web", []string{"203.0.113.10"}),
			eps:  []epSpec{readyOn("192.0.2.33", "node2"), readyOn("192.0.2.35", "node2")},
			dead: dead,
			want: vsCluster(bs(b("192.0.2.33:8080", 1, false, false), b("192.0.2.35:8080", 1, false, false))),
		},
		{
			// A terminating endpoint on a live node is no reason to send
			// new connections to a dead node's ready one... but it is not
			// ready either: the dead node's ready endpoint still wins, as
			// the only ready one left.
			name: "a live node with only a terminating endpoint",
			svc:  mkSvc("web", []string{"203.0.113.10"}),
			eps:  []epSpec{termOn("192.0.2.18", node, true), readyOn("192.0.2.33", "node2")},
			dead: dead,
			want: vsCluster(bs(b("192.0.2.18:8080", 0, true, true), b("192.0.2.33:8080", 1, false, false))),
		},
		{
			name: "Local policy: this node's endpoints only, whatever is dead",
			svc:  mkSvc("web", []string{"203.0.113.10"}, local),
			eps:  []epSpec{readyOn("192.0.2.18", node), readyOn("192.0.2.33", "node2")},
			dead: dead,
			want: vsLocal(bs(b("192.0.2.18:8080", 1, false, true))),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			slice := mkSlice("web", "web-v4", discoveryv1.AddressTypeIPv4, "http", corev1.ProtocolTCP, 8080, tc.eps...)
			got := Desired(Inputs{Node: node, Services: []*corev1.Service{tc.svc}, EndpointSlices: []*discoveryv1.EndpointSlice{slice}, DeadNodes: tc.dead})
			want := map[ServiceKey]VirtualService{key(vip4, 80, TCP): tc.want}
			if !reflect.DeepEqual(got.Services, want) {
				t.Errorf("services:\n got %s\nwant %s", dump(got.Services), dump(want))
			}
		})
	}
}
