package healthcheck

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	netutils "k8s.io/utils/net"

	"github.com/ironlb/ironlb/datapath"
	"github.com/ironlb/ironlb/pkg/lbstate"
	"github.com/ironlb/ironlb/pkg/readiness"
)

// Entry is what one health check port answers for.
type Entry struct {
	Service        types.NamespacedName
	LocalEndpoints int
}

// Desired returns the health check ports this node must serve, keyed by
// port, and the bad input it skipped.
//
// A Service gets a port when kube-proxy would give it one
// (apiservice.NeedsHealthCheck and proxyutil.ShouldSkipService): type
// LoadBalancer, externalTrafficPolicy Local, a cluster IP (not "" or
// "None"), and a non-zero spec.healthCheckNodePort.
//
// LocalEndpoints counts what kube-proxy's EndpointsMap.LocalReadyEndpoints
// counts; see countLocalReady.
//
// The API server allocates health check ports uniquely, but if two Services
// claim one port anyway the one first in namespace/name order keeps it and
// the other is reported, so every speaker makes the same choice.
func Desired(svcs []*corev1.Service, epSlices []*discoveryv1.EndpointSlice, node string) (map[uint16]Entry, []datapath.Problem) {
	var problems []datapath.Problem
	problem := func(kind string, obj types.NamespacedName, field, format string, args ...any) {
		problems = append(problems, datapath.Problem{Kind: kind, Object: obj, Field: field, Message: fmt.Sprintf(format, args...)})
	}

	var cands []candidate
	for _, svc := range svcs {
		c, ok, bad := candidateOf(svc)
		if bad != nil {
			problems = append(problems, *bad)
		}
		if ok {
			cands = append(cands, c)
		}
	}
	slices.SortFunc(cands, func(a, b candidate) int { return lbstate.CompareKeys(a.name, b.name) })

	byService := slicesByService(epSlices)
	out := make(map[uint16]Entry, len(cands))
	for _, c := range cands {
		if prev, taken := out[c.port]; taken {
			problem("Service", c.name, "spec.healthCheckNodePort",
				"port %d is already the health check port of Service %s; not served for this Service", c.port, prev.Service)
			continue
		}
		n, bad := c.localEndpoints(byService[c.name], node)
		problems = append(problems, bad...)
		out[c.port] = Entry{Service: c.name, LocalEndpoints: n}
	}
	slices.SortFunc(problems, func(a, b datapath.Problem) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Object.Namespace, b.Object.Namespace),
			cmp.Compare(a.Object.Name, b.Object.Name), cmp.Compare(a.Field, b.Field), cmp.Compare(a.Message, b.Message))
	})
	return out, problems
}

// candidate is a Service that wants a health check port.
type candidate struct {
	svc      *corev1.Service
	name     types.NamespacedName
	port     uint16
	families []discoveryv1.AddressType
}

// candidateOf says whether svc wants a health check port, and what is
// wrong with it when it should have one and cannot.
func candidateOf(svc *corev1.Service) (candidate, bool, *datapath.Problem) {
	if svc == nil || svc.Spec.Type != corev1.ServiceTypeLoadBalancer ||
		svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
		return candidate{}, false, nil
	}
	name := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
	families := serviceFamilies(svc)
	if len(families) == 0 {
		return candidate{}, false, nil // headless or not yet allocated: kube-proxy skips it too
	}
	bad := func(format string, args ...any) *datapath.Problem {
		return &datapath.Problem{Kind: "Service", Object: name, Field: "spec.healthCheckNodePort", Message: fmt.Sprintf(format, args...)}
	}
	switch p := svc.Spec.HealthCheckNodePort; {
	case p == 0:
		// kube-proxy logs "Service has no healthcheck nodeport" and
		// serves nothing for it.
		return candidate{}, false, bad("externalTrafficPolicy is Local but no health check node port is allocated")
	case p < 0 || p > 65535:
		return candidate{}, false, bad("%d is not a port number", p)
	}
	return candidate{svc: svc, name: name, port: uint16(svc.Spec.HealthCheckNodePort), families: families}, true, nil
}

