package l2plan

import (
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/pkg/election"
	"github.com/ironlb/ironlb/pkg/lbstate"
)

// Tracker keeps the Plan that Compute returns for its inputs as they
// change, doing work in proportion to the change: a Service's change
// re-decides that Service's IPs, a node's change the IPs whose candidate
// set the node is or was in, and the election itself redoes only the
// decisions the change can reach (election.Elector). Not safe for
// concurrent use.
type Tracker struct {
	cfg   *config.Config
	advs  map[string][]config.L2Advertisement // per pool, from cfg
	live  map[string]bool
	nodes map[string]Node
	svcs  *lbstate.Index // its Dirty: the IPs to decide again
	ips   map[netip.Addr]*ipState
	el    *election.Elector
	plan  Plan
	all   bool // every IP is dirty (configuration changed)
}

// ipState is what the plan knows about one IP.
type ipState struct {
	pool     string
	services []types.NamespacedName   // sorted
	eligible []string                 // nodes that may announce it, sorted
	advs     []config.L2Advertisement // of its pool, selecting its Services
}

// NewTracker returns an empty Tracker.
func NewTracker() *Tracker {
	return &Tracker{
		advs: map[string][]config.L2Advertisement{}, live: map[string]bool{}, nodes: map[string]Node{},
		svcs: lbstate.NewIndex(), ips: map[netip.Addr]*ipState{},
		el:   election.NewElector(),
		plan: Plan{Owners: map[netip.Addr]Owner{}, Unannounced: map[netip.Addr]Unannounced{}},
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

// SetService adds or replaces a Service.
func (t *Tracker) SetService(s lbstate.Service) { t.svcs.Set(s) }

// DeleteService removes a Service.
func (t *Tracker) DeleteService(key types.NamespacedName) { t.svcs.Delete(key) }

// SetNode adds or replaces a node.
func (t *Tracker) SetNode(n Node) {
	old, ok := t.nodes[n.Name]
	if ok && old.Equal(n) {
		return
	}
	t.nodes[n.Name] = n
	// A weight change is the election's alone: it reports the IPs that
	// move.
	t.el.SetWeight(n.Name, n.Weight)
	if !ok || t.cfg == nil || t.nodeSig(old) != t.nodeSig(n) {
		t.nodeChanged(n.Name)
	}
}

// nodeSig is everything the plan reads of a node besides its weight and
// liveness: whether it may announce and why not, and which advertisements
// of each pool select it (an IP's advertisements are a subset of its
// pool's, chosen by its Services; the interfaces follow from the
// selection). A label no advertisement selects on changes nothing, so it
// re-decides nothing.
func (t *Tracker) nodeSig(n Node) string {
	var b strings.Builder
	b.WriteString(strconv.FormatBool(n.Usable) + "|" + n.Why + "|" + strconv.FormatBool(n.Cordoned))
	for _, pool := range t.cfg.PoolNames() {
		b.WriteString("|" + pool + "=")
		for _, a := range t.advsFor(pool) {
			b.WriteString(strconv.FormatBool(a.SelectsNode(n.Labels))[:1])
		}
	}
	return b.String()
}

// DeleteNode removes a node.
func (t *Tracker) DeleteNode(name string) {
	if _, ok := t.nodes[name]; !ok {
		return
	}
	delete(t.nodes, name)
	t.nodeChanged(name)
}

// SetAlive replaces the set of nodes whose speakers are alive.
func (t *Tracker) SetAlive(alive []string) {
	now := make(map[string]bool, len(alive))
	for _, n := range alive {
		now[n] = true
	}
	var flipped []string
	for n := range now {
		if !t.live[n] {
			flipped = append(flipped, n)
		}
	}
	for n := range t.live {
		if !now[n] {
			flipped = append(flipped, n)
		}
	}
	t.live = now
	for _, n := range flipped {
		if _, known := t.nodes[n]; known {
			t.nodeChanged(n)
		}
	}
}

// nodeChanged marks the IPs a node's change can concern: those whose
// candidate set it was in or may now be in, and every IP nobody may
// announce.
func (t *Tracker) nodeChanged(name string) {
	if t.all || t.cfg == nil {
		return
	}
	n, exists := t.nodes[name]
	for ip, st := range t.ips {
		switch {
		case isIn(st.eligible, name):
			t.svcs.Dirty[ip] = true
		case len(st.eligible) == 0:
			// Nobody may announce it, and its reason counts the nodes
			// by why they are not eligible.
			t.svcs.Dirty[ip] = true
		case exists && t.mayAnnounce(n, st):
			t.svcs.Dirty[ip] = true
		}
	}
}

// mayAnnounce reports whether n passes eligibleNodes' tests for the IP
// (cordoned or not: a node uncordoned may take IPs back).
func (t *Tracker) mayAnnounce(n Node, st *ipState) bool {
	if !slices.ContainsFunc(st.advs, func(a config.L2Advertisement) bool { return a.SelectsNode(n.Labels) }) ||
		!n.Usable || !t.live[n.Name] {
		return false
	}
	return servesTraffic(t.servicesOf(st), n.Name)
}

func (t *Tracker) advsFor(pool string) []config.L2Advertisement {
	a, ok := t.advs[pool]
	if !ok {
		a = t.cfg.L2For(pool)
		t.advs[pool] = a
	}
	return a
}

func (t *Tracker) servicesOf(st *ipState) []lbstate.Service {
	out := make([]lbstate.Service, 0, len(st.services))
	for _, k := range st.services {
		s, _ := t.svcs.Get(k)
		out = append(out, s)
	}
	return out
}

// Update brings the plan in line with the changes since the last Update
// and returns it (shared: read it, do not change it) with the IPs whose
// entries may have changed, sorted: every IP whose owner or reason differs
// from the last Update is among them.
func (t *Tracker) Update() (Plan, []netip.Addr) {
	if t.all {
		for ip := range t.ips {
			t.svcs.Dirty[ip] = true
		}
		t.svcs.MarkAll()
		t.all = false
	}
	// Sorted, so eligible lists come out sorted.
	nodes := slices.SortedFunc(maps.Values(t.nodes), func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	for ip := range t.svcs.Dirty {
		t.decide(ip, t.svcs.Users(ip), nodes)
	}
	touched := t.el.Update()
	changed := map[netip.Addr]bool{}
	for _, ip := range touched {
		changed[ip] = true
	}
	for ip := range t.svcs.Dirty {
		changed[ip] = true
	}
	out := make([]netip.Addr, 0, len(changed))
	for ip := range changed {
		t.refresh(ip)
		out = append(out, ip)
	}
	t.svcs.ClearDirty()
	slices.SortFunc(out, netip.Addr.Compare)
	return t.plan, out
}

// decide recomputes one IP's pool, Services (sorted by key) and eligible
// nodes, as Compute does, and hands the eligible nodes to the election.
func (t *Tracker) decide(ip netip.Addr, svcs []lbstate.Service, nodes []Node) {
	if len(svcs) == 0 || t.cfg == nil {
		delete(t.ips, ip)
		delete(t.plan.Unannounced, ip)
		t.el.Set(ip, nil)
		return
	}
	// Compute takes the pool of the first Service listing the IP unless
	// the configuration places the IP in a pool.
	pool := svcs[0].Pool
	if p, ok := t.cfg.PoolFor(ip); ok {
		pool = p
	}
	st := &ipState{pool: pool, services: keysOf(svcs)}
	t.ips[ip] = st
	delete(t.plan.Unannounced, ip)
	advs := config.ForServices(t.advsFor(pool), lbstate.LabelsOf(svcs))
	st.advs = advs
	if len(advs) == 0 {
		t.el.Set(ip, nil)
		return
	}
	eligible, why := eligibleNodes(advs, svcs, nodes, t.live)
	if len(eligible) == 0 {
		t.plan.Unannounced[ip] = Unannounced{Reason: why, Pool: pool, Services: st.services}
		t.el.Set(ip, nil)
		return
	}
	names := make([]string, len(eligible))
	for i, n := range eligible {
		names[i] = n.Name
	}
	st.eligible = names
	t.el.Set(ip, names)
}

// refresh rewrites ip's owner entry from the election.
func (t *Tracker) refresh(ip netip.Addr) {
	owner := t.el.Owner(ip)
	st := t.ips[ip]
	if owner == "" || st == nil {
		delete(t.plan.Owners, ip)
		return
	}
	t.plan.Owners[ip] = Owner{Node: owner, Interfaces: interfacesFor(st.advs, t.nodes[owner]), Pool: st.pool, Services: st.services}
}

// Equal reports whether two nodes decide the same.
func (n Node) Equal(o Node) bool {
	return n.Name == o.Name && n.Weight == o.Weight && n.Usable == o.Usable && n.Why == o.Why && n.Cordoned == o.Cordoned && maps.Equal(n.Labels, o.Labels)
}

// isIn reports whether name is in the sorted list.
func isIn(sorted []string, name string) bool {
	_, ok := slices.BinarySearch(sorted, name)
	return ok
}
