package bgpsync

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/speaker/bgpplan"
	"github.com/ironlb/ironlb/speaker/bgpspec"
	"github.com/ironlb/ironlb/speaker/l2plan"
	"github.com/ironlb/ironlb/speaker/view"
	"github.com/ironlb/ironlb/speaker/view/viewtest"
)

// randomCfg is a BGP pool over 203.0.113.0/24 advertised to every node,
// by zone, or not at all, and a layer 2 pool beside it.
func randomCfg(t *testing.T, rng *rand.Rand) *config.Config {
	zone := func(z string) []metav1.LabelSelector {
		return []metav1.LabelSelector{{MatchLabels: map[string]string{"zone": z}}}
	}
	var advs []v1beta1.BGPAdvertisement
	switch rng.IntN(3) {
	case 0:
		advs = []v1beta1.BGPAdvertisement{{ObjectMeta: metav1.ObjectMeta{Name: "all"}, Spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"bgp"}}}}
	case 1:
		advs = []v1beta1.BGPAdvertisement{
			{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"bgp"}, NodeSelectors: zone("a")}},
			{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"bgp"}, NodeSelectors: zone("b"), Communities: []string{"64500:2"}}},
		}
	}
	peers := []v1beta1.BGPPeer{{ObjectMeta: metav1.ObjectMeta{Name: "tor"}, Spec: v1beta1.BGPPeerSpec{MyASN: 64512, ASN: 64500, Address: "198.51.100.1"}}}
	if rng.IntN(3) == 0 {
		peers = append(peers, v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: "tor-b"},
			Spec: v1beta1.BGPPeerSpec{MyASN: 64512, ASN: 64500, Address: "198.51.100.2", NodeSelectors: zone("b")}})
	}
	cfg, errs := config.Compile(config.Resources{
		Pools: []v1beta1.IPAddressPool{
			{ObjectMeta: metav1.ObjectMeta{Name: "bgp"}, Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"203.0.113.0/26"}}},
			{ObjectMeta: metav1.ObjectMeta{Name: "l2"}, Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"203.0.113.64/26"}}},
		},
		BGPAdvertisements: advs,
		BGPPeers:          peers,
	})
	if errs != nil {
		t.Fatal(errs)
	}
	return cfg
}

// Over random histories of Service, EndpointSlice, Node and configuration
// events fed through the view, this node's incremental plan equals the
// plan computed from scratch from the same objects after every wake that
// knows the node, and a wake whose plan differs from the last one's
// reports a change.
func TestIncrementalPlanEqualsFromScratch(t *testing.T) {
	const own = "node0" // this speaker's node
	var addrs []string
	for i := range 30 {
		addrs = append(addrs, fmt.Sprintf("203.0.113.%d", i*3)) // a few in the layer 2 pool
	}
	for seed := range uint64(30) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 13))
			var names []string
			for i := range 2 + rng.IntN(4) {
				names = append(names, fmt.Sprintf("node%d", i))
			}
			w, cfg := viewtest.NewObjects(), randomCfg(t, rng)
			events := viewtest.Events{Services: 20, Pools: []string{"bgp", "bgp", "bgp", "l2"}, Addrs: addrs, Nodes: names}
			v := view.New()
			c := v.Consumer(func() {})
			tr := bgpplan.NewTracker()
			present, prev := false, bgpplan.Plan{}
			checked := 0
			for step := range 120 {
				for range 1 + rng.IntN(5) {
					if rng.IntN(20) < 19 {
						w.RandomEvent(rng, events, v)
					} else {
						cfg = randomCfg(t, rng)
					}
				}
				if p, changed := Apply(tr, v.Changes(c), own); changed {
					present = p
				}
				if present != (w.Nodes[own] != nil) {
					t.Fatalf("step %d: Apply says the node is present: %v, the world: %v", step, present, !present)
				}
				if !present {
					continue // the syncer plans nothing without its node
				}
				tr.SetConfig(cfg)
				d := tr.Update()
				got, want := canonical(tr.Plan()), canonical(bgpplan.Compute(cfg, w.Condensed(), l2plan.NodeFrom(w.Nodes[own])))
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("step %d: incremental plan differs from the plan from scratch:\n got %+v\nwant %+v", step, got, want)
				}
				if !reflect.DeepEqual(canonical(prev).Routes, want.Routes) && len(d.IPs) == 0 {
					t.Fatalf("step %d: the routes changed but the wake reported no IP", step)
				}
				prev = want
				checked++
			}
			if checked == 0 {
				t.Fatal("the node was never present: nothing was compared")
			}
		})
	}
}

// canonical orders a plan's routes completely (Compute orders them by
// prefix only) and makes empty lists nil.
func canonical(p bgpplan.Plan) bgpplan.Plan {
	key := func(r any) string { return fmt.Sprintf("%+v", r) }
	p.Routes = slices.Clone(p.Routes)
	slices.SortFunc(p.Routes, func(a, b bgpspec.Route) int {
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		switch ka, kb := key(a.Peers)+key(a.Communities), key(b.Peers)+key(b.Communities); {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	})
	if len(p.Routes) == 0 {
		p.Routes = nil
	}
	if len(p.Peers) == 0 {
		p.Peers = nil
	}
	return p
}
