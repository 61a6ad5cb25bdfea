package why

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/ironlbctl/announce"
	"github.com/ironlb/ironlb/pkg/lbstate"
	"github.com/ironlb/ironlb/speaker/l2plan"
	"github.com/ironlb/ironlb/speaker/l2sync"
	"github.com/ironlb/ironlb/speaker/reach"
)

// explainIP checks one assigned address: still in a pool, advertised,
// served by endpoints, with an eligible node, and what the speakers report.
func explainIP(v *announce.View, svc *corev1.Service, ip netip.Addr) []Reason {
	key := svc.Namespace + "/" + svc.Name
	at := func(code Code, format string, args ...any) Reason {
		return Reason{Code: code, IP: ip.String(), Message: fmt.Sprintf(format, args...)}
	}
	pool := v.Pool(ip)
	if pool == "" {
		return []Reason{at(AddressLeftPools,
			"%s in status.loadBalancer.ingress of Service %s is in no IPAddressPool spec.addresses (the pool shrank or was deleted); the controller will replace it", ip, key)}
	}
	shared := v.SharedWith(ip)
	mode := v.ModeOf(pool, ip, svc.Labels)
	if mode == announce.ModeNone {
		return []Reason{at(NotAdvertised,
			"%s is assigned from IPAddressPool %q, and no L2Advertisement or BGPAdvertisement selects both that pool (spec.ipAddressPools / spec.ipAddressPoolSelectors) and Service %s (spec.serviceSelectors, labels %v): nobody announces it", ip, pool, key, svc.Labels)}
	}
	self, _ := v.Service(svc.Namespace, svc.Name)
	if !slices.ContainsFunc(shared, lbstate.Service.HasEndpoints) {
		return []Reason{at(NoReadyEndpoint,
			"Service %s has no ready endpoint (EndpointSlices labelled kubernetes.io/service-name=%s): speakers announce %s only while one exists", key, svc.Name, ip)}
	}
	if self.Local && !slices.ContainsFunc(shared, func(s lbstate.Service) bool { return !s.Local && s.HasEndpoints() }) {
		if !slices.ContainsFunc(v.Nodes, func(n l2plan.Node) bool { return self.HasLocalEndpoints(n.Name) }) {
			return []Reason{at(NoLocalEndpoint,
				"Service %s has spec.externalTrafficPolicy Local and no node has a ready local endpoint (endpoints[].nodeName of its EndpointSlices)", key)}
		}
	}
	var out []Reason
	if mode == announce.ModeLayer2 || mode == announce.ModeBoth {
		out = append(out, layer2(v, svc, ip, pool, shared))
	}
	if mode == announce.ModeBGP || mode == announce.ModeBoth {
		out = append(out, bgpReason(v, svc, ip, pool))
	}
	return out
}

// layer2 applies the speakers' eligibility rules (l2plan.NodeFrom, the
// advertisements' node selectors, Local endpoints) node by node, then
// reads what the announcing speaker published.
func layer2(v *announce.View, svc *corev1.Service, ip netip.Addr, pool string, shared []lbstate.Service) Reason {
	advs := config.ForServices(v.Config.L2For(pool), lbstate.LabelsOf(shared))
	var eligible, details []string
	for _, n := range v.Nodes {
		var names []string
		selected := false
		for _, a := range advs {
			names = append(names, a.Name)
			selected = selected || a.SelectsNode(n.Labels)
		}
		switch {
		case !selected:
			details = append(details, fmt.Sprintf("node %s: not selected by spec.nodeSelectors of L2Advertisement %s", n.Name, strings.Join(names, ", ")))
		case !n.Usable:
			details = append(details, fmt.Sprintf("node %s: %s", n.Name, n.Why))
		case !servesTraffic(shared, n.Name):
			details = append(details, fmt.Sprintf("node %s: no ready local endpoint (externalTrafficPolicy: Local)", n.Name))
		default:
			eligible = append(eligible, n.Name)
		}
	}
	r := Reason{IP: ip.String()}
	if len(eligible) == 0 {
		r.Code = NoEligibleNode
		r.Message = fmt.Sprintf("no node may announce %s in layer 2 (IPAddressPool %q)", ip, pool)
		if len(v.Nodes) == 0 {
			r.Message += ": there are no Nodes"
		}
		r.Details = details
		return r
	}
	st, ok := v.L2Status(svc.Namespace, svc.Name, ip)
	where := fmt.Sprintf("ServiceL2Status %s/%s", st.Namespace, st.Name)
	switch {
	case !ok:
		r.Code = NoL2Status
		r.Message = fmt.Sprintf("no ServiceL2Status reports on %s yet although nodes %s are eligible: are the speakers running?", ip, strings.Join(eligible, ", "))
	case st.Status.Conflict != nil:
		c := st.Status.Conflict
		r.Code = AddressConflict
		r.Message = fmt.Sprintf("%s status.conflict: another host (MAC %s on %s, detected %s) already uses %s, so node %s does not announce it",
			where, c.MAC, c.Interface, c.DetectedAt.UTC().Format("2006-01-02T15:04:05Z"), ip, st.Status.Node)
	case st.Status.Node == "":
		r.Code = NotAnnounced
		r.Message = fmt.Sprintf("%s status.reason: %s", where, st.Status.Reason)
		r.Details = []string{"eligible by the configuration: " + strings.Join(eligible, ", ")}
	default:
		r.Code = Announced
		ifs := "the automatically chosen interface"
		if len(st.Status.Interfaces) > 0 {
			ifs = strings.Join(st.Status.Interfaces, ", ")
		}
		r.Message = fmt.Sprintf("%s is assigned (IPAddressPool %q) and announced in layer 2 by node %s on %s", ip, pool, st.Status.Node, ifs)
		if c := meta.FindStatusCondition(st.Status.Conditions, reach.ConditionType); c != nil && c.Status == metav1.ConditionFalse {
			r.Code = NotAnswering
			r.Message = fmt.Sprintf("%s is announced in layer 2 by node %s but does not answer: %s status.conditions[type=%s] (reason %s, since %s): %s",
				ip, st.Status.Node, where, reach.ConditionType, c.Reason, c.LastTransitionTime.UTC().Format("2006-01-02T15:04:05Z"), c.Message)
			r.Details = notAnsweringHints(c.Reason)
		}
	}
	return r
}

