package nftables

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	nft "github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"

	"github.com/ironlb/ironlb/datapath"
)

// Drift: something else on the node (`nft flush ruleset`, a firewall
// service restarting, an operator) may delete or empty the backend's
// tables. Applies only follow changes of the State, so Run checks the
// kernel on its own, the way kube-proxy does: a cheap canary check often
// (one table dump and one small rule dump per owned table, whatever the
// number of services) and a full comparison of chain names and set
// elements now and then. What differs is rebuilt table by table (see
// tablesToRepair), from the last applied State; other tables are never
// read for changes nor written.

type driftOptions struct {
	interval, fullPeriod time.Duration
}

func (o driftOptions) withDefaults() driftOptions {
	if o.interval == 0 {
		o.interval = time.Second
	}
	if o.fullPeriod == 0 {
		o.fullPeriod = time.Minute
	}
	return o
}

// Stats count the drift checks and repairs, for metrics, tests and
// benchmarks.
type Stats struct {
	Checks, FullChecks int
	// ChainReads: checks that read every chain's use count (the others
	// found the ruleset's generation unchanged).
	ChainReads int
	// Repairs: checks that found drift; TablesRebuilt: tables they
	// rebuilt; ChainsRewritten: chains they rewrote alone (in tables not
	// rebuilt).
	Repairs, TablesRebuilt, ChainsRewritten int
	// Unjudged: chains no longer compared by use count (see stillDiffer).
	Unjudged int
	// LastRepair: how long the last repair took to rebuild (detection
	// not included).
	LastRepair time.Duration
}

// Stats returns the counters so far.
func (b *Backend) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats
}

// Run checks for drift every CheckInterval (full comparison every
// FullCheckPeriod) until ctx ends, then closes the backend.
func (b *Backend) Run(ctx context.Context) error {
	defer func() { _ = b.Close() }()
	tick := func(d time.Duration) (<-chan time.Time, func()) {
		if d < 0 {
			return nil, func() {}
		}
		t := time.NewTicker(d)
		return t.C, t.Stop
	}
	check, stopCheck := tick(b.drift.interval)
	defer stopCheck()
	full, stopFull := tick(b.drift.fullPeriod)
	defer stopFull()
	for {
		var err error
		select {
		case <-ctx.Done():
			return nil
		case <-check:
			_, err = b.Check(ctx, false)
		case <-full:
			_, err = b.Check(ctx, true)
		}
		if err != nil && ctx.Err() == nil {
			b.log.Error("nftables drift check failed", "error", err)
		}
	}
}

// Check compares the owned tables with the last applied State (a cheap
// canary check, or with full every chain name and set element), and every
// chain's use count when the ruleset changed since the last check, and
// repairs what differs in one transaction: tables rebuilt, single chains
// rewritten. It returns what it repaired: table names, and "table/chain"
// for chains rewritten alone. Nothing happens before the first Apply.
func (b *Backend) Check(ctx context.Context, full bool) ([]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sock == nil {
		return nil, fmt.Errorf("nftables backend: closed")
	}
	if err := ctx.Err(); err != nil || !b.synced {
		return nil, err
	}
	if b.stats.Checks++; full {
		b.stats.FullChecks++
	}
	have, err := b.observe(full)
	if err != nil {
		return nil, err
	}
	chains, gen, err := b.observeChains(full)
	if err != nil {
		return nil, err
	}
	plan := planRepair(tablesToRepair(b.expected(full), have), b.chains, chains, b.unjudged)
	if plan.Empty() {
		if chains != nil {
			b.verified, b.verifiedOK = gen, true
		}
		return nil, nil
	}
	repaired := slices.Clone(plan.Tables)
	for _, r := range plan.Chains {
		repaired = append(repaired, r.Table+"/"+r.Chain)
	}
	b.log.Warn("nftables rules changed behind IronLB's back; repairing them", "repair", repaired, "full-check", full)
	b.stats.Repairs++
	b.stats.TablesRebuilt += len(plan.Tables)
	b.stats.ChainsRewritten += len(plan.Chains)
	start := time.Now()
	defer func() { b.stats.LastRepair = time.Since(start) }()
	if err := b.repair(plan); err != nil {
		b.log.Error("repairing drifted tables failed; replacing all", "repair", repaired, "error", err)
		b.synced = false
		if ferr := b.fullSync(b.applied); ferr != nil {
			return repaired, fmt.Errorf("nftables backend: repair %v: %w; full resync: %w", repaired, err, ferr)
		}
		return repaired, nil
	}
	if err := b.verifyRepair(plan.Chains); err != nil {
		return repaired, err
	}
	return repaired, nil
}

