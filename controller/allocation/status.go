package allocation

import (
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/pkg/ipam"
	"github.com/ironlb/ironlb/pkg/svcrequest"
)

// StatusIPs returns the addresses in a Service's status.loadBalancer.ingress
// (hostnames and unparsable entries are ignored: IronLB never writes them).
func StatusIPs(svc *corev1.Service) []netip.Addr {
	var ips []netip.Addr
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if ip, err := netip.ParseAddr(in.IP); err == nil {
			ips = append(ips, ip)
		}
	}
	return ips
}

// desiredIngress is the status.loadBalancer.ingress for an allocation.
func desiredIngress(res ipam.Result, mode corev1.LoadBalancerIPMode) []corev1.LoadBalancerIngress {
	if len(res.IPs) == 0 {
		return nil
	}
	in := make([]corev1.LoadBalancerIngress, len(res.IPs))
	for i, ip := range res.IPs {
		in[i] = corev1.LoadBalancerIngress{IP: ip.String(), IPMode: &mode}
	}
	return in
}

// statusUpToDate reports whether svc already shows res. The API server
// defaults a missing ipMode to VIP, so a missing ipMode counts as VIP and a
// Service whose status we wrote earlier is never rewritten for nothing.
func statusUpToDate(svc *corev1.Service, res ipam.Result, mode corev1.LoadBalancerIPMode) bool {
	if svc.Annotations[svcrequest.AnnotationIPAllocatedFromPool] != res.Pool {
		return false
	}
	want := desiredIngress(res, mode)
	have := svc.Status.LoadBalancer.Ingress
	return slices.EqualFunc(have, want, func(h, w corev1.LoadBalancerIngress) bool {
		hm := corev1.LoadBalancerIPModeVIP
		if h.IPMode != nil {
			hm = *h.IPMode
		}
		return h.IP == w.IP && h.Hostname == "" && hm == *w.IPMode && len(h.Ports) == 0
	})
}

// withStatus returns a copy of svc showing res: ingress and the pool
// annotation (removed when res is empty).
func withStatus(svc *corev1.Service, res ipam.Result, mode corev1.LoadBalancerIPMode) *corev1.Service {
	out := svc.DeepCopy()
	out.Status.LoadBalancer.Ingress = desiredIngress(res, mode)
	if res.Pool == "" {
		delete(out.Annotations, svcrequest.AnnotationIPAllocatedFromPool)
		return out
	}
	if out.Annotations == nil {
		out.Annotations = map[string]string{}
	}
	out.Annotations[svcrequest.AnnotationIPAllocatedFromPool] = res.Pool
	return out
}
