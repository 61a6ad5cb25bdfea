// Package lbstate condenses LoadBalancer Services and their EndpointSlices
// into what the speakers decide with: each Service's external IPs, its
// traffic policy, and which nodes have usable endpoints. Pure: no clients,
// no I/O, so layer 2, BGP and their tests all read the cluster the same way.
package lbstate

import (
	"maps"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/pkg/readiness"
	"github.com/ironlb/ironlb/pkg/svcrequest"
)

// Service is one LoadBalancer Service with addresses IronLB assigned.
type Service struct {
	Key  types.NamespacedName
	IPs  []netip.Addr // status.loadBalancer.ingress, primary family first
	Pool string       // ironlb.io/ip-allocated-from-pool
	// Local is externalTrafficPolicy: Local: only nodes with a usable local
	// endpoint may attract traffic.
	Local bool
	// Endpoints counts usable endpoints per node name ("" for endpoints
	// without a node), by pkg/readiness's rule: ready endpoints of a slice
	// carrying one of the Service's ports; when the Service has no ready
	// endpoint at all, its serving-and-terminating ones count instead, as
	// kube-proxy does (KEP-1669), so traffic drains instead of failing.
	Endpoints readiness.NodeCounts
	// Labels are the Service's labels, which advertisements select on
	// (shared with the informer's object: never changed).
	Labels map[string]string
}

// HasEndpoints reports whether any endpoint is usable.
func (s Service) HasEndpoints() bool {
	for _, c := range s.Endpoints {
		if c.N > 0 {
			return true
		}
	}
	return false
}

// HasLocalEndpoints reports whether node has a usable endpoint.
func (s Service) HasLocalEndpoints(node string) bool { return s.Endpoints.Of(node) > 0 }

// Condense returns one Service as the speakers decide with, given its own
// EndpointSlices (those labelled kubernetes.io/service-name with its name),
// and false when it is not one IronLB assigned addresses to.
func Condense(svc *corev1.Service, own []*discoveryv1.EndpointSlice) (Service, bool) {
	pool, ok := svc.Annotations[svcrequest.AnnotationIPAllocatedFromPool]
	if !ok || svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return Service{}, false
	}
	var ips []netip.Addr
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if ip, err := netip.ParseAddr(in.IP); err == nil {
			ips = append(ips, ip)
		}
	}
	if len(ips) == 0 {
		return Service{}, false
	}
	return Service{
		Key:       types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name},
		IPs:       ips,
		Pool:      pool,
		Local:     svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal,
		Endpoints: readiness.UsableByNode(svc.Spec.Ports, own),
		Labels:    svc.Labels,
	}, true
}

// Equal reports whether two condensed Services decide the same.
func (s Service) Equal(o Service) bool {
	return s.Key == o.Key && slices.Equal(s.IPs, o.IPs) && s.Pool == o.Pool && s.Local == o.Local &&
		slices.Equal(s.Endpoints, o.Endpoints) && maps.Equal(s.Labels, o.Labels)
}

// LabelsOf lists the Services' labels, in order.
func LabelsOf(svcs []Service) []map[string]string {
	out := make([]map[string]string, len(svcs))
	for i, s := range svcs {
		out[i] = s.Labels
	}
	return out
}

// Build returns the Services IronLB assigned addresses to, sorted by key.
// A Service counts when its status shows an address and it carries the
// pool annotation the controller writes with it.
func Build(svcs []*corev1.Service, eps []*discoveryv1.EndpointSlice) []Service {
	bySvc := map[types.NamespacedName][]*discoveryv1.EndpointSlice{}
	for _, es := range eps {
		name := es.Labels[discoveryv1.LabelServiceName]
		if name == "" {
			continue
		}
		k := types.NamespacedName{Namespace: es.Namespace, Name: name}
		bySvc[k] = append(bySvc[k], es)
	}
	var out []Service
	for _, svc := range svcs {
		k := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
		if s, ok := Condense(svc, bySvc[k]); ok {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b Service) int { return CompareKeys(a.Key, b.Key) })
	return out
}
