package bgpplan

import (
	"maps"
	"net/netip"
	"reflect"
	"slices"

	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/pkg/lbstate"
	"github.com/ironlb/ironlb/speaker/bgpspec"
	"github.com/ironlb/ironlb/speaker/l2plan"
)

// Tracker keeps the Plan that Compute returns for one node as its inputs
// change, doing work in proportion to the change: a Service's change
// decides that Service's IPs again, a change of the node decides again
// only the IPs whose outcome it can reach (all of them when the node turns
// unusable or its peers change, those of the pools whose advertisements
// select it differently otherwise), and the configuration every IP. Other
// nodes play no part in this node's plan. Not safe for concurrent use.
type Tracker struct {
	cfg       *config.Config
	node      l2plan.Node
	peers     []Peer
	peerNames []string
	advs      map[string][]config.BGPAdvertisement // per pool, from cfg
	svcs      *lbstate.Index                       // its Dirty: the IPs to decide again
	ips       map[netip.Addr]decision              // every IP some Service lists
	byPrefix  map[netip.Prefix]map[netip.Addr]bool // the IPs routed with each prefix
	all       bool                                 // every IP is dirty and the peers are planned again
}

// decision is what the plan holds for one IP.
type decision struct {
	pool     string
	routes   []bgpspec.Route
	withheld string
}

func (d decision) equal(o decision) bool {
	return d.pool == o.pool && d.withheld == o.withheld && reflect.DeepEqual(d.routes, o.routes)
}

// Delta is what an Update changed.
type Delta struct {
	// Peers: the node's sessions may differ from the last Update's.
	Peers bool
	// IPs whose routes or withheld reason differ from the last Update's,
	// sorted.
	IPs []netip.Addr
	// Prefixes whose routes may differ from the last Update's: those of
	// the IPs' routes before and after, sorted. Aggregation can give
	// several IPs one prefix: RoutesFor gives all of its routes.
	Prefixes []netip.Prefix
	// Decided counts the IPs decided again, changed or not: the work the
	// Update did.
	Decided int
	// Touched are those IPs (unsorted): what a caller keeps per IP
	// beyond the routes (Advertised) may have changed only for them.
	Touched []netip.Addr
}

// NewTracker returns an empty Tracker; its node is the zero Node (unusable)
// until SetNode.
func NewTracker() *Tracker {
	return &Tracker{
		advs: map[string][]config.BGPAdvertisement{}, svcs: lbstate.NewIndex(),
		ips: map[netip.Addr]decision{}, byPrefix: map[netip.Prefix]map[netip.Addr]bool{},
	}
}

// SetConfig replaces the configuration; every IP is decided again.
func (t *Tracker) SetConfig(cfg *config.Config) {
	if cfg == t.cfg {
		return
	}
	t.cfg, t.all = cfg, true
	clear(t.advs)
}

// SetNode replaces this node.
func (t *Tracker) SetNode(n l2plan.Node) {
	old := t.node
	t.node = n
	if t.all || t.cfg == nil || old.Equal(n) {
		return
	}
	if old.Usable != n.Usable || old.Why != n.Why || old.Name != n.Name ||
		!slices.Equal(selectingPeers(t.cfg, old), selectingPeers(t.cfg, n)) {
		t.all = true
		return
	}
	// Only the advertisements' node selectors read the labels now.
	var pools []string
	for _, pool := range t.cfg.PoolNames() {
		advs := t.advsFor(pool)
		if !slices.Equal(selecting(advs, old), selecting(advs, n)) {
			pools = append(pools, pool)
		}
	}
	if len(pools) == 0 {
		return
	}
	for ip, d := range t.ips {
		if slices.Contains(pools, d.pool) {
			t.svcs.Dirty[ip] = true
		}
	}
}

// selectingPeers names the BGPPeers that select n.
func selectingPeers(cfg *config.Config, n l2plan.Node) []string {
	_, names := peersOf(cfg, n)
	return names
}

// selecting tells, per advertisement, whether it selects n.
func selecting(advs []config.BGPAdvertisement, n l2plan.Node) []bool {
	out := make([]bool, len(advs))
	for i, a := range advs {
		out[i] = a.SelectsNode(n.Labels)
	}
	return out
}

// SetService adds or replaces a Service.
func (t *Tracker) SetService(s lbstate.Service) { t.svcs.Set(s) }

