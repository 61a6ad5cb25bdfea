// Package bgpplan decides what one node's BGP speaker announces: the
// sessions it opens (BGPPeers selecting the node) and the routes it sends
// (Service IPs of pools with a BGPAdvertisement selecting the node, while
// the Service can be served from here). Pure: the same inputs always give
// the same plan, table-tested without a cluster.
package bgpplan

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/pkg/lbstate"
	"github.com/ironlb/ironlb/speaker/bgpspec"
	"github.com/ironlb/ironlb/speaker/l2plan"
)

// Peer is a session to open, with where its password comes from (the
// caller resolves Secrets).
type Peer struct {
	bgpspec.Peer
	Password config.Password
}

// Plan is one node's BGP work.
type Plan struct {
	Peers  []Peer
	Routes []bgpspec.Route
	// Withheld lists Service IPs of BGP pools this node does not announce,
	// and why (no ready endpoint, no local endpoint, not selected, ...).
	Withheld map[netip.Addr]string
}

// Compute plans the node's sessions and routes.
func Compute(cfg *config.Config, svcs []lbstate.Service, node l2plan.Node) Plan {
	plan := Plan{Withheld: map[netip.Addr]string{}}
	if cfg == nil {
		return plan
	}
	var peerNames []string
	plan.Peers, peerNames = peersOf(cfg, node)
	for _, u := range usesByIP(cfg, svcs) {
		routes, why := decide(cfg.BGPFor(u.pool), u.ip, u.services, node, peerNames)
		plan.Routes = append(plan.Routes, routes...)
		if why != "" {
			plan.Withheld[u.ip] = why
		}
	}
	sortRoutes(plan.Routes)
	return plan
}

// peersOf are the sessions of the node: the BGPPeers selecting it.
func peersOf(cfg *config.Config, node l2plan.Node) ([]Peer, []string) {
	var (
		peers []Peer
		names []string
	)
	for _, p := range cfg.BGPPeers() {
		if !p.SelectsNode(node.Labels) {
			continue
		}
		peers = append(peers, Peer{Peer: peerOf(p), Password: p.Password})
		names = append(names, p.Name)
	}
	return peers, names
}

// decide is one IP's part of the plan, given the BGPAdvertisements of its
// pool and the Services using it: its routes, or why the node withholds
// it. Neither for an IP of a pool no BGPAdvertisement announces, or whose
// Services none of them selects.
func decide(advs []config.BGPAdvertisement, ip netip.Addr, svcs []lbstate.Service, node l2plan.Node, peerNames []string) ([]bgpspec.Route, string) {
	advs = config.ForServices(advs, lbstate.LabelsOf(svcs))
	if len(advs) == 0 {
		return nil, "" // not a BGP pool, or no advertisement selects its Services
	}
	if why := withheldAll(svcs, node); why != "" {
		return nil, why
	}
	var routes []bgpspec.Route
	for _, a := range advs {
		if !a.SelectsNode(node.Labels) {
			continue
		}
		peers := selectedPeers(a, peerNames)
		if len(peers) == 0 {
			continue
		}
		r := routeOf(ip, a, peers)
		if a.EndpointWeightedECMP {
			r.LinkBandwidth = endpointBandwidth(svcs, node.Name)
		}
		routes = append(routes, r)
	}
	if len(routes) == 0 {
		return nil, "no BGPAdvertisement selects this node and one of its peers"
	}
	return routes, ""
}

// sortRoutes orders routes by prefix.
func sortRoutes(routes []bgpspec.Route) {
	slices.SortFunc(routes, func(a, b bgpspec.Route) int { return comparePrefix(a.Prefix, b.Prefix) })
}

// comparePrefix orders prefixes by address, then length.
func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// ipUse is one Service IP and the Services that use it: several when
// they share it (ironlb.io/allow-shared-ip).
type ipUse struct {
	ip       netip.Addr
	pool     string
	services []lbstate.Service
}

