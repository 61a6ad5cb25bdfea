package nftables

import (
	"maps"
	"slices"
)

// tableSig is what a drift check compares for one owned table: whether it
// exists, how many chains and sets it holds (the kernel's use count), and
// its canary (the main table's meta
// comment, a shard's dispatch rule count). A full check adds Detail, a
// digest of its chain names, fixed-chain rule counts and set elements.
//
// Why these: `nft flush ruleset` and `nft delete table` remove tables;
// `nft flush table` empties every chain, which the canary chain shows; a
// lost service chain changes the chain count. Edits inside one chain or one
// set need the full check, which reads every set and chain name.
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