// DeleteService removes a Service.
func (t *Tracker) DeleteService(key types.NamespacedName) { t.svcs.Delete(key) }

func (t *Tracker) advsFor(pool string) []config.BGPAdvertisement {
	a, ok := t.advs[pool]
	if !ok {
		a = t.cfg.BGPFor(pool)
		t.advs[pool] = a
	}
	return a
}

// Update decides again what changed since the last Update.
func (t *Tracker) Update() Delta {
	var d Delta
	if t.all {
		for ip := range t.ips {
			t.svcs.Dirty[ip] = true
		}
		t.svcs.MarkAll()
		t.peers, t.peerNames = nil, nil
		if t.cfg != nil {
			t.peers, t.peerNames = peersOf(t.cfg, t.node)
		}
		t.all, d.Peers = false, true
	}
	prefixes := map[netip.Prefix]bool{}
	for ip := range t.svcs.Dirty {
		old, had := t.ips[ip]
		now, has := t.decide(ip)
		d.Decided++
		d.Touched = append(d.Touched, ip)
		if had == has && old.equal(now) {
			continue
		}
		d.IPs = append(d.IPs, ip)
		for _, r := range old.routes {
			prefixes[r.Prefix] = true
			delete(t.byPrefix[r.Prefix], ip)
			if len(t.byPrefix[r.Prefix]) == 0 {
				delete(t.byPrefix, r.Prefix)
			}
		}
		for _, r := range now.routes {
			prefixes[r.Prefix] = true
			if t.byPrefix[r.Prefix] == nil {
				t.byPrefix[r.Prefix] = map[netip.Addr]bool{}
			}
			t.byPrefix[r.Prefix][ip] = true
		}
		if has {
			t.ips[ip] = now
		} else {
			delete(t.ips, ip)
		}
	}
	t.svcs.ClearDirty()
	slices.SortFunc(d.IPs, netip.Addr.Compare)
	d.Prefixes = slices.SortedFunc(maps.Keys(prefixes), comparePrefix)
	return d
}

// RoutesFor are the routes of the plan with the given prefixes, as of the
// last Update, sorted as Compute sorts them.
func (t *Tracker) RoutesFor(prefixes []netip.Prefix) []bgpspec.Route {
	var out []bgpspec.Route
	for _, p := range prefixes {
		for ip := range t.byPrefix[p] {
			for _, r := range t.ips[ip].routes {
				if r.Prefix == p {
					out = append(out, r)
				}
			}
		}
	}
	sortRoutes(out)
	return out
}

// decide is Compute's decision for one IP: the pool of the first Service
// by key listing it (unless the configuration places it in a pool), and
// its routes or why it is withheld. False: no Service lists it.
func (t *Tracker) decide(ip netip.Addr) (decision, bool) {
	svcs := t.svcs.Users(ip)
	if len(svcs) == 0 || t.cfg == nil {
		return decision{}, false
	}
	pool := svcs[0].Pool
	if p, ok := t.cfg.PoolFor(ip); ok {
		pool = p
	}
	routes, why := decide(t.advsFor(pool), ip, svcs, t.node, t.peerNames)
	return decision{pool: pool, routes: routes, withheld: why}, true
}

// Advertised are the Services of ip when this node advertises it (it has
// a route to some peer) as of the last Update, sorted; nil when it does
// not.
func (t *Tracker) Advertised(ip netip.Addr) []types.NamespacedName {
	if len(t.ips[ip].routes) == 0 {
		return nil
	}
	users := t.svcs.Users(ip)
	out := make([]types.NamespacedName, len(users))
	for i, s := range users {
		out[i] = s.Key
	}
	return out
}

// Peers are the node's sessions as of the last Update (shared: read them,
// do not change them).
func (t *Tracker) Peers() []Peer { return t.peers }

// Routes are every route of the plan as of the last Update, sorted as
// Compute sorts them.
func (t *Tracker) Routes() []bgpspec.Route {
	var out []bgpspec.Route
	for _, d := range t.ips {
		out = append(out, d.routes...)
	}
	sortRoutes(out)
	return out
}

// Plan is the whole plan as of the last Update, as Compute returns it.
func (t *Tracker) Plan() Plan {
	p := Plan{Peers: slices.Clone(t.peers), Routes: t.Routes(), Withheld: map[netip.Addr]string{}}
	for ip, d := range t.ips {
		if d.withheld != "" {
			p.Withheld[ip] = d.withheld
		}
	}
	return p
}
