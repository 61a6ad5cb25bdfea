package bgp

import (
	"cmp"
	"net/netip"
	"slices"
)

// This file holds the pure decisions: what each peer must be sent, what
// changed since the last call, and whether a peer's new configuration
// needs its session rebuilt.

// attrs are the path attributes one peer gets for one prefix.
type attrs struct {
	localPref    uint32
	hasLocalPref bool
	communities  []uint32    // sorted, distinct
	large        [][3]uint32 // sorted, distinct
	// bandwidth (bytes/s, 0: none) is sent as the link bandwidth extended
	// community with bandwidthAS, the session's own AS (AS_TRANS when it
	// does not fit 16 bits).
	bandwidth   float32
	bandwidthAS uint16
}

func (a attrs) equal(b attrs) bool {
	return a.hasLocalPref == b.hasLocalPref && a.localPref == b.localPref &&
		slices.Equal(a.communities, b.communities) && slices.Equal(a.large, b.large) &&
		a.bandwidth == b.bandwidth && a.bandwidthAS == b.bandwidthAS
}

// merge combines the attributes of two routes for the same prefix and
// peer: communities of both, the higher LOCAL_PREF and link bandwidth
// (one node's endpoints, the same for every advertisement). It never fails,
// so two advertisements that disagree still announce the prefix, in a
// deterministic way.
func (a attrs) merge(r Route) attrs {
	out := attrs{
		localPref: a.localPref, hasLocalPref: a.hasLocalPref,
		communities: slices.Concat(a.communities, r.Communities),
		large:       slices.Concat(a.large, r.LargeCommunities),
		bandwidth:   max(a.bandwidth, r.LinkBandwidth), bandwidthAS: a.bandwidthAS,
	}
	if r.LocalPref != nil && (!out.hasLocalPref || *r.LocalPref > out.localPref) {
		out.localPref, out.hasLocalPref = *r.LocalPref, true
	}
	slices.Sort(out.communities)
	out.communities = slices.Compact(out.communities)
	slices.SortFunc(out.large, compareLarge)
	out.large = slices.Compact(out.large)
	return out
}

func compareLarge(a, b [3]uint32) int {
	return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]), cmp.Compare(a[2], b[2]))
}

// table is what one peer is sent: prefix -> attributes.
type table map[netip.Prefix]attrs

// peerTables computes every peer's table. A peer gets the routes that
// name it (or name no peer) and are of its session's address family: a
// session carries the family of its peer's address only.
func peerTables(peers []Peer, routes []Route) map[string]table {
	out := make(map[string]table, len(peers))
	for _, p := range peers {
		out[p.Name] = table{}
	}
	for _, r := range routes {
		for _, p := range peers {
			if p.Address.Is4() != r.Prefix.Addr().Is4() {
				continue
			}
			if len(r.Peers) > 0 && !slices.Contains(r.Peers, p.Name) {
				continue
			}
			t := out[p.Name]
			a, ok := t[r.Prefix]
			if !ok {
				a.bandwidthAS = asTrans
				if p.MyASN <= 0xffff {
					a.bandwidthAS = uint16(p.MyASN)
				}
			}
			t[r.Prefix] = a.merge(r)
		}
	}
	return out
}

// diffTables returns what turns have into want: prefixes to announce (new
// or with changed attributes) and prefixes to withdraw, both sorted.
func diffTables(have, want table) (announce []netip.Prefix, withdraw []netip.Prefix) {
	for p, a := range want {
		if h, ok := have[p]; !ok || !h.equal(a) {
			announce = append(announce, p)
		}
	}
	for p := range have {
		if _, ok := want[p]; !ok {
			withdraw = append(withdraw, p)
		}
	}
	slices.SortFunc(announce, comparePrefix)
	slices.SortFunc(withdraw, comparePrefix)
	return announce, withdraw
}

// diffPrefixes is diffTables for the given prefixes only: the others are
// left as they are.
func diffPrefixes(have, want table, prefixes []netip.Prefix) (announce []netip.Prefix, withdraw []netip.Prefix) {
	for _, p := range prefixes {
		a, wanted := want[p]
		h, had := have[p]
		switch {
		case wanted && (!had || !h.equal(a)):
			announce = append(announce, p)
		case !wanted && had:
			withdraw = append(withdraw, p)
		}
	}
	slices.SortFunc(announce, comparePrefix)
	slices.SortFunc(withdraw, comparePrefix)
	return slices.Compact(announce), slices.Compact(withdraw)
}

// comparePrefix orders prefixes by address, then length
// (netip.Prefix.Compare needs Go 1.26).
func comparePrefix(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}

// peerChange is what a changed peer configuration takes.
type peerChange int

const (
	peerUnchanged peerChange = iota
	// peerUpdateBFD: only BFD differs; GoBGP applies it to the running
	// session.
	peerUpdateBFD
	// peerRecreate: anything carried in the OPEN message or used to open
	// the TCP connection (ASNs, address, port, source address, timers,
	// password, multihop, graceful restart) differs, which only a new
	// session applies. Only that peer's session resets.
	peerRecreate
)

func classifyPeerChange(old, updated Peer) peerChange {
	o, u := old, updated
	o.BFD, u.BFD = nil, nil
	if o != u {
		return peerRecreate
	}
	switch {
	case old.BFD == nil && updated.BFD == nil:
		return peerUnchanged
	case old.BFD != nil && updated.BFD != nil && *old.BFD == *updated.BFD:
		return peerUnchanged
	}
	return peerUpdateBFD
}

// asTrans stands for a 4-octet AS in 2-octet fields (RFC 6793).
const asTrans = 23456
