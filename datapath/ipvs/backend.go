package ipvs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	nft "github.com/google/nftables"
	"github.com/moby/ipvs"
	vnl "github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/ironlb/ironlb/datapath"
)

// Backend programs datapath States into IPVS. Apply and the drain sweeps
// are serialised; one caller is the intended design.
type Backend struct {
	opts Options
	log  *slog.Logger
	ns   netns.NsHandle // -1: the caller's namespace
	h    *handle
	nl   *vnl.Handle
	ct   *vnl.Handle
	nft  *nftTable

	mu      sync.Mutex
	closed  bool
	synced  bool
	applied datapath.State
	kernel  map[datapath.ServiceKey]*kService // owned services as the kernel has them
	drains  drains
	link    vnl.Link
	vips    map[netip.Addr]bool // addresses on the dummy interface
	stats   Stats
	fwdWarn bool
	// audit: the services whose destinations the drift checks read, a
	// batch per check (auditBatch), and where the next batch starts (0: a
	// new pass, over the services of that moment).
	audit     []datapath.ServiceKey
	auditNext int
}

// Stats count what the backend did, for metrics and tests.
type Stats struct {
	Applies   int // Apply calls
	FullSyncs int // Applies that read the kernel's state first
	// IPVSWrites: services and destinations added, updated or deleted.
	IPVSWrites int
	// NftTransactions: table replacements and set updates.
	NftTransactions int
	// AddressChanges: VIPs added to or removed from the dummy interface.
	AddressChanges int
	// SysctlWrites: settings that had to be changed.
	SysctlWrites int
	// ConntrackDeleted: UDP conntrack entries removed.
	ConntrackDeleted int
	// HandleReopens: IPVS netlink handles replaced after a timeout.
	HandleReopens int
	// Draining: endpoints at weight 0 waiting for their connections to end.
	Draining int
	// Checks: drift checks run; DriftRepairs: those that found drift;
	// DriftReads: netlink reads the checks and repairs made.
	Checks, DriftRepairs, DriftReads int
}

// New opens the netlink sockets. It changes nothing until Apply.
func New(opts Options) (*Backend, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	b := &Backend{opts: opts, log: opts.Logger, ns: -1, drains: drains{}}
	if opts.NetNS != "" {
		ns, err := netns.GetFromPath(opts.NetNS)
		if err != nil {
			return nil, fmt.Errorf("ipvs backend: open netns %s: %w", opts.NetNS, err)
		}
		b.ns = ns
	}
	b.h = newHandle(func() (conn, error) { return ipvs.New(opts.NetNS) }, opts.CallTimeout)
	nfOpts := []nft.ConnOption{nft.AsLasting(), nft.WithSockOptions(bigBuffers)}
	if b.ns >= 0 {
		b.nl, err = vnl.NewHandleAt(b.ns, unix.NETLINK_ROUTE)
		if err == nil {
			b.ct, err = vnl.NewHandleAt(b.ns, unix.NETLINK_NETFILTER)
		}
		nfOpts = append(nfOpts, nft.WithNetNSFd(int(b.ns)))
	} else {
		b.nl, err = vnl.NewHandle(unix.NETLINK_ROUTE)
		if err == nil {
			b.ct, err = vnl.NewHandle(unix.NETLINK_NETFILTER)
		}
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("ipvs backend: netlink: %w", err), b.Close())
	}
	nc, err := nft.New(nfOpts...)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("ipvs backend: nftables netlink: %w", err), b.Close())
	}
	b.nft = &nftTable{conn: nc, table: &nft.Table{Family: nft.TableFamilyINet, Name: opts.Table}, mark: opts.Mark, skel: skeletonDigest(opts.Mark)}
	return b, nil
}

