package nftables

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	nft "github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	vnl "github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/ironlb/ironlb/datapath"
	"github.com/ironlb/ironlb/datapath/internal/nftexpr"
)

// DefaultMark is the packet-mark bit that flags connections to masquerade.
// It avoids the bits kube-proxy (0x4000, 0x8000), Calico (0xffff0000) and
// Cilium (0x0f00) use by default.
const DefaultMark = 0x2000

// Options configure a Backend.
type Options struct {
	// Table is the name of the inet table the backend owns; "" is "ironlb".
	Table string
	// NetNS is the path of a network namespace to program (e.g.
	// /run/netns/NAME); "" is the caller's own. Tests use it.
	NetNS string
	// Mark is the packet-mark bit for masquerade; 0 is DefaultMark. It
	// must be a single bit.
	Mark uint32
	// CheckInterval is how often Run looks for drift (tables deleted or
	// flushed by something else on the node) with a cheap canary check;
	// 0 is 1 s, negative never.
	CheckInterval time.Duration
	// FullCheckPeriod is how often Run compares every set element and
	// chain name of the tables with what was applied; 0 is 60 s, negative
	// never.
	FullCheckPeriod time.Duration
	// Logger; nil discards.
	Logger *slog.Logger
}

// Backend programs a datapath.State into its nftables tables: the main table
// and its shards (see shards.go). It touches no other table. Apply is safe for concurrent use, but one caller is the
// intended design.
type Backend struct {
	table  *nft.Table   // main: VIPs, refusal, masquerade
	shards []*nft.Table // the services, spread by shardOf
	mark   uint32
	skel   string
	log    *slog.Logger

	mu sync.Mutex
	ns netns.NsHandle // -1: the caller's namespace
	// rd reads the kernel's objects; enc only encodes transactions into
	// capture, and sock sends them (see batch.go).
	rd      *nft.Conn
	enc     *nft.Conn
	capture *capture
	sock    *netlink.Conn
	ct      *vnl.Handle

	synced  bool
	applied datapath.State
	digests map[datapath.ServiceKey]uint64
	digest  uint64
	vipRefs map[netip.Addr]int
	// shardSize: services (one chain each) per shard, what each shard's
	// chain count follows.
	shardSize []int
	// hairpin: backend addresses in use (count) and every address in the
	// kernel's hairpin sets. Unused ones are removed lazily: removing set
	// elements costs the kernel a grace period (~10 ms), and a stale
	// hairpin entry is harmless (it only matches DNATed connections whose
	// source is their own destination, which always need masquerade).
	hairpinRefs   map[netip.Addr]int
	hairpinKernel map[netip.Addr]bool
	hairpinStale  map[netip.Addr]bool // in the kernel, unused

	// chains: every chain programmed, with the use count the kernel must
	// show (see chainwant.go).
	chains map[chainRef]chainWant
	// verified: the ruleset generation at the last check that found every
	// chain's use count in line (verifiedOK false: none yet); while the
	// generation stays, no chain can have changed.
	verified   uint32
	verifiedOK bool
	// repairMisses counts, per chain, the repairs in a row after which
	// the chain's use count still differed; unjudged are the chains no
	// longer compared by count (see stillDiffer).
	repairMisses map[chainRef]int
	unjudged     map[chainRef]bool

	drift driftOptions
	stats Stats

	// lastCommit is how long the kernel took for the last transaction
	// (benchmarks report it).
	lastCommit time.Duration
}

// staleHairpinLimit is how many unused hairpin entries may pile up before an
// Apply removes them.
const staleHairpinLimit = 256

