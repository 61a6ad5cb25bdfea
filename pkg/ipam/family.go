package ipam

import (
	"net/netip"

	"github.com/ironlb/ironlb/pkg/iprange"
)

// Range and Family are defined in iprange, which the configuration
// compiler shares without depending on the allocator.
type (
	// Range is an inclusive span of addresses of one family.
	Range = iprange.Range
	// Family is an IP address family.
	Family = iprange.Family
)

const (
	// IPv4 is the IPv4 address family.
	IPv4 = iprange.IPv4
	// IPv6 is the IPv6 address family.
	IPv6 = iprange.IPv6
)

// ParseRange parses a pool address entry; see iprange.ParseRange.
func ParseRange(s string) (Range, error) { return iprange.ParseRange(s) }

// FamilyOf returns the family of a; see iprange.FamilyOf.
func FamilyOf(a netip.Addr) Family { return iprange.FamilyOf(a) }

// familyIndex maps a valid family to 0 (IPv4) or 1 (IPv6) for per-family
// arrays.
func familyIndex(f Family) int {
	if f == IPv6 {
		return 1
	}
	return 0
}

// familyAt is the inverse of familyIndex.
func familyAt(i int) Family {
	if i == 1 {
		return IPv6
	}
	return IPv4
}

// rangeSize is the number of addresses in r (saturating at 2^128-1).
func rangeSize(r Range) u128 {
	return u128FromAddr(r.Last).subSat(u128FromAddr(r.First)).addSat(u128From64(1))
}