// verifyRepair reads every chain's use count right after a repair and
// judges the chains it rewrote (stillDiffer). The read stands in for the
// next check's: when everything is in line, that check finds the
// generation verified.
func (b *Backend) verifyRepair(rewritten []chainRef) error {
	have, gen, err := b.observeChains(true)
	if err != nil {
		return fmt.Errorf("nftables backend: verify repair: %w", err)
	}
	misses, give := stillDiffer(rewritten, b.chains, have, b.repairMisses)
	b.repairMisses = misses
	for _, r := range give {
		if b.unjudged == nil {
			b.unjudged = map[chainRef]bool{}
		}
		b.unjudged[r] = true
		b.stats.Unjudged++
		b.log.Error("a chain's use count differs from IronLB's even right after rewriting it; this kernel counts its uses differently, so the chain is no longer checked rule by rule (a missing chain or table is still repaired)",
			"table", r.Table, "chain", r.Chain, "want", b.chains[r].Use, "kernel", have[r], "repairs", maxRepairMisses)
	}
	for r := range b.unjudged {
		if _, ok := b.chains[r]; !ok {
			delete(b.unjudged, r)
		}
	}
	if planRepair(nil, b.chains, have, b.unjudged).Empty() {
		b.verified, b.verifiedOK = gen, true
	}
	return nil
}

// observeChains reads every owned chain's use count, unless (in a cheap
// check) the ruleset's generation is the one of the last check that found
// them in line: then nothing changed and it returns nil. It also returns
// the generation it read before the chains.
func (b *Backend) observeChains(full bool) (map[chainRef]uint32, uint32, error) {
	gen, err := b.generation()
	if err != nil {
		return nil, 0, err
	}
	if !full && b.verifiedOK && gen == b.verified {
		return nil, gen, nil
	}
	ours := map[string]bool{b.table.Name: true}
	for _, t := range b.shards {
		ours[t.Name] = true
	}
	b.stats.ChainReads++
	have, err := b.chainUses(func(t string) bool { return ours[t] })
	return have, gen, err
}

// repair rebuilds the plan's tables and rewrites its chains from the
// applied State, in one transaction.
func (b *Backend) repair(p repairPlan) error {
	hairpins, err := b.addTables(p.Tables)
	if err != nil {
		return err
	}
	for _, r := range p.Chains {
		b.rewriteChain(r, b.chains[r])
	}
	if err := b.commit(); err != nil {
		return fmt.Errorf("nftables backend: rebuild tables %v, rewrite %d chains: %w", p.Tables, len(p.Chains), err)
	}
	if hairpins != nil {
		b.hairpinKernel = hairpins
		b.hairpinStale = map[netip.Addr]bool{}
	}
	return nil
}

// addTables adds to the batch the replacement of the named owned tables
// by what the applied State needs (a missing table is created: the add
// before the delete makes the delete valid either way). It returns the
// hairpin addresses if the main table is among them.
func (b *Backend) addTables(names []string) (map[netip.Addr]bool, error) {
	var byShard [][]datapath.ServiceKey
	var hairpins map[netip.Addr]bool
	for _, name := range names {
		t, i := b.ownedTable(name)
		b.enc.AddTable(t)
		b.enc.DelTable(t)
		var err error
		if i < 0 {
			hairpins, err = b.addMainTable(b.applied, b.digest)
		} else {
			if byShard == nil {
				byShard = servicesByShard(b.applied)
			}
			err = b.addShardTable(i, byShard[i], b.applied)
		}
		if err != nil {
			return nil, err
		}
	}
	return hairpins, nil
}