// New opens the netlink sockets. It changes nothing until Apply.
func New(opts Options) (*Backend, error) {
	if opts.Table == "" {
		opts.Table = "ironlb"
	}
	if opts.Mark == 0 {
		opts.Mark = DefaultMark
	}
	if opts.Mark&(opts.Mark-1) != 0 {
		return nil, fmt.Errorf("nftables backend: Options.Mark %#x is not a single bit", opts.Mark)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Backend{
		table: &nft.Table{Family: nft.TableFamilyINet, Name: opts.Table},
		mark:  opts.Mark,
		skel:  skeletonDigest(opts.Mark),
		log:   opts.Logger,
		drift: driftOptions{interval: opts.CheckInterval, fullPeriod: opts.FullCheckPeriod}.withDefaults(),
		ns:    -1,
	}
	for i := range shardCount {
		b.shards = append(b.shards, &nft.Table{Family: nft.TableFamilyINet, Name: shardName(opts.Table, i)})
	}
	connOpts := []nft.ConnOption{nft.AsLasting(), nft.WithSockOptions(bigBuffers)}
	if opts.NetNS != "" {
		ns, err := netns.GetFromPath(opts.NetNS)
		if err != nil {
			return nil, fmt.Errorf("nftables backend: open netns %s: %w", opts.NetNS, err)
		}
		b.ns = ns
		connOpts = append(connOpts, nft.WithNetNSFd(int(ns)))
	}
	rd, err := nft.New(connOpts...)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("nftables backend: netlink: %w", err), b.Close())
	}
	b.rd = rd
	b.capture = &capture{}
	if b.enc, err = nft.New(nft.AsLasting(), nft.WithTestDial(b.capture.dial)); err != nil {
		return nil, errors.Join(fmt.Errorf("nftables backend: encoder: %w", err), b.Close())
	}
	nsFD := 0
	if b.ns >= 0 {
		nsFD = int(b.ns)
	}
	if b.sock, err = netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: nsFD}); err != nil {
		return nil, errors.Join(fmt.Errorf("nftables backend: netlink: %w", err), b.Close())
	}
	if err := bigBuffers(b.sock); err != nil {
		return nil, errors.Join(fmt.Errorf("nftables backend: netlink buffers: %w", err), b.Close())
	}
	if b.ns >= 0 {
		b.ct, err = vnl.NewHandleAt(b.ns, unix.NETLINK_NETFILTER)
	} else {
		b.ct, err = vnl.NewHandle(unix.NETLINK_NETFILTER)
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("nftables backend: conntrack netlink: %w", err), b.Close())
	}
	return b, nil
}

// bigBuffers sizes the netlink sockets for a full sync of thousands of
// services in one transaction.
func bigBuffers(c *netlink.Conn) error { return nftexpr.BigBuffers(c, 256<<20) }

