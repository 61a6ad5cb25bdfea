// Package l2plan decides which node announces each layer 2 Service IP.
// Every speaker runs the same pure function on the same inputs (the
// configuration, the Services, the Nodes and the set of live speakers) and
// so reaches the same answer without talking to the others.
package l2plan

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/pkg/election"
	"github.com/ironlb/ironlb/pkg/lbstate"
)

// LabelExclude is the well-known label that keeps a node out of external
// load balancers.
const LabelExclude = "node.kubernetes.io/exclude-from-external-load-balancers"

// LabelDrain, set to "true" on a Node (`ironlbctl drain NODE`), takes the
// node out of layer 2 elections and BGP advertisements before maintenance:
// its layer 2 IPs move to other nodes and its BGP routes are withdrawn.
// Any other value (or none) leaves the node usable.
const LabelDrain = "ironlb.io/drain"

// AnnotationWeight on a Node makes it preferred (a higher weight takes a
// larger share of the IPs); default 1.
const AnnotationWeight = "ironlb.io/layer2-weight"

// MaxWeight bounds AnnotationWeight: a share a thousand times another
// node's is already all of it in practice, and the bound keeps the sum of
// every node's weight far from overflowing.
const MaxWeight = 1000

// ParseWeight reads AnnotationWeight's value: none means 1. Anything but
// an integer from 1 to MaxWeight is an error, and the node counts with
// weight 1. The default, not the node's last valid weight: every speaker
// elects from the same inputs, and a speaker that restarts after the
// annotation turned invalid has no last valid weight, so remembering one
// would make the speakers disagree on who owns an IP.
func ParseWeight(v string) (int, error) {
	if v == "" {
		return 1, nil
	}
	w, err := strconv.Atoi(v)
	if err != nil || w < 1 || w > MaxWeight {
		return 1, fmt.Errorf("annotation %s %q: want an integer from 1 to %d; the node counts with weight 1", AnnotationWeight, v, MaxWeight)
	}
	return w, nil
}

// Node is what the plan needs of a Kubernetes Node.
type Node struct {
	Name   string
	Labels map[string]string
	Weight int
	// Usable is false for nodes that must not announce: not Ready,
	// NetworkUnavailable, labelled LabelExclude, or drained (LabelDrain).
	Usable bool
	Why    string // why not Usable
	// Cordoned is spec.unschedulable (`kubectl cordon`, and `kubectl
	// drain` before it evicts): the node is about to lose its pods or go
	// down for maintenance, so its layer 2 IPs move to an uncordoned node
	// first. Only a preference: with no uncordoned node eligible, it still
	// announces (cordoning every node must not take every IP down).
	Cordoned bool
}

// NodeFrom condenses a Node.
func NodeFrom(n *corev1.Node) Node {
	w, _ := ParseWeight(n.Annotations[AnnotationWeight]) // the speaker of the node reports an error (speaker/nodeweight.go)
	out := Node{Name: n.Name, Labels: n.Labels, Weight: w, Usable: true, Cordoned: n.Spec.Unschedulable}
	if _, ok := n.Labels[LabelExclude]; ok {
		out.Usable, out.Why = false, "labelled "+LabelExclude
		return out
	}
	if n.Labels[LabelDrain] == "true" {
		out.Usable, out.Why = false, "drained (label "+LabelDrain+"=true)"
		return out
	}
	ready := false
	for _, c := range n.Status.Conditions {
		switch {
		case c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue:
			ready = true
		case c.Type == corev1.NodeNetworkUnavailable && c.Status == corev1.ConditionTrue:
			out.Usable, out.Why = false, "NetworkUnavailable"
			return out
		}
	}
	if !ready {
		out.Usable, out.Why = false, "not Ready"
	}
	return out
}

// Owner is the node that announces one IP, and where.
type Owner struct {
	Node string
	// Interfaces are the interface patterns of the L2Advertisements that
	// select the owner for this IP's pool; empty means automatic choice.
	Interfaces []string
	Pool       string
	Services   []types.NamespacedName
}

// Unannounced is a layer 2 IP no node may announce, and why.
type Unannounced struct {
	Reason   string
	Pool     string
	Services []types.NamespacedName
}

// Plan is who announces what. IPs of pools without an L2Advertisement are
// in neither map: layer 2 has nothing to say about them.
type Plan struct {
	Owners      map[netip.Addr]Owner
	Unannounced map[netip.Addr]Unannounced
}

