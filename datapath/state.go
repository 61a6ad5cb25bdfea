package datapath

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Protocol is a transport protocol, spelled as in the Kubernetes API.
type Protocol string

const (
	TCP  Protocol = "TCP"
	UDP  Protocol = "UDP"
	SCTP Protocol = "SCTP"
)

// IANA protocol numbers, for backends that need them.
func (p Protocol) Number() uint8 {
	switch p {
	case TCP:
		return 6
	case UDP:
		return 17
	case SCTP:
		return 132
	}
	return 0
}

// ServiceKey identifies one virtual service: a VIP, a port and a protocol.
// VIP is never an IPv4-mapped IPv6 address (Desired unmaps them).
type ServiceKey struct {
	VIP      netip.Addr
	Port     uint16
	Protocol Protocol
}

func (k ServiceKey) String() string {
	return fmt.Sprintf("%s/%s", netip.AddrPortFrom(k.VIP, k.Port), k.Protocol)
}

// Compare orders keys by VIP, then protocol, then port.
func (k ServiceKey) Compare(o ServiceKey) int {
	if c := k.VIP.Compare(o.VIP); c != 0 {
		return c
	}
	if c := cmp.Compare(k.Protocol, o.Protocol); c != 0 {
		return c
	}
	return cmp.Compare(k.Port, o.Port)
}

// Scheduler names follow IPVS.
type Scheduler string

const (
	RoundRobin                Scheduler = "rr"
	WeightedRoundRobin        Scheduler = "wrr"
	LeastConnection           Scheduler = "lc"
	WeightedLeastConnection   Scheduler = "wlc"
	SourceHashing             Scheduler = "sh"
	MaglevHashing             Scheduler = "mh"
	DefaultScheduler                    = RoundRobin
	DefaultPersistenceTimeout           = 10800 * time.Second // Kubernetes' default for ClientIP affinity
)

// SchedulerFlags are IPVS's sh-/mh- flags; only meaningful with sh or mh.
type SchedulerFlags struct {
	// Fallback: pick another backend when the hashed one is unavailable
	// (sh-fallback, mh-fallback).
	Fallback bool
	// Port: hash the source port too, not only the source address
	// (sh-port, mh-port).
	Port bool
}

// VirtualService is what to do with new connections to one ServiceKey.
type VirtualService struct {
	// Owner is the Service this port belongs to.
	Owner types.NamespacedName
	// PortName is the Service port's name ("" for an unnamed port).
	PortName string
	// Scheduler picks among backends with Weight > 0.
	Scheduler Scheduler
	Flags     SchedulerFlags
	// Persistence > 0: sessionAffinity ClientIP with this timeout.
	Persistence time.Duration
	// Masquerade: source NAT to the node (externalTrafficPolicy Cluster).
	Masquerade bool
	// LocalOnly: externalTrafficPolicy Local. Backends holds this node's
	// endpoints only, and packets are dropped (not refused) when none is
	// usable.
	LocalOnly bool
	// Sources: spec.loadBalancerSourceRanges (or its annotation) for the
	// VIP's family; clients outside get their new connections dropped.
	Sources SourceRanges
	// Backends by address:port; see Backend.
	Backends map[netip.AddrPort]Backend
}

// Backend is one endpoint of a virtual service.
type Backend struct {
	// Weight 0 means draining: existing connections stay, new ones do not
	// come. Desired uses 1 for usable endpoints.
	Weight int
	// Terminating mirrors the EndpointSlice condition.
	Terminating bool
	// Local: the endpoint runs on this node.
	Local bool
}

// Usable reports whether the service has a backend for new connections.
func (v VirtualService) Usable() bool {
	for _, b := range v.Backends {
		if b.Weight > 0 {
			return true
		}
	}
	return false
}

// SortedBackends returns the backend addresses in a stable order
// (address, then port).
func (v VirtualService) SortedBackends() []netip.AddrPort {
	out := slices.Collect(maps.Keys(v.Backends))
	slices.SortFunc(out, func(a, b netip.AddrPort) int { return a.Compare(b) })
	return out
}

// Equal reports whether two virtual services are identical.
func (v VirtualService) Equal(o VirtualService) bool {
	return v.attributesEqual(o) && maps.Equal(v.Backends, o.Backends)
}

func (v VirtualService) attributesEqual(o VirtualService) bool {
	return v.Owner == o.Owner && v.PortName == o.PortName && v.Scheduler == o.Scheduler &&
		v.Flags == o.Flags && v.Persistence == o.Persistence &&
		v.Masquerade == o.Masquerade && v.LocalOnly == o.LocalOnly && v.Sources.Equal(o.Sources)
}

// State is the datapath of one node.
type State struct {
	Services map[ServiceKey]VirtualService
	// Problems found in the input, sorted; the State is still usable.
	Problems []Problem
}

// Clone returns a State with its own services map (the VirtualService
// values, and their Backends maps, are shared: nothing modifies them once
// built). Backends keep a Clone of what they applied, so the caller may go
// on changing its State in place.
func (s State) Clone() State {
	return State{Services: maps.Clone(s.Services), Problems: slices.Clone(s.Problems)}
}

// SortedKeys returns the service keys in Compare order.
func (s State) SortedKeys() []ServiceKey {
	out := slices.Collect(maps.Keys(s.Services))
	slices.SortFunc(out, ServiceKey.Compare)
	return out
}

// Problem is bad input that Desired skipped or defaulted.
type Problem struct {
	Kind    string // "Service" or "EndpointSlice"
	Object  types.NamespacedName
	Field   string // e.g. "metadata.annotations[ironlb.io/scheduler]"
	Message string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s %s: %s: %s", p.Kind, p.Object, p.Field, p.Message)
}

func compareProblems(a, b Problem) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Object.Namespace, b.Object.Namespace),
		cmp.Compare(a.Object.Name, b.Object.Name), cmp.Compare(a.Field, b.Field), cmp.Compare(a.Message, b.Message))
}