// rewriteChain adds to the batch the flush and refill of one chain of an
// owned table, as the applied State needs it. A service chain's services
// map element is added again too (a no-op if it is there), as its loss is
// one way the chain's use count drops.
func (b *Backend) rewriteChain(r chainRef, w chainWant) {
	t, i := b.ownedTable(r.Table)
	ch := &nft.Chain{Table: t, Name: r.Chain}
	b.enc.FlushChain(ch)
	if r.Chain == chainMeta {
		b.addMeta(b.digest)
		return
	}
	var rules [][]expr.Any
	switch {
	case w.Service:
		rules = serviceRules(w.Key, b.applied.Services[w.Key], b.mark)
		// Errors come from the set's key and data types only, which are
		// the ones the table was built with.
		_ = b.enc.SetAddElements(set(t, shardSetSpecs, setServices, w.Key.VIP.Is6()),
			[]nft.SetElement{{Key: serviceKeyBytes(w.Key), VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: r.Chain}}})
	case i < 0:
		base, _ := skeleton(t, b.mark)
		rules = fixedRules(base, r.Chain)
	default:
		rules = fixedRules(shardSkeleton(t), r.Chain)
	}
	for _, e := range rules {
		b.enc.AddRule(&nft.Rule{Table: t, Chain: ch, Exprs: e})
	}
}

// fixedRules returns the rules of the skeleton chain called name.
func fixedRules(chains []baseChain, name string) [][]expr.Any {
	for _, c := range chains {
		if c.chain.Name == name {
			return c.rules
		}
	}
	return nil
}

// ownedTable returns the table called name and its shard index (-1: the
// main table).
func (b *Backend) ownedTable(name string) (*nft.Table, int) {
	for i, t := range b.shards {
		if t.Name == name {
			return t, i
		}
	}
	return b.table, -1
}

// mainChainNames are the chains of the main table.
func mainChainNames(mark uint32) []string {
	base, regular := skeleton(&nft.Table{}, mark)
	names := map[string]bool{chainMeta: true}
	for _, c := range regular {
		names[c.Name] = true
	}
	for _, c := range base {
		names[c.chain.Name] = true
	}
	return sortedNames(names)
}

// expected returns the signatures the owned tables must show.
func (b *Backend) expected(full bool) map[string]tableSig {
	mainChains := mainChainNames(b.mark)
	// A table's use count is its chains plus its sets.
	mainUse := len(mainChains) + 2*len(mainSetSpecs(false))
	shardUse := len(shardSkeleton(&nft.Table{})) + 2*len(shardSetSpecs(false))
	out := map[string]tableSig{b.table.Name: {Present: true, Use: uint32(mainUse), Canary: b.metaComment(b.digest)}}
	for i, t := range b.shards {
		// No canary: a shard's chains are compared by their use counts
		// (observeChains), which show a flushed table as well.
		out[t.Name] = tableSig{Present: true, Use: uint32(shardUse + b.shardSize[i])}
	}
	if !full {
		return out
	}
	base, _ := skeleton(&nft.Table{}, b.mark)
	rules := map[string]int{}
	for _, c := range base {
		rules[c.chain.Name] = len(c.rules)
	}
	sets := map[string][]string{}
	for a := range b.vipRefs {
		sets[setVIPs+fam(a.Is6())] = append(sets[setVIPs+fam(a.Is6())], string(a.AsSlice()))
	}
	for a := range b.hairpinKernel {
		sets[setHairpin+fam(a.Is6())] = append(sets[setHairpin+fam(a.Is6())], string(hairpinKey(a)))
	}
	shardChains := make([][]string, shardCount)
	shardSets := make([]map[string][]string, shardCount)
	for i := range shardSets {
		shardSets[i] = map[string][]string{}
		for _, bc := range shardSkeleton(&nft.Table{}) {
			shardChains[i] = append(shardChains[i], bc.chain.Name)
		}
	}
	for k, vs := range b.applied.Services {
		f := fam(k.VIP.Is6())
		if vs.LocalOnly {
			sets[setLocal+f] = append(sets[setLocal+f], string(serviceKeyBytes(k)))
		}
		i := shardOf(k)
		shardChains[i] = append(shardChains[i], chainName(k))
		shardSets[i][setServices+f] = append(shardSets[i][setServices+f], string(serviceKeyBytes(k)))
	}
	m := out[b.table.Name]
	m.Detail = detailDigest(mainChains, rules, sets)
	out[b.table.Name] = m
	shardRuleCounts := map[string]int{}
	for _, bc := range shardSkeleton(&nft.Table{}) {
		shardRuleCounts[bc.chain.Name] = len(bc.rules)
	}
	for i, t := range b.shards {
		s := out[t.Name]
		s.Detail = detailDigest(shardChains[i], shardRuleCounts, shardSets[i])
		out[t.Name] = s
	}
	return out
}