// Close releases the sockets. The kernel keeps what was programmed, so a
// new Backend given the same State changes nothing.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	var errs []error
	if b.h != nil {
		b.h.Close()
	}
	if b.nft != nil {
		errs = append(errs, b.nft.conn.CloseLasting())
		b.nft = nil
	}
	if b.nl != nil {
		b.nl.Close()
		b.nl = nil
	}
	if b.ct != nil {
		b.ct.Close()
		b.ct = nil
	}
	if b.ns >= 0 {
		errs = append(errs, b.ns.Close())
		b.ns = -1
	}
	return errors.Join(errs...)
}

// Stats returns the counters so far.
func (b *Backend) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.stats
	s.Draining = b.drains.count()
	s.HandleReopens = b.h.reopenCount()
	return s
}

// Apply makes the kernel match want. The first call (and the one after a
// failure) reads IPVS, the dummy interface and the nftables table and
// changes only what differs, so a restarted speaker applying the same State
// writes nothing; later calls change only the services that differ from the
// previous State. The backend keeps its own copy of the services map, so
// the caller may change want afterwards (but not its VirtualService values).
func (b *Backend) Apply(ctx context.Context, want datapath.State) error {
	return b.apply(ctx, want, func() datapath.Changes { return datapath.Diff(b.applied, want) })
}

// Update is Apply for a caller that knows which services may have changed
// since the last Apply or Update: only those are compared.
func (b *Backend) Update(ctx context.Context, want datapath.State, touched []datapath.ServiceKey) error {
	return b.apply(ctx, want, func() datapath.Changes { return datapath.DiffKeys(b.applied, want, touched) })
}

func (b *Backend) apply(ctx context.Context, want datapath.State, diff func() datapath.Changes) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("ipvs backend: closed")
	}
	b.stats.Applies++
	if !b.synced {
		if err := b.fullSync(ctx, want); err != nil {
			return fmt.Errorf("ipvs backend: %w", err)
		}
		return nil
	}
	err := b.incremental(ctx, want, diff())
	if err == nil {
		return nil
	}
	// Someone changed IPVS behind our back, or a call failed half-way:
	// re-read everything.
	b.log.Error("incremental IPVS update failed; resyncing", "error", err)
	b.synced = false
	if ferr := b.fullSync(ctx, want); ferr != nil {
		return fmt.Errorf("ipvs backend: %w; full resync: %w", err, ferr)
	}
	return nil
}

func vipsOf(st datapath.State) map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	for k := range st.Services {
		out[k.VIP] = true
	}
	return out
}

