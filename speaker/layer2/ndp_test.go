package layer2

import (
	"errors"
	"net"
	"net/netip"
	"reflect"
	"testing"
)

var (
	client6    = netip.MustParseAddr("2001:db8:100::101")
	clientLL   = netip.MustParseAddr("fe80::65")
	vip6A      = netip.MustParseAddr("2001:db8:300::10") // announced
	vip6P      = netip.MustParseAddr("2001:db8:300::11") // probing
	vip6C      = netip.MustParseAddr("2001:db8:300::12") // in conflict
	unclaimed6 = netip.MustParseAddr("2001:db8:300::99")
)

func testView6() *ifView {
	return &ifView{mac: ourMAC, ips: map[netip.Addr]ipPhase{vip6A: phaseAnnounced, vip6P: phaseProbing, vip6C: phaseConflict}}
}

// ns is a solicitation from a host with an address (to target's
// solicited-node group, with a source link-layer address option).
func ns(from net.HardwareAddr, src, target netip.Addr) ndpMsg {
	g := solicitedNode(target)
	return ndpMsg{EthDst: multicastMAC(g), EthSrc: from, Src: src, Dst: g, Target: target, LinkAddr: from}
}

// na is an unsolicited advertisement to all nodes.
func na(from net.HardwareAddr, target netip.Addr) ndpMsg { return ndpUnsolicited(from, target) }

func TestDecideNDP(t *testing.T) {
	unicastNS := ns(clientMAC, client6, vip6A)
	unicastNS.EthDst, unicastNS.Dst = ourMAC, vip6A // NUD probe: unicast to the cached MAC
	noLLA := ns(clientMAC, clientLL, vip6A)
	noLLA.LinkAddr = nil
	reply := func(to net.HardwareAddr, dst netip.Addr) *ndpMsg {
		return &ndpMsg{EthDst: to, EthSrc: ourMAC, Src: vip6A, Dst: dst, NA: true, Target: vip6A,
			LinkAddr: ourMAC, Solicited: true, Override: true}
	}
	defend := ndpUnsolicited(ourMAC, vip6A)
	tests := []struct {
		name string
		in   ndpMsg
		view *ifView
		want ndpDecision
	}{{
		name: "solicitation for an announced IP: solicited, override advertisement to the asker",
		in:   ns(clientMAC, client6, vip6A),
		want: ndpDecision{Request: true, Reply: reply(clientMAC, client6)},
	}, {
		name: "unicast NUD probe is answered the same way",
		in:   unicastNS,
		want: ndpDecision{Request: true, Reply: reply(clientMAC, client6)},
	}, {
		name: "without a link-layer option the reply goes to the frame's source",
		in:   noLLA,
		want: ndpDecision{Request: true, Reply: reply(clientMAC, clientLL)},
	}, {
		name: "solicitation for an unclaimed IP is ignored",
		in:   ns(clientMAC, client6, unclaimed6),
	}, {
		name: "solicitation for an IP being probed is not answered yet",
		in:   ns(clientMAC, client6, vip6P),
		want: ndpDecision{Request: true},
	}, {
		name: "solicitation for an IP in conflict is not answered",
		in:   ns(clientMAC, client6, vip6C),
		want: ndpDecision{Request: true},
	}, {
		name: "DAD probe for an announced IP is defended to all nodes",
		in:   ndpProbe(rogueMAC, vip6A),
		want: ndpDecision{Request: true, Reply: &defend},
	}, {
		name: "foreign DAD for the IP we probe for is a conflict",
		in:   ndpProbe(rogueMAC, vip6P),
		want: ndpDecision{Request: true, Conflict: vip6P, ConflictMAC: rogueMAC},
	}, {
		name: "a speaker's DAD for the IP we probe for is not",
		in:   ndpProbe(friendMAC, vip6P),
		want: ndpDecision{Request: true},
	}, {
		name: "an advertisement answering our probe is a conflict",
		in:   na(rogueMAC, vip6P),
		want: ndpDecision{Conflict: vip6P, ConflictMAC: rogueMAC},
	}, {
		name: "a foreign advertisement for an announced IP is a conflict",
		in:   na(rogueMAC, vip6A),
		want: ndpDecision{Conflict: vip6A, ConflictMAC: rogueMAC},
	}, {
		name: "a speaker's advertisement is a hand-over",
		in:   na(friendMAC, vip6A),
	}, {
		name: "an advertisement for an IP already in conflict is not news",
		in:   na(rogueMAC, vip6C),
	}, {
		name: "an advertisement for an unclaimed IP is nothing to us",
		in:   na(rogueMAC, unclaimed6),
	}, {
		name: "a foreign host soliciting from our IP is a conflict",
		in:   ns(rogueMAC, vip6A, client6),
		want: ndpDecision{Conflict: vip6A, ConflictMAC: rogueMAC},
	}, {
		name: "our own frame seen again is ignored",
		in:   na(ourMAC, vip6A),
	}, {
		name: "nothing claimed on the interface",
		in:   ns(clientMAC, client6, vip6A),
		view: &ifView{mac: ourMAC},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.view
			if v == nil {
				v = testView6()
			}
			got := decideNDP(tt.in, v, isFriend)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("decideNDP:\n got %+v (reply %+v)\nwant %+v (reply %+v)", got, got.Reply, tt.want, tt.want.Reply)
			}
		})
	}
}

