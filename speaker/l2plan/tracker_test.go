package l2plan

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/lbstate"
	"github.com/ironlb/ironlb/pkg/readiness"
)

// randomConfig is one of a few configurations: one or two L2Advertisements
// of the pool "l2" selecting nodes by zone, with or without interfaces,
// and Services by tier.
func randomConfig(t *testing.T, rng *rand.Rand) *config.Config {
	var advs []v1beta1.L2Advertisement
	switch rng.IntN(5) {
	case 4:
		advs = []v1beta1.L2Advertisement{forTier(adv("a", map[string]string{"zone": "a"}, "eth0"), "gold"), forTier(adv("b", nil), "silver")}
	case 0:
		advs = []v1beta1.L2Advertisement{adv("all", nil)}
	case 1:
		advs = []v1beta1.L2Advertisement{adv("a", map[string]string{"zone": "a"}, "eth0"), adv("b", map[string]string{"zone": "b"}, "eth1")}
	case 2:
		advs = []v1beta1.L2Advertisement{adv("a", map[string]string{"zone": "a"})}
	case 3: // nothing announces: every IP leaves the plan
	}
	return compile(t, advs...)
}

func randomNode(rng *rand.Rand, name string) Node {
	n := Node{Name: name, Labels: map[string]string{"zone": []string{"a", "b"}[rng.IntN(2)]}, Weight: 1 + rng.IntN(2)*rng.IntN(3), Usable: rng.IntN(6) != 0, Cordoned: rng.IntN(4) == 0}
	if !n.Usable {
		n.Why = []string{"not Ready", "NetworkUnavailable"}[rng.IntN(2)]
	}
	return n
}

func randomService(rng *rand.Rand, name string, nodes []string, addrs []netip.Addr) lbstate.Service {
	s := lbstate.Service{Key: types.NamespacedName{Namespace: "ns", Name: name}, Pool: "l2", Local: rng.IntN(3) == 0}
	if rng.IntN(10) == 0 {
		s.Pool = "bgp" // not a layer 2 pool, unless the IP says otherwise
	}
	if tier := rng.IntN(3); tier > 0 {
		s.Labels = map[string]string{"tier": []string{"gold", "silver"}[tier-1]}
	}
	for range 1 + rng.IntN(2) {
		if ip := addrs[rng.IntN(len(addrs))]; !slices.Contains(s.IPs, ip) {
			s.IPs = append(s.IPs, ip) // sometimes shared with other Services
		}
	}
	if rng.IntN(5) != 0 {
		eps := map[string]int{}
		for range 1 + rng.IntN(3) {
			eps[nodes[rng.IntN(len(nodes))]]++
		}
		s.Endpoints = readiness.CountsOf(eps)
	}
	return s
}

// Over random histories of Service, endpoint, Node (readiness and cordon
// flips, joins, leaves, relabelling), liveness and configuration changes,
// the Tracker's plan equals Compute's from scratch
// after every Update, and the IPs it reports cover every entry that
// changed.
func TestTrackerEqualsCompute(t *testing.T) {
	for seed := range uint64(60) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			var names []string
			for i := range 2 + rng.IntN(8) {
				names = append(names, fmt.Sprintf("n%d", i))
			}
			var addrs []netip.Addr
			for i := range 10 + rng.IntN(60) {
				addrs = append(addrs, netip.MustParseAddr(fmt.Sprintf("203.0.113.%d", i)))
			}
			addrs = append(addrs, netip.MustParseAddr("198.51.100.1"))
			cfg := randomConfig(t, rng)
			svcs := map[types.NamespacedName]lbstate.Service{}
			nodes := map[string]Node{}
			alive := slices.Clone(names)
			tr := NewTracker()
			tr.SetConfig(cfg)
			tr.SetAlive(alive)
			prev := Plan{}
			for step := range 150 {
				svcsChanged := false // a Service or the configuration: their IPs are reported as decided
				for range 1 + rng.IntN(4) {
					switch r := rng.IntN(23); {
					case r < 8: // a Service or its endpoints change
						s := randomService(rng, fmt.Sprintf("s%d", rng.IntN(40)), names, addrs)
						svcs[s.Key] = s
						tr.SetService(s)
						svcsChanged = true
					case r < 10:
						k := types.NamespacedName{Namespace: "ns", Name: fmt.Sprintf("s%d", rng.IntN(40))}
						delete(svcs, k)
						tr.DeleteService(k)
						svcsChanged = true
					case r < 15: // a node joins or changes
						n := randomNode(rng, names[rng.IntN(len(names))])
						nodes[n.Name] = n
						tr.SetNode(n)
					case r < 16:
						n := names[rng.IntN(len(names))]
						delete(nodes, n)
						tr.DeleteNode(n)
					case r < 19: // a node turns NotReady or Ready, or is cordoned or uncordoned, and nothing else
						n, ok := nodes[names[rng.IntN(len(names))]]
						if !ok {
							continue
						}
						if rng.IntN(3) == 0 {
							n.Cordoned = !n.Cordoned
						} else if n.Usable {
							n.Usable, n.Why = false, "not Ready"
						} else {
							n.Usable, n.Why = true, ""
						}
						nodes[n.Name] = n
						tr.SetNode(n)
					case r < 22: // a speaker dies or comes back
						n := names[rng.IntN(len(names))]
						if i := slices.Index(alive, n); i >= 0 {
							alive = slices.Delete(alive, i, i+1)
						} else {
							alive = append(alive, n)
						}
						tr.SetAlive(alive)
					default:
						cfg = randomConfig(t, rng)
						tr.SetConfig(cfg)
						svcsChanged = true
					}
				}
				got, changed := tr.Update()
				var ss []lbstate.Service
				for _, s := range svcs {
					ss = append(ss, s)
				}
				slices.SortFunc(ss, func(a, b lbstate.Service) int { return lbstate.CompareKeys(a.Key, b.Key) })
				var ns []Node
				for _, n := range nodes {
					ns = append(ns, n)
				}
				want := Compute(cfg, ss, ns, alive)
				if !reflect.DeepEqual(normalize(got), normalize(want)) {
					t.Fatalf("step %d: tracker plan differs from Compute:\n got %v\nwant %v", step, normalize(got), normalize(want))
				}
				diff := differences(prev, want)
				slices.SortFunc(diff, netip.Addr.Compare)
				diff = slices.Compact(diff)
				for _, ip := range diff {
					if _, ok := slices.BinarySearchFunc(changed, ip, netip.Addr.Compare); !ok {
						t.Fatalf("step %d: %s changed but Update did not report it (reported %v)", step, ip, changed)
					}
				}
				// Nodes' changes alone report exactly what they changed:
				// the IPs they re-decide without a change cost the
				// consumers nothing.
				if !svcsChanged && len(changed) != len(diff) {
					t.Fatalf("step %d: only nodes changed; Update reported %d IPs, %d differ (reported %v, differ %v)", step, len(changed), len(diff), changed, diff)
				}
				prev = normalize(want)
			}
		})
	}
}

