package ipam

import (
	"net/netip"
	"slices"
)

// subnetRouterAnycast returns, sorted and without repeats, the
// subnet-router anycast addresses (RFC 4291 section 2.6.1: the prefix with an
// all-zeros interface identifier, which routers on the link answer) of the
// IPv6 ranges that are exactly one prefix of /126 or shorter, however they
// were written (CIDR or first-last). A range that is not one prefix names no
// prefix, so none of its addresses is excluded; a /127 or /128 names its
// addresses one by one (RFC 6164 point-to-point links use both of a /127).
func subnetRouterAnycast(ranges []Range) []netip.Addr {
	var out []netip.Addr
	for _, r := range ranges {
		if p, ok := r.Prefix(); ok && p.Addr().Is6() && p.Bits() <= 126 {
			out = append(out, p.Addr())
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// anycastIn returns the excluded anycast addresses inside r, in order.
func (ps *poolState) anycastIn(r Range) []netip.Addr {
	i, _ := slices.BinarySearchFunc(ps.anycast, r.First, netip.Addr.Compare)
	j, found := slices.BinarySearchFunc(ps.anycast, r.Last, netip.Addr.Compare)
	if found {
		j++
	}
	return ps.anycast[i:j]
}

// isAnycast reports whether a is an excluded subnet-router anycast address.
func (ps *poolState) isAnycast(a netip.Addr) bool {
	_, found := slices.BinarySearchFunc(ps.anycast, a, netip.Addr.Compare)
	return found
}
