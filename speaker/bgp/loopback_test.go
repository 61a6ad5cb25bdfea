package bgp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// These tests need neither root nor FRR: the speaker runs in the test
// process and peers over loopback with plain GoBGP servers acting as
// routers (127.0.0.2, 127.0.0.3), whose RIBs show what they received. Two
// routers in one address family is what the FRR lab cannot offer: it
// shows that each peer gets its own routes and attributes.

// receiver is a GoBGP server that accepts one session from 127.0.0.1.
type receiver struct {
	addr netip.Addr
	port int
	srv  *server.BgpServer
}

func freePort(t *testing.T, addr netip.Addr) int {
	t.Helper()
	l, err := net.Listen("tcp", netip.AddrPortFrom(addr, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startReceiver(t *testing.T, addr netip.Addr, asn, speakerASN uint32) *receiver {
	t.Helper()
	port := freePort(t, addr)
	srv := server.NewBgpServer()
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve()
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	ctx := t.Context()
	if err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: asn, RouterId: addr.String(), ListenPort: int32(port), ListenAddresses: []string{addr.String()},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddPeer(ctx, &api.AddPeerRequest{Peer: &api.Peer{
		Conf:      &api.PeerConf{NeighborAddress: "127.0.0.1", PeerAsn: speakerASN},
		Transport: &api.Transport{PassiveMode: true, LocalAddress: addr.String()},
	}}); err != nil {
		t.Fatal(err)
	}
	return &receiver{addr: addr, port: port, srv: srv}
}

// received is one route in a receiver's RIB.
type received struct {
	nextHop     netip.Addr
	localPref   uint32
	communities []uint32
	large       [][3]uint32
	asPath      []uint32
}

func (r *receiver) routes(t *testing.T) map[netip.Prefix]received {
	t.Helper()
	out := map[netip.Prefix]received{}
	for _, f := range []bgp.Family{bgp.RF_IPv4_UC, bgp.RF_IPv6_UC} {
		err := r.srv.ListPath(apiutil.ListPathRequest{TableType: api.TableType_TABLE_TYPE_GLOBAL, Family: f}, func(nlri bgp.NLRI, paths []*apiutil.Path) {
			pfx, err := netip.ParsePrefix(nlri.String())
			if err != nil || len(paths) == 0 {
				return
			}
			var rc received
			for _, a := range paths[0].Attrs {
				switch a := a.(type) {
				case *bgp.PathAttributeNextHop:
					rc.nextHop = a.Value
				case *bgp.PathAttributeMpReachNLRI:
					rc.nextHop = a.Nexthop
				case *bgp.PathAttributeLocalPref:
					rc.localPref = a.Value
				case *bgp.PathAttributeCommunities:
					rc.communities = a.Value
				case *bgp.PathAttributeLargeCommunities:
					for _, c := range a.Values {
						rc.large = append(rc.large, [3]uint32{c.ASN, c.LocalData1, c.LocalData2})
					}
				case *bgp.PathAttributeAsPath:
					for _, p := range a.Value {
						rc.asPath = append(rc.asPath, p.GetAS()...)
					}
				}
			}
			out[pfx] = rc
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// waitRoutes polls until cond holds for the receiver's routes.
func (r *receiver) waitRoutes(t *testing.T, what string, cond func(map[netip.Prefix]received) bool) map[netip.Prefix]received {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := r.routes(t)
		if cond(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s: have %+v", r.addr, what, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLoopbackPerPeerRoutes(t *testing.T) {
	local := netip.MustParseAddr("127.0.0.1")
	ebgp := startReceiver(t, netip.MustParseAddr("127.0.0.2"), 64500, 64512)
	ibgp := startReceiver(t, netip.MustParseAddr("127.0.0.3"), 64512, 64512)
	reg := prometheus.NewRegistry()
	spk, err := New(Options{RouterID: netip.MustParseAddr("192.0.2.1"), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	peer := func(name string, r *receiver, peerASN uint32) Peer {
		return Peer{
			Name: name, MyASN: 64512, PeerASN: peerASN, Address: r.addr, Port: uint16(r.port),
			SourceAddress: local, HoldTime: 9 * time.Second, ConnectTime: time.Second,
		}
	}
	peers := []Peer{peer("ext", ebgp, 64500), peer("int", ibgp, 64512)}
	if err := spk.SetPeers(peers); err != nil {
		t.Fatal(err)
	}
	// Sessions wait for the first SetRoutes.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- spk.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	time.Sleep(2500 * time.Millisecond)
	for _, st := range spk.Status() {
		if st.State != StateIdle {
			t.Errorf("%s is %s before the first SetRoutes", st.Name, st.State)
		}
	}

	shared := mustPrefix("203.0.113.1/32")
	extOnly := mustPrefix("203.0.113.2/32")
	both := mustPrefix("203.0.113.3/32")
	v6 := mustPrefix("2001:db8:300::1/128")
	routes := []Route{
		{Prefix: shared, Communities: []uint32{community(64500, 1)}},
		{Prefix: extOnly, Peers: []string{"ext"}},
		// Same prefix, different attributes per peer: merged for "int"
		// (both routes name it), only the second for "ext".
		{Prefix: both, Peers: []string{"int"}, LocalPref: u32(300), Communities: []uint32{community(64500, 2)}},
		{Prefix: both, LocalPref: u32(200), LargeCommunities: [][3]uint32{{64512, 7, 8}}},
		{Prefix: v6}, // IPv4 sessions carry no IPv6 route
	}
	if err := spk.SetRoutes(routes); err != nil {
		t.Fatal(err)
	}
	got := ebgp.waitRoutes(t, "three routes", func(m map[netip.Prefix]received) bool { return len(m) == 3 })
	if r := got[both]; r.nextHop != local || r.communities != nil || !slices.Equal(r.large, [][3]uint32{{64512, 7, 8}}) || r.localPref == 200 || !slices.Equal(r.asPath, []uint32{64512}) {
		t.Errorf("eBGP %s: %+v", both, r)
	}
	if r := got[shared]; !slices.Equal(r.communities, []uint32{community(64500, 1)}) {
		t.Errorf("eBGP %s: %+v", shared, r)
	}
	got = ibgp.waitRoutes(t, "two routes", func(m map[netip.Prefix]received) bool { return len(m) == 2 })
	if _, ok := got[extOnly]; ok {
		t.Errorf("iBGP peer got %s, meant for ext only", extOnly)
	}
	if r := got[both]; r.nextHop != local || r.localPref != 300 || !slices.Equal(r.communities, []uint32{community(64500, 2)}) || !slices.Equal(r.large, [][3]uint32{{64512, 7, 8}}) || len(r.asPath) != 0 {
		t.Errorf("iBGP %s: %+v", both, r)
	}

	// Status and metrics.
	st := spk.Status()
	if len(st) != 2 || st[0].Name != "ext" || st[0].State != StateEstablished || st[0].PrefixesAdvertised != 3 ||
		st[1].Name != "int" || st[1].PrefixesAdvertised != 2 || st[1].Uptime < 0 {
		t.Errorf("status %+v", st)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP ironlb_bgp_prefixes_advertised Prefixes advertised to the peer on the current session.
# TYPE ironlb_bgp_prefixes_advertised gauge
ironlb_bgp_prefixes_advertised{peer="ext"} 3
ironlb_bgp_prefixes_advertised{peer="int"} 2
# HELP ironlb_bgp_session_up 1 if the BGP session with the peer is Established.
# TYPE ironlb_bgp_session_up gauge
ironlb_bgp_session_up{peer="ext"} 1
ironlb_bgp_session_up{peer="int"} 1
`), "ironlb_bgp_session_up", "ironlb_bgp_prefixes_advertised"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(newCollector(spk), "ironlb_bgp_updates_sent_total"); n != 2 {
		t.Errorf("%d updates_sent_total series", n)
	}

	// A route changes its peers: withdrawn from ext, announced to int.
	routes[1].Peers = []string{"int"}
	if err := spk.SetRoutes(routes); err != nil {
		t.Fatal(err)
	}
	ebgp.waitRoutes(t, "extOnly withdrawn", func(m map[netip.Prefix]received) bool { _, ok := m[extOnly]; return !ok && len(m) == 2 })
	ibgp.waitRoutes(t, "extOnly announced", func(m map[netip.Prefix]received) bool { _, ok := m[extOnly]; return ok })

	// Removing the int peer closes its session; ext keeps its routes.
	if err := spk.SetPeers(peers[:1]); err != nil {
		t.Fatal(err)
	}
	ibgp.waitRoutes(t, "routes gone with the session", func(m map[netip.Prefix]received) bool { return len(m) == 0 })
	if st := spk.Status(); len(st) != 1 {
		t.Errorf("status after removal: %+v", st)
	}
	if err := spk.SetRoutes(nil); err != nil {
		t.Fatal(err)
	}
	ebgp.waitRoutes(t, "everything withdrawn", func(m map[netip.Prefix]received) bool { return len(m) == 0 })
}

// TestLoopbackDynamicASNMismatch: a DynamicASN "external" peer that turns
// out to be in the speaker's AS is reset and reported.
func TestLoopbackDynamicASNMismatch(t *testing.T) {
	r := startReceiver(t, netip.MustParseAddr("127.0.0.4"), 64512, 64512)
	spk, err := New(Options{RouterID: netip.MustParseAddr("192.0.2.1")})
	if err != nil {
		t.Fatal(err)
	}
	p := Peer{Name: "dyn", MyASN: 64512, DynamicASN: DynamicASNExternal, Address: r.addr, Port: uint16(r.port),
		SourceAddress: netip.MustParseAddr("127.0.0.1"), HoldTime: 9 * time.Second, ConnectTime: time.Second}
	stop := runWithPeers(t, spk, []Peer{p})
	defer stop()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := spk.Status()[0]
		if strings.Contains(st.LastError, "DynamicASN") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no DynamicASN error: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSpeakerLifecycle(t *testing.T) {
	if _, err := New(Options{}); err == nil || !strings.Contains(err.Error(), "RouterID") {
		t.Errorf("New without RouterID: %v", err)
	}
	if _, err := New(Options{RouterID: netip.MustParseAddr("2001:db8::1")}); err == nil {
		t.Error("New with an IPv6 RouterID: no error")
	}
	if _, err := New(Options{RouterID: netip.MustParseAddr("192.0.2.1"), GracefulRestartTime: 5000 * time.Second}); err == nil {
		t.Error("New with a 5000s restart time: no error")
	}
	spk, err := New(Options{RouterID: netip.MustParseAddr("192.0.2.1")})
	if err != nil {
		t.Fatal(err)
	}
	// Before Run: stored, reported as Idle, invalid entries named.
	good := Peer{Name: "b", MyASN: 64512, PeerASN: 64500, Address: netip.MustParseAddr("127.0.0.9"), HoldTime: 90 * time.Second}
	bad := Peer{Name: "a", MyASN: 64512, Address: netip.MustParseAddr("127.0.0.8"), HoldTime: 90 * time.Second}
	err = spk.SetPeers([]Peer{good, bad})
	if err == nil || !strings.Contains(err.Error(), `peers[1] "a": PeerASN`) {
		t.Errorf("SetPeers: %v", err)
	}
	if st := spk.Status(); len(st) != 1 || st[0].Name != "b" || st[0].State != StateIdle {
		t.Errorf("status before Run: %+v", st)
	}
	if err := spk.SetRoutes([]Route{{Prefix: mustPrefix("203.0.113.1/24")}}); err == nil || !strings.Contains(err.Error(), "203.0.113.0/24") {
		t.Errorf("SetRoutes with host bits: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- spk.Run(ctx) }()
	time.Sleep(100 * time.Millisecond)
	if err := spk.Run(ctx); err == nil {
		t.Error("second Run: no error")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := spk.SetRoutes(nil); err != ErrStopped {
		t.Errorf("SetRoutes after Run: %v", err)
	}
	if err := spk.SetPeers(nil); err != ErrStopped {
		t.Errorf("SetPeers after Run: %v", err)
	}
}

// runWithPeers gives spk its peers and no routes and runs it in the test
// process until stop, which returns Run's error.
func runWithPeers(t *testing.T, spk *Speaker, peers []Peer) (stop func() error) {
	t.Helper()
	if err := spk.SetPeers(peers); err != nil {
		t.Fatal(err)
	}
	if err := spk.SetRoutes(nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- spk.Run(ctx) }()
	return func() error {
		cancel()
		return <-done
	}
}

// Example of the calls the speaker's main makes.
func ExampleSpeaker() {
	spk, err := New(Options{RouterID: netip.MustParseAddr("192.0.2.11")})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = spk.SetPeers([]Peer{{
		Name: "tor1", MyASN: 64512, PeerASN: 64500, Address: netip.MustParseAddr("192.0.2.1"),
		HoldTime: 90 * time.Second, GracefulRestart: true,
	}})
	_ = spk.SetRoutes([]Route{{Prefix: netip.MustParsePrefix("203.0.113.10/32"), Communities: []uint32{64500<<16 | 100}}})
	// go spk.Run(ctx) opens the session; Status reports it.
	for _, st := range spk.Status() {
		fmt.Println(st.Name, st.State)
	}
	// Output: tor1 Idle
}
