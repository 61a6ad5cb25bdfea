package bgpsync

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"testing"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/cputime"
	"github.com/ironlb/ironlb/pkg/lbstate"
	"github.com/ironlb/ironlb/speaker/bgp"
	"github.com/ironlb/ironlb/speaker/bgpplan"
	"github.com/ironlb/ironlb/speaker/l2plan"
	"github.com/ironlb/ironlb/speaker/view"
	"github.com/ironlb/ironlb/speaker/view/viewtest"
)

// self is the node whose speaker the benchmarks and tests run: node000 of
// a viewtest.Cluster, which viewtest.Changes leave alone.
const self = "node000"

// recorder is a Speaker that keeps what it is handed.
type recorder struct {
	peers   []bgp.Peer
	routes  map[netip.Prefix][]bgp.Route
	sets    int            // SetRoutes calls
	updates int            // UpdateRoutes calls
	last    []netip.Prefix // the prefixes of the last UpdateRoutes
}

func (r *recorder) SetPeers(p []bgp.Peer) error { r.peers = p; return nil }

func (r *recorder) SetRoutes(routes []bgp.Route) error {
	r.sets++
	r.routes = map[netip.Prefix][]bgp.Route{}
	for _, rt := range routes {
		r.routes[rt.Prefix] = append(r.routes[rt.Prefix], rt)
	}
	return nil
}

func (r *recorder) UpdateRoutes(prefixes []netip.Prefix, routes []bgp.Route) error {
	r.updates++
	r.last = prefixes
	for _, p := range prefixes {
		delete(r.routes, p)
	}
	for _, rt := range routes {
		r.routes[rt.Prefix] = append(r.routes[rt.Prefix], rt)
	}
	return nil
}

func (r *recorder) Status() []bgp.PeerStatus { return nil }

// benchConfig is one BGP pool over the cluster's addresses, advertised by
// every node to one peer.
func benchConfig(tb testing.TB) *config.Config {
	cfg, errs := config.Compile(config.Resources{
		Pools:             []v1beta1.IPAddressPool{{ObjectMeta: metav1.ObjectMeta{Name: "bgp"}, Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"2001:db8:300::/112"}}}},
		BGPAdvertisements: []v1beta1.BGPAdvertisement{{ObjectMeta: metav1.ObjectMeta{Name: "all"}, Spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"bgp"}}}},
		BGPPeers:          []v1beta1.BGPPeer{{ObjectMeta: metav1.ObjectMeta{Name: "tor"}, Spec: v1beta1.BGPPeerSpec{MyASN: 64512, ASN: 64500, Address: "2001:db8:1::1"}}},
	})
	if errs != nil {
		tb.Fatal(errs)
	}
	return cfg
}

// syncWorld is node000's syncer on a view of a viewtest.Cluster of n
// Services, with a recorder for the BGP speaker.
type syncWorld struct {
	*viewtest.Cluster
	v  *view.View
	s  *Syncer
	sp *recorder
}

func newSyncWorld(tb testing.TB, n int) *syncWorld {
	w := &syncWorld{Cluster: viewtest.NewCluster(n, "bgp"), v: view.New(), sp: &recorder{}}
	cfg := benchConfig(tb)
	w.s = &Syncer{Log: logr.Discard(), Node: self, Config: func() *config.Config { return cfg }, Speaker: w.sp, View: w.v}
	w.s.consumer = w.v.Consumer(func() {})
	w.Feed(w.v)
	w.sync(tb)
	return w
}

// sync is one wake of the syncer.
func (w *syncWorld) sync(tb testing.TB) {
	if _, err := w.s.Reconcile(context.Background(), Key); err != nil {
		tb.Fatal(err)
	}
}

// ownNodeLabel relabels the syncer's own node with a label no
// advertisement or peer selects on.
var ownNodeLabel = viewtest.Change{Name: "own-node-label", Rounds: 500, Do: func(c *viewtest.Cluster, v *view.View, i int) {
	nd := c.Nodes[0].DeepCopy()
	nd.Labels["rack"] = fmt.Sprint(i)
	c.Nodes[0] = nd
	v.SetNode(nd)
}}

// BenchmarkBGPChange measures a speaker's BGP work for one change (view
// update, plan update and the routes handed to the speaker, GoBGP not
// included) with 1,000 and 10,000 Services of 10 endpoints on 100 nodes,
// and reports per kind of change the CPU µs at each size and their ratio
// 10,000 / 1,000 (flat is 1). Other nodes' changes (viewtest.Changes'
// node-*) concern no route of this node.
func BenchmarkBGPChange(b *testing.B) {
	small, large := newSyncWorld(b, 1000), newSyncWorld(b, 10000)
	changes := append(viewtest.Changes[:len(viewtest.Changes):len(viewtest.Changes)], ownNodeLabel)
	viewtest.MeasureChanges(b, changes, small.world(b), large.world(b))
}

func (w *syncWorld) world(b *testing.B) viewtest.World {
	return viewtest.World{Cluster: w.Cluster, View: w.v, Sync: func() { w.sync(b) }}
}

// BenchmarkBGPFromScratch is what every wake cost before the view: condense
// every Service and plan every IP (the listing's copies from the cache and
// GoBGP's comparison of every route not included). Compare with
// BenchmarkBGPChange.
func BenchmarkBGPFromScratch(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		c := viewtest.NewCluster(n, "bgp")
		cfg := benchConfig(b)
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			runtime.GC()
			start, runs := cputime.Used(), 0
			for b.Loop() {
				plan := bgpplan.Compute(cfg, lbstate.Build(c.Services, c.Slices), l2plan.NodeFrom(c.Nodes[0]))
				if len(plan.Routes)+len(plan.Withheld) != n {
					b.Fatalf("%d routes and %d withheld, want %d in all", len(plan.Routes), len(plan.Withheld), n)
				}
				runs++
			}
			b.ReportMetric(float64((cputime.Used()-start).Microseconds())/float64(runs), "cpu-us/plan")
		})
	}
}