func (b *Backend) inPrefixes(a netip.Addr) bool {
	for _, p := range b.opts.VIPPrefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (b *Backend) fullSync(ctx context.Context, want datapath.State) error {
	b.stats.FullSyncs++
	var written int
	var fwdOff []string
	err := inNetNS(b.ns, func() error {
		var err error
		written, fwdOff, err = ensureSysctls(requiredSysctls)
		return err
	})
	b.stats.SysctlWrites += written
	if err != nil {
		return fmt.Errorf("sysctls (is the ip_vs module loaded?): %w", err)
	}
	if len(fwdOff) > 0 && !b.fwdWarn {
		b.fwdWarn = true
		b.log.Warn("IP forwarding is off: replies of endpoints on other nodes will not reach clients", "sysctls", fwdOff)
	}
	link, created, err := ensureLink(b.nl, b.opts.Interface)
	if err != nil {
		return err
	}
	if created {
		b.stats.AddressChanges++ // a new interface is a change too
	}
	onLink, err := linkVIPs(b.nl, link)
	if err != nil {
		return err
	}
	b.link, b.vips = link, onLink
	wantVIPs := vipsOf(want)
	owned := func(a netip.Addr) bool { return wantVIPs[a] || onLink[a] || b.inPrefixes(a) }
	kernel, err := b.readKernel(ctx, owned)
	if err != nil {
		return err
	}
	b.kernel = kernel

	wantEl := desiredElements(want)
	adopted, err := b.nft.adopt()
	if err != nil {
		return err
	}
	if !adopted {
		if err := b.nft.build(wantEl); err != nil {
			return err
		}
		b.stats.NftTransactions++
	} else if err := b.nftUpdate(wantEl, true); err != nil {
		return err
	}
	keys := slices.Collect(maps.Keys(want.Services))
	for k := range kernel {
		if _, ok := want.Services[k]; !ok {
			keys = append(keys, k)
		}
	}
	if err := b.syncKeys(ctx, keys, want, wantVIPs); err != nil {
		return err
	}
	for k := range b.drains {
		if _, ok := b.kernel[k]; !ok {
			delete(b.drains, k) // the service went away behind our back
		}
	}
	if err := b.nftUpdate(wantEl, false); err != nil {
		return err
	}
	b.applied = want.Clone()
	b.synced = true
	b.log.Info("IPVS synced", "services", len(want.Services), "owned-before", len(kernel), "writes", b.stats.IPVSWrites)
	return nil
}

func (b *Backend) incremental(ctx context.Context, want datapath.State, ch datapath.Changes) error {
	if ch.Empty() {
		return nil
	}
	wantEl := desiredElements(want)
	if err := b.nftUpdate(wantEl, true); err != nil {
		return err
	}
	keys := append(append([]datapath.ServiceKey{}, ch.Added...), ch.Removed...)
	for _, u := range ch.Updated {
		keys = append(keys, u.Key)
	}
	if err := b.syncKeys(ctx, keys, want, vipsOf(want)); err != nil {
		return err
	}
	if err := b.nftUpdate(wantEl, false); err != nil {
		return err
	}
	ch.ApplyTo(&b.applied, want)
	return nil
}

// syncKeys brings the given services and the VIP addresses in line.
// Addresses go first when they go away, and come when their services are
// in place, so that a VIP is local only while its IPVS services exist.
// Keys are handled VIP by VIP, each VIP's address added right after its
// services: after a full sync or a drift repair of thousands of services,
// the first VIPs answer long before the last are written.
func (b *Backend) syncKeys(ctx context.Context, keys []datapath.ServiceKey, want datapath.State, wantVIPs map[netip.Addr]bool) error {
	for _, a := range sortedAddrs(b.vips) {
		if !wantVIPs[a] {
			if err := delVIP(b.nl, b.link, a); err != nil {
				return err
			}
			delete(b.vips, a)
			b.stats.AddressChanges++
		}
	}
	bind := func(a netip.Addr) error {
		if !wantVIPs[a] || b.vips[a] {
			return nil
		}
		if err := addVIP(b.nl, b.link, a); err != nil {
			return err
		}
		b.vips[a] = true
		b.stats.AddressChanges++
		return nil
	}
	slices.SortFunc(keys, datapath.ServiceKey.Compare) // by VIP first
	keys = slices.Compact(keys)
	var drained []datapath.ServiceKey
	for i, k := range keys {
		newDrains, err := b.syncService(ctx, k, want)
		if err != nil {
			return err
		}
		if newDrains {
			drained = append(drained, k)
		}
		if i+1 == len(keys) || keys[i+1].VIP != k.VIP {
			if err := bind(k.VIP); err != nil {
				return err
			}
		}
	}
	for _, a := range sortedAddrs(wantVIPs) { // VIPs none of whose services changed
		if err := bind(a); err != nil {
			return err
		}
	}
	// Destinations without connections need not wait for the next sweep.
	return b.sweep(ctx, drained)
}

// syncService applies one service's plan; it reports whether destinations
// started draining.
func (b *Backend) syncService(ctx context.Context, k datapath.ServiceKey, want datapath.State) (bool, error) {
	var wk *kService
	if vs, ok := want.Services[k]; ok {
		s := desiredService(k, vs)
		wk = &s
	}
	p := planService(k, b.kernel[k], wk, b.drains[k])
	for _, o := range p.ops {
		if err := b.exec(ctx, o); err != nil {
			return false, err
		}
	}
	if wk == nil {
		delete(b.drains, k)
	}
	for _, a := range p.undrain {
		b.drains.remove(k, a)
	}
	now := b.opts.Now()
	for _, a := range p.drain {
		b.drains.add(k, a, now)
	}
	for _, a := range p.flush {
		n, err := flushUDP(b.ct, udpFlows{key: k, backend: a})
		b.stats.ConntrackDeleted += int(n)
		if err != nil {
			// Not fatal: the flows end by themselves when idle.
			b.log.Warn("UDP conntrack cleanup failed", "service", k.String(), "error", err)
		}
	}
	return len(p.drain) > 0, nil
}

func (b *Backend) exec(ctx context.Context, o op) error {
	svc := serviceID(o.key, o.svc)
	what := o.kind.String() + " " + o.key.String()
	if o.dest.IsValid() {
		what += " -> " + o.dest.String()
	}
	d := destination(o.dest, o.d)
	err := do(ctx, b.h, what, func(c conn) error {
		switch o.kind {
		case opAddService:
			return c.NewService(svc)
		case opUpdateService:
			return c.UpdateService(svc)
		case opDelService:
			return c.DelService(svc)
		case opAddDest:
			return c.NewDestination(svc, d)
		case opUpdateDest:
			return c.UpdateDestination(svc, d)
		case opDelDest:
			return c.DelDestination(svc, d)
		}
		return fmt.Errorf("unknown operation %d", o.kind)
	})
	if err != nil {
		return err
	}
	o.apply(b.kernel)
	b.stats.IPVSWrites++
	return nil
}

// readKernel lists the owned services and their destinations.
func (b *Backend) readKernel(ctx context.Context, owned func(netip.Addr) bool) (map[datapath.ServiceKey]*kService, error) {
	svcs, err := call(ctx, b.h, "list services", func(c conn) ([]*ipvs.Service, error) { return c.GetServices() })
	if err != nil {
		return nil, err
	}
	out := map[datapath.ServiceKey]*kService{}
	for _, s := range svcs {
		k, ok := keyOf(s)
		if !ok || !owned(k.VIP) {
			continue
		}
		dests, err := call(ctx, b.h, "list destinations of "+k.String(), func(c conn) ([]*ipvs.Destination, error) { return c.GetDestinations(s) })
		if err != nil {
			return nil, err
		}
		ks := kernelService(s, dests)
		out[k] = &ks
	}
	return out, nil
}

func (b *Backend) nftUpdate(want elements, add bool) error {
	changed, err := b.nft.update(want, add)
	if changed {
		b.stats.NftTransactions++
	}
	return err
}

// Sweep removes draining destinations that have no connection left or
// whose DrainTimeout has passed. Run calls it periodically.
func (b *Backend) Sweep(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("ipvs backend: closed")
	}
	if !b.synced {
		return nil
	}
	keys := slices.Collect(maps.Keys(b.drains))
	return b.sweep(ctx, keys)
}

