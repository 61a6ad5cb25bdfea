package config

import (
	"maps"
	"net/netip"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/iprange"
)

// Selectors is a list of compiled label selectors. What an empty list means
// depends on the field (usually "everything"); see the field's comment.
//
// labels.Selector values are immutable, so sharing them is safe.
type Selectors []labels.Selector

// MatchesAny reports whether at least one selector matches l; false for an
// empty list.
func (s Selectors) MatchesAny(l map[string]string) bool {
	set := labels.Set(l)
	for _, sel := range s {
		if sel.Matches(set) {
			return true
		}
	}
	return false
}

// selectsAll reports whether an optional node selector list admits the
// labels: an empty list admits every node.
func (s Selectors) selectsAll(l map[string]string) bool {
	return len(s) == 0 || s.MatchesAny(l)
}

// Pool is a compiled IPAddressPool.
type Pool struct {
	Name   string
	Labels map[string]string
	// IPv4 and IPv6 are the pool's ranges of each family, sorted, exactly
	// as written (not merged). No two ranges of any pools overlap.
	IPv4, IPv6 []iprange.Range
	// AutoAssign is spec.autoAssign, true when unset.
	AutoAssign    bool
	AvoidBuggyIPs bool
	// Allocation is spec.serviceAllocation; nil when absent (any Service).
	Allocation *Allocation
}

// Ranges returns the IPv4 ranges then the IPv6 ranges.
func (p Pool) Ranges() []iprange.Range {
	return slices.Concat(p.IPv4, p.IPv6)
}

// Contains reports whether ip is in one of the pool's ranges (ignoring
// AvoidBuggyIPs).
func (p Pool) Contains(ip netip.Addr) bool {
	for _, r := range p.Ranges() {
		if r.Contains(ip) {
			return true
		}
	}
	return false
}

// Allocation restricts a pool to some Services; see
// v1beta1.ServiceAllocation for the semantics.
type Allocation struct {
	Priority           int
	Namespaces         []string // sorted
	NamespaceSelectors Selectors
	ServiceSelectors   Selectors
}

// L2Advertisement is a compiled L2Advertisement.
type L2Advertisement struct {
	Name string
	// Pools are the names of the pools announced: spec.ipAddressPools plus
	// the pools spec.ipAddressPoolSelectors match, or every pool when both
	// are empty. Sorted.
	Pools []string
	// NodeSelectors: empty means every node. See SelectsNode.
	NodeSelectors Selectors
	// ServiceSelectors: empty means every Service. See ForServices.
	ServiceSelectors Selectors
	// Interfaces are path.Match patterns; empty means automatic choice.
	Interfaces []string
}

// SelectsNode reports whether a node with these labels may announce.
func (a L2Advertisement) SelectsNode(nodeLabels map[string]string) bool {
	return a.NodeSelectors.selectsAll(nodeLabels)
}

// SelectsService reports whether the advertisement covers a Service with
// these labels.
func (a L2Advertisement) SelectsService(svcLabels map[string]string) bool {
	return a.ServiceSelectors.selectsAll(svcLabels)
}

// LargeCommunity is an RFC 8092 large community.
type LargeCommunity struct{ GlobalAdmin, LocalData1, LocalData2 uint32 }

// BGPAdvertisement is a compiled BGPAdvertisement.
type BGPAdvertisement struct {
	Name string
	// Pools as for L2Advertisement.Pools.
	Pools []string
	// AggregationLength (IPv4, default 32) and AggregationLengthV6
	// (default 128) are the prefix lengths addresses are announced with.
	AggregationLength, AggregationLengthV6 int
	// LocalPref is LOCAL_PREF when HasLocalPref. It is only sent to iBGP
	// peers (RFC 4271 5.1.5); setting it on an advertisement that only
	// reaches eBGP peers is allowed and has no effect.
	LocalPref    uint32
	HasLocalPref bool
	// Communities are the standard communities (high 16 bits: AS), aliases
	// resolved; sorted, without duplicates.
	Communities []uint32
	// LargeCommunities likewise, sorted.
	LargeCommunities []LargeCommunity
	// Peers are BGPPeer names; empty means every peer. Sorted.
	Peers []string
	// NodeSelectors: empty means every node.
	NodeSelectors Selectors
	// ServiceSelectors: empty means every Service. See ForServices.
	ServiceSelectors Selectors
	// EndpointWeightedECMP: Local Services' routes carry the node's ready
	// local endpoints as link bandwidth.
	EndpointWeightedECMP bool
}

// SelectsNode reports whether a node with these labels announces.
func (a BGPAdvertisement) SelectsNode(nodeLabels map[string]string) bool {
	return a.NodeSelectors.selectsAll(nodeLabels)
}

