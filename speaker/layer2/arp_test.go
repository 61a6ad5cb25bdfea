package layer2

import (
	"errors"
	"net"
	"net/netip"
	"reflect"
	"testing"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

var (
	ourMAC    = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	clientMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x65}
	friendMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0c}
	rogueMAC  = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xee}

	clientIP  = netip.MustParseAddr("198.51.100.101")
	vipA      = netip.MustParseAddr("203.0.113.10") // announced
	vipP      = netip.MustParseAddr("203.0.113.11") // probing
	vipC      = netip.MustParseAddr("203.0.113.12") // in conflict
	unclaimed = netip.MustParseAddr("203.0.113.99")
)

func testView4() *ifView {
	return &ifView{mac: ourMAC, ips: map[netip.Addr]ipPhase{vipA: phaseAnnounced, vipP: phaseProbing, vipC: phaseConflict}}
}

func isFriend(mac net.HardwareAddr) bool { return macEqual(mac, friendMAC) }

func arpRequest(from net.HardwareAddr, sip, tip netip.Addr) arpMsg {
	return arpMsg{EthDst: ethernet.Broadcast, EthSrc: from, Op: arp.OperationRequest,
		SenderMAC: from, SenderIP: sip, TargetMAC: zeroMAC, TargetIP: tip}
}

func arpReply(from net.HardwareAddr, sip netip.Addr, to net.HardwareAddr, tip netip.Addr) arpMsg {
	return arpMsg{EthDst: to, EthSrc: from, Op: arp.OperationReply,
		SenderMAC: from, SenderIP: sip, TargetMAC: to, TargetIP: tip}
}

func TestDecideARP(t *testing.T) {
	zero4 := netip.IPv4Unspecified()
	noSHA := arpRequest(clientMAC, clientIP, vipA)
	noSHA.SenderMAC = zeroMAC
	tests := []struct {
		name string
		in   arpMsg
		view *ifView
		want arpDecision
	}{{
		name: "request for an announced IP is answered to the asker",
		in:   arpRequest(clientMAC, clientIP, vipA),
		want: arpDecision{Request: true, Reply: &arpMsg{
			EthDst: clientMAC, EthSrc: ourMAC, Op: arp.OperationReply,
			SenderMAC: ourMAC, SenderIP: vipA, TargetMAC: clientMAC, TargetIP: clientIP}},
	}, {
		name: "request for an IP nobody claimed here is ignored",
		in:   arpRequest(clientMAC, clientIP, unclaimed),
	}, {
		name: "request for an IP being probed is not answered yet",
		in:   arpRequest(clientMAC, clientIP, vipP),
		want: arpDecision{Request: true},
	}, {
		name: "request for an IP in conflict is not answered",
		in:   arpRequest(clientMAC, clientIP, vipC),
		want: arpDecision{Request: true},
	}, {
		name: "probe for an announced IP gets the kernel's answer: target IP 0.0.0.0",
		in:   arpRequest(rogueMAC, zero4, vipA),
		want: arpDecision{Request: true, Reply: &arpMsg{
			EthDst: rogueMAC, EthSrc: ourMAC, Op: arp.OperationReply,
			SenderMAC: ourMAC, SenderIP: vipA, TargetMAC: rogueMAC, TargetIP: zero4}},
	}, {
		name: "a foreign probe for the IP we probe for is a conflict",
		in:   arpRequest(rogueMAC, zero4, vipP),
		want: arpDecision{Request: true, Conflict: vipP, ConflictMAC: rogueMAC},
	}, {
		name: "a speaker probing for the IP we probe for is not",
		in:   arpRequest(friendMAC, zero4, vipP),
		want: arpDecision{Request: true},
	}, {
		name: "an answer to our probe is a conflict",
		in:   arpReply(rogueMAC, vipP, ourMAC, zero4),
		want: arpDecision{Conflict: vipP, ConflictMAC: rogueMAC},
	}, {
		name: "a speaker's answer to our probe is a hand-over",
		in:   arpReply(friendMAC, vipP, ourMAC, zero4),
	}, {
		name: "a foreign gratuitous ARP for an announced IP is a conflict",
		in:   arpRequest(rogueMAC, vipA, vipA),
		want: arpDecision{Conflict: vipA, ConflictMAC: rogueMAC},
	}, {
		name: "a speaker's gratuitous ARP is neither answered nor a conflict",
		in:   arpRequest(friendMAC, vipA, vipA),
		want: arpDecision{Request: true},
	}, {
		name: "a foreign host sending requests from our IP is a conflict",
		in:   arpRequest(rogueMAC, vipA, clientIP),
		want: arpDecision{Conflict: vipA, ConflictMAC: rogueMAC},
	}, {
		name: "a foreign claim on an IP already in conflict is not news",
		in:   arpReply(rogueMAC, vipC, ourMAC, zero4),
	}, {
		name: "our own frame seen again is ignored",
		in:   arpRequest(ourMAC, vipA, vipA),
	}, {
		name: "a request with an all-zero sender MAC is answered to the frame's source",
		in:   noSHA,
		want: arpDecision{Request: true, Reply: &arpMsg{
			EthDst: clientMAC, EthSrc: ourMAC, Op: arp.OperationReply,
			SenderMAC: ourMAC, SenderIP: vipA, TargetMAC: zeroMAC, TargetIP: clientIP}},
	}, {
		name: "a reply from a client is nothing to us",
		in:   arpReply(clientMAC, clientIP, ourMAC, vipA),
	}, {
		name: "no view: nothing claimed on the interface",
		in:   arpRequest(clientMAC, clientIP, vipA),
		view: &ifView{mac: ourMAC},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.view
			if v == nil {
				v = testView4()
			}
			got := decideARP(tt.in, v, isFriend)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("decideARP:\n got %+v (reply %+v)\nwant %+v (reply %+v)", got, got.Reply, tt.want, tt.want.Reply)
			}
		})
	}
	if got := decideARP(arpRequest(clientMAC, clientIP, vipA), nil, isFriend); !reflect.DeepEqual(got, arpDecision{}) {
		t.Fatalf("decideARP with a nil view = %+v, want nothing", got)
	}
}

