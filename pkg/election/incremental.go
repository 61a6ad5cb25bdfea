package election

import (
	"cmp"
	"math"
	"net/netip"
	"slices"
)

// Elector keeps the result of Elect for a changing set of items and
// weights, redoing only the decisions a change can reach. After every
// Update its owners equal Elect over its items, with as candidates every
// node eligible for at least one item.
//
// Elect is one pass over the items in hash order in which an item takes its
// favourite eligible node that is below capacity, so a change could in
// principle reach every later item. But a later decision depends on the
// loads only through "load < capacity" of its eligible nodes. The Elector
// walks the items from the first one a change can reach, tracking for each
// node how far its load and capacity have moved from the previous pass
// (delta), and jumps over every stretch of unchanged items in which no
// moved node's previous load is in the band where that test could come out
// differently. An endpoint change to one Service thus re-elects that
// Service's IPs and, typically, nothing else.
//
// Items may share their eligible nodes through a group (Join, SetGroup):
// the thousands of IPs any node may announce then hold one list, and a
// node joining or leaving it re-elects only the IPs it can win or owned
// instead of every IP of the group.
type Elector struct {
	weights map[string]int        // set by SetWeight; 1 when absent
	refs    map[string]int        // node -> items with own lists and groups with members naming it eligible
	entries map[netip.Addr]*entry // every item, those of groups without nodes included
	items   map[netip.Addr]*entry // the items with eligible nodes: the ones elected
	groups  map[string]*group
	order   []key              // items, in the order Elect processes them
	owned   map[string][]key   // node -> keys of the items it owns, sorted
	caps    map[string]int     // capacities of the last Update
	uniform bool               // all candidate weights equal in the last Update
	dirty   map[netip.Addr]key // items changed since the last Update
	redoAll bool
	hashes  map[string]uint64 // hashString per node name
	scratch []float64         // decide's scores
}

// key orders items as Elect does: by hash, then address.
type key struct {
	hash uint64
	ip   netip.Addr
}

func (a key) compare(b key) int {
	if c := cmp.Compare(a.hash, b.hash); c != 0 {
		return c
	}
	return a.ip.Compare(b.ip)
}

type entry struct {
	key      key
	eligible []string // own eligible nodes (sorted, unique, non-empty names) when group is nil
	group    *group
	owner    string
}

// nodes are the item's eligible nodes, sorted.
func (it *entry) nodes() []string {
	if it.group != nil {
		return it.group.nodes
	}
	return it.eligible
}

// eligibleFor reports whether n is among nodes().
func (it *entry) eligibleFor(n string) bool {
	if it.group != nil {
		return it.group.has[n]
	}
	_, ok := slices.BinarySearch(it.eligible, n)
	return ok
}

// group is a list of eligible nodes shared by its members.
type group struct {
	nodes   []string // sorted, unique, non-empty names
	hashes  []uint64 // hashString of each of nodes
	has     map[string]bool
	members map[netip.Addr]*entry
}

// NewElector returns an Elector without items.
func NewElector() *Elector {
	return &Elector{
		weights: map[string]int{}, refs: map[string]int{}, items: map[netip.Addr]*entry{},
		entries: map[netip.Addr]*entry{}, groups: map[string]*group{},
		owned: map[string][]key{}, caps: map[string]int{}, dirty: map[netip.Addr]key{}, hashes: map[string]uint64{},
	}
}

// SetWeight sets a node's weight (values below 1 mean 1).
func (e *Elector) SetWeight(node string, w int) {
	w = max(w, 1)
	if old := max(e.weights[node], 1); old != w {
		if e.refs[node] > 0 {
			e.redoAll = true // its scores change for every item it may take
		}
	}
	if w == 1 {
		delete(e.weights, node)
	} else {
		e.weights[node] = w
	}
}

// Set makes eligible the nodes that may announce ip; none removes the item.
// An item in a group leaves it.
func (e *Elector) Set(ip netip.Addr, eligible []string) {
	if !ip.IsValid() {
		return
	}
	ip = ip.WithZone("")
	el := cleanNames(eligible)
	cur := e.entries[ip]
	if cur == nil && len(el) == 0 || cur != nil && cur.group == nil && slices.Equal(cur.eligible, el) {
		return
	}
	k := key{hash: hashAddr(ip), ip: ip}
	if cur != nil && cur.group == nil && len(el) > 0 {
		// A list replacing a list: count only the names that differ, and
		// elect again only if the change can reach the owner.
		if e.listReaches(cur, el) {
			e.touch(ip, k)
		}
		e.holdDiff(cur.eligible, el)
		cur.eligible = el
		return
	}
	e.touch(ip, k)
	if cur != nil {
		e.detach(ip, cur)
	}
	if len(el) == 0 {
		delete(e.entries, ip)
		return
	}
	if cur == nil {
		cur = &entry{key: k}
		e.entries[ip] = cur
	}
	cur.eligible = el
	e.hold(el, 1)
	e.items[ip] = cur
}

