package l2sync

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/speaker/l2plan"
	"github.com/ironlb/ironlb/speaker/view"
	"github.com/ironlb/ironlb/speaker/view/viewtest"
)

// world is the cluster as objects, from which the plan is computed from
// scratch.
type world struct {
	*viewtest.Objects
	alive []string
	cfg   *config.Config
}

func (w *world) plan() l2plan.Plan {
	var ns []l2plan.Node
	for _, n := range w.Nodes {
		ns = append(ns, l2plan.NodeFrom(n))
	}
	return l2plan.Compute(w.cfg, w.Condensed(), ns, w.alive)
}

func randomCfg(t *testing.T, rng *rand.Rand) *config.Config {
	adv := func(name string, zone string) v1beta1.L2Advertisement {
		a := v1beta1.L2Advertisement{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"l2"}}}
		if zone != "" {
			a.Spec.NodeSelectors = []metav1.LabelSelector{{MatchLabels: map[string]string{"zone": zone}}}
			a.Spec.Interfaces = []string{"eth-" + zone}
		}
		return a
	}
	var advs []v1beta1.L2Advertisement
	switch rng.IntN(3) {
	case 0:
		advs = append(advs, adv("all", ""))
	case 1:
		advs = append(advs, adv("a", "a"), adv("b", "b"))
	}
	cfg, errs := config.Compile(config.Resources{
		Pools:            []v1beta1.IPAddressPool{{ObjectMeta: metav1.ObjectMeta{Name: "l2"}, Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"203.0.113.0/24"}}}},
		L2Advertisements: advs,
	})
	if errs != nil {
		t.Fatal(errs)
	}
	return cfg
}

// Over random histories of Service, EndpointSlice, Node, liveness and
// configuration events fed through the view, the incremental plan equals
// the plan computed from scratch from the same objects after every wake,
// and the IPs reported changed cover every entry that differs from the
// previous wake's plan.
func TestIncrementalPlanEqualsFromScratch(t *testing.T) {
	var addrs []string
	for i := range 40 {
		addrs = append(addrs, fmt.Sprintf("203.0.113.%d", i))
	}
	for seed := range uint64(30) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			var names []string
			for i := range 2 + rng.IntN(6) {
				names = append(names, fmt.Sprintf("node%d", i))
			}
			w := &world{Objects: viewtest.NewObjects(), alive: slices.Clone(names), cfg: randomCfg(t, rng)}
			events := viewtest.Events{Services: 25, Pools: []string{"l2"}, Addrs: addrs, Nodes: names}
			v := view.New()
			woken := 0
			c := v.Consumer(func() { woken++ })
			tr := l2plan.NewTracker()
			var prev l2plan.Plan
			for step := range 120 {
				for range 1 + rng.IntN(5) {
					switch r := rng.IntN(20); {
					case r < 17:
						w.RandomEvent(rng, events, v)
					case r < 19: // a speaker dies or comes back
						n := names[rng.IntN(len(names))]
						if i := slices.Index(w.alive, n); i >= 0 {
							w.alive = slices.Delete(w.alive, i, i+1)
						} else {
							w.alive = append(w.alive, n)
						}
					default:
						w.cfg = randomCfg(t, rng)
					}
				}
				Apply(tr, v.Changes(c))
				tr.SetConfig(w.cfg)
				tr.SetAlive(w.alive)
				got, changed := tr.Update()
				want := w.plan()
				if !plansEqual(got, want) {
					t.Fatalf("step %d: incremental plan differs from the plan from scratch:\n got %+v\nwant %+v", step, got, want)
				}
				for _, ip := range planDiff(prev, want) {
					if _, ok := slices.BinarySearchFunc(changed, ip, netip.Addr.Compare); !ok {
						t.Fatalf("step %d: %s changed but was not reported (reported %v)", step, ip, changed)
					}
				}
				prev = clonePlan(want)
			}
			if woken == 0 {
				t.Fatal("the view never woke its consumer")
			}
		})
	}
}

func clonePlan(p l2plan.Plan) l2plan.Plan {
	out := l2plan.Plan{Owners: map[netip.Addr]l2plan.Owner{}, Unannounced: map[netip.Addr]l2plan.Unannounced{}}
	for k, v := range p.Owners {
		if len(v.Interfaces) == 0 {
			v.Interfaces = nil
		}
		out.Owners[k] = v
	}
	for k, v := range p.Unannounced {
		out.Unannounced[k] = v
	}
	return out
}

func plansEqual(a, b l2plan.Plan) bool { return reflect.DeepEqual(clonePlan(a), clonePlan(b)) }

func planDiff(a, b l2plan.Plan) []netip.Addr {
	a, b = clonePlan(a), clonePlan(b)
	var out []netip.Addr
	for _, p := range []l2plan.Plan{a, b} {
		for ip := range p.Owners {
			if !reflect.DeepEqual(a.Owners[ip], b.Owners[ip]) {
				out = append(out, ip)
			}
		}
		for ip := range p.Unannounced {
			if !reflect.DeepEqual(a.Unannounced[ip], b.Unannounced[ip]) {
				out = append(out, ip)
			}
		}
	}
	return out
}
