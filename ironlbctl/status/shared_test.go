package status

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	fx "github.com/ironlb/ironlb/ironlbctl/internal/fixture"
	"github.com/ironlb/ironlb/ironlbctl/snapshot"
	"github.com/ironlb/ironlb/ironlbctl/why"
	"github.com/ironlb/ironlb/pkg/svcrequest"
)

// Two Services share a BGP IP and only one has endpoints: every node's plan
// advertises the IP, so both rows, and `why` for either Service, name the
// nodes as advertising it.
func TestSharedBGPIPOneServiceWithoutEndpoints(t *testing.T) {
	shared := fx.Annotate(svcrequest.AnnotationAllowSharedIP, "k")
	s := &snapshot.Snapshot{
		Resources: config.Resources{
			Pools:             []v1beta1.IPAddressPool{fx.Pool("bgp", "198.51.100.0/24")},
			BGPAdvertisements: []v1beta1.BGPAdvertisement{fx.BGPAdv("bgp", "bgp")},
			BGPPeers:          []v1beta1.BGPPeer{fx.Peer("tor", "192.0.2.254")},
		},
		Nodes: []corev1.Node{fx.Node("n1", nil), fx.Node("n2", nil)},
		Services: []corev1.Service{
			fx.Service("default", "empty", 1, fx.Assigned("bgp", "198.51.100.7"), shared),
			fx.Service("default", "served", 2, fx.Assigned("bgp", "198.51.100.7"), shared),
		},
		Endpoints:   []discoveryv1.EndpointSlice{fx.Endpoints("default", "served", "n1", "n2")},
		BGPSessions: []v1beta1.BGPSessionStatus{fx.Session("n1", "tor", "Established", 1), fx.Session("n2", "tor", "Established", 1)},
	}
	r := Build(s, why.Options{}.Handles)
	var rows []string
	for _, x := range r.Services {
		rows = append(rows, fmt.Sprintf("%s %s %s [%s]", x.Service, x.IP, x.Mode, x.Announcer))
	}
	want := []string{
		"default/empty 198.51.100.7 bgp [n1→tor,n2→tor]",
		"default/served 198.51.100.7 bgp [n1→tor,n2→tor]",
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	for _, name := range []string{"empty", "served"} {
		var msgs []string
		for _, reason := range why.Explain(s, "default", name, why.Options{}) {
			if reason.IP == "198.51.100.7" {
				msgs = append(msgs, reason.Message)
			}
		}
		if got := strings.Join(msgs, "\n"); !strings.Contains(got, "advertised over BGP by n1→tor, n2→tor") {
			t.Errorf("why %s: %q, want it advertised over BGP by n1 and n2", name, got)
		}
	}
}
