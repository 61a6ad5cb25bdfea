package ipam

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
)

// Selector matches a label set. The controller adapts Kubernetes label
// selectors to it; MatchLabels is a simple implementation.
type Selector interface {
	Matches(labels map[string]string) bool
}

// MatchLabels matches label sets containing every key/value pair in it.
// An empty MatchLabels matches everything.
type MatchLabels map[string]string

// Matches implements Selector.
func (m MatchLabels) Matches(labels map[string]string) bool {
	for k, v := range m {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// AllocationPolicy restricts and orders automatic use of a pool.
type AllocationPolicy struct {
	// Priority orders pools that have a policy; lower is preferred.
	Priority int
	// Namespaces and NamespaceSelectors: when either is non-empty, the
	// Service's namespace must be listed or its labels match a selector.
	Namespaces         []string
	NamespaceSelectors []Selector
	// ServiceSelectors: when non-empty, the Service's labels must match one.
	ServiceSelectors []Selector
}

// allows reports whether the policy lets req's Service use the pool.
// A nil policy allows everyone.
func (p *AllocationPolicy) allows(req *Request) bool {
	if p == nil {
		return true
	}
	if len(p.Namespaces) > 0 || len(p.NamespaceSelectors) > 0 {
		if !slices.Contains(p.Namespaces, req.Service.Namespace) && !anyMatches(p.NamespaceSelectors, req.NamespaceLabels) {
			return false
		}
	}
	if len(p.ServiceSelectors) > 0 && !anyMatches(p.ServiceSelectors, req.Labels) {
		return false
	}
	return true
}

func anyMatches(sels []Selector, labels map[string]string) bool {
	for _, s := range sels {
		if s != nil && s.Matches(labels) {
			return true
		}
	}
	return false
}

// Pool is a named set of address ranges.
type Pool struct {
	Name   string
	Ranges []Range
	// AutoAssign: the pool is used for Services that name neither a pool
	// nor an IP. When false it serves only explicit requests.
	AutoAssign bool
	// AvoidBuggyIPs: IPv4 addresses ending in .0 or .255 are not part of
	// the pool (some old client stacks mishandle them), nor is the
	// subnet-router anycast address (the first address) of an IPv6 range
	// that is exactly one prefix of /126 or shorter (routers on the link
	// answer it).
	AvoidBuggyIPs bool
	// Allocation is the pool's serviceAllocation; nil when absent.
	Allocation *AllocationPolicy
}

// ValidatePools reports the first problem that would make SetPools skip
// part of pools: empty or duplicate names and invalid ranges.
func ValidatePools(pools []Pool) error {
	seen := map[string]bool{}
	for _, p := range pools {
		if p.Name == "" {
			return fmt.Errorf("address pool with empty name")
		}
		if seen[p.Name] {
			return fmt.Errorf("address pool %q: defined more than once", p.Name)
		}
		seen[p.Name] = true
		for _, r := range p.Ranges {
			if err := r.Validate(); err != nil {
				return fmt.Errorf("address pool %q: %w", p.Name, err)
			}
		}
	}
	return nil
}

// poolState is a pool as the allocator uses it: ranges merged and sorted
// per family, sizes precomputed, usage counters maintained by hold/unhold.
type poolState struct {
	spec   Pool
	ranges [2][]Range // per family index, sorted, disjoint, non-adjacent
	total  [2]u128    // allocatable addresses (AvoidBuggyIPs applied)
	// anycast holds, sorted, the subnet-router anycast addresses that
	// AvoidBuggyIPs excludes (from the ranges as given, before merging:
	// two adjacent /120s are two prefixes, not one /119).
	anycast []netip.Addr
	// used counts held addresses inside this pool, whichever pool they are
	// attributed to (pools may overlap).
	used [2]uint64
	// assigned counts distinct held addresses attributed to this pool.
	assigned [2]uint64
}

// newPoolState normalises p. Invalid ranges are dropped and described in
// the returned notes.
func newPoolState(p Pool) (*poolState, []string) {
	ps := &poolState{spec: p}
	var notes []string
	var valid []Range
	for _, r := range p.Ranges {
		if err := r.Validate(); err != nil {
			notes = append(notes, fmt.Sprintf("address pool %q: ignoring range: %v", p.Name, err))
			continue
		}
		valid = append(valid, r)
	}
	if p.AvoidBuggyIPs {
		ps.anycast = subnetRouterAnycast(valid)
	}
	sort.Slice(valid, func(i, j int) bool { return valid[i].First.Less(valid[j].First) })
	for _, r := range valid {
		fi := familyIndex(r.Family())
		rs := ps.ranges[fi]
		if n := len(rs); n > 0 {
			last := &rs[n-1]
			if next := last.Last.Next(); !next.IsValid() || r.First.Compare(next) <= 0 {
				// Overlapping or adjacent: merge.
				if last.Last.Less(r.Last) {
					last.Last = r.Last
				}
				continue
			}
		}
		ps.ranges[fi] = append(rs, r)
	}
	ps.spec.Ranges = nil
	for fi := range ps.ranges {
		for _, r := range ps.ranges[fi] {
			ps.spec.Ranges = append(ps.spec.Ranges, r)
			n := rangeSize(r)
			if p.AvoidBuggyIPs && r.First.Is4() {
				n = n.subSat(u128From64(buggyIn(r)))
			}
			ps.total[fi] = ps.total[fi].addSat(n)
		}
	}
	// Every anycast address lies in a range, counted once above.
	ps.total[familyIndex(IPv6)] = ps.total[familyIndex(IPv6)].subSat(u128From64(uint64(len(ps.anycast))))
	return ps, notes
}

// name returns the pool name.
func (ps *poolState) name() string { return ps.spec.Name }

// hasFamily reports whether the pool has any range of family f.
func (ps *poolState) hasFamily(f Family) bool { return len(ps.ranges[familyIndex(f)]) > 0 }

// inRanges reports whether a is in one of the pool's ranges, ignoring
// AvoidBuggyIPs.
func (ps *poolState) inRanges(a netip.Addr) bool {
	f := FamilyOf(a)
	if !f.Valid() || a.Zone() != "" {
		return false
	}
	rs := ps.ranges[familyIndex(f)]
	i := sort.Search(len(rs), func(i int) bool { return a.Compare(rs[i].Last) <= 0 })
	return i < len(rs) && rs[i].First.Compare(a) <= 0
}

// contains reports whether a is an allocatable address of the pool.
func (ps *poolState) contains(a netip.Addr) bool {
	if ps.spec.AvoidBuggyIPs && (isBuggy(a) || ps.isAnycast(a)) {
		return false
	}
	return ps.inRanges(a)
}

// allows reports whether the pool's serviceAllocation admits req.
func (ps *poolState) allows(req *Request) bool { return ps.spec.Allocation.allows(req) }

// isBuggy reports whether a is an IPv4 address ending in .0 or .255.
func isBuggy(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	b := a.As4()
	return b[3] == 0 || b[3] == 255
}

// buggyIn counts IPv4 addresses ending in .0 or .255 in r.
func buggyIn(r Range) uint64 {
	// upTo(n) counts such addresses in [0, n].
	upTo := func(n uint64) uint64 { return n/256 + 1 + (n+1)/256 }
	first, last := u128FromAddr(r.First).lo, u128FromAddr(r.Last).lo
	c := upTo(last)
	if first > 0 {
		c -= upTo(first - 1)
	}
	return c
}
