package frr

import (
	"encoding/json"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"
)

// The testdata files are real FRR 8.4 output, captured in a lab: two
// iBGP nodes announcing 203.0.113.10/32 with communities and local-pref,
// and node1 announcing 2001:db8:300::10/128.

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

var (
	node1v4 = netip.MustParseAddr("198.51.100.11")
	node2v4 = netip.MustParseAddr("198.51.100.12")
)

func TestParseRoute(t *testing.T) {
	pfx := netip.MustParsePrefix("203.0.113.10/32")
	r, ok, err := parseRoute(readTestdata(t, "route-ipv4.json"), pfx)
	if err != nil || !ok {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
	if r.Prefix != pfx || len(r.Paths) != 2 {
		t.Fatalf("route %+v", r)
	}
	if got := r.NextHops(); !slices.Equal(got, []netip.Addr{node1v4, node2v4}) {
		t.Errorf("next hops %v", got)
	}
	p, ok := r.PathVia(node1v4)
	want := Path{
		Peer: node1v4, NextHop: node1v4, Valid: true, Best: true, Multipath: true,
		LocalPref: 250, HasLocalPref: true,
		Communities: []string{"64500:100", "no-export"}, LargeCommunities: []string{"64500:1:2"},
	}
	if !ok || !pathEqual(p, want) {
		t.Errorf("path via node1:\n got %+v\nwant %+v", p, want)
	}
	if p2, _ := r.PathVia(node2v4); p2.Best || !p2.Multipath || !p2.Selected() {
		t.Errorf("path via node2 %+v", p2)
	}

	r6, ok, err := parseRoute(readTestdata(t, "route-ipv6.json"), netip.MustParsePrefix("2001:db8:300::10/128"))
	if err != nil || !ok {
		t.Fatalf("IPv6: ok=%v err=%v", ok, err)
	}
	p6 := r6.Paths[0]
	if p6.NextHop != netip.MustParseAddr("2001:db8:100::11") || p6.LinkLocal != netip.MustParseAddr("fe80::c6ff:fe33:640b") || p6.ASPath != "" || !p6.Best {
		t.Errorf("IPv6 path %+v", p6)
	}

	if _, ok, err := parseRoute([]byte("{\n}\n"), pfx); ok || err != nil {
		t.Errorf("empty answer: ok=%v err=%v", ok, err)
	}
	if _, _, err := parseRoute([]byte("% Unknown command"), pfx); err == nil {
		t.Error("garbage: no error")
	}
}

func pathEqual(a, b Path) bool {
	return a.Peer == b.Peer && a.NextHop == b.NextHop && a.LinkLocal == b.LinkLocal && a.Valid == b.Valid &&
		a.Best == b.Best && a.Multipath == b.Multipath && a.Stale == b.Stale && a.ASPath == b.ASPath &&
		a.LocalPref == b.LocalPref && a.HasLocalPref == b.HasLocalPref &&
		slices.Equal(a.Communities, b.Communities) && slices.Equal(a.LargeCommunities, b.LargeCommunities)
}

func TestParseTable(t *testing.T) {
	routes, err := parseTable(readTestdata(t, "routes-ipv4.json"))
	if err != nil {
		t.Fatal(err)
	}
	r, ok := routes[netip.MustParsePrefix("203.0.113.10/32")]
	if !ok || len(routes) != 1 {
		t.Fatalf("routes %v", routes)
	}
	if got := r.NextHops(); !slices.Equal(got, []netip.Addr{node1v4, node2v4}) {
		t.Errorf("next hops %v", got)
	}
	if p := r.Paths[0]; p.LocalPref != 250 || !p.HasLocalPref || p.Peer != node1v4 {
		t.Errorf("path %+v", p)
	}
}

func TestParseSummary(t *testing.T) {
	var s jsonSummary
	if err := json.Unmarshal(readTestdata(t, "summary.json"), &s); err != nil {
		t.Fatal(err)
	}
	n, err := parseSummary(s)
	if err != nil {
		t.Fatal(err)
	}
	a := n[node1v4]
	if !a.Established() || a.RemoteAS != 64500 || a.Uptime <= 0 || a.PrefixesReceived != 1 || a.ConnectionsEstablished != 1 || !slices.Equal(a.Families, []Family{IPv4}) {
		t.Errorf("node1 %+v", a)
	}
	if b := n[netip.MustParseAddr("2001:db8:100::11")]; !slices.Equal(b.Families, []Family{IPv6}) || !b.Established() {
		t.Errorf("node1 IPv6 %+v", b)
	}
	if len(n) != 3 {
		t.Errorf("%d neighbors", len(n))
	}
}

func TestParseBFDPeers(t *testing.T) {
	var list []jsonBFDPeer
	if err := json.Unmarshal(readTestdata(t, "bfd-peers.json"), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("%d peers", len(list))
	}
	b, err := list[0].peer()
	if err != nil {
		t.Fatal(err)
	}
	if !b.Up() || b.Peer != node1v4 || b.Local != netip.MustParseAddr("198.51.100.1") || b.Interface != "eth0" ||
		b.ReceiveInterval != 100*time.Millisecond || b.RemoteTransmitInterval != 100*time.Millisecond || b.DetectMultiplier != 3 || b.Since != 6*time.Second {
		t.Errorf("BFD peer %+v", b)
	}
}
