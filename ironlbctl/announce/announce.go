// Package announce derives, from a compiled configuration and the objects
// the speakers publish, how each Service IP is (or would be) made
// reachable: its mode, the layer 2 announcer from the ServiceL2Status, and
// the BGP nodes and peers. The BGP answer reuses the speakers' own planner
// (bgpplan.Compute per node) and intersects it with the established
// sessions in BGPSessionStatus: the routes themselves are not published in
// the API, so "advertised" means "this node's plan holds the route and its
// session to that peer is Established".
package announce

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/ironlbctl/snapshot"
	"github.com/ironlb/ironlb/pkg/lbstate"
	"github.com/ironlb/ironlb/speaker/bgpplan"
	"github.com/ironlb/ironlb/speaker/l2plan"
)

// Mode says which advertisements select a pool.
type Mode string

// Modes.
const (
	ModeLayer2  Mode = "layer2"
	ModeBGP     Mode = "bgp"
	ModeBoth    Mode = "both"
	ModeNone    Mode = "none"
	ModeUnknown Mode = "unknown" // the configuration does not compile
)

// SessionEstablished is BGPSessionStatus.status.state of an up session.
const SessionEstablished = "Established"

// View answers questions about the Service IPs of one snapshot.
type View struct {
	Config   *config.Config // nil when the configuration does not compile
	Services []lbstate.Service
	Nodes    []l2plan.Node

	byIP     map[netip.Addr][]lbstate.Service
	bgpPlans map[string]bgpplan.Plan
	sessions map[string]map[string]v1beta1.BGPSessionStatusStatus // node -> peer -> status
	l2       map[l2key]v1beta1.ServiceL2Status
	bgpReach map[l2key][]v1beta1.NodeNotAnswering
}

type l2key struct{ ns, svc, ip string }

// New builds a View. cfg may be nil (invalid configuration).
func New(cfg *config.Config, s *snapshot.Snapshot) *View {
	v := &View{
		Config:   cfg,
		Services: lbstate.Build(s.ServicePtrs(), s.EndpointPtrs()),
		byIP:     map[netip.Addr][]lbstate.Service{},
		bgpPlans: map[string]bgpplan.Plan{},
		sessions: map[string]map[string]v1beta1.BGPSessionStatusStatus{},
		l2:       map[l2key]v1beta1.ServiceL2Status{},
		bgpReach: map[l2key][]v1beta1.NodeNotAnswering{},
	}
	for _, svc := range v.Services {
		for _, ip := range svc.IPs {
			v.byIP[ip] = append(v.byIP[ip], svc)
		}
	}
	for i := range s.Nodes {
		n := l2plan.NodeFrom(&s.Nodes[i])
		v.Nodes = append(v.Nodes, n)
		if cfg != nil {
			v.bgpPlans[n.Name] = bgpplan.Compute(cfg, v.Services, n)
		}
	}
	slices.SortFunc(v.Nodes, func(a, b l2plan.Node) int { return strings.Compare(a.Name, b.Name) })
	for _, b := range s.BGPSessions {
		if v.sessions[b.Status.Node] == nil {
			v.sessions[b.Status.Node] = map[string]v1beta1.BGPSessionStatusStatus{}
		}
		v.sessions[b.Status.Node][b.Status.Peer] = b.Status
	}
	for _, st := range s.L2Statuses {
		v.l2[l2key{st.Namespace, st.Status.ServiceName, canonical(st.Status.IP)}] = st
	}
	for _, st := range s.BGPReach {
		if len(st.Status.NotAnswering) > 0 {
			v.bgpReach[l2key{st.Namespace, st.Status.ServiceName, canonical(st.Status.IP)}] = st.Status.NotAnswering
		}
	}
	return v
}

func canonical(ip string) string {
	if a, err := netip.ParseAddr(ip); err == nil {
		return a.String()
	}
	return ip
}

// Pool is the pool holding ip in the configuration ("" when none).
func (v *View) Pool(ip netip.Addr) string {
	if v.Config == nil {
		return ""
	}
	p, _ := v.Config.PoolFor(ip)
	return p
}

// ModeOf says which advertisements cover ip of pool: those selecting the
// pool and one of the Services using ip (svc when none is known yet).
func (v *View) ModeOf(pool string, ip netip.Addr, svc map[string]string) Mode {
	if v.Config == nil {
		return ModeUnknown
	}
	labels := lbstate.LabelsOf(v.byIP[ip])
	if len(labels) == 0 {
		labels = []map[string]string{svc}
	}
	l2 := len(config.ForServices(v.Config.L2For(pool), labels)) > 0
	bgp := len(config.ForServices(v.Config.BGPFor(pool), labels)) > 0
	switch {
	case l2 && bgp:
		return ModeBoth
	case l2:
		return ModeLayer2
	case bgp:
		return ModeBGP
	}
	return ModeNone
}

// SharedWith returns the Services (with IronLB addresses) using ip.
func (v *View) SharedWith(ip netip.Addr) []lbstate.Service { return v.byIP[ip] }

// Service returns the lbstate view of one Service.
func (v *View) Service(ns, name string) (lbstate.Service, bool) {
	for _, s := range v.Services {
		if s.Key.Namespace == ns && s.Key.Name == name {
			return s, true
		}
	}
	return lbstate.Service{}, false
}

// L2Status is the ServiceL2Status a speaker wrote for one Service IP.
func (v *View) L2Status(ns, svc string, ip netip.Addr) (v1beta1.ServiceL2Status, bool) {
	st, ok := v.l2[l2key{ns, svc, ip.String()}]
	return st, ok
}

// BGPNotAnswering are the nodes that advertise one Service IP over BGP
// but report it does not answer there (its ServiceBGPStatus); none when
// every node that checks it finds it answering.
func (v *View) BGPNotAnswering(ns, svc string, ip netip.Addr) []v1beta1.NodeNotAnswering {
	return v.bgpReach[l2key{ns, svc, ip.String()}]
}

// BGPNode is one node whose plan advertises an IP.
type BGPNode struct {
	Node string
	// Peers the node's plan sends the route to.
	Peers []string
	// Established are those Peers whose session is Established.
	Established []string
}

// BGP returns the nodes whose BGP plan holds a route covering ip, sorted
// by node, and for every other node with a BGP pool for ip, why its plan
// withholds it.
func (v *View) BGP(ip netip.Addr) (nodes []BGPNode, withheld map[string]string) {
	withheld = map[string]string{}
	for _, n := range v.Nodes {
		plan, ok := v.bgpPlans[n.Name]
		if !ok {
			continue
		}
		if why, ok := plan.Withheld[ip]; ok {
			withheld[n.Name] = why
			continue
		}
		var peers []string
		for _, r := range plan.Routes {
			if r.Prefix.Contains(ip) {
				peers = append(peers, r.Peers...)
			}
		}
		if len(peers) == 0 {
			continue
		}
		slices.Sort(peers)
		peers = slices.Compact(peers)
		bn := BGPNode{Node: n.Name, Peers: peers}
		for _, p := range peers {
			if st, ok := v.sessions[n.Name][p]; ok && st.State == SessionEstablished {
				bn.Established = append(bn.Established, p)
			}
		}
		nodes = append(nodes, bn)
	}
	return nodes, withheld
}

// Session returns the published status of one node's session to a peer.
func (v *View) Session(node, peer string) (v1beta1.BGPSessionStatusStatus, bool) {
	st, ok := v.sessions[node][peer]
	return st, ok
}