// usesByIP groups the Services by IP, in the order the IPs first appear,
// so a shared IP is decided once for all its Services.
func usesByIP(cfg *config.Config, svcs []lbstate.Service) []*ipUse {
	var out []*ipUse
	byIP := map[netip.Addr]*ipUse{}
	for _, s := range svcs {
		for _, ip := range s.IPs {
			u := byIP[ip]
			if u == nil {
				pool := s.Pool
				if p, ok := cfg.PoolFor(ip); ok {
					pool = p
				}
				u = &ipUse{ip: ip, pool: pool}
				byIP[ip] = u
				out = append(out, u)
			}
			u.services = append(u.services, s)
		}
	}
	return out
}

// withheldAll says why this node must not attract traffic for an IP used
// by svcs: "" when any of them can be served from here (the IP is then
// advertised), otherwise every distinct reason, in Service order.
func withheldAll(svcs []lbstate.Service, node l2plan.Node) string {
	var reasons []string
	for _, s := range svcs {
		why := withheld(s, node)
		if why == "" {
			return ""
		}
		if !slices.Contains(reasons, why) {
			reasons = append(reasons, why)
		}
	}
	return strings.Join(reasons, "; ")
}

// withheld says why this node must not attract the Service's traffic.
func withheld(s lbstate.Service, node l2plan.Node) string {
	switch {
	case !node.Usable:
		return "node " + node.Why
	case !s.HasEndpoints():
		return "no ready endpoint"
	case s.Local && !s.HasLocalEndpoints(node.Name):
		return "no local endpoint (externalTrafficPolicy: Local)"
	}
	return ""
}

func selectedPeers(a config.BGPAdvertisement, nodePeers []string) []string {
	var out []string
	for _, p := range nodePeers {
		if a.SelectsPeer(p) {
			out = append(out, p)
		}
	}
	return out
}

func routeOf(ip netip.Addr, a config.BGPAdvertisement, peers []string) bgpspec.Route {
	bits := a.AggregationLength
	if ip.Is6() {
		bits = a.AggregationLengthV6
	}
	r := bgpspec.Route{
		Prefix:      netip.PrefixFrom(ip, bits).Masked(),
		Peers:       peers,
		Communities: slices.Clone(a.Communities),
	}
	if a.HasLocalPref {
		lp := a.LocalPref
		r.LocalPref = &lp
	}
	for _, c := range a.LargeCommunities {
		r.LargeCommunities = append(r.LargeCommunities, [3]uint32{c.GlobalAdmin, c.LocalData1, c.LocalData2})
	}
	return r
}

func peerOf(p config.BGPPeer) bgpspec.Peer {
	out := bgpspec.Peer{
		Name: p.Name, MyASN: p.MyASN, PeerASN: p.PeerASN, DynamicASN: string(p.DynamicASN),
		Address: p.Address, Port: p.Port, SourceAddress: p.SourceAddress,
		HoldTime: p.HoldTime, KeepaliveTime: p.KeepaliveTime, ConnectTime: p.ConnectTime,
		EBGPMultiHop: p.EBGPMultiHop, GracefulRestart: p.EnableGracefulRestart,
	}
	if p.BFD != nil {
		out.BFD = &bgpspec.BFDProfile{
			Name: p.BFD.Name, ReceiveInterval: p.BFD.ReceiveInterval, TransmitInterval: p.BFD.TransmitInterval,
			DetectMultiplier: p.BFD.DetectMultiplier, PassiveMode: p.BFD.PassiveMode, MinimumTTL: p.BFD.MinimumTTL,
		}
	}
	return out
}

// bandwidthPerEndpoint is the link bandwidth one ready local endpoint is
// worth (1 Mbit/s, in bytes/s): routers compute ECMP weights from the
// ratios, and FRR reads the value in whole Mbit/s.
const bandwidthPerEndpoint = 125_000

// endpointBandwidth is the link bandwidth this node's route for an IP
// carries with endpointWeightedECMP: its ready local endpoints, when every
// Service using the IP is Local (a Cluster Service spreads over every node
// alike, so the node's pods are not its share: none then).
func endpointBandwidth(svcs []lbstate.Service, node string) float32 {
	n := 0
	for _, s := range svcs {
		if !s.Local && s.HasEndpoints() {
			return 0
		}
		n += s.Endpoints.Of(node)
	}
	return float32(n) * bandwidthPerEndpoint
}