func servesTraffic(svcs []lbstate.Service, node string) bool {
	return slices.ContainsFunc(svcs, func(s lbstate.Service) bool {
		return !s.Local && s.HasEndpoints() || s.Local && s.HasLocalEndpoints(node)
	})
}

// bgpReason reuses the speakers' BGP planner and the published sessions.
func bgpReason(v *announce.View, svc *corev1.Service, ip netip.Addr, pool string) Reason {
	nodes, withheld := v.BGP(ip)
	r := Reason{IP: ip.String()}
	if len(nodes) == 0 {
		r.Code = NoEligibleNode
		r.Message = fmt.Sprintf("no node advertises %s over BGP (IPAddressPool %q)", ip, pool)
		for _, n := range v.Nodes {
			if why, ok := withheld[n.Name]; ok {
				r.Details = append(r.Details, fmt.Sprintf("node %s: %s", n.Name, why))
			} else {
				r.Details = append(r.Details, fmt.Sprintf("node %s: no BGPPeer selects it (spec.nodeSelectors)", n.Name))
			}
		}
		return r
	}
	var up []string
	for _, n := range nodes {
		for _, p := range n.Established {
			up = append(up, n.Node+"→"+p)
		}
		for _, p := range n.Peers {
			if slices.Contains(n.Established, p) {
				continue
			}
			st, ok := v.Session(n.Node, p)
			switch {
			case !ok:
				r.Details = append(r.Details, fmt.Sprintf("BGPSessionStatus %s.%s: none published (is the speaker running?)", n.Node, p))
			case st.LastError != "":
				r.Details = append(r.Details, fmt.Sprintf("BGPSessionStatus %s.%s: status.state %s, status.lastError %s", n.Node, p, st.State, st.LastError))
			default:
				r.Details = append(r.Details, fmt.Sprintf("BGPSessionStatus %s.%s: status.state %s", n.Node, p, st.State))
			}
		}
	}
	if len(up) == 0 {
		r.Code = NoEstablished
		r.Message = fmt.Sprintf("%s is planned for BGP but no session of an eligible node is Established", ip)
		return r
	}
	r.Code = Announced
	r.Message = fmt.Sprintf("%s is assigned (IPAddressPool %q) and advertised over BGP by %s", ip, pool, strings.Join(up, ", "))
	if failing := v.BGPNotAnswering(svc.Namespace, svc.Name, ip); len(failing) > 0 {
		var nodes []string
		for _, f := range failing {
			nodes = append(nodes, f.Node)
			r.Details = append(r.Details, fmt.Sprintf("node %s (since %s): %s", f.Node, f.Since.UTC().Format("2006-01-02T15:04:05Z"), f.Message))
		}
		r.Code = NotAnswering
		r.Message = fmt.Sprintf("%s is advertised over BGP by %s but does not answer on nodes %s: ServiceBGPStatus %s/%s status.notAnswering",
			ip, strings.Join(up, ", "), strings.Join(nodes, ", "), svc.Namespace, l2sync.StatusName(svc.Name, ip))
		r.Details = append(r.Details, notAnsweringHints(reach.ReasonNotAnswering)...)
	}
	return r
}

// notAnsweringHints says where to look for each cause the check tells apart.
func notAnsweringHints(reason string) []string {
	if reason == reach.ReasonAddressConflict {
		return []string{"another host on the LAN holds the address: remove it there, or take the address out of the pool; the speaker probes again every 10 s and announces it once nobody else answers"}
	}
	return []string{
		"connection refused: the endpoints do not listen on the target port, or the node's datapath has no rule for the VIP (nft list table inet ironlb / ipvsadm -Ln)",
		"no answer: the endpoints are unreachable from the announcing node (pod network, NetworkPolicy, a firewall)",
	}
}
