package why

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/controller/allocation"
	"github.com/ironlb/ironlb/ironlbctl/announce"
	"github.com/ironlb/ironlb/ironlbctl/snapshot"
	"github.com/ironlb/ironlb/pkg/ipam"
	"github.com/ironlb/ironlb/pkg/svcrequest"
)

// Options are the controller settings that decide which Services it serves
// (its -lb-class and -ignore-classless flags).
type Options struct {
	LoadBalancerClass string
	IgnoreClassless   bool
	// Client, when valid, is a client address to check against the
	// Service's source ranges (ironlbctl why --client).
	Client netip.Addr
	// Now is the reader's clock, to tell a Lease no speaker renews any
	// more (zero: not checked).
	Now time.Time
}

// Handles is the controller's own rule, for these options.
func (o Options) Handles(svc *corev1.Service) bool {
	r := &allocation.Reconciler{LoadBalancerClass: o.class(), IgnoreClassless: o.IgnoreClassless}
	return r.Handles(svc)
}

func (o Options) class() string {
	if o.LoadBalancerClass == "" {
		return allocation.DefaultLoadBalancerClass
	}
	return o.LoadBalancerClass
}

// Explain returns why Service namespace/name has no address or is not
// announced; when all is well, one Announced reason per address saying by
// whom. With o.Client, reasons that the client is outside the Service's
// source ranges come first. Endpoints the datapath sets aside because the
// speakers hold their node dead follow the addresses' reasons
// (EndpointsSetAside). The list is never empty.
func Explain(s *snapshot.Snapshot, namespace, name string, o Options) []Reason {
	idx := slices.IndexFunc(s.Services, func(svc corev1.Service) bool { return svc.Namespace == namespace && svc.Name == name })
	if idx < 0 {
		return []Reason{{Code: ServiceNotFound, Message: fmt.Sprintf("Service %s/%s does not exist", namespace, name)}}
	}
	svc := &s.Services[idx]
	if r, ok := classReason(svc, o); !ok {
		return []Reason{r}
	}
	cfg, _ := config.Compile(s.Resources)
	invalid := configReasons(cfg)
	ips := allocation.StatusIPs(svc)
	if len(ips) == 0 {
		return append([]Reason{allocationReason(s, cfg, svc, o)}, invalid...)
	}
	if _, ok := svc.Annotations[svcrequest.AnnotationIPAllocatedFromPool]; !ok {
		return []Reason{{Code: NotOurAddress, Message: fmt.Sprintf(
			"Service %s/%s has %s in status.loadBalancer.ingress but no annotation %s: IronLB did not assign it and the speakers do not announce it",
			namespace, name, joinIPs(ips), svcrequest.AnnotationIPAllocatedFromPool)}}
	}
	view := announce.New(cfg, s)
	var out []Reason
	if o.Client.IsValid() {
		out = sourceReasons(svc, ips, o.Client)
	}
	for _, ip := range ips {
		out = append(out, explainIP(view, svc, ip)...)
	}
	out = append(out, setAsideReasons(s, svc, o.Now)...)
	return append(out, invalid...)
}

// classReason says whether the controller serves svc, and if not why.
func classReason(svc *corev1.Service, o Options) (Reason, bool) {
	key := svc.Namespace + "/" + svc.Name
	switch {
	case svc.Spec.Type != corev1.ServiceTypeLoadBalancer:
		return Reason{Code: NotLoadBalancer, Message: fmt.Sprintf("Service %s has spec.type %q, not LoadBalancer", key, svc.Spec.Type)}, false
	case svc.Spec.LoadBalancerClass == nil && o.IgnoreClassless:
		return Reason{Code: ClasslessIgnored, Message: fmt.Sprintf(
			"Service %s has no spec.loadBalancerClass and the controller runs with -ignore-classless: set spec.loadBalancerClass to %q", key, o.class())}, false
	case svc.Spec.LoadBalancerClass != nil && *svc.Spec.LoadBalancerClass != o.class():
		return Reason{Code: OtherClass, Message: fmt.Sprintf(
			"Service %s has spec.loadBalancerClass %q; IronLB handles %q (controller flag -lb-class)", key, *svc.Spec.LoadBalancerClass, o.class())}, false
	}
	return Reason{}, o.Handles(svc)
}