func (b *Backend) sweep(ctx context.Context, keys []datapath.ServiceKey) error {
	slices.SortFunc(keys, datapath.ServiceKey.Compare)
	now := b.opts.Now()
	for _, k := range keys {
		ds := b.drains[k]
		if len(ds) == 0 {
			continue
		}
		list, err := call(ctx, b.h, "list destinations of "+k.String(), func(c conn) ([]*ipvs.Destination, error) {
			return c.GetDestinations(serviceID(k, kService{}))
		})
		if err != nil {
			return err
		}
		conns := map[netip.AddrPort]int{}
		for _, d := range list {
			if a, ok := netip.AddrFromSlice(d.Address); ok {
				conns[netip.AddrPortFrom(a.Unmap(), d.Port)] = d.ActiveConnections + d.InactiveConnections
			}
		}
		for _, a := range sortedTimes(ds) {
			n, present := conns[a]
			if present && !drainDone(ds[a], now, b.opts.DrainTimeout, n) {
				continue
			}
			if present {
				if err := b.exec(ctx, op{kind: opDelDest, key: k, dest: a}); err != nil {
					return err
				}
				b.log.Debug("drained endpoint removed", "service", k.String(), "endpoint", a, "connections", n, "draining", now.Sub(ds[a]))
			}
			b.drains.remove(k, a)
		}
	}
	return nil
}

