package l2sync

import (
	"net/netip"
	"path"
	"slices"
)

// Iface is what interface selection needs of one network interface.
type Iface struct {
	Name     string
	Up       bool
	Loopback bool
	Prefixes []netip.Prefix // its addresses with their prefix lengths
	// DefaultRoute is true when the interface carries a default route of
	// the IP's family.
	DefaultRoute4, DefaultRoute6 bool
}

func (i Iface) equal(o Iface) bool {
	return i.Name == o.Name && i.Up == o.Up && i.Loopback == o.Loopback && slices.Equal(i.Prefixes, o.Prefixes) &&
		i.DefaultRoute4 == o.DefaultRoute4 && i.DefaultRoute6 == o.DefaultRoute6
}

// Select chooses the interfaces to announce ip on. Patterns from the
// L2Advertisements win; without patterns the choice is automatic: the
// interfaces whose subnet contains the IP, else the interface of the
// default route of its family, else every up interface with an address of
// that family. Pure, so the choice is table-tested.
func Select(ip netip.Addr, patterns []string, ifaces []Iface) []string {
	var out []string
	if len(patterns) > 0 {
		for _, i := range ifaces {
			if i.Loopback {
				continue
			}
			for _, p := range patterns {
				if ok, _ := path.Match(p, i.Name); ok {
					out = append(out, i.Name)
					break
				}
			}
		}
		return sorted(out)
	}
	for _, i := range ifaces {
		if usable(i) && slices.ContainsFunc(i.Prefixes, func(p netip.Prefix) bool { return p.Contains(ip) }) {
			out = append(out, i.Name)
		}
	}
	if len(out) > 0 {
		return sorted(out)
	}
	for _, i := range ifaces {
		if usable(i) && (ip.Is4() && i.DefaultRoute4 || ip.Is6() && i.DefaultRoute6) {
			out = append(out, i.Name)
		}
	}
	if len(out) > 0 {
		return sorted(out)
	}
	for _, i := range ifaces {
		if usable(i) && slices.ContainsFunc(i.Prefixes, func(p netip.Prefix) bool {
			return p.Addr().Is4() == ip.Is4() && !p.Addr().IsLinkLocalUnicast()
		}) {
			out = append(out, i.Name)
		}
	}
	return sorted(out)
}

func usable(i Iface) bool { return i.Up && !i.Loopback }

func sorted(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}