// Join makes ip's eligible nodes those of the group name (SetGroup), now
// and as they change; while the group has no nodes the item is absent, as
// with Set(ip, nil). Set takes it out of the group again.
func (e *Elector) Join(ip netip.Addr, name string) {
	if !ip.IsValid() {
		return
	}
	ip = ip.WithZone("")
	g := e.groups[name]
	if g == nil {
		g = &group{members: map[netip.Addr]*entry{}}
		e.groups[name] = g
	}
	cur := e.entries[ip]
	if cur != nil && cur.group == g {
		return
	}
	k := key{hash: hashAddr(ip), ip: ip}
	e.touch(ip, k)
	if cur != nil {
		e.detach(ip, cur)
	} else {
		cur = &entry{key: k}
		e.entries[ip] = cur
	}
	if len(g.members) == 0 {
		e.hold(g.nodes, 1)
	}
	g.members[ip] = cur
	cur.group = g
	if len(g.nodes) > 0 {
		e.items[ip] = cur
	}
}

// SetGroup makes nodes the eligible nodes of the group name's items. Only
// the items a change can reach are elected again: those a node leaving
// owned, and those a node joining may take (it outscores the owner, or
// the owner was over capacity and so any free node would do). Scoring the
// joining node once per item is the whole cost for the others.
func (e *Elector) SetGroup(name string, nodes []string) {
	el := cleanNames(nodes)
	g := e.groups[name]
	if g == nil {
		if len(el) == 0 {
			return
		}
		g = &group{members: map[netip.Addr]*entry{}}
		e.groups[name] = g
	}
	if slices.Equal(g.nodes, el) {
		return
	}
	old := g.nodes
	g.nodes = el
	g.hashes = make([]uint64, len(el))
	g.has = make(map[string]bool, len(el))
	for i, n := range el {
		g.hashes[i] = e.nodeHash(n)
		g.has[n] = true
	}
	if len(g.members) == 0 {
		if len(el) == 0 {
			delete(e.groups, name)
		}
		return
	}
	e.hold(old, -1)
	e.hold(el, 1)
	if len(old) == 0 || len(el) == 0 {
		// The items come or go.
		for ip, it := range g.members {
			e.touch(ip, it.key)
			if len(el) > 0 {
				e.items[ip] = it
			} else {
				delete(e.items, ip)
			}
		}
		return
	}
	for _, r := range old {
		if _, kept := slices.BinarySearch(el, r); kept {
			continue
		}
		for _, k := range e.owned[r] {
			if it := e.items[k.ip]; it != nil && it.group == g {
				e.touch(k.ip, k)
			}
		}
	}
	for _, a := range el {
		if _, had := slices.BinarySearch(old, a); had {
			continue
		}
		e.joined(g, a)
	}
}

// joined marks the items of g that node a, newly eligible for them, can
// take from their owner o: in Elect's pass o was the best-scoring node
// below capacity, or the best-scoring one when none was, so a matters
// only if it outscores o or o was at capacity. (Capacities that move in
// the next pass are the walk's business: see Elector.) It goes through
// the owners' items, which hold the items' hashes, so that the cost is
// one score per item; the items without an owner are new and already
// marked.
func (e *Elector) joined(g *group, a string) {
	ca := candidate{name: a, weight: e.weight(a), hash: e.nodeHash(a)}
	for o, ks := range e.owned {
		co := candidate{name: o, weight: e.weight(o), hash: e.nodeHash(o)}
		c := e.caps[o]
		for i, k := range ks {
			sa, so := ca.score(k.hash, e.uniform), co.score(k.hash, e.uniform)
			// At the capacity-th item and after, o was full.
			if (sa > so || sa == so && a < o || i >= c) && g.members[k.ip] != nil {
				e.touch(k.ip, k)
			}
		}
	}
}

