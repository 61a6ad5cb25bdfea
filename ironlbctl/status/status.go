// Package status builds the rows of `ironlbctl status`: the pools with
// their address counts, then every LoadBalancer Service IP with its pool,
// mode, announcer and datapath. Pure: a function of a snapshot.
package status

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/controller/allocation"
	dp "github.com/ironlb/ironlb/datapath"
	"github.com/ironlb/ironlb/ironlbctl/announce"
	"github.com/ironlb/ironlb/ironlbctl/snapshot"
	"github.com/ironlb/ironlb/pkg/svcrequest"
	"github.com/ironlb/ironlb/speaker/reach"
)

// PoolRow is one family of one pool, from IPAddressPool status.
type PoolRow struct {
	Pool      string `json:"pool"`
	Family    string `json:"family"`
	Total     int64  `json:"total"`
	Assigned  int64  `json:"assigned"`
	Available int64  `json:"available"`
	// Valid is the status condition Valid ("True", "False", "" unknown).
	Valid string `json:"valid,omitempty"`
}

// ServiceRow is one IP of one LoadBalancer Service (or one Service still
// waiting for an address, with IP "<pending>").
type ServiceRow struct {
	Service   string        `json:"service"` // namespace/name
	IP        string        `json:"ip"`
	Pool      string        `json:"pool"`
	Mode      announce.Mode `json:"mode"`
	Announcer string        `json:"announcer"`
	// Datapath: "ironlb" (ipMode Proxy), "kube-proxy" (ipMode VIP).
	Datapath string `json:"datapath"`
	// Endpoints counts usable endpoints (ready; serving-terminating ones
	// when none is ready, as the speakers count them).
	Endpoints int  `json:"endpoints"`
	Local     bool `json:"local"`
	// LocalNodes (externalTrafficPolicy Local): nodes with a usable
	// endpoint.
	LocalNodes []string `json:"localNodes,omitempty"`
	// SourceRanges the datapath admits on this IP (its family's part of
	// spec.loadBalancerSourceRanges or the annotation): "any", "none", or
	// the prefixes; SourceRangeProblems are the entries it could not use.
	SourceRanges        string   `json:"sourceRanges"`
	SourceRangeProblems []string `json:"sourceRangeProblems,omitempty"`
	// Answering is the announcing speaker's reachability check (the
	// Answering condition of the ServiceL2Status): "yes", "NO", "unknown",
	// or "-" when no check reports on the IP (not announced in layer 2).
	Answering string `json:"answering"`
	// AnsweringMessage says what was checked, or why it does not answer.
	AnsweringMessage string `json:"answeringMessage,omitempty"`
}

// Report is the whole status.
type Report struct {
	Pools    []PoolRow    `json:"pools"`
	Services []ServiceRow `json:"services"`
	// Invalid lists the configuration objects whose spec is invalid, with
	// what is in force instead; the valid objects work as usual.
	Invalid []InvalidObject `json:"invalidObjects,omitempty"`
}

// InvalidObject is one configuration object whose spec does not compile.
type InvalidObject struct {
	Kind    string   `json:"kind"`
	Name    string   `json:"name"`
	InForce string   `json:"inForce"` // "last valid spec", "spec" (partial) or "nothing"
	Summary string   `json:"summary"`
	Errors  []string `json:"errors"`
}

// Pending is the IP column of a Service without an address.
const Pending = "<pending>"

