package bgp

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func validPeer() Peer {
	return Peer{Name: "tor1", MyASN: 64512, PeerASN: 64500, Address: netip.MustParseAddr("192.0.2.1"), HoldTime: 90 * time.Second}
}

func TestNormalizePeer(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Peer)
		want string // "" means valid
	}{
		{"valid", func(*Peer) {}, ""},
		{"no name", func(p *Peer) { p.Name = "" }, "Name: is empty"},
		{"no local AS", func(p *Peer) { p.MyASN = 0 }, "MyASN"},
		{"no peer AS", func(p *Peer) { p.PeerASN = 0 }, "PeerASN: is 0"},
		{"dynamic internal", func(p *Peer) { p.PeerASN, p.DynamicASN = 0, DynamicASNInternal }, ""},
		{"dynamic and fixed", func(p *Peer) { p.DynamicASN = DynamicASNExternal }, "set one of them"},
		{"dynamic bogus", func(p *Peer) { p.PeerASN, p.DynamicASN = 0, "any" }, `DynamicASN: "any"`},
		{"no address", func(p *Peer) { p.Address = netip.Addr{} }, "Address"},
		{"unspecified address", func(p *Peer) { p.Address = netip.IPv4Unspecified() }, "Address"},
		{"zoned address", func(p *Peer) { p.Address = netip.MustParseAddr("fe80::1%eth0") }, "zoned"},
		{"source of other family", func(p *Peer) { p.SourceAddress = netip.MustParseAddr("2001:db8::1") }, "SourceAddress"},
		{"hold time 0", func(p *Peer) { p.HoldTime = 0 }, "not supported by GoBGP"},
		{"hold time 2s", func(p *Peer) { p.HoldTime = 2 * time.Second }, "HoldTime"},
		{"hold time fraction", func(p *Peer) { p.HoldTime = 3500 * time.Millisecond }, "HoldTime"},
		{"keepalive too long", func(p *Peer) { p.KeepaliveTime = 31 * time.Second }, "more than a third"},
		{"keepalive fraction", func(p *Peer) { p.KeepaliveTime = 1500 * time.Millisecond }, "KeepaliveTime"},
		{"connect time", func(p *Peer) { p.ConnectTime = 500 * time.Millisecond }, "ConnectTime"},
		{"long password", func(p *Peer) { p.Password = strings.Repeat("x", 81) }, "Password"},
		{"BFD interval", func(p *Peer) { p.BFD = &BFDProfile{ReceiveInterval: time.Nanosecond} }, "BFD.ReceiveInterval"},
		{"BFD multiplier", func(p *Peer) { p.BFD = &BFDProfile{DetectMultiplier: 256} }, "BFD.DetectMultiplier"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := validPeer()
			tc.mod(&p)
			_, err := normalizePeer(p)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestNormalizePeerDefaults(t *testing.T) {
	p := validPeer()
	p.Address = netip.MustParseAddr("::ffff:192.0.2.1")
	p.BFD = &BFDProfile{Name: "x"}
	got, err := normalizePeer(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Address != netip.MustParseAddr("192.0.2.1") || got.KeepaliveTime != 30*time.Second || got.ConnectTime != 10*time.Second {
		t.Errorf("defaults: %+v", got)
	}
	if b := *got.BFD; b.ReceiveInterval != 300*time.Millisecond || b.TransmitInterval != 300*time.Millisecond || b.DetectMultiplier != 3 {
		t.Errorf("BFD defaults: %+v", b)
	}
	if p.BFD.ReceiveInterval != 0 {
		t.Error("normalizePeer changed the caller's BFD profile")
	}
}

func TestNormalizePeersKeepsTheValidOnes(t *testing.T) {
	a := validPeer()
	b := validPeer()
	b.Name = "tor2"
	b.Address = netip.MustParseAddr("192.0.2.2")
	dupName := validPeer()
	dupName.Address = netip.MustParseAddr("192.0.2.3")
	dupAddr := validPeer()
	dupAddr.Name = "tor3"
	bad := validPeer()
	bad.Name, bad.MyASN = "tor4", 0
	got, err := normalizePeers([]Peer{a, b, dupName, dupAddr, bad})
	if len(got) != 2 || got[0].Name != "tor1" || got[1].Name != "tor2" {
		t.Errorf("valid peers %v", got)
	}
	for _, want := range []string{`peers[2] "tor1": Name: another peer`, `peers[3] "tor3": Address: 192.0.2.1 is also the address of peer "tor1"`, `peers[4] "tor4": MyASN`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

func TestNormalizeRoutes(t *testing.T) {
	good := Route{Prefix: mustPrefix("203.0.113.0/24"), Peers: []string{"tor1"}}
	tests := []struct {
		name  string
		route Route
		want  string
	}{
		{"valid", good, ""},
		{"invalid prefix", Route{}, "Prefix: invalid"},
		{"host bits", Route{Prefix: mustPrefix("203.0.113.7/24")}, "did you mean 203.0.113.0/24"},
		{"mapped", Route{Prefix: mustPrefix("::ffff:203.0.113.7/128")}, "IPv4-mapped"},
		{"empty peer name", Route{Prefix: mustPrefix("203.0.113.7/32"), Peers: []string{""}}, "Peers[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := normalizeRoutes([]Route{good, tc.route})
			if tc.want == "" {
				if err != nil || len(got) != 2 {
					t.Fatalf("got %v, %v", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "routes[1]") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want routes[1] and %q", err, tc.want)
			}
			if len(got) != 1 {
				t.Fatalf("valid routes %v", got)
			}
		})
	}
}
