package vlan

import (
	"net"
	"net/netip"
	"reflect"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestNextHops(t *testing.T) {
	ipnet := func(s string) *net.IPNet {
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	routes := []netlink.Route{
		{Dst: nil, Gw: net.ParseIP("192.0.2.1")}, // default: left out
		{Dst: ipnet("192.0.2.0/24")},             // connected: no gateway
		{Dst: ipnet("203.0.113.7/32"), MultiPath: []*netlink.NexthopInfo{
			{Gw: net.ParseIP("192.0.2.12").To4()}, {Gw: net.ParseIP("192.0.2.11")},
		}},
		{Dst: ipnet("203.0.113.8/32"), Gw: net.ParseIP("192.0.2.13").To4()},
		// An older kernel's IPv6 ECMP route: one route per path.
		{Dst: ipnet("2001:db8:300::1/128"), Gw: net.ParseIP("2001:db8::12")},
		{Dst: ipnet("2001:db8:300::1/128"), Gw: net.ParseIP("2001:db8::11")},
	}
	a := netip.MustParseAddr
	want := map[netip.Prefix][]netip.Addr{
		netip.MustParsePrefix("203.0.113.7/32"):      {a("192.0.2.11"), a("192.0.2.12")},
		netip.MustParsePrefix("203.0.113.8/32"):      {a("192.0.2.13")},
		netip.MustParsePrefix("2001:db8:300::1/128"): {a("2001:db8::11"), a("2001:db8::12")},
	}
	if got := nextHops(routes); !reflect.DeepEqual(got, want) {
		t.Errorf("nextHops:\n got %v\nwant %v", got, want)
	}
}
