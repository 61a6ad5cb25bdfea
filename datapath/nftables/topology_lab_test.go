package nftables

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/ironlb/ironlb/datapath"
)

// Topology hints, on the kernel: node1 is in zone "a"; a1 is meant for
// zone "b", a2 and b1 for zone "a". New connections go to a2 and b1 only,
// IPv4 and IPv6; without hints every pod answers again.
func TestTopologyHints(t *testing.T) {
	l := newTestLab(t)
	b := backendFor(t, l.node1)
	svc := service("web", []netip.Addr{vip4, vip6}, corev1.ServiceExternalTrafficPolicyCluster, false, corev1.ProtocolTCP)
	plain := slicesFor(svc, readyEP(l.pods["a1"]), readyEP(l.pods["a2"]), readyEP(l.pods["b1"]))
	hinted := make([]*discoveryv1.EndpointSlice, len(plain))
	for i, sl := range plain {
		sl = sl.DeepCopy()
		for j, zone := range []string{"b", "a", "a"} {
			sl.Endpoints[j].Hints = &discoveryv1.EndpointHints{ForZones: []discoveryv1.ForZone{{Name: zone}}}
		}
		hinted[i] = sl
	}
	for _, tc := range []struct {
		name   string
		slices []*discoveryv1.EndpointSlice
		want   []string
	}{
		{"zone hints", hinted, []string{"a2", "b1"}},
		{"no hints", plain, []string{"a1", "a2", "b1"}},
	} {
		st := datapath.Desired(datapath.Inputs{Node: l.node1.Name, Zone: "a", Services: []*corev1.Service{svc}, EndpointSlices: tc.slices})
		apply(t, b, st)
		for _, f := range families() {
			t.Run(fmt.Sprintf("%s/%s", tc.name, f.name), func(t *testing.T) {
				ctx := ctxT(t, 20*time.Second)
				pods := map[string]bool{}
				for range 24 {
					pod, _, err := hello(ctx, l.client, netip.AddrPortFrom(f.vip, 80))
					if err != nil {
						t.Fatal(err)
					}
					pods[pod] = true
				}
				var got []string
				for p := range pods {
					got = append(got, p)
				}
				slices.Sort(got)
				if !slices.Equal(got, tc.want) {
					t.Errorf("answers from %v, want exactly %v", got, tc.want)
				}
			})
		}
	}
}
