package bgp

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
)

func TestAPIPeer(t *testing.T) {
	p := validPeer()
	p.Password = "pw"
	p.Port = 1179
	p.SourceAddress = netip.MustParseAddr("192.0.2.11")
	p.KeepaliveTime, p.ConnectTime = 30*time.Second, 5*time.Second
	p.EBGPMultiHop = true
	p.GracefulRestart = true
	p.BFD = &BFDProfile{ReceiveInterval: 200 * time.Millisecond, TransmitInterval: 150 * time.Millisecond, DetectMultiplier: 4}
	a := apiPeer(p, "peer/tor1", 120*time.Second, 5*time.Second, true)
	c := a.Conf
	if c.NeighborAddress != "192.0.2.1" || c.PeerAsn != 64500 || c.LocalAsn != 64512 || c.AuthPassword != "pw" || c.Vrf != "peer/tor1" || c.Description != "tor1" {
		t.Errorf("conf %v", c)
	}
	tm := a.Timers.Config
	// With BFD the gate holds the session while BFD is down: GoBGP's own
	// idle hold after its BFD reset is the least it takes.
	if tm.HoldTime != 90 || tm.KeepaliveInterval != 30 || tm.ConnectRetry != 5 || tm.IdleHoldTimeAfterReset != 1 {
		t.Errorf("timers %v", tm)
	}
	noBFD := p
	noBFD.BFD = nil
	if got := apiPeer(noBFD, "peer/tor1", 120*time.Second, 5*time.Second, true).Timers.Config.IdleHoldTimeAfterReset; got != 5 {
		t.Errorf("idle hold after reset without BFD: %d, want the connect time (5)", got)
	}
	if a.Transport.RemotePort != 1179 || a.Transport.LocalAddress != "192.0.2.11" || a.Transport.PassiveMode {
		t.Errorf("transport %v", a.Transport)
	}
	if !a.EbgpMultihop.Enabled || a.EbgpMultihop.MultihopTtl != 255 {
		t.Errorf("multihop %v", a.EbgpMultihop)
	}
	if len(a.AfiSafis) != 1 || a.AfiSafis[0].Config.Family.Afi != api.Family_AFI_IP || !a.AfiSafis[0].MpGracefulRestart.Config.Enabled {
		t.Errorf("afi-safis %v", a.AfiSafis)
	}
	if gr := a.GracefulRestart; !gr.Enabled || gr.RestartTime != 120 || gr.DeferralTime != 5 || !gr.LocalRestarting {
		t.Errorf("graceful restart %v", gr)
	}
	if b := a.Bfd; !b.Enabled || b.Port != 3784 || b.RequiredMinimumReceive != 200000 || b.DesiredMinimumTxInterval != 150000 || b.DetectionMultiplier != 4 {
		t.Errorf("BFD %v", b)
	}

	// Dynamic ASNs, an IPv6 peer, no options.
	q := validPeer()
	q.Address = netip.MustParseAddr("2001:db8::1")
	q.PeerASN, q.DynamicASN = 0, DynamicASNInternal
	b := apiPeer(q, "v", time.Minute, time.Second, true)
	if b.Conf.PeerAsn != 64512 || b.AfiSafis[0].Config.Family.Afi != api.Family_AFI_IP6 || b.GracefulRestart != nil || b.Bfd != nil || b.EbgpMultihop != nil || b.Transport.LocalAddress != "" {
		t.Errorf("IPv6 internal peer %v", b)
	}
	q.DynamicASN = DynamicASNExternal
	if apiPeer(q, "v", time.Minute, time.Second, false).Conf.PeerAsn != 0 {
		t.Error("DynamicASN external must leave the peer AS open")
	}
}

func TestVRFFor(t *testing.T) {
	v, err := vrfFor("peer/x", netip.MustParseAddr("192.0.2.11"), 7)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := apiutil.UnmarshalRD(v.Rd)
	if err != nil || rd.String() != "192.0.2.11:7" {
		t.Errorf("RD %v %v", rd, err)
	}
	rts, err := apiutil.UnmarshalRTs(v.ImportRt)
	if err != nil || len(rts) != 1 || rts[0].String() != "192.0.2.11:7" || len(v.ExportRt) != 1 {
		t.Errorf("RTs %v %v", rts, err)
	}
}

