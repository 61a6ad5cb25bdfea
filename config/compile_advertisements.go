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

func (c *compiler) compileL2Advertisements(in []*v1beta1.L2Advertisement, pools []*v1beta1.IPAddressPool) []L2Advertisement {
	out := make([]L2Advertisement, 0, len(in))
	for _, a := range in {
		o := obj{&c.errs, KindL2Advertisement, a.Name}
		s := &a.Spec
		out = append(out, L2Advertisement{
			Name:          a.Name,
			Pools:         resolvePools(o, s.IPAddressPools, s.IPAddressPoolSelectors, pools),
			NodeSelectors: compileSelectors(o, "spec.nodeSelectors", s.NodeSelectors),
			Interfaces:    compileInterfaces(o, s.Interfaces),
		})
	}
	return out
}

// resolvePools returns the sorted names of the pools an advertisement
// covers: the named ones plus those the selectors match, or every pool when
// neither is given. Naming a pool that does not exist is an error (likely a
// typo); a selector matching nothing is not (pools may be added later).
func resolvePools(o obj, names []string, sels []metav1.LabelSelector, pools []*v1beta1.IPAddressPool) []string {
	maxItems(o, "spec.ipAddressPools", len(names), maxAdvPools)
	exists := func(n string) bool {
		_, ok := slices.BinarySearchFunc(pools, n, func(p *v1beta1.IPAddressPool, n string) int { return strings.Compare(p.Name, n) })
		return ok
	}
	var out []string
	if len(names) == 0 && len(sels) == 0 {
		for _, p := range pools {
			out = append(out, p.Name)
		}
		return out
	}
	for i, n := range names {
		if !exists(n) {
			o.errorf(idx("spec.ipAddressPools", i), "unknown IPAddressPool %q", n)
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

func (c *compiler) compileBGPAdvertisements(in []*v1beta1.BGPAdvertisement, pools []*v1beta1.IPAddressPool,
	aliases map[string]aliasDef, peers []*v1beta1.BGPPeer) []BGPAdvertisement {
	out := make([]BGPAdvertisement, 0, len(in))
	for _, a := range in {
		o := obj{&c.errs, KindBGPAdvertisement, a.Name}
		s := &a.Spec
		adv := BGPAdvertisement{
			Name:                a.Name,
			Pools:               resolvePools(o, s.IPAddressPools, s.IPAddressPoolSelectors, pools),
			AggregationLength:   32,
			AggregationLengthV6: 128,
			NodeSelectors:       compileSelectors(o, "spec.nodeSelectors", s.NodeSelectors),
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
		c.checkAggregation(o, "spec.aggregationLength", adv.AggregationLength, 32, adv.Pools)
		c.checkAggregation(o, "spec.aggregationLengthV6", adv.AggregationLengthV6, 128, adv.Pools)
		adv.Communities, adv.LargeCommunities = resolveCommunities(o, s.Communities, aliases)
		adv.Peers = resolvePeers(o, s.Peers, peers)
		out = append(out, adv)
	}
	return out
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
func (c *compiler) checkAggregation(o obj, field string, length, bits int, pools []string) {
	if length < 0 || length > bits {
		o.errorf(field, "%d is out of range 0..%d", length, bits)
		return
	}
	for _, p := range pools {
		for _, e := range c.entriesByPool[p] {
			if e.r.First.BitLen() != bits {
				continue
			}
			if w := e.widestPrefix(); length < w {
				o.errorf(field, "%d is shorter than /%d, the widest prefix of %s: routes would cover addresses outside the pool", length, w, e.describe())
			}
		}
	}
}

// resolveCommunities resolves literals and aliases, sorted and deduplicated.
func resolveCommunities(o obj, in []string, aliases map[string]aliasDef) ([]uint32, []LargeCommunity) {
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
				o.errorf(f, "%q is neither a community value (A:B or large:A:B:C) nor an alias defined in a Community", s)
				continue
			}
			if !d.valid {
				continue // reported on the Community
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

// resolvePeers checks that every named peer exists; empty means all.
func resolvePeers(o obj, names []string, peers []*v1beta1.BGPPeer) []string {
	maxItems(o, "spec.peers", len(names), maxAdvPeers)
	for i, n := range names {
		if _, ok := slices.BinarySearchFunc(peers, n, func(p *v1beta1.BGPPeer, n string) int { return strings.Compare(p.Name, n) }); !ok {
			o.errorf(idx("spec.peers", i), "unknown BGPPeer %q", n)
		}
	}
	return checkSet(o, "spec.peers", names)
}
