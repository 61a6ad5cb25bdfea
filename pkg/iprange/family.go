package iprange

import (
	"fmt"
	"net/netip"
)

// Family is an IP address family.
type Family int

const (
	// IPv4 is the IPv4 address family.
	IPv4 Family = 4
	// IPv6 is the IPv6 address family.
	IPv6 Family = 6
)

// String returns "IPv4" or "IPv6", the spelling Kubernetes uses.
func (f Family) String() string {
	switch f {
	case IPv4:
		return "IPv4"
	case IPv6:
		return "IPv6"
	}
	return fmt.Sprintf("Family(%d)", int(f))
}

// Valid reports whether f is IPv4 or IPv6.
func (f Family) Valid() bool { return f == IPv4 || f == IPv6 }

// FamilyOf returns the family of a; 0 for the zero Addr. IPv4-mapped IPv6
// addresses are IPv6 (they are rejected wherever they are input).
func FamilyOf(a netip.Addr) Family {
	switch {
	case a.Is4():
		return IPv4
	case a.Is6():
		return IPv6
	}
	return 0
}

// CheckAddr returns why a cannot be used as a LoadBalancer address, or "".
func CheckAddr(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "not a valid IP address"
	case a.Zone() != "":
		return fmt.Sprintf("address %s has an IPv6 zone, which is not allowed", a)
	case a.Is4In6():
		return fmt.Sprintf("address %s is an IPv4-mapped IPv6 address; write %s", a, a.Unmap())
	}
	return ""
}