// observe reads the owned tables' signatures from the kernel.
func (b *Backend) observe(full bool) (map[string]tableSig, error) {
	tables, err := b.rd.ListTablesOfFamily(nft.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("nftables backend: list tables: %w", err)
	}
	var chains map[string][]string // by table
	if full {
		all, err := b.rd.ListChainsOfTableFamily(nft.TableFamilyINet)
		if err != nil {
			return nil, fmt.Errorf("nftables backend: list chains: %w", err)
		}
		chains = map[string][]string{}
		for _, c := range all {
			chains[c.Table.Name] = append(chains[c.Table.Name], c.Name)
		}
	}
	out := map[string]tableSig{}
	for _, t := range tables {
		_, i := b.ownedTable(t.Name)
		if t.Name != b.table.Name && i < 0 {
			continue // not ours: not even looked at
		}
		own := b.table
		if i >= 0 {
			own = b.shards[i]
		}
		// google/nftables decodes the count in host order; the kernel
		// sends it in network order.
		sig := tableSig{Present: true, Use: binary.BigEndian.Uint32(binary.NativeEndian.AppendUint32(nil, t.Use))}
		if i < 0 {
			sig.Canary = b.metaRecord()
		}
		if full {
			if sig.Detail, err = b.observeDetail(own, i < 0, chains[t.Name]); err != nil {
				return nil, err
			}
		}
		out[t.Name] = sig
	}
	return out, nil
}

// metaRecord is the main table's meta comment, "" if it cannot be read.
func (b *Backend) metaRecord() string {
	rules, err := b.rd.GetRules(b.table, &nft.Chain{Table: b.table, Name: chainMeta})
	if err != nil || len(rules) != 1 {
		return ""
	}
	c, _ := userdata.GetString(rules[0].UserData, userdata.TypeComment)
	return c
}

// observeDetail digests one owned table as expected does. A chain or set
// that cannot be read counts as empty, so the table differs.
func (b *Backend) observeDetail(t *nft.Table, main bool, chains []string) (string, error) {
	rules := map[string]int{}
	specs := shardSetSpecs
	var fixed []string
	if main {
		specs = mainSetSpecs
		base, _ := skeleton(t, b.mark)
		for _, c := range base {
			fixed = append(fixed, c.chain.Name)
		}
	} else {
		for _, c := range shardSkeleton(t) {
			fixed = append(fixed, c.chain.Name)
		}
	}
	for _, name := range fixed {
		if rs, err := b.rd.GetRules(t, &nft.Chain{Table: t, Name: name}); err == nil {
			rules[name] = len(rs)
		}
	}
	sets := map[string][]string{}
	for _, v6 := range []bool{false, true} {
		for _, s := range specs(v6) {
			if s.dynamic {
				continue // filled by packets, not by IronLB
			}
			els, err := b.rd.GetSetElements(s.set(t))
			if err != nil {
				continue
			}
			for _, e := range els {
				// Keys only: google/nftables does not decode a map's
				// verdicts, and the chain names are compared anyway.
				sets[s.name] = append(sets[s.name], string(e.Key))
			}
		}
	}
	return detailDigest(chains, rules, sets), nil
}

// detailDigest digests chain names, rule counts and set elements in an
// order-independent way. Pure.
func detailDigest(chains []string, rules map[string]int, sets map[string][]string) string {
	h := sha256.New()
	fmt.Fprintf(h, "chains %s\n", strings.Join(slices.Sorted(slices.Values(chains)), ","))
	for _, name := range slices.Sorted(maps.Keys(rules)) {
		fmt.Fprintf(h, "rules %s %d\n", name, rules[name])
	}
	for _, name := range slices.Sorted(maps.Keys(sets)) {
		els := slices.Sorted(slices.Values(sets[name]))
		if len(els) == 0 {
			continue
		}
		fmt.Fprintf(h, "set %s %d\n", name, len(els))
		for _, e := range els {
			h.Write([]byte(hex.EncodeToString([]byte(e)) + "\n"))
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
