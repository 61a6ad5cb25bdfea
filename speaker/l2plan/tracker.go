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
// re-decides that Service's IPs, and a node's change (readiness, labels,
// liveness, coming or going) the IPs whose candidates it is or may become
// through a local endpoint, the IPs it owns and those nobody may
// announce. The IPs any node may announce (a Cluster Service uses them)
// share one candidate list per set of advertisements (a group, handed to
// the election once), so a node's change costs an update of those few
// lists, and the election redoes only the decisions it can reach
// (election.Elector): the IPs the node owned or can take. Not safe for
// concurrent use.
type Tracker struct {
	cfg    *config.Config
	advs   map[string][]config.L2Advertisement // per pool, from cfg
	live   map[string]bool
	nodes  map[string]Node
	sorted []Node         // nodes by name; nil when to be sorted again
	svcs   *lbstate.Index // its Dirty: the IPs a Service change decides again
	// redecide are the IPs a node's change decides again (their
	// candidates or reason may change); unlike a Service's, their entries
	// are reported only when they differ.
	redecide map[netip.Addr]bool
	ips      map[netip.Addr]*ipState
	groups   map[string]*group              // by groupKey
	local    map[string]map[netip.Addr]bool // node -> IPs it may announce only through a local endpoint
	none     map[netip.Addr]bool            // IPs nobody may announce, with a reason that counts the nodes
	stale    map[netip.Addr]bool            // IPs whose owner's interfaces may have changed
	recand   map[netip.Addr]bool            // IPs of local candidates a node's change concerns
	el       *election.Elector
	plan     Plan
	all      bool // every IP is dirty (configuration changed)
	// decided counts the IPs the last Update decided again, changed or
	// not: the work it did, which a change of one Service or node keeps
	// small.
	decided int
}

// ipState is what the plan knows about one IP.
type ipState struct {
	pool     string
	services []types.NamespacedName   // sorted
	advs     []config.L2Advertisement // of its pool, selecting its Services
	group    string                   // its candidates' group; "" when they are its own
	local    []string                 // with its own candidates: the nodes with a local endpoint, indexed in Tracker.local
}

// group is the candidates of the IPs any node may announce, as far as the
// same advertisements select them: those nodes, usable and alive, the
// uncordoned ones when there are.
type group struct {
	advs     []config.L2Advertisement
	eligible []string // sorted, as handed to the election
	ips      map[netip.Addr]bool
	stale    bool // a node changed since eligible was computed
}

