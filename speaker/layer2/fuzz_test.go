package layer2

import (
	"bytes"
	"net/netip"
	"testing"
)

// The parsers take whatever arrives on the wire: they must never panic,
// and what they accept must survive a round trip through the builders
// (which is what the reply path relies on) and satisfy the invariants the
// handlers assume.

func FuzzParseARP(f *testing.F) {
	g := arpGratuitous(ourMAC, vipA)
	for _, m := range []arpMsg{arpRequest(clientMAC, clientIP, vipA), arpProbe(ourMAC, vipA), g[0], g[1]} {
		b, err := marshalARP(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, frame []byte) {
		m, err := parseARP(frame)
		if err != nil {
			return
		}
		if !m.SenderIP.Is4() || !m.TargetIP.Is4() || len(m.SenderMAC) != 6 || len(m.TargetMAC) != 6 || len(m.EthSrc) != 6 {
			t.Fatalf("accepted a malformed packet: %+v", m)
		}
		b, err := marshalARP(m)
		if err != nil {
			t.Fatalf("marshalARP of a parsed packet: %v", err)
		}
		m2, err := parseARP(b)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if m2.Op != m.Op || m2.SenderIP != m.SenderIP || m2.TargetIP != m.TargetIP ||
			!bytes.Equal(m2.SenderMAC, m.SenderMAC) || !bytes.Equal(m2.TargetMAC, m.TargetMAC) {
			t.Fatalf("round trip changed %+v into %+v", m, m2)
		}
		// The handler must not panic on anything the parser accepts.
		d := decideARP(m, testView4(), isFriend)
		if d.Reply != nil {
			if _, err := marshalARP(*d.Reply); err != nil {
				t.Fatalf("reply to %+v does not marshal: %v", m, err)
			}
		}
	})
}

func FuzzParseNDP(f *testing.F) {
	for _, m := range []ndpMsg{ns(clientMAC, client6, vip6A), ndpProbe(ourMAC, vip6A), ndpUnsolicited(ourMAC, vip6A)} {
		b, err := marshalNDP(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, frame []byte) {
		m, err := parseNDP(frame)
		if err != nil {
			return
		}
		if !m.Src.Is6() || !m.Dst.Is6() || !m.Target.Is6() || m.Target.IsMulticast() || len(m.EthSrc) != 6 {
			t.Fatalf("accepted a malformed message: %+v", m)
		}
		if m.LinkAddr != nil && len(m.LinkAddr) != 6 {
			t.Fatalf("link-layer address %v", m.LinkAddr)
		}
		b, err := marshalNDP(m)
		if err != nil {
			t.Fatalf("marshalNDP of a parsed message: %v", err)
		}
		m2, err := parseNDP(b)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if m2.NA != m.NA || m2.Target != m.Target || m2.Src != m.Src || m2.Dst != m.Dst ||
			!bytes.Equal(m2.LinkAddr, m.LinkAddr) || m2.Solicited != m.Solicited || m2.Override != m.Override {
			t.Fatalf("round trip changed %+v into %+v", m, m2)
		}
		d := decideNDP(m, testView6(), isFriend)
		if d.Reply != nil {
			if _, err := marshalNDP(*d.Reply); err != nil {
				t.Fatalf("reply to %+v does not marshal: %v", m, err)
			}
		}
	})
}

// FuzzParseNDPBody fuzzes the ICMPv6 part behind a valid Ethernet and IPv6
// header with a correct checksum, which FuzzParseNDP rarely gets past.
func FuzzParseNDPBody(f *testing.F) {
	for _, m := range []ndpMsg{ns(clientMAC, client6, vip6A), ndpProbe(ourMAC, vip6A), ndpUnsolicited(ourMAC, vip6A)} {
		b, err := marshalNDP(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[14+8:14+24], b[14+24:14+40], b[14+40:])
	}
	f.Fuzz(func(t *testing.T, src, dst, body []byte) {
		if len(src) != 16 || len(dst) != 16 || len(body) < 4 || len(body) > 1400 {
			return
		}
		frame := make([]byte, 14+40+len(body))
		copy(frame[0:6], ourMAC)
		copy(frame[6:12], clientMAC)
		frame[12], frame[13] = 0x86, 0xdd
		frame[14] = 0x60
		frame[14+4], frame[14+5] = byte(len(body)>>8), byte(len(body))
		frame[14+6], frame[14+7] = protoICMPv6, ndpHopLimit
		copy(frame[14+8:], src)
		copy(frame[14+24:], dst)
		b := frame[14+40:]
		copy(b, body)
		b[2], b[3] = 0, 0
		c := icmpv6Checksum(netip.AddrFrom16([16]byte(src)), netip.AddrFrom16([16]byte(dst)), b)
		b[2], b[3] = byte(c>>8), byte(c)
		m, err := parseNDP(frame)
		if err != nil {
			return
		}
		if m.Target.IsMulticast() || (m.NA && m.Dst.IsMulticast() && m.Solicited) {
			t.Fatalf("accepted an invalid message: %+v", m)
		}
		d := decideNDP(m, testView6(), isFriend)
		if d.Reply != nil {
			if _, err := marshalNDP(*d.Reply); err != nil {
				t.Fatalf("reply to %+v does not marshal: %v", m, err)
			}
		}
	})
}