// Build computes the report. handles says which Services IronLB serves
// (the controller's class rules).
func Build(s *snapshot.Snapshot, handles func(*corev1.Service) bool) Report {
	var r Report
	cfg, _ := config.Compile(s.Resources)
	for _, st := range cfg.Invalid() {
		o := InvalidObject{Kind: st.Kind, Name: st.Name, InForce: st.InForce.String(), Summary: st.Summary()}
		for _, e := range st.Errors {
			o.Errors = append(o.Errors, e.Error())
		}
		r.Invalid = append(r.Invalid, o)
	}
	r.Pools = poolRows(s.Resources.Pools)
	view := announce.New(cfg, s)
	for i := range s.Services {
		svc := &s.Services[i]
		if !handles(svc) {
			continue
		}
		r.Services = append(r.Services, serviceRows(view, svc)...)
	}
	slices.SortFunc(r.Services, func(a, b ServiceRow) int {
		if c := strings.Compare(a.Service, b.Service); c != 0 {
			return c
		}
		return strings.Compare(a.IP, b.IP)
	})
	return r
}

func poolRows(pools []v1beta1.IPAddressPool) []PoolRow {
	var out []PoolRow
	for _, p := range pools {
		valid := ""
		if c := meta.FindStatusCondition(p.Status.Conditions, "Valid"); c != nil {
			valid = string(c.Status)
		}
		fams := []struct {
			name string
			st   *v1beta1.PoolFamilyStatus
		}{{"IPv4", p.Status.IPv4}, {"IPv6", p.Status.IPv6}}
		any := false
		for _, f := range fams {
			if f.st == nil {
				continue
			}
			any = true
			out = append(out, PoolRow{Pool: p.Name, Family: f.name, Total: f.st.Total, Assigned: f.st.Assigned, Available: f.st.Available, Valid: valid})
		}
		if !any {
			// No status yet (controller not running, or pool just created).
			out = append(out, PoolRow{Pool: p.Name, Family: "-", Valid: valid, Total: -1, Assigned: -1, Available: -1})
		}
	}
	slices.SortFunc(out, func(a, b PoolRow) int {
		if c := strings.Compare(a.Pool, b.Pool); c != 0 {
			return c
		}
		return strings.Compare(a.Family, b.Family)
	})
	return out
}

func serviceRows(v *announce.View, svc *corev1.Service) []ServiceRow {
	name := svc.Namespace + "/" + svc.Name
	local := svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	lb, _ := v.Service(svc.Namespace, svc.Name)
	endpoints := 0
	var localNodes []string
	for _, c := range lb.Endpoints { // sorted by node
		endpoints += c.N
		if local && c.Node != "" && c.N > 0 {
			localNodes = append(localNodes, c.Node)
		}
	}
	ips := allocation.StatusIPs(svc)
	if len(ips) == 0 {
		return []ServiceRow{{Service: name, IP: Pending, Pool: svc.Annotations[svcrequest.AnnotationIPAllocatedFromPool],
			Mode: announce.ModeNone, Announcer: "-", Datapath: "-", Local: local, SourceRanges: "-", Answering: "-"}}
	}
	var rows []ServiceRow
	for _, ip := range ips {
		pool := v.Pool(ip)
		if pool == "" {
			pool = svc.Annotations[svcrequest.AnnotationIPAllocatedFromPool]
		}
		mode := v.ModeOf(pool, ip, svc.Labels)
		sources, problems := dp.ServiceSourceRanges(svc, ip.Is6())
		var ps []string
		for _, p := range problems {
			ps = append(ps, p.Field+": "+p.Message)
		}
		answering, msg := answeringOf(v, svc, ip, mode)
		rows = append(rows, ServiceRow{
			Answering: answering, AnsweringMessage: msg,
			Service: name, IP: ip.String(), Pool: pool, Mode: mode,
			Announcer: announcer(v, svc, ip, mode),
			Datapath:  datapath(svc, ip),
			Endpoints: endpoints, Local: local, LocalNodes: localNodes,
			SourceRanges: sources.String(), SourceRangeProblems: ps,
		})
	}
	return rows
}

