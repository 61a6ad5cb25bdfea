package config

import (
	"cmp"
	"path"
	"slices"
	"strings"
	"unicode"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/config/v1beta1"
)

// CRD limits of the advertisements.
const (
	maxAdvPools          = 256
	maxAdvPeers          = 256
	maxL2Interfaces      = 64
	maxInterfaceLength   = 64
	maxAdvCommunities    = 64
	maxAdvCommunityChars = 128
)

// compileL2Advertisements compiles every L2Advertisement against the pools
// in force. Advertisements cannot conflict with each other.
func (c *compiler) compileL2Advertisements(in []*v1beta1.L2Advertisement, pools []Pool) []L2Advertisement {
	out := make([]L2Advertisement, 0, len(in))
	for _, adv := range in {
		v := newVersioned(&adv.ObjectMeta, &adv.Spec, adv.Status.LastValidSpec)
		a, ok := choose(c, KindL2Advertisement, v, func(s *v1beta1.L2AdvertisementSpec, a *attempt[L2Advertisement]) {
			o, refs := obj{&a.own, KindL2Advertisement, adv.Name}, obj{&a.refs, KindL2Advertisement, adv.Name}
			a.value = L2Advertisement{
				Name:             adv.Name,
				Pools:            resolvePools(o, refs, s.IPAddressPools, s.IPAddressPoolSelectors, pools),
				NodeSelectors:    compileSelectors(o, "spec.nodeSelectors", s.NodeSelectors),
				ServiceSelectors: compileSelectors(o, "spec.serviceSelectors", s.ServiceSelectors),
				Interfaces:       compileInterfaces(o, s.Interfaces),
			}
		})
		if ok {
			out = append(out, a)
		}
	}
	return out
}

