package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ironlb/ironlb/config/v1beta1"
)

// BGPPeer defaults.
//
// Hold and keepalive are the RFC 4271 suggestions that GoBGP
// (DEFAULT_HOLDTIME = 90, keepalive = hold/3), FRR and MetalLB's native
// speaker all use: 90s and 30s. ConnectTime differs on purpose: GoBGP's
// DEFAULT_CONNECT_RETRY and FRR's "timers connect" default to 120s (MetalLB
// leaves it unset, so the daemon's 120s applies); IronLB uses 5s so that
// every route to the Services is back within 10s of a router restart (the
// router comes up, then each speaker's next attempt connects; measured by
// e2e/bgp TestRouterRestartRestoresEverySessionAndRoute), at the cost of
// one TCP SYN every 5s towards a peer that is down.
const (
	defaultPeerPort    = 179
	defaultHoldTime    = 90 * time.Second
	defaultConnectTime = 5 * time.Second
	maxPasswordLength  = 80 // TCP_MD5SIG_MAXKEYLEN
	maxBGPTimer        = 65535 * time.Second
)

// compilePeers compiles every peer. Two peers with the same address and
// port that may be selected on one node conflict (see conflictOrder for
// which one wins). A peer whose BFD profile is not in force is invalid; when
// nothing else is wrong with it, it runs without BFD rather than not at all.
func (c *compiler) compilePeers(in []*v1beta1.BGPPeer, bfds []BFDProfile) []BGPPeer {
	objs := make([]versioned[v1beta1.BGPPeerSpec], len(in))
	for i, p := range in {
		objs[i] = newVersioned(&p.ObjectMeta, &p.Spec, p.Status.LastValidSpec)
	}
	conflictOrder(objs)
	out := make([]BGPPeer, 0, len(in))
	for _, v := range objs {
		p, ok := choose(c, KindBGPPeer, v, func(s *v1beta1.BGPPeerSpec, a *attempt[BGPPeer]) {
			o := obj{&a.own, KindBGPPeer, v.meta.Name}
			a.value = compilePeer(o, obj{&a.refs, KindBGPPeer, v.meta.Name}, s, bfds)
			checkPeerConflict(o, a.value, out)
		})
		if ok {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b BGPPeer) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func compilePeer(o, refs obj, s *v1beta1.BGPPeerSpec, bfds []BFDProfile) BGPPeer {
	out := BGPPeer{
		Name:                  o.name,
		MyASN:                 s.MyASN,
		PeerASN:               s.ASN,
		DynamicASN:            s.DynamicASN,
		EBGPMultiHop:          s.EBGPMultiHop,
		EnableGracefulRestart: s.EnableGracefulRestart,
		NodeSelectors:         compileSelectors(o, "spec.nodeSelectors", s.NodeSelectors),
	}
	if s.MyASN == 0 {
		o.errorf("spec.myASN", "is required and must not be 0")
	}
	switch {
	case s.ASN != 0 && s.DynamicASN != "":
		o.errorf("spec.peerASN", "peerASN and dynamicASN are mutually exclusive; set exactly one")
	case s.ASN == 0 && s.DynamicASN == "":
		o.errorf("spec.peerASN", "one of peerASN and dynamicASN is required")
	}
	if s.DynamicASN != "" && s.DynamicASN != v1beta1.DynamicASNInternal && s.DynamicASN != v1beta1.DynamicASNExternal {
		o.errorf("spec.dynamicASN", "%q is not one of %q, %q", s.DynamicASN, v1beta1.DynamicASNInternal, v1beta1.DynamicASNExternal)
	}
	if s.EBGPMultiHop && s.MyASN != 0 && out.IsInternal() {
		// As MetalLB: multi-hop is an eBGP setting (iBGP sessions are
		// multi-hop already), so asking for it on iBGP is a mistake.
		o.errorf("spec.ebgpMultiHop", "only applies to eBGP sessions; this peer is iBGP")
	}

	if s.Address == "" {
		o.errorf("spec.peerAddress", "is required")
	} else if a, why := parseHostAddr(s.Address); why != "" {
		o.errorf("spec.peerAddress", "%s", why)
	} else {
		out.Address = a
	}
	switch {
	case s.Port == 0:
		out.Port = defaultPeerPort
	case s.Port < 1 || s.Port > 65535:
		o.errorf("spec.peerPort", "%d is out of range 1..65535", s.Port)
	default:
		out.Port = uint16(s.Port)
	}
	if s.SourceAddress != "" {
		a, why := parseHostAddr(s.SourceAddress)
		switch {
		case why != "":
			o.errorf("spec.sourceAddress", "%s", why)
		case out.Address.IsValid() && a.Is4() != out.Address.Is4():
			o.errorf("spec.sourceAddress", "%s is not of the same address family as peerAddress %s", a, out.Address)
		default:
			out.SourceAddress = a
		}
	}
	if s.RouterID != "" {
		a, err := netip.ParseAddr(s.RouterID)
		switch {
		case err != nil || a.Zone() != "":
			o.errorf("spec.routerID", "%q is not an IPv4 address", s.RouterID)
		case !a.Is4():
			o.errorf("spec.routerID", "%s is not an IPv4 address (a BGP router ID is 32 bits)", a)
		case a.IsUnspecified():
			o.errorf("spec.routerID", "0.0.0.0 is not a valid BGP router ID")
		default:
			out.RouterID = a
		}
	}

	out.HoldTime, out.KeepaliveTime, out.ConnectTime = compileTimers(o, s)
	out.Password = compilePassword(o, s)

	if s.BFDProfile != "" {
		i, ok := slices.BinarySearchFunc(bfds, s.BFDProfile, func(b BFDProfile, n string) int { return strings.Compare(b.Name, n) })
		if ok {
			b := bfds[i]
			out.BFD = &b
		} else {
			refs.errorf("spec.bfdProfile", "BFDProfile %q does not exist or is not in force", s.BFDProfile)
		}
	}
	return out
}

// parseHostAddr parses a peer or source address, returning why it is not
// usable. Zones are refused: a session from a zoned link-local address
// would need an interface binding IronLB does not configure.
func parseHostAddr(s string) (netip.Addr, string) {
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return a, fmt.Sprintf("%q is not an IP address", s)
	case a.Zone() != "":
		return a, fmt.Sprintf("%q has an IPv6 zone, which is not supported", s)
	case a.Is4In6():
		return a, fmt.Sprintf("%q is an IPv4-mapped IPv6 address; write %s", s, a.Unmap())
	case a.IsUnspecified() || a.IsMulticast():
		return a, fmt.Sprintf("%s is not a unicast address", a)
	}
	return a, ""
}

// compileTimers checks and defaults holdTime, keepaliveTime and
// connectTime.
//
// Rules: holdTime is 0 (keepalives disabled, RFC 4271 4.2) or 3s..65535s in
// whole seconds (the OPEN message carries 16-bit seconds). keepaliveTime is
// at most a third of holdTime (RFC 4271 10 suggests exactly a third), 0 when
// holdTime is 0 and positive otherwise. connectTime is 1s..65535s in whole
// seconds (FRR's "timers connect" range).
//
// Defaults: holdTime 90s, keepaliveTime holdTime/3. As in MetalLB, when
// only keepaliveTime is set holdTime defaults to three times it.
func compileTimers(o obj, s *v1beta1.BGPPeerSpec) (hold, keepalive, connect time.Duration) {
	holdField := "spec.holdTime"
	holdWhat := ""
	switch {
	case s.HoldTime != nil:
		hold = s.HoldTime.Duration
	case s.KeepaliveTime != nil && s.KeepaliveTime.Duration > 0:
		hold = 3 * s.KeepaliveTime.Duration
		holdField, holdWhat = "spec.keepaliveTime", "the implied holdTime (3 × keepaliveTime) "
	default:
		hold = defaultHoldTime
	}
	holdOK := true
	switch {
	case hold < 0:
		o.errorf(holdField, "%s%s is negative", holdWhat, hold)
		holdOK = false
	case hold > 0 && hold < 3*time.Second:
		o.errorf(holdField, "%s%s must be 0 or at least 3s", holdWhat, hold)
		holdOK = false
	case hold > maxBGPTimer:
		o.errorf(holdField, "%s%s is more than 65535s", holdWhat, hold)
		holdOK = false
	case hold%time.Second != 0:
		o.errorf(holdField, "%s%s is not a whole number of seconds", holdWhat, hold)
		holdOK = false
	}

	if s.KeepaliveTime == nil {
		keepalive = hold / 3
	} else {
		keepalive = s.KeepaliveTime.Duration
		switch {
		case keepalive < 0:
			o.errorf("spec.keepaliveTime", "%s is negative", keepalive)
		case !holdOK:
		case hold == 0 && keepalive != 0:
			o.errorf("spec.keepaliveTime", "%s must be 0 when holdTime is 0 (keepalives are disabled)", keepalive)
		case hold != 0 && keepalive == 0:
			o.errorf("spec.keepaliveTime", "must be more than 0 when holdTime is not 0")
		case 3*keepalive > hold:
			o.errorf("spec.keepaliveTime", "%s is more than a third of holdTime %s", keepalive, hold)
		}
	}

	connect = defaultConnectTime
	if s.ConnectTime != nil {
		connect = s.ConnectTime.Duration
		switch {
		case connect < time.Second || connect > maxBGPTimer:
			o.errorf("spec.connectTime", "%s is out of range 1s..65535s", connect)
		case connect%time.Second != 0:
			o.errorf("spec.connectTime", "%s is not a whole number of seconds", connect)
		}
	}
	return hold, keepalive, connect
}

// compilePassword never puts the password in an error.
func compilePassword(o obj, s *v1beta1.BGPPeerSpec) Password {
	var out Password
	if s.Password != "" {
		if len(s.Password) > maxPasswordLength {
			o.errorf("spec.password", "is %d characters long, at most %d are allowed", len(s.Password), maxPasswordLength)
		}
		if strings.ContainsFunc(s.Password, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			o.errorf("spec.password", "contains control characters")
		}
		out.inline = s.Password
	}
	if ref := s.PasswordSecret; ref != nil {
		if s.Password != "" {
			o.errorf("spec.passwordSecret", "password and passwordSecret are mutually exclusive")
		}
		if ref.Name == "" {
			o.errorf("spec.passwordSecret.name", "is required")
		} else if msgs := validation.IsDNS1123Subdomain(ref.Name); len(msgs) > 0 {
			o.errorf("spec.passwordSecret.name", "%q is not a valid Secret name: %s", ref.Name, strings.Join(msgs, "; "))
		}
		if ref.Namespace == "" {
			o.errorf("spec.passwordSecret.namespace", "is required")
		} else if msgs := validation.IsDNS1123Label(ref.Namespace); len(msgs) > 0 {
			o.errorf("spec.passwordSecret.namespace", "%q is not a valid namespace name: %s", ref.Namespace, strings.Join(msgs, "; "))
		}
		out.secret = &SecretRef{Namespace: ref.Namespace, Name: ref.Name}
	}
	return out
}

// checkPeerConflict reports a peer with the same address and port as a
// peer in force that could be selected on the same node: that node would
// need two sessions to one neighbour, which BGP cannot have. Selectors count
// as overlapping when either side selects every node or both lists are the
// same; anything else is assumed to select disjoint nodes (whether two
// different selectors share a node depends on node labels, which the
// compiler does not see).
func checkPeerConflict(o obj, p BGPPeer, inForce []BGPPeer) {
	if !p.Address.IsValid() || p.Port == 0 {
		return
	}
	for _, q := range inForce {
		if q.Address == p.Address && q.Port == p.Port && selectorsMayOverlap(p.NodeSelectors, q.NodeSelectors) {
			o.errorf("spec.peerAddress",
				"%s port %d is also used by BGPPeer %q on the same nodes (node selectors are equal or one selects every node)", p.Address, p.Port, q.Name)
			return
		}
	}
}

func selectorsMayOverlap(a, b Selectors) bool {
	if selectsEveryNode(a) || selectsEveryNode(b) {
		return true
	}
	return slices.Equal(selectorStrings(a), selectorStrings(b))
}

func selectsEveryNode(s Selectors) bool {
	return len(s) == 0 || slices.ContainsFunc(s, func(sel labels.Selector) bool { return sel.Empty() })
}

func selectorStrings(s Selectors) []string {
	out := make([]string, len(s))
	for i, sel := range s {
		out[i] = sel.String()
	}
	slices.Sort(out)
	return slices.Compact(out)
}
