package ipvs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"

	nft "github.com/google/nftables"
	"github.com/google/nftables/userdata"
	"github.com/moby/ipvs"
	vnl "github.com/vishvananda/netlink"

	"github.com/ironlb/ironlb/datapath"
)

// Drift: something else on the node may delete IronLB's IPVS services
// (ipvsadm -C), its VIP addresses or the dummy interface, or flush the
// nftables ruleset. Applies only follow changes of the State, so Run also
// checks the kernel every CheckInterval with reads whose cost does not grow
// with destinations (see observed), and repairs only what differs (see
// planDrift); the full Resync every ResyncPeriod also compares every
// destination and set element.

// Check reads the kernel cheaply and repairs what drifted from the last
// applied State. It reports whether it found drift. Nothing happens before
// the first Apply.
func (b *Backend) Check(ctx context.Context) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false, errors.New("ipvs backend: closed")
	}
	if !b.synced {
		return false, nil
	}
	b.stats.Checks++
	wantVIPs := vipsOf(b.applied)
	obs, err := b.observe(ctx, wantVIPs)
	if err != nil {
		return false, fmt.Errorf("ipvs backend: drift check: %w", err)
	}
	r := planDrift(b.kernel, wantVIPs, obs)
	if r.empty() {
		return false, nil
	}
	b.stats.DriftRepairs++
	b.log.Warn("IPVS datapath changed behind IronLB's back; repairing", "interface", r.link, "vips", r.vips, "services", len(r.services), "nftables", r.nft)
	if err := b.repair(ctx, r, obs, wantVIPs); err != nil {
		b.log.Error("drift repair failed; resyncing everything", "error", err)
		b.synced = false
		if ferr := b.fullSync(ctx, b.applied); ferr != nil {
			return true, fmt.Errorf("ipvs backend: drift repair: %w; full resync: %w", err, ferr)
		}
	}
	return true, nil
}

// observe makes the cheap reads of a drift check: the dummy interface and
// its addresses, the IPVS service list (no destinations) and the nftables
// table's rules (a fixed few, see intact).
func (b *Backend) observe(ctx context.Context, wantVIPs map[netip.Addr]bool) (observed, error) {
	obs := observed{vips: map[netip.Addr]bool{}}
	// The interface, its addresses, the services, and the nftables
	// table's meta rule and skeleton chains (see intact).
	b.stats.DriftReads += 3 + 1 + len(skeleton(b.nft.table, b.nft.mark))
	l, err := b.nl.LinkByName(b.opts.Interface)
	var notFound vnl.LinkNotFoundError
	switch {
	case errors.As(err, &notFound):
	case err != nil:
		return obs, fmt.Errorf("find interface %s: %w", b.opts.Interface, err)
	case l.Type() == "dummy":
		obs.link = l.Attrs().Flags&net.FlagUp != 0
		if obs.vips, err = linkVIPs(b.nl, l); err != nil {
			return obs, err
		}
	}
	svcs, err := call(ctx, b.h, "list services", func(c conn) ([]*ipvs.Service, error) { return c.GetServices() })
	if err != nil {
		return obs, err
	}
	obs.services = map[datapath.ServiceKey]kService{}
	for _, s := range svcs {
		if k, ok := keyOf(s); ok && (wantVIPs[k.VIP] || b.vips[k.VIP] || b.inPrefixes(k.VIP)) {
			obs.services[k] = kernelService(s, nil)
		}
	}
	obs.nft = b.nft.intact()
	return obs, b.auditDests(ctx, &obs)
}

// auditDests reads the destinations of the next batch of services (see
// auditBatch) into obs: a real server deleted or a weight changed by hand
// is found within a pass, about a minute, at a cost per check that is a
// fraction of the services, where the full resync reads them all.
func (b *Backend) auditDests(ctx context.Context, obs *observed) error {
	if b.auditNext == 0 {
		b.audit = slices.SortedFunc(maps.Keys(b.kernel), datapath.ServiceKey.Compare)
	}
	var batch []datapath.ServiceKey
	batch, b.auditNext = auditBatch(b.audit, b.auditNext)
	obs.dests = map[datapath.ServiceKey]map[netip.AddrPort]kDest{}
	for _, k := range batch {
		s, ok := obs.services[k]
		if !ok || b.kernel[k] == nil {
			continue // gone from the kernel or from the State: compared as a service
		}
		b.stats.DriftReads++
		dests, err := call(ctx, b.h, "list destinations of "+k.String(), func(c conn) ([]*ipvs.Destination, error) {
			return c.GetDestinations(serviceID(k, s))
		})
		if err != nil {
			return err
		}
		obs.dests[k] = kernelService(&ipvs.Service{}, dests).dests
	}
	return nil
}

// repair puts right what planDrift found, reusing the incremental path:
// the backend's view of the drifted services and of the addresses is
// replaced by what the kernel holds, then syncKeys writes the difference.
func (b *Backend) repair(ctx context.Context, r driftRepair, obs observed, wantVIPs map[netip.Addr]bool) error {
	if r.link {
		link, created, err := ensureLink(b.nl, b.opts.Interface)
		if err != nil {
			return err
		}
		if created {
			b.stats.AddressChanges++
		}
		b.link = link
	}
	if r.nft {
		if err := b.nft.build(desiredElements(b.applied)); err != nil {
			return err
		}
		b.stats.NftTransactions++
	}
	for _, k := range r.services {
		s, ok := obs.services[k]
		if !ok {
			delete(b.kernel, k)
			continue
		}
		b.stats.DriftReads++
		dests, err := call(ctx, b.h, "list destinations of "+k.String(), func(c conn) ([]*ipvs.Destination, error) {
			return c.GetDestinations(serviceID(k, s))
		})
		if err != nil {
			return err
		}
		ks := kernelService(&ipvs.Service{SchedName: s.sched, Flags: s.flags, Timeout: s.timeout, Netmask: s.netmask}, dests)
		b.kernel[k] = &ks
	}
	b.vips = maps.Clone(obs.vips)
	return b.syncKeys(ctx, r.services, b.applied, wantVIPs)
}

// intact reports whether the table exists with this skeleton's meta rule
// and every chain holds as many rules as the skeleton gives it:
// `nft flush ruleset`, `nft delete table` and `nft flush table` lose the
// meta rule; `nft flush chain` (the source ranges' and refusals' vip
// chains, say), `nft delete rule` and `nft insert rule` change a chain's
// count. The table holds a fixed number of rules whatever the number of
// services (those are set elements), so this costs the same at any size.
func (t *nftTable) intact() bool {
	rules, err := t.conn.GetRules(t.table, &nft.Chain{Table: t.table, Name: chainMeta})
	if err != nil || len(rules) != 1 {
		return false
	}
	if c, _ := userdata.GetString(rules[0].UserData, userdata.TypeComment); c != t.metaComment() {
		return false
	}
	for _, sp := range skeleton(t.table, t.mark) {
		rules, err := t.conn.GetRules(t.table, sp.chain)
		if err != nil || len(rules) != len(sp.rules) {
			return false
		}
	}
	return true
}
