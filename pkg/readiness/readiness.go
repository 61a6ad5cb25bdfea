package readiness

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// State is an endpoint's conditions with kube-proxy's defaults applied.
type State struct{ Ready, Serving, Terminating bool }

// Of reads an endpoint's conditions: nil ready and serving mean true (the
// API contract), nil terminating means false.
func Of(c discoveryv1.EndpointConditions) State {
	return State{
		Ready:       c.Ready == nil || *c.Ready,
		Serving:     c.Serving == nil || *c.Serving,
		Terminating: c.Terminating != nil && *c.Terminating,
	}
}

// Fallback reports whether the endpoint takes new connections only while
// no endpoint in scope is ready: serving and terminating, not ready.
func (s State) Fallback() bool { return !s.Ready && s.Serving && s.Terminating }

// Rank orders copies of one endpoint listed in several slices (as while
// the EndpointSlice controller moves it): the best-serving copy wins.
func (s State) Rank() int {
	switch {
	case s.Ready:
		return 2
	case s.Serving:
		return 1
	}
	return 0
}

// SlicePort finds the slice's port for a Service port: same name (unnamed
// is ""; a nil name never matches, as kube-proxy ignores such ports), same
// protocol (unset is TCP), and a port number.
func SlicePort(sl *discoveryv1.EndpointSlice, name string, proto corev1.Protocol) (uint16, bool) {
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	for _, p := range sl.Ports {
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if p.Name == nil || *p.Name != name || pp != proto || p.Port == nil || *p.Port < 1 || *p.Port > 65535 {
			continue
		}
		return uint16(*p.Port), true
	}
	return 0, false
}

// Carries reports whether the slice carries at least one of the Service's
// ports, that is whether its endpoints serve the Service at all.
func Carries(sl *discoveryv1.EndpointSlice, ports []corev1.ServicePort) bool {
	for _, sp := range ports {
		if _, ok := SlicePort(sl, sp.Name, sp.Protocol); ok {
			return true
		}
	}
	return false
}

// Skip says why an endpoint's address is unusable.
type Skip int

const (
	OK          Skip = iota
	NoAddress        // the endpoint lists no address
	NotIP            // the first address is not an IP address
	WrongFamily      // the first address is not of the slice's addressType
)

// Address returns an endpoint's address: the first one, unmapped, of the
// slice's address type.
func Address(sl *discoveryv1.EndpointSlice, ep discoveryv1.Endpoint) (netip.Addr, Skip) {
	if len(ep.Addresses) == 0 {
		return netip.Addr{}, NoAddress
	}
	a, err := netip.ParseAddr(ep.Addresses[0])
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, NotIP
	}
	a = a.Unmap()
	if a.Is6() != (sl.AddressType == discoveryv1.AddressTypeIPv6) || (sl.AddressType != discoveryv1.AddressTypeIPv4 && sl.AddressType != discoveryv1.AddressTypeIPv6) {
		return netip.Addr{}, WrongFamily
	}
	return a, OK
}

// NodeOf is the endpoint's nodeName, "" when unset.
func NodeOf(ep discoveryv1.Endpoint) string {
	if ep.NodeName == nil {
		return ""
	}
	return *ep.NodeName
}
