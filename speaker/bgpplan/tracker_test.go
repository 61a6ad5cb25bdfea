package bgpplan

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/lbstate"
	"github.com/ironlb/ironlb/pkg/readiness"
	"github.com/ironlb/ironlb/speaker/bgpspec"
	"github.com/ironlb/ironlb/speaker/l2plan"
)

// randomConfig is one of a few configurations of the pool "bgp": peers
// and advertisements selecting nodes by rack, peer subsets, aggregation.
func randomConfig(t *testing.T, rng *rand.Rand) *config.Config {
	rack := func(r string) []metav1.LabelSelector {
		return []metav1.LabelSelector{{MatchLabels: map[string]string{"rack": r}}}
	}
	peers := []v1beta1.BGPPeer{peer("tor", "198.51.100.1", nil)}
	var advs []v1beta1.BGPAdvertisement
	switch rng.IntN(7) {
	case 0:
		advs = []v1beta1.BGPAdvertisement{{ObjectMeta: metav1.ObjectMeta{Name: "all"}}}
	case 1:
		peers = append(peers, peer("tor-b", "198.51.100.2", map[string]string{"rack": "b"}))
		advs = []v1beta1.BGPAdvertisement{
			{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: v1beta1.BGPAdvertisementSpec{NodeSelectors: rack("a"), Communities: []string{"64500:1"}}},
			{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: v1beta1.BGPAdvertisementSpec{NodeSelectors: rack("b"), Peers: []string{"tor-b"}}},
		}
	case 2:
		advs = []v1beta1.BGPAdvertisement{{ObjectMeta: metav1.ObjectMeta{Name: "agg"},
			Spec: v1beta1.BGPAdvertisementSpec{AggregationLength: ptr(int32(28)), LocalPref: ptr(uint32(200)), IPAddressPools: []string{"bgp"}}}}
	case 3:
		peers = []v1beta1.BGPPeer{peer("tor-a", "198.51.100.3", map[string]string{"rack": "a"})}
		advs = []v1beta1.BGPAdvertisement{{ObjectMeta: metav1.ObjectMeta{Name: "all"}}}
	case 4: // no advertisement: nothing is routed
	case 6: // Services labelled tier=web get their own community
		advs = []v1beta1.BGPAdvertisement{
			{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: v1beta1.BGPAdvertisementSpec{Communities: []string{"64500:80"},
				ServiceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"tier": "web"}}}}},
			{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: v1beta1.BGPAdvertisementSpec{NodeSelectors: rack("a")}},
		}
	case 5: // the same sessions on every rack, the routes by rack
		advs = []v1beta1.BGPAdvertisement{
			{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: v1beta1.BGPAdvertisementSpec{NodeSelectors: rack("a")}},
			{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: v1beta1.BGPAdvertisementSpec{NodeSelectors: rack("b"), LocalPref: ptr(uint32(50))}},
		}
	}
	return compile(t, advs, peers...)
}

func randomNode(rng *rand.Rand) l2plan.Node {
	n := l2plan.Node{Name: "node1", Labels: map[string]string{"rack": []string{"a", "b"}[rng.IntN(2)]}, Weight: 1, Usable: rng.IntN(5) != 0}
	if rng.IntN(3) == 0 {
		n.Labels["unrelated"] = fmt.Sprint(rng.IntN(3))
	}
	if !n.Usable {
		n.Why = []string{"not Ready", "NetworkUnavailable"}[rng.IntN(2)]
	}
	return n
}

func randomService(rng *rand.Rand, name string, addrs []netip.Addr) lbstate.Service {
	s := lbstate.Service{Key: types.NamespacedName{Namespace: "ns", Name: name}, Pool: "bgp", Local: rng.IntN(3) == 0}
	if rng.IntN(10) == 0 {
		s.Pool = "l2" // the IP's pool decides, when it is in one
	}
	if rng.IntN(2) == 0 {
		s.Labels = map[string]string{"tier": []string{"web", "db"}[rng.IntN(2)]}
	}
	for range 1 + rng.IntN(2) {
		if ip := addrs[rng.IntN(len(addrs))]; !slices.Contains(s.IPs, ip) {
			s.IPs = append(s.IPs, ip) // sometimes shared with other Services
		}
	}
	if rng.IntN(4) != 0 {
		eps := map[string]int{}
		for range 1 + rng.IntN(2) {
			eps[[]string{"node1", "node2", "node3"}[rng.IntN(3)]]++
		}
		s.Endpoints = readiness.CountsOf(eps)
	}
	return s
}