func configReasons(cfg *config.Config) []Reason {
	var out []Reason
	for _, st := range cfg.Invalid() {
		r := Reason{Code: InvalidConfig, Message: fmt.Sprintf("%s %q is invalid; %s", st.Kind, st.Name, st.Summary())}
		for _, e := range st.Errors {
			r.Details = append(r.Details, e.Error())
		}
		out = append(out, r)
	}
	return out
}

// allocationReason replays the controller: every other Service's address
// restored from its status (oldest first, as on a controller start), then
// this Service's request.
func allocationReason(s *snapshot.Snapshot, cfg *config.Config, svc *corev1.Service, o Options) Reason {
	nsLabels := s.NamespaceLabels()
	req, _, err := svcrequest.FromService(svc, nsLabels[svc.Namespace])
	if err != nil {
		return Reason{Code: InvalidRequest, Message: fmt.Sprintf("the Service's request is invalid: %v", err)}
	}
	alloc := ipam.New()
	alloc.SetPools(allocation.IPAMPools(cfg))
	others := slices.DeleteFunc(slices.Clone(s.Services), func(x corev1.Service) bool {
		return x.Namespace == svc.Namespace && x.Name == svc.Name
	})
	for _, r := range allocation.RestoreOrder(others, o.Handles, nsLabels) {
		_, _ = alloc.Assign(r.Request, r.IPs) // an unrestorable Service holds nothing
	}
	res, err := alloc.Allocate(req)
	err = allocation.ExplainInvalid(err, cfg)
	if err == nil {
		return Reason{Code: AwaitingAddress, Message: fmt.Sprintf(
			"the allocator would assign %s from IPAddressPool %q, but status.loadBalancer.ingress is empty: is the controller running and leading?",
			joinIPs(res.IPs), res.Pool)}
	}
	var ae *ipam.AllocationError
	if !errors.As(err, &ae) {
		return Reason{Code: AllocationFailed, Message: err.Error()}
	}
	r := Reason{Message: ae.Error()}
	switch ae.Reason {
	case ipam.PoolNotFound:
		r.Code = PoolNotFound
		r.Message = fmt.Sprintf("annotation %s asks for IPAddressPool %q, which does not exist", annotationName(svc, svcrequest.AnnotationAddressPool), req.RequestedPool)
	case ipam.PoolInvalid:
		r.Code = PoolNotFound
		r.Message = fmt.Sprintf("annotation %s asks for IPAddressPool %q, which is invalid and not in use: %s", annotationName(svc, svcrequest.AnnotationAddressPool), req.RequestedPool, ae.Detail)
	case ipam.NoMatchingPool, ipam.PoolNotAllowed:
		r.Code = NoPoolMatches
		r.Details = poolMismatches(cfg, req)
	case ipam.FamilyUnavailable:
		r.Code = FamilyUnavailable
		r.Details = poolMismatches(cfg, req)
	case ipam.PoolExhausted:
		r.Code = PoolExhausted
		r.Details = poolUsage(alloc, ae.Pools)
	case ipam.IPInUse, ipam.SharingConflict:
		r.Code = IPInUse
		r.Message = fmt.Sprintf("requested address %s (%s) is held by Service %s", ae.IP, requestSource(svc), holder(ae))
		if ae.Reason == ipam.SharingConflict {
			r.Message += fmt.Sprintf(" and cannot be shared with it (annotation %s, ports, or Local endpoints differ)", annotationName(svc, svcrequest.AnnotationAllowSharedIP))
		}
	case ipam.IPNotInAnyPool:
		r.Code = IPNotInAnyPool
		r.Message = fmt.Sprintf("requested address %s (%s) is in no IPAddressPool spec.addresses", ae.IP, requestSource(svc))
		if len(ae.Pools) > 0 {
			r.Message = fmt.Sprintf("requested address %s (%s) is not in IPAddressPool %s spec.addresses", ae.IP, requestSource(svc), strings.Join(ae.Pools, ", "))
		}
	default:
		r.Code = AllocationFailed
	}
	return r
}