// Run sweeps draining destinations every DrainPoll, checks for drift every
// CheckInterval and resyncs every ResyncPeriod until ctx ends.
func (b *Backend) Run(ctx context.Context) error {
	sweep := time.NewTicker(b.opts.DrainPoll)
	defer sweep.Stop()
	var check <-chan time.Time
	if b.opts.CheckInterval > 0 {
		t := time.NewTicker(b.opts.CheckInterval)
		defer t.Stop()
		check = t.C
	}
	var resync <-chan time.Time
	if b.opts.ResyncPeriod > 0 {
		t := time.NewTicker(b.opts.ResyncPeriod)
		defer t.Stop()
		resync = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sweep.C:
			if err := b.Sweep(ctx); err != nil && ctx.Err() == nil {
				b.log.Warn("draining endpoints: sweep failed", "error", err)
			}
		case <-check:
			if _, err := b.Check(ctx); err != nil && ctx.Err() == nil {
				b.log.Error("IPVS drift check failed", "error", err)
			}
		case <-resync:
			if err := b.Resync(ctx); err != nil && ctx.Err() == nil {
				b.log.Error("periodic IPVS resync failed", "error", err)
			}
		}
	}
}

// Resync re-reads the kernel and repairs it to the last applied State
// (nothing happens before the first Apply). Writes only what differs.
func (b *Backend) Resync(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("ipvs backend: closed")
	}
	if !b.synced {
		return nil
	}
	b.synced = false
	if err := b.fullSync(ctx, b.applied); err != nil {
		return fmt.Errorf("ipvs backend: resync: %w", err)
	}
	return nil
}

// Teardown removes everything the backend owns: its IPVS services (those
// of the last State, on the dummy interface or inside VIPPrefixes), the
// nftables table and the dummy interface. Sysctls stay as they are. For
// switching a node to another datapath.
func (b *Backend) Teardown(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("ipvs backend: closed")
	}
	b.synced = false
	onLink := map[netip.Addr]bool{}
	l, err := b.nl.LinkByName(b.opts.Interface)
	if err == nil && l.Type() == "dummy" {
		if onLink, err = linkVIPs(b.nl, l); err != nil {
			return err
		}
	}
	applied := vipsOf(b.applied)
	kernel, err := b.readKernel(ctx, func(a netip.Addr) bool { return applied[a] || onLink[a] || b.inPrefixes(a) })
	if err != nil {
		return err
	}
	b.kernel = kernel
	for _, k := range slices.SortedFunc(maps.Keys(kernel), datapath.ServiceKey.Compare) {
		if err := b.exec(ctx, op{kind: opDelService, key: k}); err != nil {
			return err
		}
	}
	b.drains = drains{}
	var errs []error
	if err := b.nft.remove(); err != nil {
		errs = append(errs, err)
	}
	if l != nil && l.Type() == "dummy" {
		if err := b.nl.LinkDel(l); err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", b.opts.Interface, err))
		}
	}
	b.applied = datapath.State{}
	b.vips = nil
	return errors.Join(errs...)
}

func sortedAddrs(m map[netip.Addr]bool) []netip.Addr {
	return slices.SortedFunc(maps.Keys(m), netip.Addr.Compare)
}

func sortedTimes(m map[netip.AddrPort]time.Time) []netip.AddrPort {
	return slices.SortedFunc(maps.Keys(m), netip.AddrPort.Compare)
}
