package config

import (
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/iprange"
)

// CRD limits of IPAddressPool, checked again for objects read from files.
const (
	maxPoolAddresses  = 128
	maxPoolNamespaces = 256
	maxAddressLength  = 100
)

// poolEntry is one parsed spec.addresses item.
type poolEntry struct {
	pool  string
	index int
	text  string
	r     iprange.Range
	// widest is the shortest prefix length among the CIDR blocks that
	// make up r; computed on first use (0 = not yet).
	widest int
}

func (e *poolEntry) field() string { return idx("spec.addresses", e.index) }

// describe names the entry for another object's error message.
func (e *poolEntry) describe() string {
	return ref(KindIPAddressPool, e.pool, e.field()) + " " + quote(e.text)
}

func (e *poolEntry) widestPrefix() int {
	if e.widest == 0 {
		e.widest = widestPrefix(e.r)
	}
	return e.widest
}

// compilePools compiles every pool and admits the ranges of those in force.
// Pools may not overlap: a pool overlapping one in force is invalid (see
// conflictOrder for which of two overlapping pools wins).
func (c *compiler) compilePools(pools []*v1beta1.IPAddressPool) []Pool {
	c.entriesByPool = make(map[string][]*poolEntry, len(pools))
	objs := make([]versioned[v1beta1.IPAddressPoolSpec], len(pools))
	byName := make(map[string]*v1beta1.IPAddressPool, len(pools))
	for i, p := range pools {
		objs[i] = newVersioned(&p.ObjectMeta, &p.Spec, p.Status.LastValidSpec)
		byName[p.Name] = p
	}
	conflictOrder(objs)
	out := make([]Pool, 0, len(pools))
	for _, v := range objs {
		p := byName[v.meta.Name]
		type compiled struct {
			pool    Pool
			entries []*poolEntry
		}
		cp, ok := choose(c, KindIPAddressPool, v, func(s *v1beta1.IPAddressPoolSpec, a *attempt[compiled]) {
			o := obj{&a.own, KindIPAddressPool, p.Name}
			a.value.pool, a.value.entries = compilePool(o, p.Name, p.Labels, s)
			c.admitted.conflicts(o, a.value.entries)
		})
		if !ok {
			continue
		}
		c.admitted.add(cp.entries)
		c.entriesByPool[p.Name] = cp.entries
		out = append(out, cp.pool)
	}
	slices.SortFunc(out, func(a, b Pool) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// compilePool checks one pool spec on its own (fields, and overlaps between
// its own ranges) and returns it with its parsed entries.
func compilePool(o obj, name string, lbls map[string]string, spec *v1beta1.IPAddressPoolSpec) (Pool, []*poolEntry) {
	out := Pool{
		Name:          name,
		Labels:        maps.Clone(lbls),
		AutoAssign:    spec.AutoAssign == nil || *spec.AutoAssign,
		AvoidBuggyIPs: spec.AvoidBuggyIPs,
	}
	if len(spec.Addresses) == 0 {
		o.errorf("spec.addresses", "at least one address range is required")
	}
	maxItems(o, "spec.addresses", len(spec.Addresses), maxPoolAddresses)
	var entries []*poolEntry
	for i, a := range spec.Addresses {
		f := idx("spec.addresses", i)
		if !maxLength(o, f, a, maxAddressLength) {
			continue
		}
		r, err := iprange.ParseRange(a)
		if err != nil {
			o.errorf(f, "%v", err)
			continue
		}
		entries = append(entries, &poolEntry{pool: name, index: i, text: a, r: r})
		if r.First.Is4() {
			out.IPv4 = append(out.IPv4, r)
		} else {
			out.IPv6 = append(out.IPv6, r)
		}
	}
	checkOwnOverlaps(o, entries)
	byFirst := func(a, b iprange.Range) int { return a.First.Compare(b.First) }
	slices.SortFunc(out.IPv4, byFirst)
	slices.SortFunc(out.IPv6, byFirst)
	if sa := spec.ServiceAllocation; sa != nil {
		out.Allocation = compileAllocation(o, sa)
	}
	return out, entries
}

func compileAllocation(o obj, sa *v1beta1.ServiceAllocation) *Allocation {
	const f = "spec.serviceAllocation"
	if sa.Priority < 0 {
		o.errorf(f+".priority", "%d is negative; the lowest allowed priority is 0", sa.Priority)
	}
	maxItems(o, f+".namespaces", len(sa.Namespaces), maxPoolNamespaces)
	for i, ns := range sa.Namespaces {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			o.errorf(idx(f+".namespaces", i), "%q is not a valid namespace name: %s", ns, strings.Join(msgs, "; "))
		}
	}
	return &Allocation{
		Priority:           int(sa.Priority),
		Namespaces:         checkSet(o, f+".namespaces", sa.Namespaces),
		NamespaceSelectors: compileSelectors(o, f+".namespaceSelectors", sa.NamespaceSelectors),
		ServiceSelectors:   compileSelectors(o, f+".serviceSelectors", sa.ServiceSelectors),
	}
}

// checkOwnOverlaps reports every range of one pool that overlaps a range
// before it in address order.
//
// Sorting the ranges by start and remembering the one reaching furthest so
// far finds, in O(n log n), every range that overlaps an earlier one: if r
// overlaps any earlier range, it overlaps the furthest-reaching one. Each
// such range yields one error, so the error count stays linear even in
// pathological input.
func checkOwnOverlaps(o obj, entries []*poolEntry) {
	es := slices.Clone(entries)
	slices.SortFunc(es, compareEntries)
	var cover *poolEntry
	for _, e := range es {
		if cover != nil && cover.r.First.BitLen() == e.r.First.BitLen() && e.r.First.Compare(cover.r.Last) <= 0 {
			a, b := e, cover
			if a.index < b.index {
				a, b = b, a
			}
			o.errorf(a.field(), "%s overlaps %s %s of the same pool", quote(a.text), b.field(), quote(b.text))
		}
		if cover == nil || cover.r.First.BitLen() != e.r.First.BitLen() || cover.r.Last.Less(e.r.Last) {
			cover = e
		}
	}
}

func compareEntries(a, b *poolEntry) int {
	if x := a.r.First.Compare(b.r.First); x != 0 {
		return x
	}
	if x := a.r.Last.Compare(b.r.Last); x != 0 {
		return x
	}
	return a.index - b.index
}

// admittedRanges are the ranges of the pools in force, per family, sorted
// by start; they never overlap, so they are sorted by end too.
type admittedRanges [2][]*poolEntry

// conflicts reports each entry that overlaps a range in force.
func (ad *admittedRanges) conflicts(o obj, entries []*poolEntry) {
	for _, e := range entries {
		rs := ad[familyIndex(e.r.First)]
		// The first range ending at or after e's start is the only one
		// that can overlap e without starting after e ends.
		i := sort.Search(len(rs), func(i int) bool { return e.r.First.Compare(rs[i].r.Last) <= 0 })
		if i < len(rs) && rs[i].r.First.Compare(e.r.Last) <= 0 {
			o.errorf(e.field(), "%s overlaps %s, which is in use", quote(e.text), rs[i].describe())
		}
	}
}

// add admits the entries of a pool that conflicts passed.
func (ad *admittedRanges) add(entries []*poolEntry) {
	for _, e := range entries {
		fi := familyIndex(e.r.First)
		rs := ad[fi]
		i := sort.Search(len(rs), func(i int) bool { return e.r.First.Compare(rs[i].r.First) < 0 })
		ad[fi] = slices.Insert(rs, i, e)
	}
}

func quote(s string) string { return strconv.Quote(s) }
