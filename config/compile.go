package config

import "slices"

// Compile validates r and builds the Config it describes. On any problem it
// returns a nil Config and an Errors value with every problem found; the
// error's dynamic type is always Errors then.
//
// Compile never modifies r and the Config shares no memory with it.
func Compile(r Resources) (*Config, error) {
	c := &compiler{}

	communities := unique(&c.errs, KindCommunity, r.Communities)
	bfds := unique(&c.errs, KindBFDProfile, r.BFDProfiles)
	pools := unique(&c.errs, KindIPAddressPool, r.Pools)
	peers := unique(&c.errs, KindBGPPeer, r.BGPPeers)
	l2s := unique(&c.errs, KindL2Advertisement, r.L2Advertisements)
	bgps := unique(&c.errs, KindBGPAdvertisement, r.BGPAdvertisements)

	cfg := &Config{}
	aliases := c.compileCommunities(communities)
	cfg.bfd = c.compileBFDProfiles(bfds)
	cfg.pools = c.compilePools(pools)
	c.checkOverlaps()
	cfg.peers = c.compilePeers(peers, cfg.bfd)
	c.checkPeerConflicts(cfg.peers)
	cfg.l2 = c.compileL2Advertisements(l2s, pools)
	cfg.bgp = c.compileBGPAdvertisements(bgps, pools, aliases, peers)

	if len(c.list) > 0 {
		return nil, sortErrors(c.list)
	}
	cfg.index()
	return cfg, nil
}

// compiler holds the state of one Compile call.
type compiler struct {
	errs
	// entries are the parsed spec.addresses of every pool, for the overlap
	// check and the BGP aggregation-length check.
	entries []*poolEntry
	// entriesByPool indexes entries by pool name.
	entriesByPool map[string][]*poolEntry
}

// index builds the lookup tables of a valid Config.
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
