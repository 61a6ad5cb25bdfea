package bgpsync

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/lbstate"
	"github.com/ironlb/ironlb/speaker/bgpplan"
	"github.com/ironlb/ironlb/speaker/bgpspec"
	"github.com/ironlb/ironlb/speaker/l2plan"
	"github.com/ironlb/ironlb/speaker/view"
	"github.com/ironlb/ironlb/speaker/view/viewtest"
)

// world is the cluster as objects, from which this node's plan is
// computed from scratch, as the syncer did before the view.
type world struct {
	svcs   map[string]*corev1.Service
	slices map[string]*discoveryv1.EndpointSlice
	nodes  map[string]*corev1.Node
	cfg    *config.Config
}

func (w *world) plan(node string) bgpplan.Plan {
	var svcs []*corev1.Service
	for _, s := range w.svcs {
		svcs = append(svcs, s)
	}
	var sls []*discoveryv1.EndpointSlice
	for _, s := range w.slices {
		sls = append(sls, s)
	}
	return bgpplan.Compute(w.cfg, lbstate.Build(svcs, sls), l2plan.NodeFrom(w.nodes[node]))
}

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
	const self = "node0"
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
			w := &world{svcs: map[string]*corev1.Service{}, slices: map[string]*discoveryv1.EndpointSlice{},
				nodes: map[string]*corev1.Node{}, cfg: randomCfg(t, rng)}
			v := view.New()
			c := v.Consumer(func() {})
			tr := bgpplan.NewTracker()
			present, prev := false, bgpplan.Plan{}
			checked := 0
			for step := range 120 {
				for range 1 + rng.IntN(5) {
					svc := fmt.Sprintf("s%d", rng.IntN(20))
					pool := []string{"bgp", "bgp", "bgp", "l2"}[rng.IntN(4)]
					switch r := rng.IntN(20); {
					case r < 5:
						s := viewtest.RandomService(rng, svc, pool, addrs)
						w.svcs[svc] = s
						v.SetService(s)
					case r < 6:
						delete(w.svcs, svc)
						v.DeleteService(types.NamespacedName{Namespace: "ns", Name: svc})
					case r < 12: // an endpoint change: one of a Service's two slices
						name := fmt.Sprintf("%s-%d", svc, rng.IntN(2))
						sl := viewtest.RandomSlice(rng, svc, name, names)
						w.slices[name] = sl
						v.SetSlice(sl)
					case r < 13:
						name := fmt.Sprintf("%s-%d", svc, rng.IntN(2))
						delete(w.slices, name)
						v.DeleteSlice(types.NamespacedName{Namespace: "ns", Name: name})
					case r < 18: // this node or another changes
						n := viewtest.RandomNode(rng, names[rng.IntN(len(names))])
						w.nodes[n.Name] = n
						v.SetNode(n)
					case r < 19:
						n := names[rng.IntN(len(names))]
						delete(w.nodes, n)
						v.DeleteNode(n)
					default:
						w.cfg = randomCfg(t, rng)
					}
				}
				if p, changed := Apply(tr, v.Changes(c), self); changed {
					present = p
				}
				if present != (w.nodes[self] != nil) {
					t.Fatalf("step %d: Apply says the node is present: %v, the world: %v", step, present, !present)
				}
				if !present {
					continue // the syncer plans nothing without its node
				}
				tr.SetConfig(w.cfg)
				d := tr.Update()
				got, want := canonical(tr.Plan()), canonical(w.plan(self))
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