func holder(ae *ipam.AllocationError) string {
	if ae.Holder == nil {
		return "(unknown)"
	}
	return ae.Holder.String()
}

func requestSource(svc *corev1.Service) string {
	if _, name, _ := svcrequest.Lookup(svc.Annotations, svcrequest.AnnotationLoadBalancerIPs); name != "" {
		return "annotation " + name
	}
	return "spec.loadBalancerIP"
}

// annotationName is the spelling of the request annotation ours that svc
// sets (ours when none is set).
func annotationName(svc *corev1.Service, ours string) string {
	if _, name, _ := svcrequest.Lookup(svc.Annotations, ours); name != "" {
		return name
	}
	return ours
}

// poolMismatches says, pool by pool, why none serves req. It mirrors the
// allocator's unexported AllocationPolicy.allows over the compiled pools
// (see the report: ipam does not export it).
func poolMismatches(cfg *config.Config, req ipam.Request) []string {
	var out []string
	for _, p := range cfg.Pools() {
		if req.RequestedPool != "" && p.Name != req.RequestedPool {
			continue
		}
		pre := fmt.Sprintf("IPAddressPool %q: ", p.Name)
		var missing []string
		for _, f := range req.Families {
			if f == ipam.IPv4 && len(p.IPv4) == 0 || f == ipam.IPv6 && len(p.IPv6) == 0 {
				missing = append(missing, f.String())
			}
		}
		switch {
		case !p.AutoAssign && req.RequestedPool == "" && len(req.RequestedIPs) == 0:
			out = append(out, pre+"spec.autoAssign is false and the Service does not ask for it (annotation "+svcrequest.AnnotationAddressPool+")")
		case p.Allocation != nil && !namespaceAllowed(p.Allocation, req):
			out = append(out, pre+fmt.Sprintf("spec.serviceAllocation.namespaces %v / namespaceSelectors do not admit namespace %q (labels %v)",
				p.Allocation.Namespaces, req.Service.Namespace, req.NamespaceLabels))
		case p.Allocation != nil && len(p.Allocation.ServiceSelectors) > 0 && !p.Allocation.ServiceSelectors.MatchesAny(req.Labels):
			out = append(out, pre+fmt.Sprintf("spec.serviceAllocation.serviceSelectors match none of the Service's labels %v", req.Labels))
		case len(missing) == len(req.Families) || req.FamilyPolicy == ipam.RequireDualStack && len(missing) > 0:
			out = append(out, pre+fmt.Sprintf("spec.addresses has no %s range", strings.Join(missing, "/")))
		}
	}
	if len(out) == 0 && len(cfg.PoolNames()) == 0 {
		out = append(out, "there is no IPAddressPool")
	}
	return out
}

func namespaceAllowed(a *config.Allocation, req ipam.Request) bool {
	if len(a.Namespaces) == 0 && len(a.NamespaceSelectors) == 0 {
		return true
	}
	return slices.Contains(a.Namespaces, req.Service.Namespace) || a.NamespaceSelectors.MatchesAny(req.NamespaceLabels)
}

func poolUsage(alloc *ipam.Allocator, pools []string) []string {
	var out []string
	for _, p := range pools {
		for f, st := range alloc.Stats(p) {
			out = append(out, fmt.Sprintf("IPAddressPool %q %s: %d of %d addresses assigned, %d available", p, f, st.Assigned, st.Total, st.Available))
		}
	}
	slices.Sort(out)
	return out
}

func joinIPs(ips []netip.Addr) string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.String()
	}
	return strings.Join(s, ", ")
}
