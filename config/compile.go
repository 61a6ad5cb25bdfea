package config

import (
	"slices"
)

// Compile validates r object by object and builds the Config of every
// object that can be used. It always returns a Config; the Errors list the
// problems of every object whose current spec is invalid (nil when all are
// valid).
//
// Each object is judged on its own (see the package documentation for the
// rules): an invalid spec sets aside only that object, and when the object
// carries the last spec that compiled (status.lastValidSpec), that one stays
// in force. Config.State tells, for every object, what is in force and why.
//
// Compile never modifies r and the Config shares no memory with it.
func Compile(r Resources) (*Config, Errors) {
	c := &compiler{states: map[objectKey]ObjectState{}}

	communities := unique(&c.errs, KindCommunity, r.Communities)
	bfds := unique(&c.errs, KindBFDProfile, r.BFDProfiles)
	pools := unique(&c.errs, KindIPAddressPool, r.Pools)
	peers := unique(&c.errs, KindBGPPeer, r.BGPPeers)
	l2s := unique(&c.errs, KindL2Advertisement, r.L2Advertisements)
	bgps := unique(&c.errs, KindBGPAdvertisement, r.BGPAdvertisements)

	cfg := &Config{}
	c.compileCommunities(communities)
	cfg.bfd = c.compileBFDProfiles(bfds)
	cfg.pools = c.compilePools(pools)
	cfg.peers = c.compilePeers(peers, cfg.bfd)
	cfg.l2 = c.compileL2Advertisements(l2s, cfg.pools)
	cfg.bgp = c.compileBGPAdvertisements(bgps, cfg.pools, cfg.peers)

	// Objects that failed the name check (files only: the API server
	// enforces names) are reported but still compiled above, as before.
	cfg.states = c.states
	cfg.index()
	if len(c.list) == 0 {
		return cfg, nil
	}
	return cfg, sortErrors(c.list)
}

// compiler holds the state of one Compile call.
type compiler struct {
	errs
	// admitted holds the address ranges of the pools in force, for the
	// overlap check.
	admitted admittedRanges
	// entriesByPool are the parsed spec.addresses of each pool in force,
	// for the BGP aggregation-length check.
	entriesByPool map[string][]*poolEntry
	// aliases are the community aliases in force.
	aliases map[string]aliasDef
	// states records what Compile did with every object.
	states map[objectKey]ObjectState
}

// index builds the lookup tables of a Config.
func (cfg *Config) index() {
	for _, p := range cfg.pools {
		for _, r := range p.Ranges() {
			fi := familyIndex(r.First)
			cfg.byAddr[fi] = append(cfg.byAddr[fi], poolRange{r: r, pool: p.Name})
		}
	}
	for fi := range cfg.byAddr {
		slices.SortFunc(cfg.byAddr[fi], func(a, b poolRange) int { return a.r.First.Compare(b.r.First) })
	}
	cfg.l2ByPool = map[string][]int{}
	for i, a := range cfg.l2 {
		for _, p := range a.Pools {
			cfg.l2ByPool[p] = append(cfg.l2ByPool[p], i)
		}
	}
	cfg.bgpByPool = map[string][]int{}
	for i, a := range cfg.bgp {
		for _, p := range a.Pools {
			cfg.bgpByPool[p] = append(cfg.bgpByPool[p], i)
		}
	}
}
