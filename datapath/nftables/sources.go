package nftables

import (
	"net/netip"

	nft "github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/ironlb/ironlb/datapath"
)

// Source ranges (spec.loadBalancerSourceRanges) of a restricted virtual
// service live in a chain of their own next to its service chain, in the
// same shard table:
//
//	chain src4-203.0.113.10-tcp-80 {
//		ip saddr 198.51.100.0/24 return
//		ip saddr 192.0.2.0/24 return
//		drop
//	}
//
// and the service chain's first rule jumps there. The service chain runs
// for the first packet of a connection only (it is a NAT chain), so a
// client outside the ranges has its new connections dropped before any
// mark or DNAT, while established connections are left alone, as
// kube-proxy does. A chain of rules rather than a set: creating thousands
// of sets makes a full sync take seconds (see doc.go), and a service's
// ranges are few. Changing the ranges rewrites this chain only.

// sourceChainName names the source-range chain of a virtual service.
func sourceChainName(k datapath.ServiceKey) string { return "src" + chainName(k)[len("svc"):] }

// sourceRules renders the source-range chain: one return per allowed
// prefix, then drop.
func sourceRules(k datapath.ServiceKey, s datapath.SourceRanges) [][]expr.Any {
	v6 := k.VIP.Is6()
	rules := make([][]expr.Any, 0, len(s.Allowed)+1)
	for _, p := range s.Allowed {
		rules = append(rules, cat(matchFamily(v6), matchSourcePrefix(p), []expr.Any{verdict(expr.VerdictReturn)}))
	}
	return append(rules, []expr.Any{verdict(expr.VerdictDrop)})
}

// jumpToSources is the service chain's first rule for a restricted service.
func jumpToSources(k datapath.ServiceKey) []expr.Any {
	return []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: sourceChainName(k)}}
}

// matchSourcePrefix: ip saddr PREFIX (ip6 saddr PREFIX).
func matchSourcePrefix(p netip.Prefix) []expr.Any {
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
	return append(out, &expr.Cmp{Op: expr.CmpOpEq, Register: reg(0), Data: p.Masked().Addr().AsSlice()})
}

// addSourceChain adds (in the transaction being encoded) the source-range
// chain of a restricted service; it must come before the service chain's
// rules, which jump to it.
func (b *Backend) addSourceChain(t *nft.Table, k datapath.ServiceKey, s datapath.SourceRanges) {
	ch := b.enc.AddChain(&nft.Chain{Table: t, Name: sourceChainName(k)})
	for _, r := range sourceRules(k, s) {
		b.enc.AddRule(&nft.Rule{Table: t, Chain: ch, Exprs: r})
	}
}

// sourcesBefore and sourcesAfter bring the source-range chain of a
// service from ranges old to now in the transaction, around the rewrite of
// its service chain: a chain must exist before a rule jumps to it, and can
// go only once no rule does.
func (b *Backend) sourcesBefore(t *nft.Table, k datapath.ServiceKey, old, now datapath.SourceRanges) {
	switch {
	case old.Equal(now) || !now.Restricted:
	case old.Restricted:
		ch := &nft.Chain{Table: t, Name: sourceChainName(k)}
		b.enc.FlushChain(ch)
		for _, r := range sourceRules(k, now) {
			b.enc.AddRule(&nft.Rule{Table: t, Chain: ch, Exprs: r})
		}
	default:
		b.addSourceChain(t, k, now)
	}
}

func (b *Backend) sourcesAfter(t *nft.Table, k datapath.ServiceKey, old, now datapath.SourceRanges) {
	if old.Restricted && !now.Restricted {
		b.delSourceChain(t, k)
	}
}

// delSourceChain removes it; only after the jump to it is gone.
func (b *Backend) delSourceChain(t *nft.Table, k datapath.ServiceKey) {
	ch := &nft.Chain{Table: t, Name: sourceChainName(k)}
	b.enc.FlushChain(ch)
	b.enc.DelChain(ch)
}

// serviceChains is how many chains a service has in its shard: its own,
// and its source-range chain when restricted.
func serviceChains(vs datapath.VirtualService) int {
	if vs.Sources.Restricted {
		return 2
	}
	return 1
}