// announcer describes who makes ip reachable, as the speakers published it.
func announcer(v *announce.View, svc *corev1.Service, ip netip.Addr, mode announce.Mode) string {
	var parts []string
	if mode == announce.ModeLayer2 || mode == announce.ModeBoth {
		parts = append(parts, "l2: "+l2Announcer(v, svc, ip))
	}
	if mode == announce.ModeBGP || mode == announce.ModeBoth {
		parts = append(parts, "bgp: "+bgpAnnouncer(v, ip))
	}
	if len(parts) == 0 {
		return "-"
	}
	if len(parts) == 1 {
		return strings.TrimPrefix(strings.TrimPrefix(parts[0], "l2: "), "bgp: ")
	}
	return strings.Join(parts, "; ")
}

func l2Announcer(v *announce.View, svc *corev1.Service, ip netip.Addr) string {
	st, ok := v.L2Status(svc.Namespace, svc.Name, ip)
	switch {
	case !ok:
		return "none (no ServiceL2Status yet)"
	case st.Status.Conflict != nil:
		return fmt.Sprintf("none: conflict, MAC %s already uses it (seen by %s)", st.Status.Conflict.MAC, st.Status.Node)
	case st.Status.Node != "":
		return st.Status.Node
	case st.Status.Reason != "":
		return "none: " + st.Status.Reason
	}
	return "none"
}

// answeringOf reads the reachability check: the ServiceL2Status's
// Answering condition of a layer 2 address, and the ServiceBGPStatus of one
// advertised over BGP, which lists only the nodes where it does not answer
// (nodes where it answers write nothing), so a BGP address no node
// reports shows "-", one some node reports "NO".
func answeringOf(v *announce.View, svc *corev1.Service, ip netip.Addr, mode announce.Mode) (string, string) {
	answering, msg := "-", ""
	if mode == announce.ModeLayer2 || mode == announce.ModeBoth {
		answering, msg = l2Answering(v, svc, ip)
	}
	if mode != announce.ModeBGP && mode != announce.ModeBoth {
		return answering, msg
	}
	failing := v.BGPNotAnswering(svc.Namespace, svc.Name, ip)
	if len(failing) == 0 {
		return answering, msg
	}
	var parts []string
	for _, f := range failing {
		parts = append(parts, "bgp node "+f.Node+": "+f.Message)
	}
	if answering == "NO" {
		parts = append([]string{"l2: " + msg}, parts...)
	}
	return "NO", strings.Join(parts, "; ")
}

func l2Answering(v *announce.View, svc *corev1.Service, ip netip.Addr) (string, string) {
	st, ok := v.L2Status(svc.Namespace, svc.Name, ip)
	if !ok || st.Status.Node == "" {
		return "-", ""
	}
	c := meta.FindStatusCondition(st.Status.Conditions, reach.ConditionType)
	switch {
	case c == nil:
		return "-", ""
	case c.Status == metav1.ConditionTrue:
		return "yes", c.Message
	case c.Status == metav1.ConditionFalse:
		return "NO", c.Message
	}
	return "unknown", c.Message
}

func bgpAnnouncer(v *announce.View, ip netip.Addr) string {
	nodes, _ := v.BGP(ip)
	var parts []string
	for _, n := range nodes {
		if len(n.Established) > 0 {
			parts = append(parts, n.Node+"→"+strings.Join(n.Established, "+"))
		}
	}
	if len(parts) == 0 {
		return "none (no established session of an eligible node)"
	}
	return strings.Join(parts, ",")
}

// datapath reads ipMode: Proxy means the IronLB datapath carries the
// traffic; VIP (the API server's default) leaves it to kube-proxy.
func datapath(svc *corev1.Service, ip netip.Addr) string {
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if in.IP != ip.String() && canonical(in.IP) != ip.String() {
			continue
		}
		if in.IPMode != nil && *in.IPMode == corev1.LoadBalancerIPModeProxy {
			return "ironlb"
		}
		return "kube-proxy"
	}
	return "kube-proxy"
}

func canonical(s string) string {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String()
	}
	return s
}

// count formats a pool count; -1 (no status yet) prints "?".
func count(n int64) string {
	if n < 0 {
		return "?"
	}
	return strconv.FormatInt(n, 10)
}
