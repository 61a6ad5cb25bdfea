package datapath

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Inputs is everything Desired looks at.
type Inputs struct {
	// Node is this node's name, compared with EndpointSlice nodeName and
	// with endpoints' hints.forNodes.
	Node string
	// Zone is this node's topology.kubernetes.io/zone label ("" if none),
	// compared with endpoints' hints.forZones.
	Zone string
	// Services with IronLB VIPs in status.loadBalancer.ingress[].ip; the
	// caller filters by load balancer class. Each ingress IP is a VIP.
	Services []*corev1.Service
	// EndpointSlices of those Services (others are ignored); they are
	// matched by the kubernetes.io/service-name label and namespace.
	EndpointSlices []*discoveryv1.EndpointSlice
	// DeadNodes are the nodes the speakers' liveness protocol holds dead
	// (their link or their speaker is gone): their endpoints get no new
	// connections while a ready endpoint on another node is left, long
	// before Kubernetes marks them not ready.
	DeadNodes map[string]bool
}

// Desired computes the datapath state for one node. Pure, deterministic
// (the order of the input slices does not matter), no I/O.
func Desired(in Inputs) State {
	st := State{Services: map[ServiceKey]VirtualService{}}
	report := func(p Problem) { st.Problems = append(st.Problems, p) }

	slicesBySvc := map[types.NamespacedName][]*discoveryv1.EndpointSlice{}
	for _, sl := range in.EndpointSlices {
		if sl == nil {
			continue
		}
		name := sl.Labels[discoveryv1.LabelServiceName]
		if name == "" {
			continue
		}
		k := types.NamespacedName{Namespace: sl.Namespace, Name: name}
		slicesBySvc[k] = append(slicesBySvc[k], sl)
	}
	for _, s := range slicesBySvc {
		slices.SortFunc(s, func(a, b *discoveryv1.EndpointSlice) int { return cmp.Compare(a.Name, b.Name) })
	}

	// Older Services win conflicts over a ServiceKey, as the first to claim
	// it; ties break by name so the result does not depend on input order.
	svcs := make([]*corev1.Service, 0, len(in.Services))
	for _, s := range in.Services {
		if s != nil {
			svcs = append(svcs, s)
		}
	}
	slices.SortFunc(svcs, func(a, b *corev1.Service) int {
		if c := a.CreationTimestamp.Time.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	owners := map[ServiceKey]types.NamespacedName{}
	for _, svc := range svcs {
		addService(&st, owners, topology{node: in.Node, zone: in.Zone, dead: in.DeadNodes}, svc, slicesBySvc[types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}], report)
	}
	slices.SortFunc(st.Problems, compareProblems)
	st.Problems = slices.CompactFunc(st.Problems, func(a, b Problem) bool { return compareProblems(a, b) == 0 })
	return st
}

func addService(st *State, owners map[ServiceKey]types.NamespacedName, topo topology, svc *corev1.Service, epSlices []*discoveryv1.EndpointSlice, report func(Problem)) {
	owner := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
	problem := func(field, msg string) {
		report(Problem{Kind: "Service", Object: owner, Field: field, Message: msg})
	}
	vips := serviceVIPs(svc, problem)
	if len(vips) == 0 {
		return
	}
	sched, flags, sp := parseScheduler(svc.Annotations)
	for _, p := range sp {
		problem(p[0], p[1])
	}
	persistence := affinityTimeout(svc, problem)
	localOnly := svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	// One filter per family, computed once: its problems are reported
	// once per Service, not once per port and VIP.
	sources := map[bool]SourceRanges{}
	for _, vip := range vips {
		if _, done := sources[vip.Is6()]; !done {
			sources[vip.Is6()] = parseSourceRanges(svc, vip.Is6(), problem)
		}
	}

	for i, sp := range svc.Spec.Ports {
		field := fmt.Sprintf("spec.ports[%d]", i)
		proto := sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		if proto != corev1.ProtocolTCP && proto != corev1.ProtocolUDP && proto != corev1.ProtocolSCTP {
			problem(field+".protocol", fmt.Sprintf("unsupported protocol %q; port skipped", sp.Protocol))
			continue
		}
		if sp.Port < 1 || sp.Port > 65535 {
			problem(field+".port", fmt.Sprintf("%d is not a port number; port skipped", sp.Port))
			continue
		}
		for _, vip := range vips {
			key := ServiceKey{VIP: vip, Port: uint16(sp.Port), Protocol: Protocol(proto)}
			if prev, taken := owners[key]; taken {
				if prev == owner {
					problem(field, fmt.Sprintf("%s is listed twice; later entry skipped", key))
				} else {
					problem(field, fmt.Sprintf("%s is already served for Service %s; skipped", key, prev))
				}
				continue
			}
			owners[key] = owner
			eps := collectEndpoints(topo.node, epSlices, sp.Name, proto, vip.Is6(), report)
			st.Services[key] = VirtualService{
				Owner:       owner,
				PortName:    sp.Name,
				Scheduler:   sched,
				Flags:       flags,
				Persistence: persistence,
				Masquerade:  !localOnly,
				LocalOnly:   localOnly,
				Sources:     sources[vip.Is6()],
				Backends:    backendsFor(eps, localOnly, topo),
			}
		}
	}
}

// VIPs returns the addresses Desired serves for svc: its ingress IPs that
// can be VIPs, unmapped, deduplicated, in status order.
func VIPs(svc *corev1.Service) []netip.Addr {
	return serviceVIPs(svc, func(string, string) {})
}

// serviceVIPs returns the Service's ingress IPs, unmapped, deduplicated,
// in status order.
func serviceVIPs(svc *corev1.Service, problem func(field, msg string)) []netip.Addr {
	var out []netip.Addr
	for i, ing := range svc.Status.LoadBalancer.Ingress {
		if ing.IP == "" {
			continue // a hostname-only ingress is not ours to serve
		}
		field := fmt.Sprintf("status.loadBalancer.ingress[%d].ip", i)
		a, err := netip.ParseAddr(ing.IP)
		if err != nil || a.Zone() != "" {
			problem(field, fmt.Sprintf("%q is not an IP address; skipped", ing.IP))
			continue
		}
		a = a.Unmap()
		if a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() {
			problem(field, fmt.Sprintf("%s cannot be a VIP; skipped", a))
			continue
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// maxAffinitySeconds is the API's limit for
// sessionAffinityConfig.clientIP.timeoutSeconds (one day).
const maxAffinitySeconds = 86400

// affinityTimeout returns the ClientIP affinity timeout, 0 without affinity.
func affinityTimeout(svc *corev1.Service, problem func(field, msg string)) time.Duration {
	switch svc.Spec.SessionAffinity {
	case "", corev1.ServiceAffinityNone:
		return 0
	case corev1.ServiceAffinityClientIP:
	default:
		problem("spec.sessionAffinity", fmt.Sprintf("unknown value %q; no affinity", svc.Spec.SessionAffinity))
		return 0
	}
	cfg := svc.Spec.SessionAffinityConfig
	if cfg == nil || cfg.ClientIP == nil || cfg.ClientIP.TimeoutSeconds == nil {
		return DefaultPersistenceTimeout
	}
	t := *cfg.ClientIP.TimeoutSeconds
	if t < 1 || t > maxAffinitySeconds {
		problem("spec.sessionAffinityConfig.clientIP.timeoutSeconds",
			fmt.Sprintf("%d is outside 1..%d; using %d", t, maxAffinitySeconds, int(DefaultPersistenceTimeout/time.Second)))
		return DefaultPersistenceTimeout
	}
	return time.Duration(t) * time.Second
}
