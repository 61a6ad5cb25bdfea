// Package iprange parses and describes the address ranges of IP address
// pools. It is the leaf that both the configuration compiler (config) and
// the allocator (pkg/ipam) build on, so that config needs no allocator.
package iprange

import (
	"fmt"
	"net/netip"
	"strings"
)

// Range is an inclusive span of addresses of one family.
type Range struct{ First, Last netip.Addr }

// Family returns the family of the range's addresses.
func (r Range) Family() Family { return FamilyOf(r.First) }

// Validate reports why r is not a usable range, or nil.
func (r Range) Validate() error {
	for _, a := range []netip.Addr{r.First, r.Last} {
		if why := CheckAddr(a); why != "" {
			return fmt.Errorf("invalid address range %s: %s", r.describe(), why)
		}
	}
	if FamilyOf(r.First) != FamilyOf(r.Last) {
		return fmt.Errorf("invalid address range %s: start %s is %s but end %s is %s",
			r.describe(), r.First, FamilyOf(r.First), r.Last, FamilyOf(r.Last))
	}
	if r.Last.Less(r.First) {
		return fmt.Errorf("invalid address range %s: start %s is after end %s", r.describe(), r.First, r.Last)
	}
	if overlapsMapped(r) {
		return fmt.Errorf("invalid address range %s: %s", r.describe(), mappedMsg)
	}
	return nil
}

// Kubernetes treats IPv4-mapped IPv6 addresses as IPv4, so handing one out
// as an IPv6 LoadBalancer IP would be misread. Ranges must avoid the block.
const mappedMsg = "overlaps the IPv4-mapped block ::ffff:0.0.0.0/96, whose addresses cannot be allocated"

func overlapsMapped(r Range) bool {
	lo := netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff})
	hi := netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: 0xff, 13: 0xff, 14: 0xff, 15: 0xff})
	return r.First.Is6() && r.First.Compare(hi) <= 0 && lo.Compare(r.Last) <= 0
}

// describe formats r for error messages without assuming it is valid.
func (r Range) describe() string { return fmt.Sprintf("%q", r.First.String()+"-"+r.Last.String()) }

// Contains reports whether a lies in r.
func (r Range) Contains(a netip.Addr) bool {
	return a.IsValid() && a.BitLen() == r.First.BitLen() && a.Zone() == "" &&
		r.First.Compare(a) <= 0 && a.Compare(r.Last) <= 0
}

// String returns CIDR notation when r is exactly one prefix, else "first-last".
// ParseRange(r.String()) == r for every valid range.
func (r Range) String() string {
	if p, ok := r.Prefix(); ok {
		return p.String()
	}
	return r.First.String() + "-" + r.Last.String()
}

// Prefix returns r as one CIDR prefix, if it is exactly one.
func (r Range) Prefix() (netip.Prefix, bool) {
	if r.Validate() != nil {
		return netip.Prefix{}, false
	}
	for bits := 0; bits <= r.First.BitLen(); bits++ {
		p := netip.PrefixFrom(r.First, bits)
		if p.Masked().Addr() == r.First && prefixLast(p) == r.Last {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// prefixLast returns the highest address of p: its host bits all set.
func prefixLast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr()
	b := a.AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	last, _ := netip.AddrFromSlice(b)
	return last
}

// ParseRange parses "192.0.2.0/24" (host bits must be zero),
// "192.0.2.10-192.0.2.20" or "192.0.2.10 - 192.0.2.20", and the IPv6
// equivalents. Errors quote the input.
func ParseRange(s string) (Range, error) {
	fail := func(format string, args ...any) (Range, error) {
		return Range{}, fmt.Errorf("invalid address range %q: %s", s, fmt.Sprintf(format, args...))
	}
	t := strings.TrimSpace(s)
	if t == "" {
		return fail("empty")
	}
	if strings.Contains(t, "/") {
		if strings.Contains(t, "-") {
			return fail("use either CIDR notation (192.0.2.0/24) or a range (192.0.2.10-192.0.2.20), not both")
		}
		p, err := netip.ParsePrefix(t)
		if err != nil {
			return fail("not a valid CIDR prefix")
		}
		if why := CheckAddr(p.Addr()); why != "" {
			return fail("%s", why)
		}
		if p.Masked() != p {
			return fail("host bits are set; did you mean %s?", p.Masked())
		}
		r := Range{First: p.Addr(), Last: prefixLast(p)}
		if overlapsMapped(r) {
			return fail("%s", mappedMsg)
		}
		return r, nil
	}
	left, right, ok := strings.Cut(t, "-")
	if !ok {
		if a, err := netip.ParseAddr(t); err == nil && CheckAddr(a) == "" {
			return fail("a single address must be written as a prefix, %s/%d", a, a.BitLen())
		}
		return fail("expected a CIDR prefix (192.0.2.0/24) or a range (192.0.2.10-192.0.2.20)")
	}
	if strings.Contains(right, "-") {
		return fail("more than one '-'")
	}
	var r Range
	for i, part := range []string{left, right} {
		which := [2]string{"start", "end"}[i]
		part = strings.TrimSpace(part)
		if part == "" {
			return fail("%s address is missing", which)
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return fail("%s %q is not an IP address", which, part)
		}
		if why := CheckAddr(a); why != "" {
			return fail("%s %s", which, why)
		}
		if i == 0 {
			r.First = a
		} else {
			r.Last = a
		}
	}
	if FamilyOf(r.First) != FamilyOf(r.Last) {
		return fail("start %s is %s but end %s is %s", r.First, FamilyOf(r.First), r.Last, FamilyOf(r.Last))
	}
	if r.Last.Less(r.First) {
		return fail("start %s is after end %s", r.First, r.Last)
	}
	if overlapsMapped(r) {
		return fail("%s", mappedMsg)
	}
	return r, nil
}