// NewTracker returns an empty Tracker.
func NewTracker() *Tracker {
	return &Tracker{
		advs: map[string][]config.L2Advertisement{}, live: map[string]bool{}, nodes: map[string]Node{},
		svcs: lbstate.NewIndex(), ips: map[netip.Addr]*ipState{},
		groups: map[string]*group{}, local: map[string]map[netip.Addr]bool{}, none: map[netip.Addr]bool{},
		stale: map[netip.Addr]bool{}, recand: map[netip.Addr]bool{}, redecide: map[netip.Addr]bool{},
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
	t.sorted = nil
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
	t.sorted = nil
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

// nodeChanged marks what a node's change can concern: the groups'
// candidates, the IPs it may announce through a local endpoint, the IPs
// it owns (their interfaces follow its labels: they are only rewritten), and every IP nobody may
// announce (its reason counts the nodes by why they are not eligible).
func (t *Tracker) nodeChanged(name string) {
	if t.all || t.cfg == nil {
		return
	}
	for _, g := range t.groups {
		g.stale = true
	}
	for ip := range t.local[name] {
		t.recand[ip] = true
	}
	for ip := range t.none {
		t.redecide[ip] = true
	}
	for _, ip := range t.el.Owned(name) {
		t.stale[ip] = true
	}
}

func (t *Tracker) advsFor(pool string) []config.L2Advertisement {
	a, ok := t.advs[pool]
	if !ok {
		a = t.cfg.L2For(pool)
		t.advs[pool] = a
	}
	return a
}

// Update brings the plan in line with the changes since the last Update
// and returns it (shared: read it, do not change it) with the IPs whose
// entries may have changed, sorted: every IP whose owner or reason differs
// from the last Update is among them, and besides those only the IPs of
// the Services that changed (all after a configuration change): a node's
// change adds only the IPs whose entry it changed.
func (t *Tracker) Update() (Plan, []netip.Addr) {
	if t.all {
		for ip := range t.ips {
			t.svcs.Dirty[ip] = true
		}
		t.svcs.MarkAll()
		// Every IP is decided again and joins its group afresh.
		t.groups = map[string]*group{}
		t.all = false
	}
	// Sorted, so eligible lists come out sorted.
	if t.sorted == nil {
		t.sorted = slices.SortedFunc(maps.Values(t.nodes), func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	}
	nodes := t.sorted
	for key, g := range t.groups {
		if g.stale {
			t.refreshGroup(key, g, nodes)
		}
	}
	for ip := range t.recand {
		if !t.svcs.Dirty[ip] && !t.recandidate(ip) {
			t.redecide[ip] = true
		}
	}
	// What a node's change decides again keeps its old reason here, to be
	// compared below.
	before := make(map[netip.Addr]Unannounced, len(t.redecide))
	for ip := range t.redecide {
		if t.svcs.Dirty[ip] {
			delete(t.redecide, ip)
		} else if u, ok := t.plan.Unannounced[ip]; ok {
			before[ip] = u
		}
	}
	for ip := range t.svcs.Dirty {
		t.decide(ip, t.svcs.Users(ip), nodes)
	}
	for ip := range t.redecide {
		t.decide(ip, t.svcs.Users(ip), nodes)
	}
	for key, g := range t.groups {
		if len(g.ips) == 0 {
			delete(t.groups, key)
			t.el.SetGroup(key, nil)
		}
	}
	touched := t.el.Update()
	// A Service's IPs are reported as decided (its status may need
	// rewriting even when the entry reads the same: the Service may be a
	// new one of the same name). The IPs a node's change reached, which
	// are many (every IP it may take through a local endpoint), only when
	// their entry differs: few move, and every consumer's work per
	// reported IP would otherwise follow the cluster's size.
	maybe := make(map[netip.Addr]bool, len(touched)+len(t.redecide)+len(t.stale)+len(t.recand))
	for _, set := range []map[netip.Addr]bool{t.redecide, t.stale, t.recand} {
		for ip := range set {
			maybe[ip] = true
		}
	}
	for _, ip := range touched {
		maybe[ip] = true
	}
	out := make([]netip.Addr, 0, len(t.svcs.Dirty)+len(maybe))
	t.decided = len(t.svcs.Dirty)
	for ip := range t.svcs.Dirty {
		t.refresh(ip)
		out = append(out, ip)
		delete(maybe, ip)
	}
	t.decided += len(maybe)
	for ip := range maybe {
		old, had := t.plan.Owners[ip]
		t.refresh(ip)
		now, has := t.plan.Owners[ip]
		ub, uhad := before[ip]
		if !t.redecide[ip] {
			ub, uhad = t.plan.Unannounced[ip] // not decided again: unchanged
		}
		un, uhas := t.plan.Unannounced[ip]
		if had != has || !old.equal(now) || uhad != uhas || !ub.equal(un) {
			out = append(out, ip)
		}
	}
	t.stale, t.recand, t.redecide = map[netip.Addr]bool{}, map[netip.Addr]bool{}, map[netip.Addr]bool{}
	t.svcs.ClearDirty()
	slices.SortFunc(out, netip.Addr.Compare)
	return t.plan, out
}

// Decided is how many IPs the last Update decided again, changed or not
// (bgpplan's Delta.Decided).
func (t *Tracker) Decided() int { return t.decided }

// refreshGroup recomputes a group's candidates and hands a change to the
// election; its IPs are decided again only when it empties or stops being
// empty (they leave or enter Unannounced).
func (t *Tracker) refreshGroup(key string, g *group, nodes []Node) {
	g.stale = false
	eligible, _ := eligibleAmong(g.advs, nodes, t.live, nil)
	names := namesOf(eligible)
	if slices.Equal(names, g.eligible) {
		return
	}
	if (len(names) == 0) != (len(g.eligible) == 0) {
		for ip := range g.ips {
			t.redecide[ip] = true
		}
	}
	g.eligible = names
	t.el.SetGroup(key, names)
}

// groupKey names the group of the IPs whose candidates advs select: the
// advertisements' names (a name is one advertisement of the
// configuration).
func groupKey(advs []config.L2Advertisement) string {
	var b strings.Builder
	for _, a := range advs {
		b.WriteString(a.Name)
		b.WriteByte(0)
	}
	return b.String()
}

// decide recomputes one IP's pool, Services (sorted by key) and
// candidates, as Compute does, and hands the candidates to the election:
// its group's when any node may announce it, its own list otherwise.
func (t *Tracker) decide(ip netip.Addr, svcs []lbstate.Service, nodes []Node) {
	var oldLocal, local []string // the nodes with a local endpoint, when the IP has its own candidates
	if st := t.ips[ip]; st != nil {
		oldLocal = st.local
	}
	defer func() { t.setLocal(ip, oldLocal, local) }()
	t.forget(ip)
	delete(t.plan.Unannounced, ip)
	if len(svcs) == 0 || t.cfg == nil {
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
	advs := config.ForServices(t.advsFor(pool), lbstate.LabelsOf(svcs))
	st.advs = advs
	if len(advs) == 0 {
		t.el.Set(ip, nil)
		return
	}
	if !anyEndpoints(svcs) {
		t.plan.Unannounced[ip] = Unannounced{Reason: "no ready endpoint", Pool: pool, Services: st.services}
		t.el.Set(ip, nil)
		return
	}
	if clusterServes(svcs) {
		key := groupKey(advs)
		g := t.groups[key]
		if g == nil {
			// The election may still hold the group as an earlier
			// configuration left it: hand it the candidates in any case.
			eligible, _ := eligibleAmong(advs, nodes, t.live, nil)
			g = &group{advs: advs, eligible: namesOf(eligible), ips: map[netip.Addr]bool{}}
			t.groups[key] = g
			t.el.SetGroup(key, g.eligible)
		}
		g.ips[ip] = true
		st.group = key
		if len(g.eligible) == 0 {
			_, why := eligibleAmong(advs, nodes, t.live, nil)
			t.unannounced(ip, st, why)
		}
		t.el.Join(ip, key)
		return
	}
	// Only the nodes with a local endpoint may be candidates: look at
	// those, and at every node only to say why none is.
	local = endpointNodes(svcs)
	eligible := t.localCandidates(advs, local)
	if len(eligible) == 0 {
		_, why := eligibleAmong(advs, nodes, t.live, svcs)
		t.unannounced(ip, st, why)
		t.el.Set(ip, nil)
		return
	}
	t.el.Set(ip, eligible)
}

// localCandidates are the candidates of an IP no Service serves from
// every node, among the nodes with a local endpoint: those of its
// Services that are Local, as none that is not has an endpoint.
func (t *Tracker) localCandidates(advs []config.L2Advertisement, local []string) []string {
	var all, open []string
	for _, name := range local {
		n, ok := t.nodes[name]
		if !ok {
			continue
		}
		if _, ok := whyNot(&n, advs, t.live, nil); !ok {
			continue
		}
		all = append(all, name)
		if !n.Cordoned {
			open = append(open, name)
		}
	}
	// As eligibleAmong: cordoned nodes only when no uncordoned one is.
	if len(open) > 0 {
		return open
	}
	return all
}

// recandidate redoes, after a node's change, the candidates of an IP that
// has its own, which its Services leave as they were; false when the IP
// must be decided in full (it has no candidate, before or now: its reason
// counts every node).
func (t *Tracker) recandidate(ip netip.Addr) bool {
	st := t.ips[ip]
	if st == nil || st.group != "" || t.none[ip] || len(st.local) == 0 {
		return false
	}
	eligible := t.localCandidates(st.advs, st.local)
	if len(eligible) == 0 {
		return false
	}
	t.el.Set(ip, eligible)
	return true
}

// unannounced records that nobody may announce ip, for a reason that
// counts the nodes.
func (t *Tracker) unannounced(ip netip.Addr, st *ipState, why string) {
	t.plan.Unannounced[ip] = Unannounced{Reason: why, Pool: st.pool, Services: st.services}
	t.none[ip] = true
}

// forget drops what the group and none indexes hold of ip's last
// decision (decide rewrites the local one through setLocal).
func (t *Tracker) forget(ip netip.Addr) {
	st := t.ips[ip]
	if st == nil {
		return
	}
	delete(t.ips, ip)
	delete(t.none, ip)
	if g := t.groups[st.group]; g != nil {
		delete(g.ips, ip)
	}
}

// setLocal indexes ip under the nodes with a local endpoint (sorted),
// changing only what differs from its last decision: usually nothing.
func (t *Tracker) setLocal(ip netip.Addr, old, local []string) {
	if st := t.ips[ip]; st != nil {
		st.local = local
	}
	if slices.Equal(old, local) {
		return
	}
	for _, n := range old {
		if _, still := slices.BinarySearch(local, n); !still {
			delete(t.local[n], ip)
			if len(t.local[n]) == 0 {
				delete(t.local, n)
			}
		}
	}
	for _, n := range local {
		if t.local[n] == nil {
			t.local[n] = map[netip.Addr]bool{}
		}
		t.local[n][ip] = true
	}
}

// endpointNodes are the nodes with a usable endpoint of svcs, sorted.
func endpointNodes(svcs []lbstate.Service) []string {
	var out []string
	for _, s := range svcs {
		for _, c := range s.Endpoints {
			if c.N > 0 {
				out = append(out, c.Node)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func namesOf(nodes []*Node) []string {
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	return names
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

func (o Owner) equal(p Owner) bool {
	return o.Node == p.Node && o.Pool == p.Pool && slices.Equal(o.Interfaces, p.Interfaces) && slices.Equal(o.Services, p.Services)
}

func (u Unannounced) equal(v Unannounced) bool {
	return u.Reason == v.Reason && u.Pool == v.Pool && slices.Equal(u.Services, v.Services)
}

// Equal reports whether two nodes decide the same.
func (n Node) Equal(o Node) bool {
	return n.Name == o.Name && n.Weight == o.Weight && n.Usable == o.Usable && n.Why == o.Why && n.Cordoned == o.Cordoned && maps.Equal(n.Labels, o.Labels)
}