// Close releases the sockets; the table stays as it is.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var errs []error
	if b.rd != nil {
		errs = append(errs, b.rd.CloseLasting())
		b.rd = nil
	}
	if b.enc != nil {
		errs = append(errs, b.enc.CloseLasting())
		b.enc = nil
	}
	if b.sock != nil {
		errs = append(errs, b.sock.Close())
		b.sock = nil
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

// Apply makes the tables match want. The first call adopts tables that a
// previous instance left with the same content (changing nothing) and
// otherwise replaces them in one transaction; later calls change only the
// chains and set elements of services that differ, also in one transaction
// each. Connection tracking cleanup (UDP flows to removed backends) follows
// the transaction. The backend keeps its own copy of the services map, so
// the caller may change want afterwards (but not its VirtualService values).
func (b *Backend) Apply(ctx context.Context, want datapath.State) error {
	return b.apply(ctx, want, func() datapath.Changes { return datapath.Diff(b.applied, want) })
}

// Update is Apply for a caller that knows which services may have changed
// since the last Apply or Update: it compares only those, so its cost
// follows the change, not the number of services.
func (b *Backend) Update(ctx context.Context, want datapath.State, touched []datapath.ServiceKey) error {
	return b.apply(ctx, want, func() datapath.Changes { return datapath.DiffKeys(b.applied, want, touched) })
}

func (b *Backend) apply(ctx context.Context, want datapath.State, diff func() datapath.Changes) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sock == nil {
		return errors.New("nftables backend: closed")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !b.synced {
		return b.initialSync(want)
	}
	err := b.incremental(want, diff())
	if err == nil {
		return nil
	}
	// The tables were changed behind our back, or a bug: start over.
	b.log.Error("incremental nftables update failed; replacing the tables", "error", err)
	b.synced = false
	if ferr := b.fullSync(want); ferr != nil {
		return fmt.Errorf("nftables backend: %w; full resync: %w", err, ferr)
	}
	return nil
}

// initialSync adopts the table if its record says it holds exactly want.
func (b *Backend) initialSync(want datapath.State) error {
	digests, digest := digestState(want)
	skel, state, err := b.readMeta()
	if err == nil && skel == b.skel && state == digest {
		hp, err := b.kernelHairpins()
		if err == nil {
			b.adopt(want, digests, digest, hp)
			b.log.Info("nftables table already up to date", "table", b.table.Name, "services", len(want.Services))
			return nil
		}
	}
	return b.fullSync(want)
}

func digestState(s datapath.State) (map[datapath.ServiceKey]uint64, uint64) {
	digests := make(map[datapath.ServiceKey]uint64, len(s.Services))
	var x uint64
	for k, vs := range s.Services {
		d := serviceDigest(k, vs)
		digests[k] = d
		x ^= d
	}
	return digests, x
}

// adopt records that the kernel holds want.
func (b *Backend) adopt(want datapath.State, digests map[datapath.ServiceKey]uint64, digest uint64, hairpins map[netip.Addr]bool) {
	b.applied = want.Clone()
	b.digests = digests
	b.digest = digest
	b.vipRefs = map[netip.Addr]int{}
	b.hairpinRefs = map[netip.Addr]int{}
	b.shardSize = make([]int, shardCount)
	for k, vs := range want.Services {
		b.shardSize[shardOf(k)]++
		b.vipRefs[k.VIP]++
		for a := range vs.Backends {
			b.hairpinRefs[a.Addr()]++
		}
	}
	b.chains = b.wantChains(want)
	b.verifiedOK = false
	b.hairpinKernel = hairpins
	b.hairpinStale = map[netip.Addr]bool{}
	for a := range hairpins {
		if b.hairpinRefs[a] == 0 {
			b.hairpinStale[a] = true
		}
	}
	b.synced = true
}

func (b *Backend) metaComment(digest uint64) string {
	return fmt.Sprintf("ironlb datapath skeleton=%s state=%016x", b.skel, digest)
}

// readMeta returns the skeleton and state digests the table records.
func (b *Backend) readMeta() (skel string, state uint64, err error) {
	c := b.metaRecord()
	if c == "" {
		return "", 0, fmt.Errorf("no record in %s", chainMeta)
	}
	if _, err := fmt.Sscanf(c, "ironlb datapath skeleton=%s state=%x", &skel, &state); err != nil {
		return "", 0, fmt.Errorf("comment %q: %w", c, err)
	}
	return skel, state, nil
}

func (b *Backend) addMeta(digest uint64) {
	meta := &nft.Chain{Table: b.table, Name: chainMeta}
	b.enc.AddRule(&nft.Rule{Table: b.table, Chain: meta, Exprs: []expr.Any{verdict(expr.VerdictReturn)},
		UserData: userdata.AppendString(nil, userdata.TypeComment, b.metaComment(digest))})
}

// kernelHairpins lists the hairpin sets.
func (b *Backend) kernelHairpins() (map[netip.Addr]bool, error) {
	out := map[netip.Addr]bool{}
	for _, v6 := range []bool{false, true} {
		els, err := b.rd.GetSetElements(&nft.Set{Table: b.table, Name: setHairpin + fam(v6), KeyType: nft.MustConcatSetType(addrType(v6), addrType(v6))})
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", setHairpin+fam(v6), err)
		}
		n := 4 * words(v6)
		for _, e := range els {
			if len(e.Key) < n {
				continue
			}
			if a, ok := netip.AddrFromSlice(e.Key[:n]); ok {
				out[a] = true
			}
		}
	}
	return out, nil
}

// fullSync replaces the tables in one transaction.
func (b *Backend) fullSync(want datapath.State) error {
	existing, err := b.rd.ListTablesOfFamily(nft.TableFamilyINet)
	if err != nil {
		return fmt.Errorf("nftables backend: list tables: %w", err)
	}
	for _, t := range existing {
		if owned(b.table.Name, t.Name) {
			b.enc.DelTable(t)
		}
	}
	digests, digest := digestState(want)
	hairpins, err := b.addMainTable(want, digest)
	if err != nil {
		return err
	}
	byShard := servicesByShard(want)
	for i := range b.shards {
		if err := b.addShardTable(i, byShard[i], want); err != nil {
			return err
		}
	}
	if err := b.commit(); err != nil {
		return fmt.Errorf("nftables backend: replace tables inet %s and its %d shards (%d services): %w", b.table.Name, shardCount, len(want.Services), err)
	}
	b.adopt(want, digests, digest, hairpins)
	b.log.Info("nftables tables replaced", "table", b.table.Name, "shards", shardCount, "services", len(want.Services))
	return nil
}

// servicesByShard groups a State's keys by shard, each group sorted.
func servicesByShard(st datapath.State) [][]datapath.ServiceKey {
	out := make([][]datapath.ServiceKey, shardCount)
	for _, k := range st.SortedKeys() {
		i := shardOf(k)
		out[i] = append(out[i], k)
	}
	return out
}

