package election

import (
	"cmp"
	"math"
	"net/netip"
	"slices"
)

// LoadFactor is the c of consistent hashing with bounded loads: a node's
// capacity is ceil(LoadFactor × items × weight/totalWeight). Lower values
// balance more tightly but move more IPs when nodes come and go. 1.2 (rather
// than the textbook 1.25) makes "no node holds more than 40 % of the IPs with
// three equal nodes" a guarantee instead of a likely outcome; with random IP
// sets it moved at most 1.5 % of the surviving nodes' IPs when a node left
// (3 nodes, 300 IPs).
const LoadFactor = 1.2

// Candidate is a live node that may announce IPs.
type Candidate struct {
	Node string
	// Weight scales the node's share of IPs. Values below 1 mean 1 (the
	// default); a node of weight 2 gets about twice the IPs of a node of
	// weight 1.
	Weight int
}

// Item is one Service IP to place.
type Item struct {
	IP netip.Addr
	// Eligible lists the nodes that may announce IP (for example the nodes
	// with a ready endpoint under externalTrafficPolicy: Local). The caller
	// filters it; names that are not live candidates are ignored.
	Eligible []string
}

// Elect returns, for each item's IP, the node that announces it. IPs with no
// eligible live node, and invalid IPs, are absent from the result. The same
// IP listed twice is one item whose eligible nodes are the union of both.
// Candidates with an empty name are ignored; a node listed twice counts once
// with its largest weight.
func Elect(items []Item, nodes []Candidate) map[netip.Addr]string {
	cands := normalizeCandidates(nodes)
	out := make(map[netip.Addr]string, len(items))
	if len(cands) == 0 {
		return out
	}
	index := make(map[string]int32, len(cands))
	totalWeight := 0
	uniform := true
	for i, c := range cands {
		index[c.name] = int32(i)
		totalWeight += c.weight
		uniform = uniform && c.weight == cands[0].weight
	}

	work := resolveItems(items, index)
	if len(work) == 0 {
		return out
	}

	// Capacity uses the number of placeable items so that a node's bound
	// follows the real load, not IPs that no live node may take.
	load := make([]int, len(cands))
	capacity := make([]int, len(cands))
	for i, c := range cands {
		capacity[i] = int(math.Ceil(LoadFactor * float64(len(work)) * float64(c.weight) / float64(totalWeight)))
	}

	for _, it := range work {
		best, bestFree := int32(-1), int32(-1)
		var bestScore, bestFreeScore float64
		for _, n := range it.eligible {
			s := cands[n].score(it.hash, uniform)
			if best < 0 || better(s, n, bestScore, best, cands) {
				best, bestScore = n, s
			}
			if load[n] < capacity[n] && (bestFree < 0 || better(s, n, bestFreeScore, bestFree, cands)) {
				bestFree, bestFreeScore = n, s
			}
		}
		// When every eligible node is full the IP still needs an owner:
		// its favourite keeps it, which is what it would get without the
		// bound.
		owner := best
		if bestFree >= 0 {
			owner = bestFree
		}
		load[owner]++
		out[it.ip] = cands[owner].name
	}
	return out
}

// better orders scores; equal scores (practically impossible) fall back to
// the node name so that the order is still total and input-independent.
func better(s float64, n int32, t float64, m int32, cands []candidate) bool {
	if s != t {
		return s > t
	}
	return cands[n].name < cands[m].name
}

type candidate struct {
	name   string
	weight int
	hash   uint64
}

// score is the weighted rendezvous score of this node for an IP whose hash
// is ipHash: weight / -ln(u) with u uniform in (0,1). The node with the
// highest score wins, and a node of weight w wins with probability
// w/totalWeight ("logarithmic method" of weighted rendezvous hashing).
// When all weights are equal the score is monotonic in u, so u itself ranks
// the nodes the same way and the logarithm is skipped.
func (c candidate) score(ipHash uint64, uniform bool) float64 {
	h := mix(c.hash ^ ipHash)
	// 53 random bits, shifted into (0,1): never 0, never 1.
	u := (float64(h>>11) + 0.5) / (1 << 53)
	if uniform {
		return u
	}
	return float64(c.weight) / -math.Log(u)
}

func normalizeCandidates(nodes []Candidate) []candidate {
	cands := make([]candidate, 0, len(nodes))
	for _, n := range nodes {
		if n.Node == "" {
			continue
		}
		cands = append(cands, candidate{name: n.Node, weight: max(n.Weight, 1)})
	}
	// Sort by name, largest weight first, then keep the first of each name.
	slices.SortFunc(cands, func(a, b candidate) int {
		if c := cmp.Compare(a.name, b.name); c != 0 {
			return c
		}
		return cmp.Compare(b.weight, a.weight)
	})
	cands = slices.CompactFunc(cands, func(a, b candidate) bool { return a.name == b.name })
	for i := range cands {
		cands[i].hash = hashString(cands[i].name)
	}
	return cands
}

type workItem struct {
	ip   netip.Addr
	hash uint64
	// eligible holds candidate indexes. Order and repeats do not matter:
	// the winner is the maximum of a total order.
	eligible []int32
}

// resolveItems maps eligible names to candidate indexes, merges duplicate
// IPs, drops items nobody may take, and sorts the rest into the order the
// bounded-load pass processes them.
func resolveItems(items []Item, index map[string]int32) []workItem {
	byIP := make(map[netip.Addr]int, len(items))
	work := make([]workItem, 0, len(items))
	// One backing array for all eligible lists instead of one per item.
	total := 0
	for _, it := range items {
		total += len(it.Eligible)
	}
	backing := make([]int32, 0, total)
	for _, it := range items {
		if !it.IP.IsValid() {
			continue
		}
		ip := it.IP.WithZone("")
		start := len(backing)
		for _, name := range it.Eligible {
			if n, ok := index[name]; ok {
				backing = append(backing, n)
			}
		}
		// Full slice expression: appending to a duplicate IP's list below
		// must copy, not overwrite the next item's part of backing.
		el := backing[start:len(backing):len(backing)]
		pos, seen := byIP[ip]
		if !seen {
			byIP[ip] = len(work)
			work = append(work, workItem{ip: ip, hash: hashAddr(ip), eligible: el})
			continue
		}
		work[pos].eligible = append(work[pos].eligible, el...)
	}
	kept := work[:0]
	for _, w := range work {
		if len(w.eligible) > 0 {
			kept = append(kept, w)
		}
	}
	// Processing order decides which IPs hit a full node. Ordering by the
	// IP's own hash (not by address) spreads that among all IPs instead of
	// always penalising the highest addresses, and it does not depend on
	// the node set, so adding a node changes as few decisions as possible.
	slices.SortFunc(kept, func(a, b workItem) int {
		if c := cmp.Compare(a.hash, b.hash); c != 0 {
			return c
		}
		return a.ip.Compare(b.ip)
	})
	return kept
}
