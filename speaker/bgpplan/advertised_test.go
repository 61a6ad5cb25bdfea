package bgpplan

import (
	"fmt"
	"net/netip"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/lbstate"
)

// The addresses a node's reachability check covers over BGP are those it
// advertises, with the Services of each: with Cluster every selected node
// with a peer, with Local only a node with a local endpoint.
func TestTrackerAdvertised(t *testing.T) {
	tor := peer("tor", "198.51.100.1", nil)
	all := []v1beta1.BGPAdvertisement{{ObjectMeta: metav1.ObjectMeta{Name: "a"}}}
	rackB := []v1beta1.BGPAdvertisement{{ObjectMeta: metav1.ObjectMeta{Name: "b"},
		Spec: v1beta1.BGPAdvertisementSpec{NodeSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"rack": "b"}}}}}}
	elsewhere := map[string]int{"node2": 1}
	here := map[string]int{"node1": 2}
	shared := func(name string) lbstate.Service { return svc(name, false, elsewhere, "203.0.113.130") }
	ip := netip.MustParseAddr("203.0.113.130")
	for _, tc := range []struct {
		name  string
		advs  []v1beta1.BGPAdvertisement
		peers []v1beta1.BGPPeer
		svcs  []lbstate.Service
		want  string
	}{
		{"cluster, endpoints elsewhere: checked here", all, []v1beta1.BGPPeer{tor}, []lbstate.Service{svc("s", false, elsewhere, "203.0.113.130")}, "[ns/s]"},
		{"local, endpoint elsewhere: not advertised here, not checked", all, []v1beta1.BGPPeer{tor}, []lbstate.Service{svc("s", true, elsewhere, "203.0.113.130")}, "[]"},
		{"local, endpoint here: checked", all, []v1beta1.BGPPeer{tor}, []lbstate.Service{svc("s", true, here, "203.0.113.130")}, "[ns/s]"},
		{"no ready endpoint: withdrawn, not checked", all, []v1beta1.BGPPeer{tor}, []lbstate.Service{svc("s", false, nil, "203.0.113.130")}, "[]"},
		{"no peer: nothing advertised", all, nil, []lbstate.Service{svc("s", false, elsewhere, "203.0.113.130")}, "[]"},
		{"advertisement selects other nodes: not checked", rackB, []v1beta1.BGPPeer{tor}, []lbstate.Service{svc("s", false, elsewhere, "203.0.113.130")}, "[]"},
		{"shared IP: every Service", all, []v1beta1.BGPPeer{tor}, []lbstate.Service{shared("b"), shared("a")}, "[ns/a ns/b]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracker()
			tr.SetConfig(compile(t, tc.advs, tc.peers...))
			tr.SetNode(node1)
			for _, s := range tc.svcs {
				tr.SetService(s)
			}
			d := tr.Update()
			if got := fmt.Sprint(tr.Advertised(ip)); got != tc.want {
				t.Errorf("Advertised = %s, want %s", got, tc.want)
			}
			if len(d.Touched) != 1 || d.Touched[0] != ip {
				t.Errorf("Touched = %v, want [%s]", d.Touched, ip)
			}
			// Deleting the Services touches the IP again, and it is gone.
			for _, s := range tc.svcs {
				tr.DeleteService(s.Key)
			}
			d = tr.Update()
			if got := tr.Advertised(ip); got != nil || len(d.Touched) != 1 {
				t.Errorf("after delete: Advertised = %v, Touched %v", got, d.Touched)
			}
		})
	}
}
