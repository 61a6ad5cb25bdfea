package nftables

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/ironlb/ironlb/datapath"
)

// tableSig is what a drift check compares for one owned table: whether it
// exists, how many chains and sets it holds (the kernel's use count), and
// for the main table its canary (the meta comment, which records the
// applied State's digest). A full check adds Detail, a digest of its chain
// names, fixed-chain rule counts and set elements.
//
// Why these: `nft flush ruleset` and `nft delete table` remove tables; a
// lost chain changes the chain count; a main table flushed or its record
// edited loses the canary. Chains flushed or edited one by one (a shard
// flushed, a rule deleted or added) show in their use counts, compared
// chain by chain (planRepair); a set element lost shows in its chain's use
// count (a map's goto) or needs the full check, which reads every set.
type tableSig struct {
	Present bool
	Use     uint32
	Canary  string
	Detail  string // "" in a cheap check
}

// tablesToRepair returns, sorted, the owned tables whose observed signature
// differs from the expected one, including expected tables that were not
// observed at all. Only they are rebuilt: a table deleted by hand costs
// one table's rebuild, not the whole datapath's. Pure.
func tablesToRepair(want, have map[string]tableSig) []string {
	var out []string
	for name, w := range want {
		if have[name] != w {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// sortedNames returns a map's keys in order, for stable logs.
func sortedNames[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// chainRef names a chain of an owned table.
type chainRef struct{ Table, Chain string }

// chainWant is what one of our chains must show: its use count (rules
// plus references), and the service whose chain it is (Service false: a
// fixed chain).
type chainWant struct {
	Use     uint32
	Service bool
	Key     datapath.ServiceKey
}

// repairPlan is what a drift check rewrites: whole tables, and single
// chains of the tables that are not rebuilt anyway.
type repairPlan struct {
	Tables []string
	Chains []chainRef
}

// Empty reports whether nothing needs repair.
func (p repairPlan) Empty() bool { return len(p.Tables) == 0 && len(p.Chains) == 0 }

// planRepair adds chain-level drift to the tables tablesToRepair found.
// want and have are the chains' use counts (rules plus references; have
// nil: chains were not read this time). A chain whose count differs is
// rewritten on its own (flushed and refilled), so an edited chain costs
// its own rules, not its table's; a chain that is missing takes its table
// to a rebuild, as do chains of tables already being rebuilt. Chains that
// are not wanted are not judged here: they change their table's use
// count, which tablesToRepair compares. Chains in unjudged are not
// compared by count (a missing one still takes its table). Pure.
func planRepair(tables []string, want map[chainRef]chainWant, have map[chainRef]uint32, unjudged map[chainRef]bool) repairPlan {
	rebuild := map[string]bool{}
	for _, t := range tables {
		rebuild[t] = true
	}
	var chains []chainRef
	if have != nil {
		for r, w := range want {
			if rebuild[r.Table] {
				continue
			}
			got, ok := have[r]
			switch {
			case !ok:
				rebuild[r.Table] = true
			case got != w.Use && !unjudged[r]:
				chains = append(chains, r)
			}
		}
	}
	out := repairPlan{Tables: sortedNames(rebuild)}
	for _, r := range chains {
		if !rebuild[r.Table] { // a missing sibling may have taken the table
			out.Chains = append(out.Chains, r)
		}
	}
	slices.SortFunc(out.Chains, func(a, b chainRef) int {
		return cmp.Or(strings.Compare(a.Table, b.Table), strings.Compare(a.Chain, b.Chain))
	})
	if len(out.Tables) == 0 {
		out.Tables = nil
	}
	return out
}

// maxRepairMisses is how many repairs in a row a chain's use count may
// still differ right after the repair before the chain is no longer
// judged by it.
const maxRepairMisses = 3

// stillDiffer judges the chains a repair just rewrote against the use
// counts read right after its commit, and returns the updated counts of
// misses in a row and the chains that reached maxRepairMisses now. A
// chain rewritten from what the backend knows must show the count the
// backend computed; if it does not, straight after the repair, the model
// is wrong for that chain on this kernel (it counts uses differently) and
// comparing by count would rewrite it every check, for ever. A program
// that keeps flushing the chain is not mistaken for that: it acts after
// the repair, so the read right after it finds the count in line. Misses
// of chains no longer programmed are dropped. Pure: misses is not
// changed.
func stillDiffer(rewritten []chainRef, want map[chainRef]chainWant, have map[chainRef]uint32, misses map[chainRef]int) (map[chainRef]int, []chainRef) {
	out := map[chainRef]int{}
	for r, n := range misses {
		if _, ok := want[r]; ok {
			out[r] = n
		}
	}
	var give []chainRef
	for _, r := range rewritten {
		w, ok := want[r]
		got, seen := have[r]
		if !ok || !seen || got == w.Use {
			delete(out, r)
			continue
		}
		if out[r]++; out[r] == maxRepairMisses {
			give = append(give, r)
		}
	}
	return out, give
}