// addSets adds a table's sets to the batch, by name.
func (b *Backend) addSets(t *nft.Table, specs func(bool) []setSpec) (map[string]*nft.Set, error) {
	out := map[string]*nft.Set{}
	for _, v6 := range []bool{false, true} {
		for _, s := range specs(v6) {
			set := s.set(t)
			if err := b.enc.AddSet(set, nil); err != nil {
				return nil, fmt.Errorf("nftables backend: set %s: %w", s.name, err)
			}
			out[s.name] = set
		}
	}
	return out, nil
}

func (b *Backend) addChains(base []baseChain, regular []*nft.Chain) {
	c := b.enc
	for _, ch := range regular {
		c.AddChain(ch)
	}
	for _, bc := range base {
		ch := c.AddChain(bc.chain)
		for _, r := range bc.rules {
			c.AddRule(&nft.Rule{Table: ch.Table, Chain: ch, Exprs: r})
		}
	}
}

// addMainTable adds to the batch the main table as want needs it: its
// sets and their elements, the skeleton and the meta record of digest. It
// returns the hairpin addresses it holds.
func (b *Backend) addMainTable(want datapath.State, digest uint64) (map[netip.Addr]bool, error) {
	c := b.enc
	main := c.AddTable(b.table)
	sets, err := b.addSets(main, mainSetSpecs)
	if err != nil {
		return nil, err
	}
	b.addChains(skeleton(main, b.mark))
	els := map[*nft.Set][]nft.SetElement{}
	add := func(set string, e nft.SetElement) { els[sets[set]] = append(els[sets[set]], e) }
	hairpins := map[netip.Addr]bool{}
	vips := map[netip.Addr]bool{}
	for _, k := range want.SortedKeys() {
		vs := want.Services[k]
		f := fam(k.VIP.Is6())
		if vs.LocalOnly {
			add(setLocal+f, nft.SetElement{Key: serviceKeyBytes(k)})
		}
		if !vips[k.VIP] {
			vips[k.VIP] = true
			add(setVIPs+f, nft.SetElement{Key: k.VIP.AsSlice()})
		}
		for _, a := range vs.SortedBackends() {
			if !hairpins[a.Addr()] {
				hairpins[a.Addr()] = true
				add(setHairpin+fam(a.Addr().Is6()), nft.SetElement{Key: hairpinKey(a.Addr())})
			}
		}
	}
	for s, e := range els {
		if err := addElements(c, s, e); err != nil {
			return nil, err
		}
	}
	c.AddChain(&nft.Chain{Table: main, Name: chainMeta})
	b.addMeta(digest)
	return hairpins, nil
}

// addShardTable adds to the batch shard i with the services keys (of
// want) that belong to it.
func (b *Backend) addShardTable(i int, keys []datapath.ServiceKey, want datapath.State) error {
	c := b.enc
	st := c.AddTable(b.shards[i])
	sets, err := b.addSets(st, shardSetSpecs)
	if err != nil {
		return err
	}
	b.addChains(shardSkeleton(st), nil)
	els := map[*nft.Set][]nft.SetElement{}
	for _, k := range keys {
		vs := want.Services[k]
		ch := c.AddChain(&nft.Chain{Table: st, Name: chainName(k)})
		for _, r := range serviceRules(k, vs, b.mark) {
			c.AddRule(&nft.Rule{Table: st, Chain: ch, Exprs: r})
		}
		s := sets[setServices+fam(k.VIP.Is6())]
		els[s] = append(els[s], nft.SetElement{Key: serviceKeyBytes(k), VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: ch.Name}})
	}
	for s, e := range els {
		if err := addElements(c, s, e); err != nil {
			return err
		}
	}
	return nil
}

// elementChunk keeps each element message well under the 64 KiB a netlink
// attribute can hold.
const elementChunk = 256

func addElements(c *nft.Conn, s *nft.Set, els []nft.SetElement) error {
	for len(els) > 0 {
		n := min(len(els), elementChunk)
		if err := c.SetAddElements(s, els[:n]); err != nil {
			return fmt.Errorf("nftables backend: elements of %s: %w", s.Name, err)
		}
		els = els[n:]
	}
	return nil
}

func deleteElements(c *nft.Conn, s *nft.Set, els []nft.SetElement) error {
	for len(els) > 0 {
		n := min(len(els), elementChunk)
		if err := c.SetDeleteElements(s, els[:n]); err != nil {
			return fmt.Errorf("nftables backend: delete elements of %s: %w", s.Name, err)
		}
		els = els[n:]
	}
	return nil
}
