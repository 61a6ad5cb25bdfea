package nftables

import (
	"errors"
	"fmt"
	"net/netip"

	nft "github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/ironlb/ironlb/datapath"
)

// cleanup is work for after a transaction: forgetting conntrack entries.
type cleanup struct {
	// udpFlows: UDP conntrack entries to a service (any backend if
	// backend is invalid) to delete.
	udpFlows []udpFlow
}

type udpFlow struct {
	key     datapath.ServiceKey
	backend netip.Addr
}

// set returns a handle on one of table t's sets for element operations.
func set(t *nft.Table, specs func(bool) []setSpec, name string, v6 bool) *nft.Set {
	for _, s := range specs(v6) {
		if s.name == name+fam(v6) {
			return s.set(t)
		}
	}
	panic("unknown set " + name) // a bug, not bad input: names are constants
}

// incremental applies ch, the changes from b.applied to want, in one
// transaction.
func (b *Backend) incremental(want datapath.State, ch datapath.Changes) error {
	if ch.Empty() {
		return nil
	}
	c := b.enc
	var cl cleanup
	adds := map[*nft.Set][]nft.SetElement{}
	dels := map[*nft.Set][]nft.SetElement{}
	type setRef struct {
		t    *nft.Table
		name string
	}
	sets := map[setRef]*nft.Set{}
	setIn := func(t *nft.Table, specs func(bool) []setSpec, name string, v6 bool) *nft.Set {
		r := setRef{t, name + fam(v6)}
		if s, ok := sets[r]; ok {
			return s
		}
		s := set(t, specs, name, v6)
		sets[r] = s
		return s
	}
	setFor := func(name string, v6 bool) *nft.Set { return setIn(b.table, mainSetSpecs, name, v6) }
	servicesOf := func(k datapath.ServiceKey) *nft.Set {
		return setIn(b.shardTable(k), shardSetSpecs, setServices, k.VIP.Is6())
	}
	// Bookkeeping changes go to overlays and reach the Backend only when
	// the transaction succeeded; copying the maps would cost as much as the
	// transaction at 10,000 services.
	newDigests := map[datapath.ServiceKey]uint64{}
	ruleCounts := map[datapath.ServiceKey]int{} // of added and changed chains
	var goneDigests []datapath.ServiceKey
	digest := b.digest
	vipRefs := overlay{base: b.vipRefs, delta: map[netip.Addr]int{}}
	hpRefs := overlay{base: b.hairpinRefs, delta: map[netip.Addr]int{}}
	hpAdded := map[netip.Addr]bool{}
	hairpinUse := func(a netip.Addr, d int) {
		hpRefs.add(a, d)
		if d > 0 && !b.hairpinKernel[a] && !hpAdded[a] {
			hpAdded[a] = true
			s := setFor(setHairpin, a.Is6())
			adds[s] = append(adds[s], nft.SetElement{Key: hairpinKey(a)})
		}
	}

	for _, k := range ch.Removed {
		old := b.applied.Services[k]
		v6 := k.VIP.Is6()
		key := serviceKeyBytes(k)
		dels[servicesOf(k)] = append(dels[servicesOf(k)], nft.SetElement{Key: key})
		if old.LocalOnly {
			dels[setFor(setLocal, v6)] = append(dels[setFor(setLocal, v6)], nft.SetElement{Key: key})
		}
		if vipRefs.add(k.VIP, -1); vipRefs.get(k.VIP) <= 0 {
			dels[setFor(setVIPs, v6)] = append(dels[setFor(setVIPs, v6)], nft.SetElement{Key: k.VIP.AsSlice()})
		}
		for a := range old.Backends {
			hairpinUse(a.Addr(), -1)
		}
		digest ^= b.digests[k]
		goneDigests = append(goneDigests, k)
		if k.Protocol == datapath.UDP {
			cl.udpFlows = append(cl.udpFlows, udpFlow{key: k})
		}
	}
	for _, k := range ch.Added {
		vs := want.Services[k]
		v6 := k.VIP.Is6()
		key := serviceKeyBytes(k)
		t := b.shardTable(k)
		chain := c.AddChain(&nft.Chain{Table: t, Name: chainName(k)})
		rules := serviceRules(k, vs, b.mark)
		for _, r := range rules {
			c.AddRule(&nft.Rule{Table: t, Chain: chain, Exprs: r})
		}
		ruleCounts[k] = len(rules)
		adds[servicesOf(k)] = append(adds[servicesOf(k)], nft.SetElement{Key: key, VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: chain.Name}})
		if vs.LocalOnly {
			adds[setFor(setLocal, v6)] = append(adds[setFor(setLocal, v6)], nft.SetElement{Key: key})
		}
		if vipRefs.add(k.VIP, 1); vipRefs.get(k.VIP) == 1 {
			adds[setFor(setVIPs, v6)] = append(adds[setFor(setVIPs, v6)], nft.SetElement{Key: k.VIP.AsSlice()})
		}
		for a := range vs.Backends {
			hairpinUse(a.Addr(), 1)
		}
		d := serviceDigest(k, vs)
		newDigests[k] = d
		digest ^= d
		// Datagrams sent before the VIP had rules may have left conntrack
		// entries without DNAT that would keep bypassing them.
		if k.Protocol == datapath.UDP && vs.Usable() {
			cl.udpFlows = append(cl.udpFlows, udpFlow{key: k})
		}
	}
	for _, u := range ch.Updated {
		k := u.Key
		old, vs := b.applied.Services[k], want.Services[k]
		v6 := k.VIP.Is6()
		t := b.shardTable(k)
		chain := &nft.Chain{Table: t, Name: chainName(k)}
		// Flushing and refilling a chain in one transaction is atomic for
		// packets, and far cheaper for the kernel than swapping chains in
		// the services map (element deletion waits for a grace period).
		c.FlushChain(chain)
		rules := serviceRules(k, vs, b.mark)
		for _, r := range rules {
			c.AddRule(&nft.Rule{Table: t, Chain: chain, Exprs: r})
		}
		ruleCounts[k] = len(rules)
		if old.LocalOnly != vs.LocalOnly {
			s := setFor(setLocal, v6)
			e := nft.SetElement{Key: serviceKeyBytes(k)}
			if vs.LocalOnly {
				adds[s] = append(adds[s], e)
			} else {
				dels[s] = append(dels[s], e)
			}
		}
		for _, a := range u.AddedBackends {
			hairpinUse(a.Addr(), 1)
		}
		for _, a := range u.RemovedBackends {
			hairpinUse(a.Addr(), -1)
		}
		d := serviceDigest(k, vs)
		digest ^= b.digests[k] ^ d
		newDigests[k] = d
		if k.Protocol == datapath.UDP {
			for _, a := range u.RemovedBackends {
				cl.udpFlows = append(cl.udpFlows, udpFlow{key: k, backend: a.Addr()})
			}
			if !old.Usable() && vs.Usable() {
				cl.udpFlows = append(cl.udpFlows, udpFlow{key: k})
			}
		}
	}
	// Lazy removal of unused hairpin entries, in bulk.
	stale := map[netip.Addr]bool{}
	for a := range b.hairpinStale {
		stale[a] = true
	}
	for a := range hpRefs.delta {
		inKernel := b.hairpinKernel[a] || hpAdded[a]
		if inKernel && hpRefs.get(a) <= 0 {
			stale[a] = true
		} else {
			delete(stale, a)
		}
	}
	gc := len(stale) > staleHairpinLimit
	if gc {
		for a := range stale {
			s := setFor(setHairpin, a.Is6())
			dels[s] = append(dels[s], nft.SetElement{Key: hairpinKey(a)})
		}
	}
	// Deletions first: a key removed and added again in one Apply cannot
	// happen (Diff reports it as updated), but a VIP can leave with one
	// service and come back with another.
	for s, e := range dels {
		if err := deleteElements(c, s, e); err != nil {
			return err
		}
	}
	for _, k := range ch.Removed {
		chain := &nft.Chain{Table: b.shardTable(k), Name: chainName(k)}
		c.FlushChain(chain)
		c.DelChain(chain)
	}
	for s, e := range adds {
		if err := addElements(c, s, e); err != nil {
			return err
		}
	}
	c.FlushChain(&nft.Chain{Table: b.table, Name: chainMeta})
	b.addMeta(digest)
	if err := b.commit(); err != nil {
		return fmt.Errorf("nftables backend: update %d added, %d removed, %d changed services: %w", len(ch.Added), len(ch.Removed), len(ch.Updated), err)
	}
	for _, k := range ch.Added {
		b.shardSize[shardOf(k)]++
	}
	for _, k := range ch.Removed {
		b.shardSize[shardOf(k)]--
		r, _ := b.serviceChain(k, 0)
		delete(b.chains, r)
	}
	for k, n := range ruleCounts {
		r, w := b.serviceChain(k, n)
		b.chains[r] = w
	}
	ch.ApplyTo(&b.applied, want)
	for _, k := range goneDigests {
		delete(b.digests, k)
	}
	for k, d := range newDigests {
		b.digests[k] = d
	}
	b.digest = digest
	vipRefs.apply()
	hpRefs.apply()
	for a := range hpAdded {
		b.hairpinKernel[a] = true
	}
	if gc {
		for a := range stale {
			delete(b.hairpinKernel, a)
		}
		stale = map[netip.Addr]bool{}
	}
	b.hairpinStale = stale
	return b.cleanup(cl)
}

// overlay holds reference count changes on top of base until apply.
type overlay struct {
	base, delta map[netip.Addr]int
}

func (o overlay) add(a netip.Addr, d int) { o.delta[a] += d }
func (o overlay) get(a netip.Addr) int    { return o.base[a] + o.delta[a] }

func (o overlay) apply() {
	for a, d := range o.delta {
		if v := o.base[a] + d; v > 0 {
			o.base[a] = v
		} else {
			delete(o.base, a)
		}
	}
}

// cleanup runs after a transaction; failures are reported but the table is
// already right.
func (b *Backend) cleanup(cl cleanup) error {
	var errs []error
	for _, f := range cl.udpFlows {
		if err := b.flushUDP(f); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("nftables backend: cleanup after update: %w", err)
	}
	return nil
}
