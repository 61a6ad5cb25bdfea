package l2sync

import (
	"fmt"
	"net/netip"
	"testing"
)

func TestSelect(t *testing.T) {
	p := netip.MustParsePrefix
	ifaces := []Iface{
		{Name: "lo", Up: true, Loopback: true, Prefixes: []netip.Prefix{p("127.0.0.1/8")}},
		{Name: "eth0", Up: true, Prefixes: []netip.Prefix{p("198.51.100.11/24"), p("2001:db8:100::11/64")}, DefaultRoute6: true},
		{Name: "eth1", Up: true, Prefixes: []netip.Prefix{p("203.0.113.250/24")}},
		{Name: "bond0", Up: true, DefaultRoute4: true},
		{Name: "bond1", Up: false},
	}
	tests := []struct {
		ip       string
		patterns []string
		want     string
	}{
		{"203.0.113.10", nil, "[eth1]"},                      // subnet match
		{"192.0.2.10", nil, "[bond0]"},                       // default route
		{"2001:db8:300::1", nil, "[eth0]"},                   // IPv6 default route
		{"203.0.113.10", []string{"bond*"}, "[bond0 bond1]"}, // patterns win, even down (it may come up)
		{"203.0.113.10", []string{"lo"}, "[]"},               // never loopback
		{"203.0.113.10", []string{"eth[01]"}, "[eth0 eth1]"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.ip, tt.patterns), func(t *testing.T) {
			if got := fmt.Sprint(Select(netip.MustParseAddr(tt.ip), tt.patterns, ifaces)); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
	noDefault := []Iface{ifaces[0], {Name: "eth0", Up: true, Prefixes: []netip.Prefix{p("198.51.100.11/24"), p("fe80::1/64")}}, {Name: "eth9", Up: true, Prefixes: []netip.Prefix{p("fe80::2/64")}}}
	if got := fmt.Sprint(Select(netip.MustParseAddr("192.0.2.1"), nil, noDefault)); got != "[eth0]" {
		t.Fatalf("fallback to interfaces with an IPv4 address: %s", got)
	}
	if got := fmt.Sprint(Select(netip.MustParseAddr("2001:db8::1"), nil, noDefault)); got != "[]" {
		t.Fatalf("link-local addresses do not qualify: %s", got)
	}
}
