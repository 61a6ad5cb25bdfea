package bgp

import (
	"fmt"
	"net/netip"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/config/oc"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
)

// Translations between this package's plain types and GoBGP's API, kept
// free of I/O so they are tested without a server.

// bfdPort is the single-hop BFD port (RFC 5881).
const bfdPort = 3784

func apiFamily(v4 bool) *api.Family {
	if v4 {
		return &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	}
	return &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
}

// apiPeer builds GoBGP's neighbor configuration for a (normalized) peer
// bound to its VRF.
func apiPeer(p Peer, vrf string, restartTime, deferral time.Duration, restarting bool) *api.Peer {
	peerASN := p.PeerASN
	switch p.DynamicASN {
	case DynamicASNInternal:
		peerASN = p.MyASN
	case DynamicASNExternal:
		peerASN = 0 // GoBGP accepts any AS; the speaker rejects MyASN once the OPEN arrives.
	}
	secs := func(d time.Duration) uint64 { return uint64(d / time.Second) }
	// GoBGP waits IdleHoldTimeAfterReset before reconnecting after it
	// reset a session itself (BFD down, a reset); its default is 30 s.
	idleHold := secs(p.ConnectTime)
	if p.BFD != nil {
		// The BFD gate keeps the session closed while BFD is down, so
		// GoBGP's wait after its BFD reset only delays the new session
		// once BFD is back (bfdgate.go, 3). 1 s is the least: 0 means
		// GoBGP's default.
		idleHold = 1
	}
	ap := &api.Peer{
		Conf: &api.PeerConf{
			NeighborAddress: p.Address.String(),
			PeerAsn:         peerASN,
			LocalAsn:        p.MyASN,
			AuthPassword:    p.Password,
			Description:     p.Name,
			Vrf:             vrf,
		},
		Timers: &api.Timers{Config: &api.TimersConfig{
			HoldTime:               secs(p.HoldTime),
			KeepaliveInterval:      secs(p.KeepaliveTime),
			ConnectRetry:           secs(p.ConnectTime),
			IdleHoldTimeAfterReset: idleHold,
		}},
		Transport: &api.Transport{RemotePort: uint32(p.Port)},
		AfiSafis: []*api.AfiSafi{{
			Config: &api.AfiSafiConfig{Family: apiFamily(p.Address.Is4()), Enabled: true},
			MpGracefulRestart: &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{
				Enabled: p.GracefulRestart,
			}},
		}},
	}
	if p.SourceAddress.IsValid() {
		ap.Transport.LocalAddress = p.SourceAddress.String()
	}
	if p.EBGPMultiHop {
		ap.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: 255}
	}
	if p.GracefulRestart {
		ap.GracefulRestart = &api.GracefulRestart{
			Enabled:         true,
			RestartTime:     uint32(restartTime / time.Second),
			DeferralTime:    uint32(max(deferral/time.Second, 1)),
			LocalRestarting: restarting,
		}
	}
	ap.Bfd = gobgpBFD(p.BFD)
	return ap
}

// ribFamilies are the address families of GoBGP's RIBs (indices of its
// oc.IntToAfiSafiTypeMap): unicast, as the peers are sent, and L3VPN
// unicast, where the per-peer VRFs keep their routes, and route target
// constraint, whose table GoBGP's DeleteVrf reads (and dereferences: a
// nil pointer without it). Without the list
// GoBGP makes a table for each of its 26 families, in two RIBs, each of
// 2,048 preallocated shards: about 10 MB before the first route.
func ribFamilies() []uint32 {
	var out []uint32
	for _, f := range []oc.AfiSafiType{oc.AFI_SAFI_TYPE_IPV4_UNICAST, oc.AFI_SAFI_TYPE_IPV6_UNICAST,
		oc.AFI_SAFI_TYPE_L3VPN_IPV4_UNICAST, oc.AFI_SAFI_TYPE_L3VPN_IPV6_UNICAST, oc.AFI_SAFI_TYPE_RTC} {
		out = append(out, uint32(oc.AfiSafiTypeToIntMap[f]))
	}
	return out
}

