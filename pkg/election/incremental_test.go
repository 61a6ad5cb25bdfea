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
// and of weights changing, the Elector's owners equal Elect's after every
// Update, and the IPs it reports are exactly those whose owner changed.
func TestElectorEqualsElect(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 13))
			nodes := nodeNames(2 + rng.IntN(12))
			pool := ips(50 + rng.IntN(400))
			items := map[netip.Addr][]string{}
			weights := map[string]int{}
			e := NewElector()
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
			for step := range 120 {
				// A batch of changes, mostly small.
				for range 1 + rng.IntN(1+rng.IntN(20)) {
					ip := pool[rng.IntN(len(pool))]
					switch r := rng.IntN(20); {
					case r < 2: // a node's weight changes
						n := nodes[rng.IntN(len(nodes))]
						w := 1 + rng.IntN(3)
						weights[n] = w
						e.SetWeight(n, w)
					case r < 4: // a node leaves every item
						n := nodes[rng.IntN(len(nodes))]
						for ip, el := range items {
							el = slices.DeleteFunc(slices.Clone(el), func(m string) bool { return m == n })
							if len(el) == 0 {
								delete(items, ip)
							} else {
								items[ip] = el
							}
							e.Set(ip, el)
						}
					case r < 8:
						delete(items, ip)
						e.Set(ip, nil)
					default:
						el := randomEligible()
						items[ip] = el
						e.Set(ip, el)
					}
				}
				changed := e.Update()
				got := e.Owners()
				want := fromScratch(items, weights)
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