// listReaches reports whether replacing the own list of it by el can
// change its owner, by the rule joined applies to a group: a node leaving
// matters only if it is the owner, a node joining only if it outscores
// the owner or the owner was at capacity at this item in the last pass
// (capacities that move are the walk's business). A node's change thus
// re-elects the few items of the Local Services with an endpoint on it
// that it owned or can take, not all of them.
func (e *Elector) listReaches(it *entry, el []string) bool {
	o := it.owner
	if o == "" || e.redoAll {
		return true
	}
	if _, ok := slices.BinarySearch(el, o); !ok {
		return true
	}
	i, ok := slices.BinarySearchFunc(e.owned[o], it.key, key.compare)
	if !ok {
		return true
	}
	co := candidate{name: o, weight: e.weight(o), hash: e.nodeHash(o)}
	so := co.score(it.key.hash, e.uniform)
	for _, a := range el {
		if _, had := slices.BinarySearch(it.eligible, a); had {
			continue
		}
		ca := candidate{name: a, weight: e.weight(a), hash: e.nodeHash(a)}
		if sa := ca.score(it.key.hash, e.uniform); sa > so || sa == so && a < o || i >= e.caps[o] {
			return true
		}
	}
	return false
}

// touch marks an item to elect again.
func (e *Elector) touch(ip netip.Addr, k key) {
	if _, ok := e.dirty[ip]; !ok {
		e.dirty[ip] = k
	}
}

// detach takes an item out of its group or drops its own list; it is no
// longer elected until given nodes again.
func (e *Elector) detach(ip netip.Addr, it *entry) {
	delete(e.items, ip)
	if g := it.group; g != nil {
		delete(g.members, ip)
		if len(g.members) == 0 {
			e.hold(g.nodes, -1)
		}
		it.group = nil
		return
	}
	e.hold(it.eligible, -1)
	it.eligible = nil
}

// hold counts, per node, the item lists and groups naming it.
func (e *Elector) hold(nodes []string, d int) {
	for _, n := range nodes {
		if e.refs[n] += d; e.refs[n] == 0 {
			delete(e.refs, n)
		}
	}
}

// holdDiff moves the counts of hold from the sorted list old to the
// sorted list now, touching only the names in one of them.
func (e *Elector) holdDiff(old, now []string) {
	i, j := 0, 0
	for i < len(old) || j < len(now) {
		switch {
		case j >= len(now) || i < len(old) && old[i] < now[j]:
			e.hold(old[i:i+1], -1)
			i++
		case i >= len(old) || now[j] < old[i]:
			e.hold(now[j:j+1], 1)
			j++
		default:
			i++
			j++
		}
	}
}

// cleanNames sorts names and drops repeats and empty ones.
func cleanNames(names []string) []string {
	el := slices.Clone(names)
	slices.Sort(el)
	el = slices.Compact(el)
	return slices.DeleteFunc(el, func(n string) bool { return n == "" })
}

// Owner is ip's elected node ("" if none), as of the last Update.
func (e *Elector) Owner(ip netip.Addr) string {
	if it := e.items[ip]; it != nil {
		return it.owner
	}
	return ""
}

// Owners returns every item's owner as of the last Update.
func (e *Elector) Owners() map[netip.Addr]string {
	out := make(map[netip.Addr]string, len(e.items))
	for ip, it := range e.items {
		if it.owner != "" {
			out[ip] = it.owner
		}
	}
	return out
}

// Owned lists the items node owned as of the last Update, in no
// particular order.
func (e *Elector) Owned(node string) []netip.Addr {
	out := make([]netip.Addr, len(e.owned[node]))
	for i, k := range e.owned[node] {
		out[i] = k.ip
	}
	return out
}

// Len is the number of items.
func (e *Elector) Len() int { return len(e.items) }

func (e *Elector) weight(n string) int { return max(e.weights[n], 1) }

