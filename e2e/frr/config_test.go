package frr

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestConfig(t *testing.T) {
	rid := netip.MustParseAddr("198.51.100.1")
	n4 := netip.MustParseAddr("198.51.100.11")
	n6 := netip.MustParseAddr("2001:db8:100::11")
	tests := []struct {
		name       string
		opts       Options
		bgpd, bfdd []string // lines that must appear, in this order
		notBGPD    []string
	}{{
		name: "defaults",
		opts: Options{ASN: 64500, RouterID: rid, Neighbors: []Neighbor{{Address: n4, ASN: 64512}}},
		bgpd: []string{
			"router bgp 64500", " bgp router-id 198.51.100.1", " no bgp ebgp-requires-policy",
			" no bgp default ipv4-unicast", " bgp bestpath as-path multipath-relax",
			" neighbor 198.51.100.11 remote-as 64512",
			" address-family ipv4 unicast", "  neighbor 198.51.100.11 activate", "  maximum-paths 8", "  maximum-paths ibgp 8",
			" address-family ipv6 unicast", "  maximum-paths 8",
		},
		bfdd:    []string{"bfd", " profile ironlb", "  receive-interval 100", "  transmit-interval 100", "  detect-multiplier 3"},
		notBGPD: []string{"graceful-restart", "password", " bfd", "timers bgp", "default-originate", "  network "},
	}, {
		name: "everything",
		opts: Options{
			ASN: 64500, RouterID: rid, MaximumPaths: 4, GracefulRestart: true, StalePathTime: 30 * time.Second,
			KeepaliveTime: time.Second, HoldTime: 3 * time.Second,
			BFD:      BFDTimers{ReceiveInterval: 50 * time.Millisecond, TransmitInterval: 60 * time.Millisecond, DetectMultiplier: 5},
			Networks: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8:300::/64")},
			Neighbors: []Neighbor{
				{Address: n4, RemoteAS: "internal", Password: "pw", BFD: true, Passive: true, Families: []Family{IPv6, IPv4}},
				{Address: n6, RemoteAS: "external"},
			},
		},
		bgpd: []string{
			" bgp graceful-restart", " bgp graceful-restart stalepath-time 30", " timers bgp 1 3",
			" neighbor 198.51.100.11 remote-as internal", " neighbor 198.51.100.11 password pw",
			" neighbor 198.51.100.11 bfd", " neighbor 198.51.100.11 bfd profile ironlb", " neighbor 198.51.100.11 passive",
			" neighbor 2001:db8:100::11 remote-as external",
			" address-family ipv4 unicast", "  network 203.0.113.0/24", "  neighbor 198.51.100.11 activate", "  maximum-paths 4",
			" address-family ipv6 unicast", "  network 2001:db8:300::/64", "  neighbor 198.51.100.11 activate",
			"  neighbor 2001:db8:100::11 activate",
		},
		bfdd: []string{"  receive-interval 50", "  transmit-interval 60", "  detect-multiplier 5"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Config("tor", tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			containsInOrder(t, "bgpd", c.BGPD, tc.bgpd)
			containsInOrder(t, "bfdd", c.BFDD, tc.bfdd)
			for _, s := range tc.notBGPD {
				if strings.Contains(c.BGPD, s) {
					t.Errorf("bgpd config contains %q:\n%s", s, c.BGPD)
				}
			}
			if !strings.Contains(c.Zebra, "hostname tor") {
				t.Errorf("zebra config:\n%s", c.Zebra)
			}
		})
	}
}

func containsInOrder(t *testing.T, what, text string, lines []string) {
	t.Helper()
	all := strings.Split(text, "\n")
	i := 0
	for _, want := range lines {
		for i < len(all) && all[i] != want {
			i++
		}
		if i == len(all) {
			t.Errorf("%s config lacks %q (or it is out of order):\n%s", what, want, text)
			return
		}
	}
}

func TestConfigErrors(t *testing.T) {
	rid := netip.MustParseAddr("198.51.100.1")
	n := netip.MustParseAddr("198.51.100.11")
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no ASN", Options{RouterID: rid}, "Options.ASN"},
		{"IPv6 router ID", Options{ASN: 1, RouterID: netip.MustParseAddr("2001:db8::1")}, "Options.RouterID"},
		{"no router ID", Options{ASN: 1}, "RouterID is required"},
		{"neighbor without AS", Options{ASN: 1, RouterID: rid, Neighbors: []Neighbor{{Address: n}}}, "Neighbors[0] (198.51.100.11): RemoteAS"},
		{"both AS forms", Options{ASN: 1, RouterID: rid, Neighbors: []Neighbor{{Address: n, ASN: 2, RemoteAS: "external"}}}, "not both"},
		{"no address", Options{ASN: 1, RouterID: rid, Neighbors: []Neighbor{{ASN: 2}}}, "Address: is required"},
		{"duplicate", Options{ASN: 1, RouterID: rid, Neighbors: []Neighbor{{Address: n, ASN: 2}, {Address: n, ASN: 3}}}, "listed twice"},
		{"password with space", Options{ASN: 1, RouterID: rid, Neighbors: []Neighbor{{Address: n, ASN: 2, Password: "a b"}}}, "Password"},
		{"password injection", Options{ASN: 1, RouterID: rid, Neighbors: []Neighbor{{Address: n, ASN: 2, Password: "a\nexit"}}}, "Password"},
		{"bad family", Options{ASN: 1, RouterID: rid, Neighbors: []Neighbor{{Address: n, ASN: 2, Families: []Family{"l2vpn"}}}}, "Families[0]"},
		{"BFD too fast", Options{ASN: 1, RouterID: rid, BFD: BFDTimers{ReceiveInterval: time.Millisecond}}, "BFD.ReceiveInterval"},
		{"BFD multiplier", Options{ASN: 1, RouterID: rid, BFD: BFDTimers{DetectMultiplier: 1}}, "BFD.DetectMultiplier"},
		{"hold without keepalive", Options{ASN: 1, RouterID: rid, HoldTime: 9 * time.Second}, "set both"},
		{"fractional hold", Options{ASN: 1, RouterID: rid, HoldTime: 3500 * time.Millisecond, KeepaliveTime: time.Second}, "whole seconds"},
		{"unmasked network", Options{ASN: 1, RouterID: rid, Networks: []netip.Prefix{netip.MustParsePrefix("203.0.113.1/24")}}, "Networks[0]"},
		{"maximum paths", Options{ASN: 1, RouterID: rid, MaximumPaths: 65}, "MaximumPaths"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Config("tor", tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}
