package config

import (
	"math/bits"
	"net/netip"

	"github.com/ironlb/ironlb/pkg/iprange"
)

// widestPrefix returns the shortest prefix length among the CIDR blocks
// that exactly cover r (the minimal decomposition: each block the largest
// aligned one starting at the current address). A CIDR entry yields its own
// length; "192.0.2.10-192.0.2.20" yields 30 (its blocks are .10/31, .12/30,
// .16/30, .20/32).
func widestPrefix(r iprange.Range) int {
	widest := r.First.BitLen()
	cur := r.First
	for {
		// Blocks starting at cur can be no wider than cur's alignment
		// allows, so start there: the whole walk is then O(address bits)
		// per range rather than O(bits²).
		bits := r.First.BitLen()
		for b := bits - trailingZeros(cur); b <= r.First.BitLen(); b++ {
			p := netip.PrefixFrom(cur, b)
			if p.Masked().Addr() == cur && !r.Last.Less(lastAddr(p)) {
				bits = b
				break
			}
		}
		widest = min(widest, bits)
		last := lastAddr(netip.PrefixFrom(cur, bits))
		if last == r.Last {
			return widest
		}
		cur = last.Next()
	}
}

// trailingZeros counts the zero bits at the end of a.
func trailingZeros(a netip.Addr) int {
	b := a.AsSlice()
	n := 0
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != 0 {
			return n + bits.TrailingZeros8(b[i])
		}
		n += 8
	}
	return n
}

// lastAddr returns the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr()
	if a.Is4() {
		b := a.As4()
		setHostBits(b[:], p.Bits())
		return netip.AddrFrom4(b)
	}
	b := a.As16()
	setHostBits(b[:], p.Bits())
	return netip.AddrFrom16(b)
}

func setHostBits(b []byte, bits int) {
	for i := range b {
		switch {
		case bits >= (i+1)*8:
		case bits <= i*8:
			b[i] = 0xff
		default:
			b[i] |= 0xff >> (bits - i*8)
		}
	}
}