// Over random histories of Service, endpoint, node and configuration
// changes, the Tracker's plan equals Compute's from scratch after every
// Update, the Delta covers every IP whose routes or reason changed and
// every change of the sessions, and a speaker given only the routes of
// the Delta's prefixes (RoutesFor) holds Compute's routes.
func TestTrackerEqualsCompute(t *testing.T) {
	for seed := range uint64(60) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 11))
			var addrs []netip.Addr
			for i := range 5 + rng.IntN(40) {
				addrs = append(addrs, netip.MustParseAddr(fmt.Sprintf("203.0.113.%d", 128+i)))
			}
			addrs = append(addrs, netip.MustParseAddr("203.0.113.5"), netip.MustParseAddr("2001:db8:300:1::7"), netip.MustParseAddr("192.0.2.1"))
			cfg := randomConfig(t, rng)
			node := randomNode(rng)
			svcs := map[types.NamespacedName]lbstate.Service{}
			tr := NewTracker()
			tr.SetConfig(cfg)
			tr.SetNode(node)
			prev := Plan{}
			speaker := map[netip.Prefix][]bgpspec.Route{} // what UpdateRoutes would make of the deltas
			for step := range 150 {
				for range 1 + rng.IntN(4) {
					switch r := rng.IntN(20); {
					case r < 10: // a Service or its endpoints change
						s := randomService(rng, fmt.Sprintf("s%d", rng.IntN(30)), addrs)
						svcs[s.Key] = s
						tr.SetService(s)
					case r < 13:
						k := types.NamespacedName{Namespace: "ns", Name: fmt.Sprintf("s%d", rng.IntN(30))}
						delete(svcs, k)
						tr.DeleteService(k)
					case r < 18:
						node = randomNode(rng)
						tr.SetNode(node)
					default:
						cfg = randomConfig(t, rng)
						tr.SetConfig(cfg)
					}
				}
				d := tr.Update()
				var ss []lbstate.Service
				for _, s := range svcs {
					ss = append(ss, s)
				}
				slices.SortFunc(ss, func(a, b lbstate.Service) int { return strings.Compare(a.Key.Name, b.Key.Name) })
				want := normalize(Compute(cfg, ss, node))
				if got := normalize(tr.Plan()); !reflect.DeepEqual(got, want) {
					t.Fatalf("step %d: tracker plan differs from Compute:\n got %+v\nwant %+v", step, got, want)
				}
				for _, p := range differences(prev, want) {
					if !slices.ContainsFunc(d.IPs, p.Contains) {
						t.Fatalf("step %d: %s changed but Update reported no IP of it (reported %v)", step, p, d.IPs)
					}
				}
				if !reflect.DeepEqual(prev.Peers, want.Peers) && !d.Peers {
					t.Fatalf("step %d: the sessions changed but Update did not report it", step)
				}
				for _, p := range d.Prefixes {
					delete(speaker, p)
				}
				for _, r := range tr.RoutesFor(d.Prefixes) {
					speaker[r.Prefix] = append(speaker[r.Prefix], r)
				}
				var held []bgpspec.Route
				for _, rs := range speaker {
					held = append(held, rs...)
				}
				if got := normalize(Plan{Routes: held}).Routes; !reflect.DeepEqual(got, want.Routes) {
					t.Fatalf("step %d: the routes handed over by prefix differ from Compute's:\n got %v\nwant %v", step, got, want.Routes)
				}
				prev = want
			}
		})
	}
}

