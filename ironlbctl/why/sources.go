package why

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/datapath"
)

// sourceReasons says, for each of the Service's addresses of the client's
// family, whether the datapath drops the client's new connections because
// it is outside the Service's source ranges. It replays the datapath's own
// decision (datapath.ServiceSourceRanges), so entries the datapath cannot
// use (a malformed CIDR) are named in the details.
func sourceReasons(svc *corev1.Service, ips []netip.Addr, client netip.Addr) []Reason {
	client = client.Unmap()
	field := "spec.loadBalancerSourceRanges"
	if len(svc.Spec.LoadBalancerSourceRanges) == 0 {
		field = "annotation " + datapath.AnnotationSourceRanges
	}
	var out []Reason
	for _, ip := range ips {
		if ip.Is6() != client.Is6() {
			continue
		}
		s, problems := datapath.ServiceSourceRanges(svc, ip.Is6())
		if s.Admits(client) {
			continue
		}
		r := Reason{Code: ClientOutsideSourceRanges, IP: ip.String(), Message: fmt.Sprintf(
			"client %s is outside the source ranges of Service %s/%s (%s): the datapath drops its new connections to %s",
			client, svc.Namespace, svc.Name, field, ip)}
		r.Details = append(r.Details, "admitted: "+s.String())
		for _, p := range problems {
			r.Details = append(r.Details, p.Field+": "+p.Message)
		}
		out = append(out, r)
	}
	return out
}
