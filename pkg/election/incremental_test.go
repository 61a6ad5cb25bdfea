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
					switch r := rng.IntN(28); {
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
					case r < 14: // a node joins some items' own lists (a Local endpoint becomes usable)
						n := nodes[rng.IntN(len(nodes))]
						for ip, el := range own {
							if rng.IntN(2) == 0 && !slices.Contains(el, n) {
								own[ip] = append(slices.Clone(el), n)
								e.Set(ip, own[ip])
							}
						}
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

// A node leaving and rejoining the own lists of many items (a node with a
// local endpoint of many Local Services turning NotReady and Ready)
// elects again only the items it owned, then those it can take back: not
// every item whose list names it.
func TestOwnListChangeReachesOnlyWhatItCan(t *testing.T) {
	nodes := nodeNames(20)
	e := NewElector()
	orig := map[netip.Addr][]string{}
	for i, ip := range ips(2000) {
		orig[ip] = []string{nodes[i%20], nodes[(i*7+3)%20], nodes[(i*13+5)%20], nodes[(i*3+11)%20]}
		e.Set(ip, orig[ip])
	}
	e.Update()
	const n = "node2"
	var with []netip.Addr // the items whose list names n
	for ip, el := range orig {
		if slices.Contains(el, n) {
			with = append(with, ip)
		}
	}
	now := maps.Clone(orig)
	step := func(name string, most int) {
		t.Helper()
		if touched := len(e.dirty); touched > most {
			t.Errorf("%s: %d items to elect again, want at most %d (%d lists name %s)", name, touched, most, len(with), n)
		}
		e.Update()
		if want := fromScratch(now, nil); !maps.Equal(e.Owners(), want) {
			t.Fatalf("%s: owners differ from Elect", name)
		}
	}
	// Leaving, it reaches only the items it owned.
	owned := len(e.Owned(n))
	for _, ip := range with {
		now[ip] = slices.DeleteFunc(slices.Clone(orig[ip]), func(m string) bool { return m == n })
		e.Set(ip, now[ip])
	}
	step("leaves", owned)
	// Rejoining, it reaches those it outscores the owner of (about what
	// it owned) and those whose owner is full: far from all.
	for _, ip := range with {
		now[ip] = orig[ip]
		e.Set(ip, now[ip])
	}
	step("rejoins", len(with)/2)
	if owned == 0 || 2*owned >= len(with) {
		t.Fatalf("%s owned %d of the %d items it may take: the scenario proves nothing", n, owned, len(with))
	}
}
