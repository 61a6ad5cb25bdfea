package vlan

import (
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
)

// frameHex builds a frame from hex fragments (spaces ignored).
func frameHex(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(strings.Join(parts, ""), " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseFrame(t *testing.T) {
	const (
		nodeMAC   = "02 00 c6 33 64 0b"
		clientMAC = "02 00 c6 33 64 65"
	)
	tests := []struct {
		name  string
		frame []byte
		check func(t *testing.T, f Frame)
	}{
		{
			name: "ARP reply",
			frame: frameHex(t, clientMAC, nodeMAC, "0806",
				"0001 0800 06 04 0002", nodeMAC, "c6336 40b", clientMAC, "c6336465"),
			check: func(t *testing.T, f Frame) {
				if !f.IsARPReply() || f.ARP.SenderIP != netip.MustParseAddr("198.51.100.11") ||
					f.ARP.SenderMAC.String() != "02:00:c6:33:64:0b" || f.ARP.TargetIP != netip.MustParseAddr("198.51.100.101") ||
					f.Src.String() != "02:00:c6:33:64:0b" || f.Dst.String() != "02:00:c6:33:64:65" {
					t.Errorf("got %v %+v", f, f.ARP)
				}
			},
		},
		{
			name: "gratuitous ARP request with 802.1Q tag",
			frame: frameHex(t, "ffffffffffff", nodeMAC, "8100 0064 0806",
				"0001 0800 06 04 0001", nodeMAC, "cb007101", "000000000000", "cb007101"),
			check: func(t *testing.T, f Frame) {
				if f.VLAN != 100 || f.EtherType != EtherTypeARP || !f.IsARPRequest() ||
					f.ARP.SenderIP != f.ARP.TargetIP || f.ARP.SenderIP != netip.MustParseAddr("203.0.113.1") {
					t.Errorf("got %v vlan %d %+v", f, f.VLAN, f.ARP)
				}
			},
		},
		{
			name: "neighbour advertisement",
			frame: frameHex(t, clientMAC, nodeMAC, "86dd",
				"60000000 0020 3a ff",
				"20010db8010000000000000000000011",
				"20010db8010000000000000000000101",
				"88 00 0000", "60000000",
				"20010db8010000000000000000000011",
				"02 01", nodeMAC),
			check: func(t *testing.T, f Frame) {
				if !f.IsNA() || f.ICMPv6.Target != netip.MustParseAddr("2001:db8:100::11") ||
					f.ICMPv6.LinkAddr.String() != "02:00:c6:33:64:0b" || !f.ICMPv6.Solicited || !f.ICMPv6.Override || f.ICMPv6.Router ||
					f.SrcIP != netip.MustParseAddr("2001:db8:100::11") || f.Protocol != ProtoICMPv6 {
					t.Errorf("got %v %+v", f, f.ICMPv6)
				}
			},
		},
		{
			name: "MLD report behind hop-by-hop header",
			frame: frameHex(t, "333300000016", nodeMAC, "86dd",
				"60000000 0024 00 01",
				"fe800000000000000000000000000001",
				"ff020000000000000000000000000016",
				"3a 00 0502 0000 0100",
				"8f 00 0000 0000 0001",
				"04000000 ff0200000000000000000001ff000011"),
			check: func(t *testing.T, f Frame) {
				if f.Protocol != ProtoICMPv6 || f.ICMPv6 == nil || f.ICMPv6.Type != 143 || f.IsNS() || f.IsNA() {
					t.Errorf("got %v %+v", f, f.ICMPv6)
				}
			},
		},
		{
			name: "IPv4 TCP SYN",
			frame: frameHex(t, nodeMAC, clientMAC, "0800",
				"45000028 0000 4000 40 06 0000 c6336465 c633640b",
				"c350 1f90 00000000 00000000 5002 ffff 0000 0000"),
			check: func(t *testing.T, f Frame) {
				if f.SrcIP != netip.MustParseAddr("198.51.100.101") || f.DstIP != netip.MustParseAddr("198.51.100.11") ||
					f.Protocol != ProtoTCP || f.SrcPort != 50000 || f.DstPort != 8080 || f.ARP != nil || f.ICMPv6 != nil {
					t.Errorf("got %v", f)
				}
			},
		},
		{
			name: "IPv4 later fragment has no ports",
			frame: frameHex(t, nodeMAC, clientMAC, "0800",
				"45000028 0000 0010 40 11 0000 c6336465 c633640b", "c350 0035 0000 0000"),
			check: func(t *testing.T, f Frame) {
				if f.Protocol != ProtoUDP || f.SrcPort != 0 || f.DstPort != 0 {
					t.Errorf("got %v", f)
				}
			},
		},
		{
			name:  "truncated ARP",
			frame: frameHex(t, clientMAC, nodeMAC, "0806", "0001 0800 06 04"),
			check: func(t *testing.T, f Frame) {
				if f.ARP != nil || f.EtherType != EtherTypeARP {
					t.Errorf("got %v", f)
				}
			},
		},
		{
			name:  "runt",
			frame: frameHex(t, "0102"),
			check: func(t *testing.T, f Frame) {
				if f.Src != nil || f.Len != 2 {
					t.Errorf("got %v", f)
				}
			},
		},
		{
			name: "truncated neighbour solicitation",
			frame: frameHex(t, "3333ff000011", clientMAC, "86dd",
				"60000000 0008 3a ff",
				"20010db8010000000000000000000101",
				"ff0200000000000000000001ff000011",
				"87 00 0000 0000"),
			check: func(t *testing.T, f Frame) {
				if !f.IsNS() || f.ICMPv6.Target.IsValid() || f.ICMPv6.LinkAddr != nil {
					t.Errorf("got %v %+v", f, f.ICMPv6)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parseFrame(tt.frame)
			tt.check(t, f)
			_ = f.String() // must not panic on partial frames
		})
	}
}

func TestAddressPlan(t *testing.T) {
	v4, v6 := lanAddrs(11)
	if v4.String() != "198.51.100.11/24" || v6.String() != "2001:db8:100::11/64" || lanMAC(11).String() != "02:00:c6:33:64:0b" {
		t.Errorf("node1: %s %s %s", v4, v6, lanMAC(11))
	}
	v4, v6 = lanAddrs(254)
	if v4.String() != "198.51.100.254/24" || v6.String() != "2001:db8:100::254/64" {
		t.Errorf("last client: %s %s", v4, v6)
	}
	for i, want := range map[int][2]string{
		1: {"192.0.2.16/28", "2001:db8:200:1::/64"},
		7: {"192.0.2.112/28", "2001:db8:200:7::/64"},
	} {
		p4, p6, err := podSubnets(i)
		if err != nil || p4.String() != want[0] || p6.String() != want[1] {
			t.Errorf("node%d pods: %s %s %v, want %v", i, p4, p6, err, want)
		}
		if !netip.MustParsePrefix(PodsV4).Contains(p4.Addr()) || netip.MustParsePrefix(ClusterIPsV4).Overlaps(p4) {
			t.Errorf("node%d pod subnet %s leaves %s or overlaps %s", i, p4, PodsV4, ClusterIPsV4)
		}
	}
	for _, i := range []int{0, MaxPodNodes + 1} {
		if _, _, err := podSubnets(i); err == nil {
			t.Errorf("node%d must have no pod subnet", i)
		}
	}
}
