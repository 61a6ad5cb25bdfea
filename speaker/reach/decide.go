package reach

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/datapath"
)

// ConditionType is the condition on ServiceL2Status the check sets.
const ConditionType = "Answering"

// Reasons of the condition (and of the events, see Prober).
const (
	ReasonAnswering       = "Answering"
	ReasonNotAnswering    = "NotAnswering"
	ReasonAddressConflict = "AddressConflict"
	ReasonNotChecked      = "NotChecked"
)

// Target is one address this node announces.
type Target struct {
	IP       netip.Addr
	Services []types.NamespacedName
	// Conflict is the MAC of another host answering ARP/NDP for IP; empty
	// when none was seen.
	Conflict string
	// Skip names the Services whose TCP ports on IP are not checked, and
	// why (SkipReason).
	Skip map[types.NamespacedName]string
}

// SkipReason says why a Service's TCP ports on ip are not checked, ""
// when they are: loadBalancerSourceRanges that do not admit everyone may
// drop the node's own connection by design (its source address is the
// node's, which the ranges need not hold), and a check that fails there
// would be a false alarm.
func SkipReason(svc *corev1.Service, ip netip.Addr) string {
	if r, _ := datapath.ServiceSourceRanges(svc, ip.Is6()); r.Restricted {
		return "loadBalancerSourceRanges"
	}
	return ""
}

// ErrNoRoute is a probe's outcome when the node's routing table has no
// route to the address itself (as opposed to none to the pod behind it,
// which is a failure of the path).
var ErrNoRoute = errors.New("no route to the address on this node")

// PortResult is what the probes of one VIP:port found so far.
type PortResult struct {
	// Answered: a connection succeeded since the port was first probed.
	Answered bool
	// Failures counts failed connections since the last success.
	Failures int
	// Err describes the last failure (Describe).
	Err string
	// NoRoute: the node has no route covering the address, so its own
	// connection cannot leave the socket; clients may still reach it, so
	// the port is not checked rather than failing. Real nodes have a
	// default route.
	NoRoute bool
}

// Record adds one probe's outcome (err nil: it answered).
func (r PortResult) Record(err error) PortResult {
	if err == nil {
		return PortResult{Answered: true}
	}
	if errors.Is(err, ErrNoRoute) {
		return PortResult{NoRoute: true, Err: Describe(err)}
	}
	r.Failures++
	r.Err = Describe(err)
	return r
}

// Verdict is the check's answer for one Service on one address.
type Verdict struct {
	Status  metav1.ConditionStatus
	Reason  string
	Message string
	// Ports are the TCP ports checked, each with 1 (answering) or 0 (not);
	// ports still without a verdict are left out.
	Ports map[string]float64 // "tcp/80" -> 1 or 0
	// Pending: Unknown only because a port has no verdict yet (the next
	// round gives one); not worth a status write.
	Pending bool
}

// Checks returns the VIP:port pairs to connect to: every TCP port of every
// Service of every target, each once, sorted. Other protocols are left out
// (see the package comment).
func Checks(targets []Target, ports map[types.NamespacedName][]corev1.ServicePort) []netip.AddrPort {
	var out []netip.AddrPort
	for _, t := range targets {
		for _, svc := range t.Services {
			if t.Skip[svc] != "" {
				continue
			}
			for _, p := range ports[svc] {
				if isTCP(p) {
					out = append(out, netip.AddrPortFrom(t.IP, uint16(p.Port)))
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b netip.AddrPort) int { return a.Compare(b) })
	return slices.Compact(out)
}

// Judge decides whether one Service answers on ip: its ports' results
// (keyed by VIP:port), the conflict, why its TCP ports are not checked
// (skip, "" when they are), and the number of failures in a row that make
// a port count as not answering.
func Judge(ip netip.Addr, conflict string, ports []corev1.ServicePort, skip string, results map[netip.AddrPort]PortResult, threshold int) Verdict {
	v := Verdict{Ports: map[string]float64{}}
	var failing, answering, pending, unchecked []string
	for _, p := range ports {
		name := portName(p)
		if !isTCP(p) {
			unchecked = append(unchecked, name)
			continue
		}
		if skip != "" {
			unchecked = append(unchecked, name+" ("+skip+")")
			continue
		}
		r, ok := results[netip.AddrPortFrom(ip, uint16(p.Port))]
		switch {
		case ok && r.NoRoute:
			unchecked = append(unchecked, name+" (no route to it on this node)")
		case ok && r.Failures >= max(threshold, 1):
			failing = append(failing, name+": "+r.Err)
			v.Ports[name] = 0
		case ok && r.Answered:
			answering = append(answering, name)
			v.Ports[name] = 1
		default:
			pending = append(pending, name)
		}
	}
	note := ""
	if len(unchecked) > 0 {
		note = " (not checked: " + strings.Join(unchecked, ", ") + ")"
	}
	switch {
	case conflict != "":
		for k := range v.Ports {
			v.Ports[k] = 0
		}
		v.Status, v.Reason = metav1.ConditionFalse, ReasonAddressConflict
		v.Message = fmt.Sprintf("another host (MAC %s) answers ARP/NDP for %s, so clients may reach it instead of this cluster", conflict, ip)
	case len(failing) > 0:
		v.Status, v.Reason = metav1.ConditionFalse, ReasonNotAnswering
		v.Message = fmt.Sprintf("%s does not answer through the announcing node's datapath on %s", ip, strings.Join(failing, "; ")) + note
	case len(pending) > 0 || len(answering) == 0:
		v.Status, v.Reason = metav1.ConditionUnknown, ReasonNotChecked
		if len(pending) > 0 {
			v.Pending = true
			v.Message = fmt.Sprintf("%s not checked yet on %s", ip, strings.Join(pending, ", ")) + note
		} else {
			v.Message = fmt.Sprintf("%s has no port this node can check", ip) + note
		}
	default:
		v.Status, v.Reason = metav1.ConditionTrue, ReasonAnswering
		v.Message = fmt.Sprintf("%s answers on %s", ip, strings.Join(answering, ", ")) + note
	}
	return v
}

// Condition returns conds with the Answering condition set from v: its
// transition time stays while the status does not change, and is now
// (whole seconds, as the API server stores it) when it does.
func Condition(conds []metav1.Condition, v Verdict, now metav1.Time) []metav1.Condition {
	out := make([]metav1.Condition, 0, len(conds)+1)
	var prev *metav1.Condition
	for i := range conds {
		if conds[i].Type == ConditionType {
			prev = &conds[i]
			continue
		}
		out = append(out, conds[i])
	}
	c := metav1.Condition{Type: ConditionType, Status: v.Status, Reason: v.Reason, Message: v.Message,
		LastTransitionTime: metav1.NewTime(now.Truncate(1e9))}
	if prev != nil && prev.Status == v.Status {
		c.LastTransitionTime = prev.LastTransitionTime
	}
	return append(out, c)
}

func isTCP(p corev1.ServicePort) bool {
	return p.Protocol == corev1.ProtocolTCP || p.Protocol == ""
}

func portName(p corev1.ServicePort) string {
	proto := p.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	return fmt.Sprintf("%s/%d", strings.ToLower(string(proto)), p.Port)
}
