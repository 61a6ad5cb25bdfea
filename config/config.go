package config

import (
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/ironlb/ironlb/pkg/iprange"
)

// Config is a compiled, validated IronLB configuration. It is immutable:
// Compile builds it and nothing changes it afterwards, so one *Config may be
// shared by any number of goroutines without locking. Every accessor returns
// a deep copy (the label selectors inside are immutable values and are
// shared), so changing what an accessor returned never changes the Config.
// Lists are sorted by name.
type Config struct {
	pools []Pool // sorted by name
	l2    []L2Advertisement
	bgp   []BGPAdvertisement
	peers []BGPPeer
	bfd   []BFDProfile

	// states records what Compile did with every object.
	states map[objectKey]ObjectState

	// byAddr holds every range of every pool, per family, sorted by First;
	// ranges never overlap, which makes PoolFor a binary search.
	byAddr [2][]poolRange
	// l2ByPool and bgpByPool index the advertisements covering each pool.
	l2ByPool  map[string][]int
	bgpByPool map[string][]int
}

type poolRange struct {
	r    iprange.Range
	pool string
}

// Equal reports whether c and o are the same configuration: compiled from
// the same specs, with the same report on every object. Compiling the same
// objects twice gives Equal configurations, so a consumer can tell a
// recompile that changed nothing (a status write on an object) from one
// that did.
func (c *Config) Equal(o *Config) bool {
	if c == nil || o == nil {
		return c == o
	}
	return reflect.DeepEqual(c, o)
}

// Pools returns every pool.
func (c *Config) Pools() []Pool { return cloneAll(c.pools, Pool.clone) }

// PoolNames returns the sorted pool names.
func (c *Config) PoolNames() []string {
	out := make([]string, len(c.pools))
	for i, p := range c.pools {
		out[i] = p.Name
	}
	return out
}

// Pool returns the named pool.
func (c *Config) Pool(name string) (Pool, bool) {
	i, ok := slices.BinarySearchFunc(c.pools, name, func(p Pool, n string) int { return strings.Compare(p.Name, n) })
	if !ok {
		return Pool{}, false
	}
	return c.pools[i].clone(), true
}

// L2Advertisements returns every L2Advertisement.
func (c *Config) L2Advertisements() []L2Advertisement {
	return cloneAll(c.l2, L2Advertisement.clone)
}

// BGPAdvertisements returns every BGPAdvertisement.
func (c *Config) BGPAdvertisements() []BGPAdvertisement {
	return cloneAll(c.bgp, BGPAdvertisement.clone)
}

// BGPPeers returns every BGPPeer.
func (c *Config) BGPPeers() []BGPPeer { return cloneAll(c.peers, BGPPeer.clone) }

// BGPPeer returns the named peer.
func (c *Config) BGPPeer(name string) (BGPPeer, bool) {
	i, ok := slices.BinarySearchFunc(c.peers, name, func(p BGPPeer, n string) int { return strings.Compare(p.Name, n) })
	if !ok {
		return BGPPeer{}, false
	}
	return c.peers[i].clone(), true
}

// BFDProfiles returns every BFDProfile.
func (c *Config) BFDProfiles() []BFDProfile { return slices.Clone(c.bfd) }

// PoolFor returns the pool whose ranges contain ip. Pools never overlap, so
// there is at most one. IPv4-mapped IPv6 addresses and addresses with a
// zone are in no pool (pools cannot contain them).
func (c *Config) PoolFor(ip netip.Addr) (name string, ok bool) {
	if !ip.IsValid() || ip.Zone() != "" {
		return "", false
	}
	rs := c.byAddr[familyIndex(ip)]
	// The first range ending at or after ip is the only candidate.
	i := sort.Search(len(rs), func(i int) bool { return ip.Compare(rs[i].r.Last) <= 0 })
	if i < len(rs) && rs[i].r.Contains(ip) {
		return rs[i].pool, true
	}
	return "", false
}

// L2For returns the L2Advertisements that announce the named pool.
func (c *Config) L2For(pool string) []L2Advertisement {
	out := make([]L2Advertisement, 0, len(c.l2ByPool[pool]))
	for _, i := range c.l2ByPool[pool] {
		out = append(out, c.l2[i].clone())
	}
	return out
}

// BGPFor returns the BGPAdvertisements that announce the named pool.
func (c *Config) BGPFor(pool string) []BGPAdvertisement {
	out := make([]BGPAdvertisement, 0, len(c.bgpByPool[pool]))
	for _, i := range c.bgpByPool[pool] {
		out = append(out, c.bgp[i].clone())
	}
	return out
}

func cloneAll[T any](in []T, clone func(T) T) []T {
	out := make([]T, len(in))
	for i, v := range in {
		out[i] = clone(v)
	}
	return out
}

// familyIndex is 0 for IPv4, 1 for IPv6 (including IPv4-mapped).
func familyIndex(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}