// localEndpoints is the count the Service's port answers with on node:
// the larger of its families' counts (see countLocalReady), with the bad
// endpoints it skipped.
func (c candidate) localEndpoints(own []*discoveryv1.EndpointSlice, node string) (int, []datapath.Problem) {
	var problems []datapath.Problem
	n := 0
	for _, fam := range c.families {
		got := countLocalReady(own, c.svc.Spec.Ports, fam, node, func(slice *discoveryv1.EndpointSlice, field, msg string) {
			problems = append(problems, datapath.Problem{Kind: "EndpointSlice", Object: types.NamespacedName{Namespace: slice.Namespace, Name: slice.Name}, Field: field, Message: msg})
		})
		n = max(n, got)
	}
	return n, problems
}

// serviceFamilies returns the address families the Service has a cluster IP
// in. kube-proxy runs one proxier per family, and a proxier ignores a
// Service without a cluster IP of its family (proxyutil.GetClusterIPByFamily).
func serviceFamilies(svc *corev1.Service) []discoveryv1.AddressType {
	if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		return nil
	}
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 {
		ips = []string{svc.Spec.ClusterIP}
	}
	var out []discoveryv1.AddressType
	for _, ip := range ips {
		fam := discoveryv1.AddressTypeIPv4
		if netutils.IsIPv6String(ip) {
			fam = discoveryv1.AddressTypeIPv6
		}
		if !slices.Contains(out, fam) {
			out = append(out, fam)
		}
	}
	return out
}

// slicesByService groups EndpointSlices by the Service named in their
// kubernetes.io/service-name label, as kube-proxy's endpointSliceCacheKeys
// does; slices without it belong to no Service.
func slicesByService(all []*discoveryv1.EndpointSlice) map[types.NamespacedName][]*discoveryv1.EndpointSlice {
	out := map[types.NamespacedName][]*discoveryv1.EndpointSlice{}
	for _, s := range all {
		if s == nil || s.Namespace == "" || s.Name == "" {
			continue
		}
		svc := s.Labels[discoveryv1.LabelServiceName]
		if svc == "" {
			continue
		}
		key := types.NamespacedName{Namespace: s.Namespace, Name: svc}
		out[key] = append(out[key], s)
	}
	return out
}

// countLocalReady counts the distinct IPs of one family that back the
// Service with a ready endpoint on node. Which endpoints serve the Service
// and whether they are ready is pkg/readiness's rule, the one announcing
// and forwarding use; the rest follows kube-proxy v1.34.2:
//
//   - pkg/proxy/endpointslicecache.go addEndpoints: an endpoint is local when
//     nodeName is set and equals this node's name (never when the node name
//     is empty); only the first address is used; endpoints without
//     addresses are ignored;
//   - pkg/proxy/endpointschangetracker.go getLocalReadyEndpointIPs: only
//     ready endpoints count. Serving-but-terminating endpoints do NOT count,
//     even when the node has nothing else ("Terminating endpoints may still
//     serve traffic but the health check signal should fail if there are only
//     terminating endpoints on a node"). The fallback to serving-terminating
//     endpoints in pkg/proxy/topology.go applies to forwarding only, not to
//     the health check;
//   - LocalReadyEndpoints counts IPs, not IP:port pairs, so a pod behind two
//     Service ports counts once.
//
// One difference: kube-proxy counts an endpoint of any named slice port,
// while here its slice must carry one of the Service's ports (name and
// protocol), since neither kube-proxy nor IronLB's datapath forwards the
// Service's traffic to an endpoint without one; a node whose only local
// endpoints lack the port would pass the check and then drop the traffic.
//
// A proxier sees only slices of its own address type (FQDN slices never).
// kube-proxy's two proxiers each serve their own count on their own node
// addresses; IronLB serves both families on one socket, so Desired takes the
// larger of the two counts.
func countLocalReady(epSlices []*discoveryv1.EndpointSlice, ports []corev1.ServicePort, fam discoveryv1.AddressType, node string, bad func(*discoveryv1.EndpointSlice, string, string)) int {
	if node == "" {
		return 0
	}
	seen := map[netip.Addr]bool{}
	for _, s := range epSlices {
		if s.AddressType != fam || !readiness.Carries(s, ports) {
			continue
		}
		for i, ep := range s.Endpoints {
			if len(ep.Addresses) == 0 || ep.NodeName == nil || *ep.NodeName != node || !readiness.Of(ep.Conditions).Ready {
				continue
			}
			ip, skip := readiness.Address(s, ep)
			if skip != readiness.OK {
				bad(s, "endpoints["+strconv.Itoa(i)+"].addresses[0]", fmt.Sprintf("%q is not an %s address", ep.Addresses[0], fam))
				continue
			}
			seen[ip] = true
		}
	}
	return len(seen)
}