func TestARPFramesRoundTrip(t *testing.T) {
	g := arpGratuitous(ourMAC, vipA)
	for _, m := range []arpMsg{arpProbe(ourMAC, vipA), g[0], g[1], arpReply(ourMAC, vipA, clientMAC, clientIP)} {
		b, err := marshalARP(m)
		if err != nil {
			t.Fatalf("marshalARP(%+v): %v", m, err)
		}
		got, err := parseARP(b)
		if err != nil {
			t.Fatalf("parseARP(marshalARP(%+v)): %v", m, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, m)
		}
	}
	// The gratuitous pair: a request and a reply, sender = target.
	if g[0].Op != arp.OperationRequest || g[1].Op != arp.OperationReply ||
		g[1].SenderIP != g[1].TargetIP || !macEqual(g[1].TargetMAC, ourMAC) {
		t.Fatalf("gratuitous pair %+v", g)
	}
}

func TestParseARPRejects(t *testing.T) {
	good, err := marshalARP(arpRequest(clientMAC, clientIP, vipA))
	if err != nil {
		t.Fatal(err)
	}
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := []struct {
		name  string
		frame []byte
		want  error
	}{
		{"short", good[:10], nil},
		{"truncated ARP", good[:14+20], nil},
		{"IPv4 ethertype", mod(func(b []byte) []byte { b[12], b[13] = 0x08, 0x00; return b }), errNotARP},
		{"VLAN tagged", append(append(append([]byte(nil), good[:12]...), 0x81, 0x00, 0x00, 0x64), good[12:]...), errVLANTagged},
		{"hardware type 6", mod(func(b []byte) []byte { b[15] = 6; return b }), errNotARP},
		{"protocol IPv6", mod(func(b []byte) []byte { b[16], b[17] = 0x86, 0xdd; return b }), errNotARP},
		{"operation 3", mod(func(b []byte) []byte { b[21] = 3; return b }), errNotARP},
	}
	for _, tt := range tests {
		_, err := parseARP(tt.frame)
		if err == nil {
			t.Errorf("%s: parseARP accepted it", tt.name)
			continue
		}
		if tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.want)
		}
	}
}