// vrfFor builds the private VRF that holds one peer's routes. index
// (1..65535) makes the route distinguisher and route target unique on
// this speaker; neither ever leaves it, since the peer is sent plain
// unicast routes with extended communities stripped.
func vrfFor(name string, routerID netip.Addr, index uint16) (*api.Vrf, error) {
	rd, err := bgp.NewRouteDistinguisherIPAddressAS(routerID, index)
	if err != nil {
		return nil, fmt.Errorf("route distinguisher %s:%d: %w", routerID, index, err)
	}
	ard, err := apiutil.MarshalRD(rd)
	if err != nil {
		return nil, fmt.Errorf("route distinguisher %s:%d: %w", routerID, index, err)
	}
	rt, err := bgp.NewIPv4AddressSpecificExtended(bgp.EC_SUBTYPE_ROUTE_TARGET, routerID, index, true)
	if err != nil {
		return nil, fmt.Errorf("route target %s:%d: %w", routerID, index, err)
	}
	art, err := apiutil.MarshalRT(rt)
	if err != nil {
		return nil, fmt.Errorf("route target %s:%d: %w", routerID, index, err)
	}
	return &api.Vrf{Name: name, Rd: ard, ImportRt: []*api.RouteTarget{art}, ExportRt: []*api.RouteTarget{art}}, nil
}

// apiPath builds the path for one prefix. The next hop is left
// unspecified (0.0.0.0 or ::), which GoBGP replaces per session with the
// session's local address: next-hop-self on every peering link.
func apiPath(prefix netip.Prefix, a attrs, withdraw bool) (*apiutil.Path, error) {
	nlri, err := bgp.NewIPAddrPrefix(prefix)
	if err != nil {
		return nil, fmt.Errorf("prefix %v: %w", prefix, err)
	}
	family, nh := bgp.RF_IPv4_UC, netip.IPv4Unspecified()
	if prefix.Addr().Is6() {
		family, nh = bgp.RF_IPv6_UC, netip.IPv6Unspecified()
	}
	pattrs := []bgp.PathAttributeInterface{bgp.NewPathAttributeOrigin(bgp.BGP_ORIGIN_ATTR_TYPE_IGP)}
	if family == bgp.RF_IPv4_UC {
		a, err := bgp.NewPathAttributeNextHop(nh)
		if err != nil {
			return nil, fmt.Errorf("prefix %v: next hop: %w", prefix, err)
		}
		pattrs = append(pattrs, a)
	} else {
		a, err := bgp.NewPathAttributeMpReachNLRI(family, []bgp.PathNLRI{{NLRI: nlri}}, nh)
		if err != nil {
			return nil, fmt.Errorf("prefix %v: next hop: %w", prefix, err)
		}
		pattrs = append(pattrs, a)
	}
	if a.hasLocalPref {
		pattrs = append(pattrs, bgp.NewPathAttributeLocalPref(a.localPref))
	}
	if len(a.communities) > 0 {
		pattrs = append(pattrs, bgp.NewPathAttributeCommunities(a.communities))
	}
	large := make([]*bgp.LargeCommunity, 0, len(a.large)+1)
	for _, c := range a.large {
		large = append(large, bgp.NewLargeCommunity(c[0], c[1], c[2]))
	}
	if k, ok := lbKeyOf(a); ok {
		// GoBGP drops extended communities on the way out of the VRF;
		// an export policy turns this marker into the link bandwidth
		// community (linkbw.go).
		large = append(large, k.marker())
	}
	if len(large) > 0 {
		pattrs = append(pattrs, bgp.NewPathAttributeLargeCommunities(large))
	}
	return &apiutil.Path{Family: family, Nlri: nlri, Attrs: pattrs, Withdrawal: withdraw}, nil
}

// sessionState maps GoBGP's FSM state.
func sessionState(s api.PeerState_SessionState) SessionState {
	switch s {
	case api.PeerState_SESSION_STATE_CONNECT:
		return StateConnect
	case api.PeerState_SESSION_STATE_ACTIVE:
		return StateActive
	case api.PeerState_SESSION_STATE_OPENSENT:
		return StateOpenSent
	case api.PeerState_SESSION_STATE_OPENCONFIRM:
		return StateOpenConfirm
	case api.PeerState_SESSION_STATE_ESTABLISHED:
		return StateEstablished
	}
	return StateIdle
}

// fsmState maps the FSM state of GoBGP's watch events.
func fsmState(s bgp.FSMState) SessionState {
	switch s {
	case bgp.BGP_FSM_CONNECT:
		return StateConnect
	case bgp.BGP_FSM_ACTIVE:
		return StateActive
	case bgp.BGP_FSM_OPENSENT:
		return StateOpenSent
	case bgp.BGP_FSM_OPENCONFIRM:
		return StateOpenConfirm
	case bgp.BGP_FSM_ESTABLISHED:
		return StateEstablished
	}
	return StateIdle
}

// bfdState maps GoBGP's BFD session state.
func bfdState(s api.BfdSessionState) BFDState {
	switch s {
	case api.BfdSessionState_BFD_SESSION_STATE_UP:
		return BFDUp
	case api.BfdSessionState_BFD_SESSION_STATE_INIT:
		return BFDInit
	case api.BfdSessionState_BFD_SESSION_STATE_ADMIN_DOWN:
		return BFDAdminDown
	}
	return BFDDown
}