// Update re-elects after Set and SetWeight calls and returns the IPs whose
// owner changed (removed items included), sorted.
func (e *Elector) Update() []netip.Addr {
	// The pass's parameters: candidates, their capacities, score mode.
	total := 0
	uniform, first := true, -1
	for n := range e.refs {
		w := e.weight(n)
		total += w
		if first < 0 {
			first = w
		}
		uniform = uniform && w == first
	}
	caps := make(map[string]int, len(e.refs))
	for n := range e.refs {
		caps[n] = int(math.Ceil(LoadFactor * float64(len(e.items)) * float64(e.weight(n)) / float64(total)))
	}
	if uniform != e.uniform {
		e.redoAll = true
	}
	e.syncOrder()

	var changed map[netip.Addr]string // ip -> previous owner
	if e.redoAll || len(e.dirty) > len(e.items)/4 {
		changed = e.redo()
	} else {
		changed = e.walk(caps, uniform)
	}
	e.applyOwners(changed)
	e.caps, e.uniform, e.redoAll = caps, uniform, false
	// A fresh map, not a cleared one: a map keeps the room it grew to, and
	// ranging over it (walk) costs that room, not what it holds. Room for
	// a change like this one, up to a node's share, saves regrowing it.
	e.dirty = make(map[netip.Addr]key, min(len(e.dirty), 256))
	out := make([]netip.Addr, 0, len(changed))
	for ip, prev := range changed {
		if e.Owner(ip) != prev {
			out = append(out, ip)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// syncOrder brings order in line with items after Set calls: only the
// items that came or went move in it.
func (e *Elector) syncOrder() {
	var flips []key
	for ip, k := range e.dirty {
		_, found := slices.BinarySearchFunc(e.order, k, key.compare)
		if _, present := e.items[ip]; found != present {
			flips = append(flips, k)
		}
	}
	if len(flips) > 64 {
		e.order = e.order[:0]
		for _, it := range e.items {
			e.order = append(e.order, it.key)
		}
		slices.SortFunc(e.order, key.compare)
		return
	}
	for _, k := range flips {
		i, found := slices.BinarySearchFunc(e.order, k, key.compare)
		if found {
			e.order = slices.Delete(e.order, i, i+1)
		} else {
			e.order = slices.Insert(e.order, i, k)
		}
	}
}

// decide is one step of Elect's pass: the favourite eligible node below
// capacity, else the favourite. It scores every eligible node but tests
// capacity (a search in a node's owned items) from the favourite down
// only until a node passes, usually the first.
func (e *Elector) decide(it *entry, uniform bool, free func(string) bool) string {
	nodes := it.nodes()
	scores := e.scoresOf(it, uniform)
	out := make([]bool, len(nodes)) // full: ruled out
	best := -1
	for {
		b := -1
		for i := range nodes {
			if !out[i] && (b < 0 || scores[i] > scores[b] || scores[i] == scores[b] && nodes[i] < nodes[b]) {
				b = i
			}
		}
		if b < 0 {
			return nodes[best] // every node full: the favourite keeps it
		}
		if best < 0 {
			best = b
		}
		if free(nodes[b]) {
			return nodes[b]
		}
		out[b] = true
	}
}

// scoresOf scores an item's eligible nodes, in the order of nodes(), into
// a buffer the next call reuses.
func (e *Elector) scoresOf(it *entry, uniform bool) []float64 {
	nodes := it.nodes()
	e.scratch = slices.Grow(e.scratch[:0], len(nodes))[:len(nodes)]
	for i, n := range nodes {
		var h uint64
		if it.group != nil {
			h = it.group.hashes[i]
		} else {
			h = e.nodeHash(n)
		}
		w := 1
		if !uniform {
			w = e.weight(n)
		}
		e.scratch[i] = candidate{name: n, weight: w, hash: h}.score(it.key.hash, uniform)
	}
	return e.scratch
}

// redo runs the whole pass: Elect itself, whose arrays beat the walk's
// maps when everything is to be decided again. It returns the previous
// owner of every item whose owner may have changed.
func (e *Elector) redo() map[netip.Addr]string {
	changed := map[netip.Addr]string{}
	for ip := range e.dirty {
		changed[ip] = e.prevOwner(ip)
	}
	items := make([]Item, 0, len(e.items))
	for ip, it := range e.items {
		items = append(items, Item{IP: ip, Eligible: it.nodes()})
	}
	cands := make([]Candidate, 0, len(e.refs))
	for n := range e.refs {
		cands = append(cands, Candidate{Node: n, Weight: e.weight(n)})
	}
	owners := Elect(items, cands)
	for ip, it := range e.items {
		if o := owners[ip]; o != it.owner {
			if _, ok := changed[ip]; !ok {
				changed[ip] = it.owner
			}
			it.owner = o
		}
	}
	return changed
}

// prevOwner is the owner ip had in the last Update ("" if none), read from
// owned, which Update rewrites only at its end.
func (e *Elector) prevOwner(ip netip.Addr) string {
	k := key{hash: hashAddr(ip), ip: ip}
	if it := e.entries[ip]; it != nil && it.owner != "" {
		if _, found := slices.BinarySearchFunc(e.owned[it.owner], k, key.compare); found {
			return it.owner
		}
	}
	for n, ks := range e.owned {
		if _, found := slices.BinarySearchFunc(ks, k, key.compare); found {
			return n
		}
	}
	return ""
}

// oldLoad is how many items n owned before k in the last pass.
func (e *Elector) oldLoad(n string, k key) int {
	i, _ := slices.BinarySearchFunc(e.owned[n], k, key.compare)
	return i
}

// walk redoes the pass from where changes can reach, skipping stretches
// that cannot change (see Elector).
func (e *Elector) walk(caps map[string]int, uniform bool) map[netip.Addr]string {
	changed := make(map[netip.Addr]string, 2*len(e.dirty))
	dirty := make([]key, 0, len(e.dirty))
	for ip, k := range e.dirty {
		dirty = append(dirty, k)
		changed[ip] = e.prevOwner(ip)
	}
	slices.SortFunc(dirty, key.compare)
	delta := map[string]int{} // load in this pass - load in the last, so far

	// A node's capacity test can differ from the last pass only while its
	// previous load is in [lo, hi]; as loads only grow, that is a range of
	// keys, (start, end]. moved lists the candidates where it can happen.
	bandOf := func(n string) band {
		c, c2 := e.caps[n], caps[n]-delta[n]
		lo, hi := min(c, c2), max(c, c2)-1
		if lo > hi {
			return band{never: true}
		}
		ks := e.owned[n]
		// Within the band the old load L is in [lo, hi]: the node was
		// below capacity c and is not (L < c), or the reverse.
		b := band{node: n, hash: e.nodeHash(n), free: c2 > c}
		if hi < 0 {
			return band{never: true}
		}
		if lo <= 0 {
			b.always = true
		} else if lo-1 < len(ks) {
			b.start = ks[lo-1]
		} else {
			return band{never: true}
		}
		if hi >= len(ks) {
			b.forever = true
		} else {
			b.end = ks[hi]
		}
		return b
	}
	bands := &bandSet{slot: map[string]int{}}
	refresh := func(n string) {
		// A node that was no candidate in the last pass has no band:
		// every item it became eligible for was marked dirty (Set) or
		// vetted by joined (SetGroup), and elsewhere it does not count.
		_, cand := caps[n]
		_, was := e.caps[n]
		if !cand || !was {
			bands.drop(n)
			return
		}
		if b := bandOf(n); !b.never {
			bands.set(b)
		} else {
			bands.drop(n)
		}
	}
	for n := range caps {
		refresh(n)
	}
	for n := range e.caps {
		refresh(n)
	}
	inBand := func(k key) bool {
		for i := range bands.list {
			if bands.list[i].covers(k) {
				return true
			}
		}
		return false
	}
	// nextBand is the first key after k at which some band starts.
	nextBand := func(k key) (key, bool) {
		var best key
		found := false
		for _, b := range bands.list {
			if b.always {
				continue
			}
			if b.start.compare(k) >= 0 && (!found || b.start.compare(best) < 0) {
				best, found = b.start, true
			}
		}
		return best, found
	}
	free := func(k key) func(string) bool {
		return func(n string) bool { return e.oldLoad(n, k)+delta[n] < caps[n] }
	}
	move := func(k key, from, to string) {
		if from == to {
			return
		}
		if _, ok := changed[k.ip]; !ok {
			changed[k.ip] = from
		}
		if from != "" {
			delta[from]--
			refresh(from)
		}
		if to != "" {
			delta[to]++
			refresh(to)
		}
	}

	pos, di := 0, 0
	for {
		if di < len(dirty) && (pos >= len(e.order) || dirty[di].compare(e.order[pos]) <= 0) {
			k := dirty[di]
			di++
			prev := changed[k.ip]
			to := ""
			if pos < len(e.order) && e.order[pos] == k {
				pos++
				it := e.items[k.ip]
				to = e.decide(it, uniform, free(k))
				it.owner = to
			}
			move(k, prev, to)
			continue
		}
		if pos >= len(e.order) {
			break
		}
		k := e.order[pos]
		if !inBand(k) {
			// Nothing can change before the next dirty item or band.
			next, ok := nextBand(k)
			if di < len(dirty) && (!ok || dirty[di].compare(next) < 0) {
				next, ok = dirty[di], true
			}
			if !ok {
				break
			}
			i, _ := slices.BinarySearchFunc(e.order, next, key.compare)
			if i > pos {
				pos = i
				continue
			}
		}
		it := e.items[k.ip]
		prev := it.owner
		if e.keeps(it, k, uniform, bands) {
			pos++
			continue
		}
		to := e.decide(it, uniform, free(k))
		it.owner = to
		move(k, prev, to)
		pos++
	}
	return changed
}

// keeps reports whether an unchanged item certainly keeps its owner at k,
// looking only at the nodes whose capacity test flips here (those with a
// band covering k) instead of scoring every eligible node. Its owner o was
// the best-scoring free node, or the best node when none was free. The
// decision can change only if o's own test flips, or a node that is now
// free and was not becomes eligible to beat o: any such node when none was
// free, one scoring above o otherwise.
func (e *Elector) keeps(it *entry, k key, uniform bool, bands *bandSet) bool {
	o := it.owner
	var oScore float64
	scored, oWasFree := false, true
	for i := range bands.list {
		b := &bands.list[i]
		if !b.covers(k) {
			continue
		}
		if b.node == o {
			return false // its owner is eligible, or it would be dirty
		}
		if !b.free {
			continue // a node turning full that did not own it changes nothing
		}
		if !scored {
			scored = true
			oScore = e.score(o, k.hash, uniform)
			// o owning no more than its capacity was never full.
			oWasFree = len(e.owned[o]) <= e.caps[o] || e.oldLoad(o, k) < e.caps[o]
		}
		if oWasFree {
			w := 1
			if !uniform {
				w = e.weight(b.node)
			}
			if s := (candidate{name: b.node, weight: w, hash: b.hash}).score(k.hash, uniform); s < oScore || s == oScore && b.node > o {
				continue // o stays the best free node
			}
		}
		if it.eligibleFor(b.node) {
			return false
		}
	}
	return true
}

// score is node n's rendezvous score for an item hash.
func (e *Elector) score(n string, h uint64, uniform bool) float64 {
	w := 1 // unused when uniform
	if !uniform {
		w = e.weight(n)
	}
	return candidate{name: n, weight: w, hash: e.nodeHash(n)}.score(h, uniform)
}

// nodeHash caches hashString per node name.
func (e *Elector) nodeHash(n string) uint64 {
	h, ok := e.hashes[n]
	if !ok {
		h = hashString(n)
		e.hashes[n] = h
	}
	return h
}

// band is the range of keys (start, end] over which a node's capacity
// test may come out differently than in the last pass.
type band struct {
	node       string
	hash       uint64 // the node's
	free       bool   // the node is below capacity in the band and was not; else the reverse
	start, end key
	always     bool // from the very beginning
	never      bool
	forever    bool // to the very end
}

func (b *band) covers(k key) bool {
	return (b.always || b.start.compare(k) < 0) && (b.forever || k.compare(b.end) <= 0)
}

// bandSet holds the walk's bands in a slice, which it scans for every
// item it visits, with each node's place in it.
type bandSet struct {
	list []band
	slot map[string]int
}

func (s *bandSet) set(b band) {
	if i, ok := s.slot[b.node]; ok {
		s.list[i] = b
		return
	}
	s.slot[b.node] = len(s.list)
	s.list = append(s.list, b)
}

func (s *bandSet) drop(n string) {
	i, ok := s.slot[n]
	if !ok {
		return
	}
	last := len(s.list) - 1
	s.list[i] = s.list[last]
	s.slot[s.list[i].node] = i
	s.list = s.list[:last]
	delete(s.slot, n)
}

// applyOwners rewrites owned for the items whose owner may have changed.
func (e *Elector) applyOwners(changed map[netip.Addr]string) {
	for ip, prev := range changed {
		k := key{hash: hashAddr(ip), ip: ip}
		if prev != "" {
			if i, found := slices.BinarySearchFunc(e.owned[prev], k, key.compare); found {
				e.owned[prev] = slices.Delete(e.owned[prev], i, i+1)
			}
			if len(e.owned[prev]) == 0 {
				delete(e.owned, prev)
			}
		}
		if it := e.items[ip]; it != nil && it.owner != "" {
			ks := e.owned[it.owner]
			if i, found := slices.BinarySearchFunc(ks, k, key.compare); !found {
				e.owned[it.owner] = slices.Insert(ks, i, k)
			}
		}
	}
}