// resolvePools returns the sorted names of the pools in force an
// advertisement covers: the named ones plus those the selectors match, or
// every pool when neither is given. Naming a pool that is not in force is a
// reference error (likely a typo, or the pool was deleted); the other pools
// stay covered. A selector matching nothing is not an error (pools may be
// added later).
func resolvePools(o, refs obj, names []string, sels []metav1.LabelSelector, pools []Pool) []string {
	maxItems(o, "spec.ipAddressPools", len(names), maxAdvPools)
	exists := func(n string) bool {
		_, ok := slices.BinarySearchFunc(pools, n, func(p Pool, n string) int { return strings.Compare(p.Name, n) })
		return ok
	}
	out := []string{}
	if len(names) == 0 && len(sels) == 0 {
		for _, p := range pools {
			out = append(out, p.Name)
		}
		return out
	}
	for i, n := range names {
		if !exists(n) {
			refs.errorf(idx("spec.ipAddressPools", i), "IPAddressPool %q does not exist or is not in force", n)
			continue
		}
		out = append(out, n)
	}
	checkSet(o, "spec.ipAddressPools", names)
	compiled := compileSelectors(o, "spec.ipAddressPoolSelectors", sels)
	if len(compiled) > 0 {
		for _, p := range pools {
			if compiled.MatchesAny(p.Labels) {
				out = append(out, p.Name)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// compileInterfaces checks interface names and patterns: non-empty,
// path.Match syntax, no '/' (never in a Linux interface name, and a
// separator for path.Match) and no white space.
func compileInterfaces(o obj, in []string) []string {
	maxItems(o, "spec.interfaces", len(in), maxL2Interfaces)
	for i, p := range in {
		f := idx("spec.interfaces", i)
		switch {
		case p == "":
			o.errorf(f, "is empty")
		case !maxLength(o, f, p, maxInterfaceLength):
		case strings.ContainsRune(p, '/') || strings.ContainsFunc(p, unicode.IsSpace):
			o.errorf(f, "%q contains '/' or white space, which interface names cannot have", p)
		default:
			if _, err := path.Match(p, ""); err != nil {
				o.errorf(f, "%q is not a valid pattern: %v", p, err)
			}
		}
	}
	return checkSet(o, "spec.interfaces", in)
}

// compileBGPAdvertisements compiles every BGPAdvertisement against the
// pools, peers and community aliases in force.
func (c *compiler) compileBGPAdvertisements(in []*v1beta1.BGPAdvertisement, pools []Pool, peers []BGPPeer) []BGPAdvertisement {
	out := make([]BGPAdvertisement, 0, len(in))
	for _, adv := range in {
		v := newVersioned(&adv.ObjectMeta, &adv.Spec, adv.Status.LastValidSpec)
		a, ok := choose(c, KindBGPAdvertisement, v, func(s *v1beta1.BGPAdvertisementSpec, a *attempt[BGPAdvertisement]) {
			o, refs := obj{&a.own, KindBGPAdvertisement, adv.Name}, obj{&a.refs, KindBGPAdvertisement, adv.Name}
			a.value = c.compileBGPAdvertisement(o, refs, s, pools, peers)
		})
		if ok {
			out = append(out, a)
		}
	}
	return out
}

func (c *compiler) compileBGPAdvertisement(o, refs obj, s *v1beta1.BGPAdvertisementSpec, pools []Pool, peers []BGPPeer) BGPAdvertisement {
	adv := BGPAdvertisement{
		Name:                o.name,
		Pools:               resolvePools(o, refs, s.IPAddressPools, s.IPAddressPoolSelectors, pools),
		AggregationLength:   32,
		AggregationLengthV6: 128,
		NodeSelectors:       compileSelectors(o, "spec.nodeSelectors", s.NodeSelectors),
		ServiceSelectors:    compileSelectors(o, "spec.serviceSelectors", s.ServiceSelectors),
	}
	if s.LocalPref != nil {
		adv.LocalPref, adv.HasLocalPref = *s.LocalPref, true
	}
	if s.AggregationLength != nil {
		adv.AggregationLength = int(*s.AggregationLength)
	}
	if s.AggregationLengthV6 != nil {
		adv.AggregationLengthV6 = int(*s.AggregationLengthV6)
	}
	if s.EndpointWeightedECMP {
		adv.EndpointWeightedECMP = true
		if adv.AggregationLength != 32 || adv.AggregationLengthV6 != 128 {
			o.errorf("spec.endpointWeightedECMP", "needs aggregationLength 32 and aggregationLengthV6 128 (have %d and %d): an aggregate route carries several Services, whose endpoints differ", adv.AggregationLength, adv.AggregationLengthV6)
		}
	}
	adv.Pools = c.checkAggregation(o, refs, "spec.aggregationLength", adv.AggregationLength, 32, adv.Pools)
	adv.Pools = c.checkAggregation(o, refs, "spec.aggregationLengthV6", adv.AggregationLengthV6, 128, adv.Pools)
	adv.Communities, adv.LargeCommunities = resolveCommunities(o, refs, s.Communities, c.aliases)
	adv.Peers = resolvePeers(o, refs, s.Peers, peers)
	return adv
}

// checkAggregation checks one family's aggregation length against the
// pools it applies to.
//
// The rule is MetalLB's (validateBGPAdvPerPool): for every address entry of
// a covered pool, of this family, the aggregation length may not be shorter
// than the shortest prefix among the CIDR blocks making up the entry. A
// "192.0.2.0/24" entry allows 24..32: aggregating to /23 would announce
// addresses outside the pool. Like MetalLB, a range entry is judged by its
// widest block, so "192.0.2.10-192.0.2.20" (blocks .10/31, .12/30, .16/30,
// .20/32) allows 30, even though .10 aggregated to /30 announces .8 and .9.
//
// An out-of-range length is a problem of the advertisement itself. A pool
// too wide for the length is a reference problem: that pool is left out of
// the advertisement's pools (returned), the others stay covered.
func (c *compiler) checkAggregation(o, refs obj, field string, length, bits int, pools []string) []string {
	if length < 0 || length > bits {
		o.errorf(field, "%d is out of range 0..%d", length, bits)
		return pools
	}
	return slices.DeleteFunc(pools, func(p string) bool {
		bad := false
		for _, e := range c.entriesByPool[p] {
			if e.r.First.BitLen() != bits {
				continue
			}
			if w := e.widestPrefix(); length < w {
				refs.errorf(field, "%d is shorter than /%d, the widest prefix of %s: routes would cover addresses outside the pool", length, w, e.describe())
				bad = true
			}
		}
		return bad
	})
}

// resolveCommunities resolves literals and aliases, sorted and deduplicated.
func resolveCommunities(o, refs obj, in []string, aliases map[string]aliasDef) ([]uint32, []LargeCommunity) {
	maxItems(o, "spec.communities", len(in), maxAdvCommunities)
	var std []uint32
	var large []LargeCommunity
	for i, s := range in {
		f := idx("spec.communities", i)
		var v community
		switch {
		case s == "":
			o.errorf(f, "is empty")
			continue
		case !maxLength(o, f, s, maxAdvCommunityChars):
			continue
		case isCommunityLiteral(s):
			var err error
			if v, err = parseCommunity(s); err != nil {
				o.errorf(f, "%q is not a valid community: %v", s, err)
				continue
			}
		default:
			d, ok := aliases[s]
			if !ok {
				refs.errorf(f, "%q is neither a community value (A:B or large:A:B:C) nor an alias defined in a Community in force", s)
				continue
			}
			v = d.value
		}
		if v.large {
			large = append(large, v.lg)
		} else {
			std = append(std, v.standard)
		}
	}
	checkSet(o, "spec.communities", in)
	slices.Sort(std)
	slices.SortFunc(large, func(a, b LargeCommunity) int {
		switch {
		case a.GlobalAdmin != b.GlobalAdmin:
			return cmp.Compare(a.GlobalAdmin, b.GlobalAdmin)
		case a.LocalData1 != b.LocalData1:
			return cmp.Compare(a.LocalData1, b.LocalData1)
		}
		return cmp.Compare(a.LocalData2, b.LocalData2)
	})
	return slices.Compact(std), slices.Compact(large)
}

// resolvePeers checks that every named peer is in force; empty means all.
// A name that does not resolve stays in the list: it selects no session
// (an advertisement for [missing] must not become one for every peer).
func resolvePeers(o, refs obj, names []string, peers []BGPPeer) []string {
	maxItems(o, "spec.peers", len(names), maxAdvPeers)
	for i, n := range names {
		if _, ok := slices.BinarySearchFunc(peers, n, func(p BGPPeer, n string) int { return strings.Compare(p.Name, n) }); !ok {
			refs.errorf(idx("spec.peers", i), "BGPPeer %q does not exist or is not in force", n)
		}
	}
	return checkSet(o, "spec.peers", names)
}
