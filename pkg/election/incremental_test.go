package election

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// fromScratch is Elect over the Elector's items, with every node eligible
// for some item as a candidate.
func fromScratch(items map[netip.Addr][]string, weights map[string]int) map[netip.Addr]string {
	var its []Item
	seen := map[string]bool{}
	var cands []Candidate
	for ip, el := range items {
		its = append(its, Item{IP: ip, Eligible: el})
		for _, n := range el {
			if !seen[n] {
				seen[n] = true
				cands = append(cands, Candidate{Node: n, Weight: weights[n]})
			}
		}
	}
	return Elect(its, cands)
}

// Over random histories of items coming, going and changing eligibility,
// on their own (Set) or through groups (Join, SetGroup) whose nodes come
// and go (a node turning Ready, NotReady, joining or leaving), and of
// weights changing, the Elector's owners equal Elect's after every Update,
// and the IPs it reports are exactly those whose owner changed.
func TestElectorEqualsElect(t *testing.T) {
	for seed := range uint64(60) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 13))
			nodes := nodeNames(2 + rng.IntN(12))
			pool := ips(50 + rng.IntN(400))
			own := map[netip.Addr][]string{}  // items with their own lists
			member := map[netip.Addr]string{} // items in a group
			groups := map[string][]string{"g0": slices.Clone(nodes), "g1": nodes[:1+rng.IntN(len(nodes))]}
			weights := map[string]int{}
			e := NewElector()
			for g, el := range groups {
				e.SetGroup(g, el)
			}
			prev := map[netip.Addr]string{}
			randomEligible := func() []string {
				switch rng.IntN(4) {
				case 0: // a Local Service: a few nodes
					var el []string
					for range 1 + rng.IntN(3) {
						el = append(el, nodes[rng.IntN(len(nodes))])
					}
					return el
				default: // Cluster: all usable nodes, most of the time all
					el := slices.Clone(nodes)
					if rng.IntN(3) == 0 {
						el = slices.DeleteFunc(el, func(string) bool { return rng.IntN(8) == 0 })
					}
					return el
				}
			}
			// items is what Elect is given: own lists, and group lists
			// for the members of groups with nodes.
			items := func() map[netip.Addr][]string {
				out := maps.Clone(own)
				for ip, g := range member {
					if len(groups[g]) > 0 {
						out[ip] = groups[g]
					}
				}
				return out
			}
			for step := range 160 {
				// A batch of changes, mostly small.
				for range 1 + rng.IntN(1+rng.IntN(20)) {
					ip := pool[rng.IntN(len(pool))]
					g := []string{"g0", "g1"}[rng.IntN(2)]
					switch r := rng.IntN(26); {
					case r < 2: // a node's weight changes
						n := nodes[rng.IntN(len(nodes))]
						w := 1 + rng.IntN(3)
						weights[n] = w
						e.SetWeight(n, w)
					case r < 4: // a node leaves every item and group
						n := nodes[rng.IntN(len(nodes))]
						for ip, el := range own {
							el = slices.DeleteFunc(slices.Clone(el), func(m string) bool { return m == n })
							if len(el) == 0 {
								delete(own, ip)
							} else {
								own[ip] = el
							}
							e.Set(ip, el)
						}
						for g, el := range groups {
							groups[g] = slices.DeleteFunc(slices.Clone(el), func(m string) bool { return m == n })
							e.SetGroup(g, groups[g])
						}
					case r < 8: // a node joins or leaves a group
						n := nodes[rng.IntN(len(nodes))]
						if i := slices.Index(groups[g], n); i >= 0 {
							groups[g] = slices.Delete(slices.Clone(groups[g]), i, i+1)
						} else {
							groups[g] = append(slices.Clone(groups[g]), n)
						}
						e.SetGroup(g, groups[g])
					case r < 12:
						delete(own, ip)
						delete(member, ip)
						e.Set(ip, nil)
					case r < 16: // an item joins a group
						delete(own, ip)
						member[ip] = g
						e.Join(ip, g)
					default:
						el := randomEligible()
						delete(member, ip)
						own[ip] = el
						e.Set(ip, el)
					}
				}
				changed := e.Update()
				got := e.Owners()
				want := fromScratch(items(), weights)
				if !maps.Equal(got, want) {
					diff := 0
					for ip := range want {
						if got[ip] != want[ip] {
							diff++
						}
					}
					t.Fatalf("step %d: %d of %d owners differ from Elect", step, diff, len(want))
				}
				var moved []netip.Addr
				for ip := range want {
					if prev[ip] != want[ip] {
						moved = append(moved, ip)
					}
				}
				for ip := range prev {
					if _, ok := want[ip]; !ok {
						moved = append(moved, ip)
					}
				}
				slices.SortFunc(moved, netip.Addr.Compare)
				if !slices.Equal(changed, moved) {
					t.Fatalf("step %d: Update reported %d changed IPs, %d owners changed", step, len(changed), len(moved))
				}
				prev = want
			}
		})
	}
}
