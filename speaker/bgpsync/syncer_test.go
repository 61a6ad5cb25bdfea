package bgpsync

import (
	"net/netip"
	"testing"

	"github.com/ironlb/ironlb/pkg/lbstate"
	"github.com/ironlb/ironlb/speaker/bgpplan"
	"github.com/ironlb/ironlb/speaker/l2plan"
	"github.com/ironlb/ironlb/speaker/view/viewtest"
)

// A wake hands the speaker only what the change reached: at 1,000
// Services, one Service's change one prefix, an endpoint change that keeps
// the Service served nothing, other nodes' changes nothing, and the
// speaker holds every route of the plan throughout.
func TestSyncTouchesOnlyTheChange(t *testing.T) {
	w := newSyncWorld(t, 1000)
	// Every Cluster Service's route, and the Local ones' with an endpoint
	// on node000.
	want := bgpplan.Compute(benchConfig(t), lbstate.Build(w.Services, w.Slices), l2plan.NodeFrom(w.Nodes[0]))
	first := len(w.sp.routes)
	if w.sp.sets != 1 || first != len(want.Routes) || first < 900 || len(w.sp.peers) != 1 {
		t.Fatalf("first wake: %d SetRoutes, %d prefixes, %d peers; want 1, %d, 1", w.sp.sets, first, len(w.sp.peers), len(want.Routes))
	}

	byName := map[string]int{}
	for i, ch := range viewtest.Changes {
		byName[ch.Name] = i
	}
	for _, tc := range []struct {
		change   string
		i        int
		prefixes int // handed over in one UpdateRoutes; 0: no call
	}{
		// svc00919 (Cluster) turns Local, with no endpoint on node000:
		// its route goes.
		{"service", 1, 1},
		// One of svc00757's ten endpoints turns not ready: its route
		// stays as it is.
		{"endpointslice", 3, 0},
		{"node-heartbeat", 0, 0},
		{"node-label", 0, 0},
		{"node-ready", 0, 0},
	} {
		t.Run(tc.change, func(t *testing.T) {
			updates := w.sp.updates
			svc := w.Services[(tc.i*7919)%len(w.Services)]
			viewtest.Changes[byName[tc.change]].Do(w.Cluster, w.v, tc.i)
			w.sync(t)
			calls := w.sp.updates - updates
			switch {
			case tc.prefixes == 0 && calls != 0:
				t.Fatalf("%d UpdateRoutes calls (last %v), want none", calls, w.sp.last)
			case tc.prefixes > 0 && (calls != 1 || len(w.sp.last) != tc.prefixes):
				t.Fatalf("%d UpdateRoutes calls with %v, want 1 with %d prefixes", calls, w.sp.last, tc.prefixes)
			case tc.prefixes > 0:
				ip := netip.MustParseAddr(svc.Status.LoadBalancer.Ingress[0].IP)
				if w.sp.last[0] != netip.PrefixFrom(ip, 128) {
					t.Fatalf("UpdateRoutes named %v, want %s's /128", w.sp.last, ip)
				}
				if _, ok := w.sp.routes[w.sp.last[0]]; ok || len(w.sp.routes) != first-1 {
					t.Fatalf("the speaker holds %d prefixes (%s present: %v), want %d without it", len(w.sp.routes), ip, ok, first-1)
				}
			}
		})
	}
	if w.sp.sets != 1 {
		t.Fatalf("%d SetRoutes calls, want the first one only", w.sp.sets)
	}
}