// normalize copies a plan with nil and empty slices made equal.
func normalize(p Plan) Plan {
	out := Plan{Owners: map[netip.Addr]Owner{}, Unannounced: map[netip.Addr]Unannounced{}}
	for ip, o := range p.Owners {
		if len(o.Interfaces) == 0 {
			o.Interfaces = nil
		}
		out.Owners[ip] = o
	}
	for ip, u := range p.Unannounced {
		out.Unannounced[ip] = u
	}
	return out
}

func differences(a, b Plan) []netip.Addr {
	var out []netip.Addr
	for _, m := range []Plan{a, b} {
		for ip := range m.Owners {
			if !reflect.DeepEqual(a.Owners[ip], b.Owners[ip]) {
				out = append(out, ip)
			}
		}
		for ip := range m.Unannounced {
			if !reflect.DeepEqual(a.Unannounced[ip], b.Unannounced[ip]) {
				out = append(out, ip)
			}
		}
	}
	return out
}

// The work of an Update (Decided) follows the change, not the number of
// IPs: one Service's change decides its IP again, a label nothing selects
// on and a repeated Service nothing, and a node's loss the IPs it owned
// and the few its going moves besides (bounded load), not all of them.
func TestTrackerWorkFollowsTheChange(t *testing.T) {
	tr := NewTracker()
	tr.SetConfig(compile(t, adv("all", nil)))
	names := make([]string, 10)
	for i, n := range nodes("n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9") {
		tr.SetNode(n)
		names[i] = n.Name
	}
	tr.SetAlive(names)
	svcs := make([]lbstate.Service, 200)
	for i := range svcs {
		svcs[i] = svc(fmt.Sprintf("s%03d", i), false, map[string]int{"n1": 1}, fmt.Sprintf("203.0.113.%d", i))
		tr.SetService(svcs[i])
	}
	decided := func() int {
		tr.Update()
		return tr.Decided()
	}
	if d := decided(); d != 200 {
		t.Fatalf("first Update decided %d IPs, want 200", d)
	}

	s := svcs[50]
	s.Endpoints = nil
	tr.SetService(s)
	if d := decided(); d != 1 {
		t.Fatalf("one Service changed: decided %d IPs, want 1", d)
	}
	tr.SetService(s)
	if d := decided(); d != 0 {
		t.Fatalf("an unchanged Service decided %d IPs again", d)
	}

	n := nodes("n3")[0]
	n.Labels["rack"] = "a"
	tr.SetNode(n)
	if d := decided(); d != 0 {
		t.Fatalf("a label nothing selects on decided %d IPs again", d)
	}

	var owned int
	for _, o := range tr.plan.Owners {
		if o.Node == "n3" {
			owned++
		}
	}
	n.Usable, n.Why = false, "not Ready"
	tr.SetNode(n)
	d := decided()
	if owned == 0 || d < owned || d > 200/2 {
		t.Fatalf("node n3 (owner of %d IPs) not Ready: decided %d IPs; want at least those and well under all 200", owned, d)
	}
	t.Logf("node n3 owned %d IPs; its loss decided %d again", owned, d)
}
