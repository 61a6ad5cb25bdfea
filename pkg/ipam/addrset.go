package ipam

import (
	"encoding/binary"
	"net/netip"

	"github.com/google/btree"
)

// key is an address as a 128-bit number: IPv6 as is, IPv4 in its
// IPv4-mapped form (::ffff:a.b.c.d). Ranges and requested IPs never contain
// IPv4-mapped IPv6 addresses, so the two families cannot collide. Keys hold
// no pointers, which keeps a large tree cheap for the garbage collector.
type key = u128

func keyOf(a netip.Addr) key {
	b := a.As16()
	return key{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}
}

func (k key) toAddr() netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k.hi)
	binary.BigEndian.PutUint64(b[8:], k.lo)
	return netip.AddrFrom16(b).Unmap()
}

func (k key) less(o key) bool { return k.hi < o.hi || (k.hi == o.hi && k.lo < o.lo) }

// next returns k+1; ok is false on overflow.
func (k key) next() (key, bool) {
	if k.lo != ^uint64(0) {
		return key{k.hi, k.lo + 1}, true
	}
	if k.hi == ^uint64(0) {
		return key{}, false
	}
	return key{k.hi + 1, 0}, true
}

// prev returns k-1 (callers never pass 0).
func (k key) prev() key {
	if k.lo != 0 {
		return key{k.hi, k.lo - 1}
	}
	return key{k.hi - 1, ^uint64(0)}
}

// buggy reports whether k is an IPv4 address ending in .0 or .255.
func (k key) buggy() bool {
	if k.hi != 0 || k.lo>>32 != 0xffff {
		return false
	}
	b := byte(k.lo)
	return b == 0 || b == 255
}

// span is an inclusive run of used addresses.
type span struct{ lo, hi key }

// addrSet is a set of addresses stored as maximal disjoint spans in a
// B-tree ordered by span start. Memory is O(number of spans), and finding
// the lowest free address at or above x is one tree lookup per span
// skipped: after looking up the span containing x, hi+1 is free because
// spans are maximal.
type addrSet struct {
	t *btree.BTreeG[span]
	n int // number of addresses
}

func newAddrSet() *addrSet {
	return &addrSet{t: btree.NewG(32, func(a, b span) bool { return a.lo.less(b.lo) })}
}

// floor returns the span with the greatest start <= k.
func (s *addrSet) floor(k key) (span, bool) {
	var got span
	found := false
	s.t.DescendLessOrEqual(span{lo: k}, func(x span) bool {
		got, found = x, true
		return false
	})
	return got, found
}

// find returns the span containing k.
func (s *addrSet) find(k key) (span, bool) {
	if sp, ok := s.floor(k); ok && !sp.hi.less(k) {
		return sp, true
	}
	return span{}, false
}

func (s *addrSet) has(a netip.Addr) bool {
	_, ok := s.find(keyOf(a))
	return ok
}

func (s *addrSet) len() int { return s.n }

// add inserts a; it reports false if a was already present. The tree is
// keyed by span start, so extending a span to the right is a replace.
func (s *addrSet) add(a netip.Addr) bool {
	k := keyOf(a)
	merged := span{lo: k, hi: k}
	if l, ok := s.floor(k); ok {
		if !l.hi.less(k) {
			return false
		}
		if n, _ := l.hi.next(); n == k {
			merged.lo = l.lo // replaces l below
		}
	}
	s.n++
	if next, ok := k.next(); ok {
		if r, ok := s.t.Delete(span{lo: next}); ok {
			merged.hi = r.hi
		}
	}
	s.t.ReplaceOrInsert(merged)
	return true
}

// remove deletes a; it reports false if a was absent.
func (s *addrSet) remove(a netip.Addr) bool {
	k := keyOf(a)
	sp, ok := s.find(k)
	if !ok {
		return false
	}
	s.n--
	if sp.lo == k {
		s.t.Delete(sp)
	} else {
		s.t.ReplaceOrInsert(span{lo: sp.lo, hi: k.prev()}) // replaces sp
	}
	if sp.hi != k {
		next, _ := k.next()
		s.t.ReplaceOrInsert(span{lo: next, hi: sp.hi})
	}
	return true
}

// lowestFree returns the lowest address in [first, last] (same family) not
// in the set, skipping IPv4 .0/.255 addresses when avoidBuggy is set.
func (s *addrSet) lowestFree(first, last netip.Addr, avoidBuggy bool) (netip.Addr, bool) {
	c, hi := keyOf(first), keyOf(last)
	for {
		for avoidBuggy && c.buggy() { // .255 -> .0 -> .1
			var ok bool
			if c, ok = c.next(); !ok || hi.less(c) {
				return netip.Addr{}, false
			}
		}
		sp, used := s.find(c)
		if !used {
			return c.toAddr(), true
		}
		var ok bool
		if c, ok = sp.hi.next(); !ok || hi.less(c) {
			return netip.Addr{}, false
		}
	}
}

// ascend calls fn for every span in order until fn returns false.
func (s *addrSet) ascend(fn func(span) bool) { s.t.Ascend(fn) }