// Compute elects an owner for every layer 2 Service IP. alive lists the
// nodes whose speakers are alive.
func Compute(cfg *config.Config, svcs []lbstate.Service, nodes []Node, alive []string) Plan {
	plan := Plan{Owners: map[netip.Addr]Owner{}, Unannounced: map[netip.Addr]Unannounced{}}
	if cfg == nil {
		return plan
	}
	live := make(map[string]bool, len(alive))
	for _, n := range alive {
		live[n] = true
	}
	type ipInfo struct {
		pool     string
		services []lbstate.Service
	}
	ips := map[netip.Addr]*ipInfo{}
	for _, s := range svcs {
		for _, ip := range s.IPs {
			pool := s.Pool
			if p, ok := cfg.PoolFor(ip); ok {
				pool = p
			}
			info := ips[ip]
			if info == nil {
				info = &ipInfo{pool: pool}
				ips[ip] = info
			}
			info.services = append(info.services, s)
		}
	}

	var items []election.Item
	interfaces := map[netip.Addr]map[string][]string{} // ip -> node -> patterns
	weights := map[string]int{}
	for ip, info := range ips {
		advs := config.ForServices(cfg.L2For(info.pool), lbstate.LabelsOf(info.services))
		if len(advs) == 0 {
			continue
		}
		eligible, why := eligibleNodes(advs, info.services, nodes, live)
		if len(eligible) == 0 {
			plan.Unannounced[ip] = Unannounced{Reason: why, Pool: info.pool, Services: keysOf(info.services)}
			continue
		}
		interfaces[ip] = map[string][]string{}
		var names []string
		for _, n := range eligible {
			names = append(names, n.Name)
			weights[n.Name] = n.Weight
			interfaces[ip][n.Name] = interfacesFor(advs, *n)
		}
		items = append(items, election.Item{IP: ip, Eligible: names})
	}
	cands := make([]election.Candidate, 0, len(weights))
	for n, w := range weights {
		cands = append(cands, election.Candidate{Node: n, Weight: w})
	}
	for ip, node := range election.Elect(items, cands) {
		info := ips[ip]
		plan.Owners[ip] = Owner{Node: node, Interfaces: interfaces[ip][node], Pool: info.pool, Services: keysOf(info.services)}
	}
	return plan
}

// eligibleNodes are the nodes that may announce an IP used by svcs: selected
// by an advertisement of the pool, usable, with a live speaker, and with a
// usable endpoint (any node for Cluster, a local one for Local) for at least
// one of the Services; cordoned ones only when no uncordoned one is. They
// are pointers into nodes, in its order. why explains an empty result.
func eligibleNodes(advs []config.L2Advertisement, svcs []lbstate.Service, nodes []Node, live map[string]bool) ([]*Node, string) {
	if !anyEndpoints(svcs) {
		return nil, "no ready endpoint"
	}
	// A Cluster Service with an endpoint anywhere serves from every node;
	// only Local ones need a look per node.
	if clusterServes(svcs) {
		return eligibleAmong(advs, nodes, live, nil)
	}
	return eligibleAmong(advs, nodes, live, svcs)
}

func anyEndpoints(svcs []lbstate.Service) bool {
	return slices.ContainsFunc(svcs, lbstate.Service.HasEndpoints)
}

// clusterServes reports whether a Cluster Service with an endpoint anywhere
// uses the IP, which any node may then attract traffic for.
func clusterServes(svcs []lbstate.Service) bool {
	return slices.ContainsFunc(svcs, func(s lbstate.Service) bool { return !s.Local && s.HasEndpoints() })
}

// eligibleAmong is eligibleNodes past the endpoint tests: local, when not
// nil, are Services none of which serves from every node, so a node needs
// a local endpoint of one of them.
func eligibleAmong(advs []config.L2Advertisement, nodes []Node, live map[string]bool, local []lbstate.Service) ([]*Node, string) {
	why := func(i int) (reason string, ok bool) { return whyNot(&nodes[i], advs, live, local) }
	var out, open []*Node
	for i := range nodes {
		if _, ok := why(i); ok {
			out = append(out, &nodes[i])
			if !nodes[i].Cordoned {
				open = append(open, &nodes[i])
			}
		}
	}
	if len(open) > 0 {
		return open, ""
	}
	if len(out) > 0 {
		return out, ""
	}
	// Only an IP nobody may announce pays for the reasons.
	reasons := map[string]int{}
	for i := range nodes {
		r, _ := why(i)
		reasons[r]++
	}
	return nil, summarize(len(nodes), reasons)
}

// whyNot says why n may not announce an IP of advs (local as in
// eligibleAmong); ok when it may.
func whyNot(n *Node, advs []config.L2Advertisement, live map[string]bool, local []lbstate.Service) (reason string, ok bool) {
	switch {
	case !slices.ContainsFunc(advs, func(a config.L2Advertisement) bool { return a.SelectsNode(n.Labels) }):
		return "not selected by an L2Advertisement", false
	case !n.Usable:
		return n.Why, false
	case !live[n.Name]:
		return "speaker not alive", false
	case local != nil && !servesTraffic(local, n.Name):
		return "no local endpoint (externalTrafficPolicy: Local)", false
	}
	return "", true
}

func keysOf(svcs []lbstate.Service) []types.NamespacedName {
	keys := make([]types.NamespacedName, len(svcs))
	for i, s := range svcs {
		keys[i] = s.Key
	}
	return keys
}

func servesTraffic(svcs []lbstate.Service, node string) bool {
	for _, s := range svcs {
		if !s.Local && s.HasEndpoints() || s.Local && s.HasLocalEndpoints(node) {
			return true
		}
	}
	return false
}

func interfacesFor(advs []config.L2Advertisement, n Node) []string {
	var out []string
	for _, a := range advs {
		if a.SelectsNode(n.Labels) {
			if len(a.Interfaces) == 0 {
				return nil // one advertisement leaves the choice open
			}
			out = append(out, a.Interfaces...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func summarize(total int, reasons map[string]int) string {
	if total == 0 {
		return "no nodes"
	}
	keys := make([]string, 0, len(reasons))
	for r := range reasons {
		keys = append(keys, r)
	}
	slices.Sort(keys)
	s := "no eligible node:"
	for i, r := range keys {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprintf(" %d %s", reasons[r], r)
	}
	return s
}
