package nftables

import (
	nft "github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/ironlb/ironlb/datapath"
)

// The chains the backend programmed and the use counts the kernel must
// show for them (see chainuse.go), kept up to date by every transaction so
// that a drift check compares without rendering any rule.

// fixedChains returns the use counts of the skeleton's chains: the main
// table's (and its meta chain's one rule) and every shard's.
func (b *Backend) fixedChains() map[chainRef]chainWant {
	out := map[chainRef]chainWant{}
	base, _ := skeleton(&nft.Table{}, b.mark)
	uses(out, b.table.Name, base)
	out[chainRef{b.table.Name, chainMeta}] = chainWant{Use: 1}
	for _, t := range b.shards {
		uses(out, t.Name, shardSkeleton(&nft.Table{}))
	}
	return out
}

// uses adds to out each chain's rules plus the gotos and jumps to it from
// the others.
func uses(out map[chainRef]chainWant, table string, chains []baseChain) {
	for _, c := range chains {
		r := chainRef{table, c.chain.Name}
		w := out[r]
		w.Use += uint32(len(c.rules))
		out[r] = w
		for _, rule := range c.rules {
			for _, e := range rule {
				if v, ok := e.(*expr.Verdict); ok && v.Chain != "" {
					to := chainRef{table, v.Chain}
					w := out[to]
					w.Use++
					out[to] = w
				}
			}
		}
	}
}

// serviceChain is the chain of service k holding n rules: they plus the
// services map element that goes to it.
func (b *Backend) serviceChain(k datapath.ServiceKey, n int) (chainRef, chainWant) {
	return chainRef{b.shardTable(k).Name, chainName(k)}, chainWant{Use: uint32(n) + 1, Service: true, Key: k}
}

// wantChains returns every chain st needs, with its use count.
func (b *Backend) wantChains(st datapath.State) map[chainRef]chainWant {
	out := b.fixedChains()
	for k, vs := range st.Services {
		r, w := b.serviceChain(k, len(serviceRules(k, vs, b.mark)))
		out[r] = w
	}
	return out
}