// One Service's change among 1,000 decides that Service's IP again and no
// other; a label of the node no advertisement selects on, nothing; the
// node turning unusable, every IP (each reason now names the node).
func TestTrackerWorkFollowsTheChange(t *testing.T) {
	cfg := compile(t, []v1beta1.BGPAdvertisement{{ObjectMeta: metav1.ObjectMeta{Name: "a"}}}, peer("tor", "198.51.100.1", nil))
	tr := NewTracker()
	tr.SetConfig(cfg)
	tr.SetNode(node1)
	svcs := make([]lbstate.Service, 1000)
	for i := range svcs {
		svcs[i] = svc(fmt.Sprintf("s%04d", i), false, map[string]int{"node2": 1}, fmt.Sprintf("2001:db8:300:1::%x", i))
		tr.SetService(svcs[i])
	}
	if d := tr.Update(); d.Decided != 1000 || len(d.IPs) != 1000 || len(tr.Routes()) != 1000 {
		t.Fatalf("first Update decided %d, changed %d, routes %d; want 1000 each", d.Decided, len(d.IPs), len(tr.Routes()))
	}

	s := svcs[500]
	s.Endpoints = nil // its last endpoint goes
	tr.SetService(s)
	d := tr.Update()
	if d.Decided != 1 || !slices.Equal(d.IPs, s.IPs) || d.Peers {
		t.Fatalf("one Service changed: decided %d, changed %v, peers %v; want 1, %v, false", d.Decided, d.IPs, d.Peers, s.IPs)
	}
	if why := tr.Plan().Withheld[s.IPs[0]]; why != "no ready endpoint" || len(tr.Routes()) != 999 {
		t.Fatalf("withheld %q with %d routes, want no ready endpoint with 999", why, len(tr.Routes()))
	}

	tr.SetService(s) // the same again
	if d := tr.Update(); d.Decided != 0 {
		t.Fatalf("an unchanged Service decided %d IPs again", d.Decided)
	}

	n := node1
	n.Labels = map[string]string{"rack": "a", "unrelated": "x"}
	tr.SetNode(n)
	if d := tr.Update(); d.Decided != 0 || d.Peers {
		t.Fatalf("a label nothing selects on decided %d IPs again (peers %v)", d.Decided, d.Peers)
	}

	n.Usable, n.Why = false, "not Ready"
	tr.SetNode(n)
	if d := tr.Update(); d.Decided != 1000 || len(d.IPs) != 1000 || len(tr.Routes()) != 0 {
		t.Fatalf("node not Ready: decided %d, changed %d, routes %d; want 1000, 1000, 0", d.Decided, len(d.IPs), len(tr.Routes()))
	}
}

// normalize orders a plan's routes completely (Compute orders them by
// prefix only).
func normalize(p Plan) Plan {
	p.Routes = slices.Clone(p.Routes)
	slices.SortStableFunc(p.Routes, func(a, b bgpspec.Route) int {
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		if c := a.Prefix.Bits() - b.Prefix.Bits(); c != 0 {
			return c
		}
		return strings.Compare(fmt.Sprint(a.Peers, a.Communities, a.LargeCommunities, a.LocalPref != nil), fmt.Sprint(b.Peers, b.Communities, b.LargeCommunities, b.LocalPref != nil))
	})
	if len(p.Routes) == 0 {
		p.Routes = nil
	}
	if len(p.Peers) == 0 {
		p.Peers = nil
	}
	return p
}

// differences are the prefixes whose routes, and the IPs (as single
// addresses) whose withheld reason, differ between two normalized plans.
func differences(a, b Plan) []netip.Prefix {
	byPrefix := func(p Plan) map[netip.Prefix]string {
		out := map[netip.Prefix]string{}
		for _, r := range p.Routes {
			out[r.Prefix] += fmt.Sprintf("%v %v %v %v;", r.Peers, r.Communities, r.LargeCommunities, r.LocalPref != nil)
		}
		for ip, w := range p.Withheld {
			out[netip.PrefixFrom(ip, ip.BitLen())] += "withheld " + w
		}
		return out
	}
	am, bm := byPrefix(a), byPrefix(b)
	var out []netip.Prefix
	for _, m := range []map[netip.Prefix]string{am, bm} {
		for p := range m {
			if am[p] != bm[p] {
				out = append(out, p)
			}
		}
	}
	return out
}
