package frr

import (
	"context"
	"fmt"
	"net/netip"
	"time"
)

// NeighborStatus is one BGP session as "show bgp summary json" shows it.
type NeighborStatus struct {
	Address  netip.Addr
	RemoteAS uint32
	// State is FRR's FSM state: "Idle", "Connect", "Active", "OpenSent",
	// "OpenConfirm" or "Established" (FRR may append "(Admin)" or
	// "(PfxCt)" to Idle).
	State string
	// Uptime is how long the session has been Established (peerUptimeMsec):
	// it starts again at 0 whenever the session resets, so comparing two
	// readings tells whether the session stayed up in between.
	Uptime time.Duration
	// PrefixesReceived and PrefixesSent add up every family the session
	// carries.
	PrefixesReceived, PrefixesSent int
	// ConnectionsEstablished and ConnectionsDropped count sessions since
	// the router started.
	ConnectionsEstablished, ConnectionsDropped int
	// Families lists the families the session is activated in.
	Families []Family
}

// Established reports whether the session is up.
func (n NeighborStatus) Established() bool { return n.State == "Established" }

type jsonSummaryPeer struct {
	RemoteAs               uint32 `json:"remoteAs"`
	State                  string `json:"state"`
	PeerUptimeMsec         int64  `json:"peerUptimeMsec"`
	PfxRcd                 int    `json:"pfxRcd"`
	PfxSnt                 int    `json:"pfxSnt"`
	ConnectionsEstablished int    `json:"connectionsEstablished"`
	ConnectionsDropped     int    `json:"connectionsDropped"`
}

type jsonSummary map[string]struct {
	Peers map[string]jsonSummaryPeer `json:"peers"`
}

// summaryFamilies maps the keys of "show bgp summary json" to families.
var summaryFamilies = map[string]Family{"ipv4Unicast": IPv4, "ipv6Unicast": IPv6}

// parseSummary merges the per-family peer lists into one status per
// neighbor.
func parseSummary(s jsonSummary) (map[netip.Addr]NeighborStatus, error) {
	out := map[netip.Addr]NeighborStatus{}
	for _, key := range []string{"ipv4Unicast", "ipv6Unicast"} {
		fam, ok := s[key]
		if !ok {
			continue
		}
		for addr, p := range fam.Peers {
			a, err := netip.ParseAddr(addr)
			if err != nil {
				return nil, fmt.Errorf("%s: peer %q: %w", key, addr, err)
			}
			n := out[a]
			n.Address, n.RemoteAS, n.State = a, p.RemoteAs, p.State
			n.Uptime = time.Duration(p.PeerUptimeMsec) * time.Millisecond
			n.PrefixesReceived += p.PfxRcd
			n.PrefixesSent += p.PfxSnt
			n.ConnectionsEstablished, n.ConnectionsDropped = p.ConnectionsEstablished, p.ConnectionsDropped
			n.Families = append(n.Families, summaryFamilies[key])
			out[a] = n
		}
	}
	return out, nil
}

// Neighbors returns every configured BGP session, keyed by the neighbor's
// address.
func (r *Router) Neighbors(ctx context.Context) (map[netip.Addr]NeighborStatus, error) {
	var s jsonSummary
	if err := r.JSON(ctx, BGPD, "show bgp summary json", &s); err != nil {
		return nil, err
	}
	out, err := parseSummary(s)
	if err != nil {
		return nil, fmt.Errorf("frr %s: show bgp summary: %w", r.Host.Name, err)
	}
	return out, nil
}

// BFDPeer is one BFD session as "show bfd peers json" shows it.
type BFDPeer struct {
	Peer, Local netip.Addr
	Interface   string
	// Status is "up", "down", "init" or "shutdown".
	Status string
	// Uptime (status up) or downtime (otherwise), whole seconds.
	Since time.Duration
	// Diagnostic and RemoteDiagnostic explain the last state change
	// ("ok", "control detection time expired", "neighbor signaled session
	// down", ...).
	Diagnostic, RemoteDiagnostic string
	// The local and remote timers.
	ReceiveInterval, TransmitInterval             time.Duration
	RemoteReceiveInterval, RemoteTransmitInterval time.Duration
	DetectMultiplier, RemoteDetectMultiplier      int
}

// Up reports whether the BFD session is up.
func (b BFDPeer) Up() bool { return b.Status == "up" }

type jsonBFDPeer struct {
	Peer                   string `json:"peer"`
	Local                  string `json:"local"`
	Interface              string `json:"interface"`
	Status                 string `json:"status"`
	Uptime                 int64  `json:"uptime"`
	Downtime               int64  `json:"downtime"`
	Diagnostic             string `json:"diagnostic"`
	RemoteDiagnostic       string `json:"remote-diagnostic"`
	ReceiveInterval        int64  `json:"receive-interval"`
	TransmitInterval       int64  `json:"transmit-interval"`
	RemoteReceiveInterval  int64  `json:"remote-receive-interval"`
	RemoteTransmitInterval int64  `json:"remote-transmit-interval"`
	DetectMultiplier       int    `json:"detect-multiplier"`
	RemoteDetectMultiplier int    `json:"remote-detect-multiplier"`
}

func (j jsonBFDPeer) peer() (BFDPeer, error) {
	b := BFDPeer{
		Interface: j.Interface, Status: j.Status,
		Diagnostic: j.Diagnostic, RemoteDiagnostic: j.RemoteDiagnostic,
		ReceiveInterval:        time.Duration(j.ReceiveInterval) * time.Millisecond,
		TransmitInterval:       time.Duration(j.TransmitInterval) * time.Millisecond,
		RemoteReceiveInterval:  time.Duration(j.RemoteReceiveInterval) * time.Millisecond,
		RemoteTransmitInterval: time.Duration(j.RemoteTransmitInterval) * time.Millisecond,
		DetectMultiplier:       j.DetectMultiplier, RemoteDetectMultiplier: j.RemoteDetectMultiplier,
	}
	since := j.Uptime
	if j.Status != "up" {
		since = j.Downtime
	}
	b.Since = time.Duration(since) * time.Second
	var err error
	if b.Peer, err = netip.ParseAddr(j.Peer); err != nil {
		return BFDPeer{}, fmt.Errorf("peer: %w", err)
	}
	if j.Local != "" {
		if b.Local, err = netip.ParseAddr(j.Local); err != nil {
			return BFDPeer{}, fmt.Errorf("local: %w", err)
		}
	}
	return b, nil
}

// BFDPeers returns bfdd's sessions keyed by the peer's address.
func (r *Router) BFDPeers(ctx context.Context) (map[netip.Addr]BFDPeer, error) {
	var list []jsonBFDPeer
	if err := r.JSON(ctx, BFDD, "show bfd peers json", &list); err != nil {
		return nil, err
	}
	out := make(map[netip.Addr]BFDPeer, len(list))
	for i, j := range list {
		b, err := j.peer()
		if err != nil {
			return nil, fmt.Errorf("frr %s: show bfd peers: entry %d: %w", r.Host.Name, i, err)
		}
		out[b.Peer] = b
	}
	return out, nil
}