func TestAPIPath(t *testing.T) {
	a := attrs{localPref: 200, hasLocalPref: true, communities: []uint32{1, 2}, large: [][3]uint32{{1, 2, 3}}}
	p, err := apiPath(mustPrefix("203.0.113.1/32"), a, false)
	if err != nil {
		t.Fatal(err)
	}
	if p.Family != bgp.RF_IPv4_UC || p.Withdrawal || p.Nlri.String() != "203.0.113.1/32" {
		t.Errorf("path %+v", p)
	}
	var seen []string
	for _, attr := range p.Attrs {
		switch x := attr.(type) {
		case *bgp.PathAttributeOrigin:
			seen = append(seen, "origin")
		case *bgp.PathAttributeNextHop:
			if !x.Value.IsUnspecified() {
				t.Errorf("next hop %v, want unspecified (next-hop-self)", x.Value)
			}
			seen = append(seen, "nexthop")
		case *bgp.PathAttributeLocalPref:
			if x.Value != 200 {
				t.Errorf("local pref %d", x.Value)
			}
			seen = append(seen, "localpref")
		case *bgp.PathAttributeCommunities:
			if !slices.Equal(x.Value, []uint32{1, 2}) {
				t.Errorf("communities %v", x.Value)
			}
			seen = append(seen, "communities")
		case *bgp.PathAttributeLargeCommunities:
			if len(x.Values) != 1 || x.Values[0].ASN != 1 || x.Values[0].LocalData2 != 3 {
				t.Errorf("large %v", x.Values)
			}
			seen = append(seen, "large")
		}
	}
	if !slices.Equal(seen, []string{"origin", "nexthop", "localpref", "communities", "large"}) {
		t.Errorf("attributes %v", seen)
	}

	p6, err := apiPath(mustPrefix("2001:db8:300::/64"), attrs{}, true)
	if err != nil {
		t.Fatal(err)
	}
	if p6.Family != bgp.RF_IPv6_UC || !p6.Withdrawal || len(p6.Attrs) != 2 {
		t.Fatalf("IPv6 path %+v", p6)
	}
	if mp, ok := p6.Attrs[1].(*bgp.PathAttributeMpReachNLRI); !ok || !mp.Nexthop.IsUnspecified() {
		t.Errorf("IPv6 next hop attribute %v", p6.Attrs[1])
	}
}

func TestStateMappings(t *testing.T) {
	for in, want := range map[api.PeerState_SessionState]SessionState{
		api.PeerState_SESSION_STATE_UNSPECIFIED: StateIdle, api.PeerState_SESSION_STATE_IDLE: StateIdle,
		api.PeerState_SESSION_STATE_CONNECT: StateConnect, api.PeerState_SESSION_STATE_ACTIVE: StateActive,
		api.PeerState_SESSION_STATE_OPENSENT: StateOpenSent, api.PeerState_SESSION_STATE_OPENCONFIRM: StateOpenConfirm,
		api.PeerState_SESSION_STATE_ESTABLISHED: StateEstablished,
	} {
		if got := sessionState(in); got != want {
			t.Errorf("sessionState(%v) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[bgp.FSMState]SessionState{
		bgp.BGP_FSM_IDLE: StateIdle, bgp.BGP_FSM_CONNECT: StateConnect, bgp.BGP_FSM_ACTIVE: StateActive,
		bgp.BGP_FSM_OPENSENT: StateOpenSent, bgp.BGP_FSM_OPENCONFIRM: StateOpenConfirm, bgp.BGP_FSM_ESTABLISHED: StateEstablished,
	} {
		if got := fsmState(in); got != want {
			t.Errorf("fsmState(%v) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[api.BfdSessionState]BFDState{
		api.BfdSessionState_BFD_SESSION_STATE_UP: BFDUp, api.BfdSessionState_BFD_SESSION_STATE_INIT: BFDInit,
		api.BfdSessionState_BFD_SESSION_STATE_DOWN: BFDDown, api.BfdSessionState_BFD_SESSION_STATE_ADMIN_DOWN: BFDAdminDown,
		api.BfdSessionState_BFD_SESSION_STATE_UNSPECIFIED: BFDDown,
	} {
		if got := bfdState(in); got != want {
			t.Errorf("bfdState(%v) = %s, want %s", in, got, want)
		}
	}
}
