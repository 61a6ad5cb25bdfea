package config

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/ipam"
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
	r     ipam.Range
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

// compilePools compiles every pool and records its entries in c.
func (c *compiler) compilePools(pools []*v1beta1.IPAddressPool) []Pool {
	c.entriesByPool = make(map[string][]*poolEntry, len(pools))
	out := make([]Pool, 0, len(pools))
	for _, p := range pools {
		if cp, ok := c.compilePool(p); ok {
			out = append(out, cp)
		}
	}
	return out
}

func (c *compiler) compilePool(p *v1beta1.IPAddressPool) (Pool, bool) {
	o := obj{&c.errs, KindIPAddressPool, p.Name}
	before := len(c.list)
	spec := &p.Spec
	out := Pool{
		Name:          p.Name,
		Labels:        maps.Clone(p.Labels),
		AutoAssign:    spec.AutoAssign == nil || *spec.AutoAssign,
		AvoidBuggyIPs: spec.AvoidBuggyIPs,
	}
	if len(spec.Addresses) == 0 {
		o.errorf("spec.addresses", "at least one address range is required")
	}
	maxItems(o, "spec.addresses", len(spec.Addresses), maxPoolAddresses)
	for i, a := range spec.Addresses {
		f := idx("spec.addresses", i)
		if !maxLength(o, f, a, maxAddressLength) {
			continue
		}
		r, err := ipam.ParseRange(a)
		if err != nil {
			o.errorf(f, "%v", err)
			continue
		}
		e := &poolEntry{pool: p.Name, index: i, text: a, r: r}
		c.entries = append(c.entries, e)
		c.entriesByPool[p.Name] = append(c.entriesByPool[p.Name], e)
		if r.First.Is4() {
			out.IPv4 = append(out.IPv4, r)
		} else {
			out.IPv6 = append(out.IPv6, r)
		}
	}
	byFirst := func(a, b ipam.Range) int { return a.First.Compare(b.First) }
	slices.SortFunc(out.IPv4, byFirst)
	slices.SortFunc(out.IPv6, byFirst)
	if sa := spec.ServiceAllocation; sa != nil {
		out.Allocation = compileAllocation(o, sa)
	}
	return out, len(c.list) == before
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

// checkOverlaps reports every address range that overlaps a range before
// it in address order, within a pool or across pools.
//
// Sorting all ranges by start and remembering the one reaching furthest so
// far finds, in O(n log n), every range that overlaps an earlier one: if r
// overlaps any earlier range, it overlaps the furthest-reaching one. Each
// such range yields one error naming both entries (on both pools when they
// differ), so the error count stays linear even in pathological input.
func (c *compiler) checkOverlaps() {
	es := slices.Clone(c.entries)
	slices.SortFunc(es, func(a, b *poolEntry) int {
		if x := a.r.First.Compare(b.r.First); x != 0 {
			return x
		}
		if x := a.r.Last.Compare(b.r.Last); x != 0 {
			return x
		}
		if x := strings.Compare(a.pool, b.pool); x != 0 {
			return x
		}
		return a.index - b.index
	})
	var cover *poolEntry
	for _, e := range es {
		if cover != nil && cover.r.First.BitLen() == e.r.First.BitLen() && e.r.First.Compare(cover.r.Last) <= 0 {
			c.reportOverlap(e, cover)
		}
		if cover == nil || cover.r.First.BitLen() != e.r.First.BitLen() || cover.r.Last.Less(e.r.Last) {
			cover = e
		}
	}
}

func (c *compiler) reportOverlap(a, b *poolEntry) {
	if a.pool == b.pool {
		if a.index < b.index {
			a, b = b, a
		}
		c.add(KindIPAddressPool, a.pool, a.field(), "%s overlaps %s %s of the same pool", quote(a.text), b.field(), quote(b.text))
		return
	}
	c.add(KindIPAddressPool, a.pool, a.field(), "%s overlaps %s", quote(a.text), b.describe())
	c.add(KindIPAddressPool, b.pool, b.field(), "%s overlaps %s", quote(b.text), a.describe())
}

func quote(s string) string { return strconv.Quote(s) }
