package nftables

import (
	"net/netip"

	"github.com/google/nftables/expr"

	"github.com/ironlb/ironlb/datapath"
)

// Source ranges (spec.loadBalancerSourceRanges) of a restricted virtual
// service are the first rule of its service chain, one rule whatever the
// number of ranges:
//
//	ip saddr != 198.51.100.0/24 ip saddr != 192.0.2.0/24 drop
//
// The service chain runs for the first packet of a connection only (it is
// a NAT chain), so a client outside the ranges has its new connections
// dropped before any mark or DNAT, while established connections are left
// alone, as kube-proxy does. Changing the ranges rewrites the service's
// chain, as an endpoint change does.
//
// Why one rule: a full sync's cost follows the number of objects in the
// transaction. A chain of its own per service (a return rule per range, a
// drop, a jump to it) added 8 objects per service with 5 ranges, and a jump
// the kernel follows when it validates the table; this adds one. Not a
// set: creating thousands of sets makes a full sync take seconds (see
// doc.go), and one shared interval set per shard (VIP . proto . port .
// saddr) would make every change of ranges delete set elements, which
// makes the transaction wait for a grace period (about 10 ms).
func sourceRule(k datapath.ServiceKey, s datapath.SourceRanges) []expr.Any {
	v6 := k.VIP.Is6()
	r := matchFamily(v6)
	for _, p := range s.Allowed {
		if p.Addr().Is6() != v6 {
			continue // never the case (Allowed is of the VIP's family); could never match
		}
		r = append(r, matchSourcePrefix(p, expr.CmpOpNeq)...)
	}
	return append(r, verdict(expr.VerdictDrop))
}

// matchSourcePrefix: ip saddr PREFIX (ip6 saddr PREFIX), or != with
// CmpOpNeq.
func matchSourcePrefix(p netip.Prefix, op expr.CmpOp) []expr.Any {
	v6 := p.Addr().Is6()
	n := uint32(4 * words(v6))
	out := []expr.Any{loadAddr(v6, false, 0)}
	full := 8 * int(n)
	if p.Bits() < full {
		mask := make([]byte, n)
		for i := 0; i < p.Bits(); i++ {
			mask[i/8] |= 0x80 >> (i % 8)
		}
		out = append(out, &expr.Bitwise{SourceRegister: reg(0), DestRegister: reg(0), Len: n, Mask: mask, Xor: make([]byte, n)})
	}
	return append(out, &expr.Cmp{Op: op, Register: reg(0), Data: p.Masked().Addr().AsSlice()})
}