func TestNDPFramesRoundTrip(t *testing.T) {
	solicited := ndpMsg{EthDst: clientMAC, EthSrc: ourMAC, Src: vip6A, Dst: client6, NA: true,
		Target: vip6A, LinkAddr: ourMAC, Solicited: true, Override: true}
	for _, m := range []ndpMsg{ndpProbe(ourMAC, vip6A), ndpUnsolicited(ourMAC, vip6A), solicited, ns(clientMAC, client6, vip6A)} {
		b, err := marshalNDP(m)
		if err != nil {
			t.Fatalf("marshalNDP(%+v): %v", m, err)
		}
		got, err := parseNDP(b)
		if err != nil {
			t.Fatalf("parseNDP(marshalNDP(%+v)): %v", m, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, m)
		}
	}
}

func TestNDPAddresses(t *testing.T) {
	g := solicitedNode(netip.MustParseAddr("2001:db8:300::1:2345"))
	if want := netip.MustParseAddr("ff02::1:ff01:2345"); g != want {
		t.Fatalf("solicitedNode = %s, want %s", g, want)
	}
	if !isSolicitedNode(g) || isSolicitedNode(allNodes) || isSolicitedNode(vip6A) {
		t.Fatal("isSolicitedNode misjudges")
	}
	if got := multicastMAC(g).String(); got != "33:33:ff:01:23:45" {
		t.Fatalf("multicastMAC = %s", got)
	}
}

func TestParseNDPRejects(t *testing.T) {
	good, err := marshalNDP(ns(clientMAC, client6, vip6A))
	if err != nil {
		t.Fatal(err)
	}
	mod := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return b
	}
	// Fields that the checksum covers are re-checksummed so that only the
	// rule under test fails.
	fix := func(b []byte) []byte {
		b[14+40+2], b[14+40+3] = 0, 0
		src := netip.AddrFrom16([16]byte(b[14+8 : 14+24]))
		dst := netip.AddrFrom16([16]byte(b[14+24 : 14+40]))
		c := icmpv6Checksum(src, dst, b[14+40:])
		b[14+40+2], b[14+40+3] = byte(c>>8), byte(c)
		return b
	}
	dadWithLLA := ndpProbe(rogueMAC, vip6A)
	dadWithLLA.LinkAddr = rogueMAC
	dadBad, _ := marshalNDP(dadWithLLA)
	dadToAll := ndpProbe(rogueMAC, vip6A)
	dadToAll.Dst = allNodes
	dadToAllB, _ := marshalNDP(dadToAll)
	solToAll := ndpUnsolicited(rogueMAC, vip6A)
	solToAll.Solicited = true
	solToAllB, _ := marshalNDP(solToAll)
	tests := []struct {
		name  string
		frame []byte
	}{
		{"short", good[:20]},
		{"IPv4 ethertype", mod(func(b []byte) { b[12], b[13] = 0x08, 0x00 })},
		{"VLAN tagged", append(append(append([]byte(nil), good[:12]...), 0x81, 0x00, 0x00, 0x64), good[12:]...)},
		{"IP version 4", mod(func(b []byte) { b[14] = 0x45 })},
		{"UDP", mod(func(b []byte) { b[14+6] = 17 })},
		{"hop limit 64", mod(func(b []byte) { b[14+7] = 64 })},
		{"payload length beyond the frame", mod(func(b []byte) { b[14+4], b[14+5] = 0x10, 0 })},
		{"bad checksum", mod(func(b []byte) { b[14+40+2] ^= 0xff })},
		{"code 1", mod(func(b []byte) { b[14+40+1] = 1; fix(b) })},
		{"echo request", mod(func(b []byte) { b[14+40] = 128; fix(b) })},
		{"multicast target", mod(func(b []byte) { b[14+40+8] = 0xff; fix(b) })},
		{"multicast source", mod(func(b []byte) { b[14+8] = 0xff; fix(b) })},
		{"DAD with a link-layer option", dadBad},
		{"DAD not to the solicited-node group", dadToAllB},
		{"solicited advertisement to a group", solToAllB},
	}
	for _, tt := range tests {
		if _, err := parseNDP(tt.frame); err == nil {
			t.Errorf("%s: parseNDP accepted it", tt.name)
		} else if tt.name != "short" && tt.name != "VLAN tagged" && !errors.Is(err, errNotNDP) {
			t.Errorf("%s: error %v does not wrap errNotNDP", tt.name, err)
		}
	}
}