// SelectsService reports whether the advertisement covers a Service with
// these labels.
func (a BGPAdvertisement) SelectsService(svcLabels map[string]string) bool {
	return a.ServiceSelectors.selectsAll(svcLabels)
}

// SelectsPeer reports whether routes are announced to the named BGPPeer.
func (a BGPAdvertisement) SelectsPeer(peer string) bool {
	return len(a.Peers) == 0 || slices.Contains(a.Peers, peer)
}

// BGPPeer is a compiled BGPPeer.
type BGPPeer struct {
	Name  string
	MyASN uint32
	// PeerASN is spec.peerASN; 0 when DynamicASN is set.
	PeerASN    uint32
	DynamicASN v1beta1.DynamicASNMode
	Address    netip.Addr
	Port       uint16
	// SourceAddress is invalid (zero) when unset: the kernel chooses.
	SourceAddress netip.Addr
	// RouterID is invalid (zero) when unset: the node's first IPv4 address.
	RouterID netip.Addr
	// Timers with defaults applied; see defaultHoldTime.
	HoldTime, KeepaliveTime, ConnectTime time.Duration
	EBGPMultiHop                         bool
	// Password is the TCP-MD5 password source. It prints redacted.
	Password Password
	// BFD is the resolved spec.bfdProfile; nil when unset.
	BFD                   *BFDProfile
	EnableGracefulRestart bool
	// NodeSelectors: empty means every node.
	NodeSelectors Selectors
}

// IsInternal reports whether the session is iBGP (same AS on both ends, or
// dynamicASN internal), the sessions LocalPref is sent on.
func (p BGPPeer) IsInternal() bool {
	return p.DynamicASN == v1beta1.DynamicASNInternal || (p.DynamicASN == "" && p.PeerASN == p.MyASN)
}

// SelectsNode reports whether a node with these labels peers.
func (p BGPPeer) SelectsNode(nodeLabels map[string]string) bool {
	return p.NodeSelectors.selectsAll(nodeLabels)
}

// BFDProfile is a compiled BFDProfile with defaults applied.
type BFDProfile struct {
	Name             string
	ReceiveInterval  time.Duration // default 300ms
	TransmitInterval time.Duration // default 300ms
	DetectMultiplier uint32        // default 3
	PassiveMode      bool
	// MinimumTTL is 0 when unset (the BFD daemon's default applies).
	MinimumTTL uint32
}

// The clone methods deep-copy values handed out by Config accessors, so a
// caller can never change the shared Config.

func (p Pool) clone() Pool {
	p.Labels = maps.Clone(p.Labels)
	p.IPv4 = slices.Clone(p.IPv4)
	p.IPv6 = slices.Clone(p.IPv6)
	if p.Allocation != nil {
		a := *p.Allocation
		a.Namespaces = slices.Clone(a.Namespaces)
		a.NamespaceSelectors = slices.Clone(a.NamespaceSelectors)
		a.ServiceSelectors = slices.Clone(a.ServiceSelectors)
		p.Allocation = &a
	}
	return p
}

func (a L2Advertisement) clone() L2Advertisement {
	a.Pools = slices.Clone(a.Pools)
	a.NodeSelectors = slices.Clone(a.NodeSelectors)
	a.ServiceSelectors = slices.Clone(a.ServiceSelectors)
	a.Interfaces = slices.Clone(a.Interfaces)
	return a
}

func (a BGPAdvertisement) clone() BGPAdvertisement {
	a.Pools = slices.Clone(a.Pools)
	a.Communities = slices.Clone(a.Communities)
	a.LargeCommunities = slices.Clone(a.LargeCommunities)
	a.Peers = slices.Clone(a.Peers)
	a.NodeSelectors = slices.Clone(a.NodeSelectors)
	a.ServiceSelectors = slices.Clone(a.ServiceSelectors)
	return a
}

func (p BGPPeer) clone() BGPPeer {
	if p.BFD != nil {
		b := *p.BFD
		p.BFD = &b
	}
	p.NodeSelectors = slices.Clone(p.NodeSelectors)
	return p
}

// ForServices returns the advertisements (of an address's pool) that cover
// an address used by Services with these labels: those selecting at least
// one of them. Services sharing an address are announced together, so one
// selected Service is enough.
func ForServices[A interface{ SelectsService(map[string]string) bool }](advs []A, svcLabels []map[string]string) []A {
	var out []A
	for _, a := range advs {
		if slices.ContainsFunc(svcLabels, a.SelectsService) {
			out = append(out, a)
		}
	}
	return out
}
