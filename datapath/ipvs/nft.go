package ipvs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	nft "github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"

	"github.com/ironlb/ironlb/datapath"
)

// Sets of the table, one of each per family ("4"/"6" suffix).
const (
	setVIPs    = "vips"    // every VIP of the State
	setAccept  = "accept"  // vip . proto . port of usable Local services
	setMasq    = "masq"    // ... of usable Cluster services: marked for masquerade
	setDrop    = "drop"    // ... of Local services without a usable endpoint
	setHairpin = "hairpin" // addr . addr of every endpoint address
	// vip . proto . port of services with source ranges, and the ranges
	// (vip . proto . port . saddr-range, an interval set): a client of a
	// restricted service not in its ranges is dropped.
	setRestricted = "restricted"
	setSources    = "sources"

	chainMeta = "meta" // one rule whose comment names the skeleton
)

var setNames = []string{setVIPs, setAccept, setMasq, setDrop, setHairpin, setRestricted, setSources}

func addrType(v6 bool) nft.SetDatatype {
	if v6 {
		return nft.TypeIP6Addr
	}
	return nft.TypeIPAddr
}

func setFor(t *nft.Table, name string, v6 bool) *nft.Set {
	a := addrType(v6)
	s := &nft.Set{Table: t, Name: name + fam(v6), KeyType: a}
	switch name {
	case setAccept, setMasq, setDrop, setRestricted:
		s.KeyType = nft.MustConcatSetType(a, nft.TypeInetProto, nft.TypeInetService)
		s.Concatenation = true
	case setSources:
		s.KeyType = nft.MustConcatSetType(a, nft.TypeInetProto, nft.TypeInetService, a)
		s.Concatenation = true
		s.Interval = true
	case setHairpin:
		s.KeyType = nft.MustConcatSetType(a, a)
		s.Concatenation = true
	}
	return s
}

// elements is set name -> element keys (as strings, for map keys). An
// element of an interval set is its first key followed by its last
// (inclusive) key, both of the set's key length.
type elements map[string]map[string]bool

func newElements() elements {
	e := elements{}
	for _, v6 := range []bool{false, true} {
		for _, n := range setNames {
			e[n+fam(v6)] = map[string]bool{}
		}
	}
	return e
}

// desiredElements is what the sets must hold for a State. Pure.
//
// A service whose endpoints are all gone or draining is in no port set when
// it is a Cluster service, so the catch-all refuses it with a TCP reset or
// ICMP port unreachable, like a closed port; a Local one is dropped (the
// node should not be receiving its traffic at all). Connections already
// established are accepted before any of this.
func desiredElements(st datapath.State) elements {
	e := newElements()
	for k, vs := range st.Services {
		f := fam(k.VIP.Is6())
		e[setVIPs+f][string(k.VIP.AsSlice())] = true
		key := string(keyBytes(k))
		switch usable := vs.Usable(); {
		case usable && vs.Masquerade:
			e[setMasq+f][key] = true
		case usable:
			e[setAccept+f][key] = true
		case vs.LocalOnly:
			e[setDrop+f][key] = true
		}
		for a := range vs.Backends {
			e[setHairpin+fam(a.Addr().Is6())][string(hairpinKey(a.Addr()))] = true
		}
		if vs.Sources.Restricted {
			e[setRestricted+f][key] = true
			for _, p := range vs.Sources.Allowed {
				e[setSources+f][string(sourceRangeElement(k, p))] = true
			}
		}
	}
	return e
}

// sourceRangeElement is the interval vip . proto . port . first address to
// vip . proto . port . last address of prefix p.
func sourceRangeElement(k datapath.ServiceKey, p netip.Prefix) []byte {
	first := p.Masked().Addr().AsSlice()
	last := slices.Clone(first)
	for i := p.Bits(); i < 8*len(last); i++ {
		last[i/8] |= 0x80 >> (i % 8)
	}
	key := keyBytes(k)
	out := append(slices.Clone(key), first...)
	out = append(out, key...)
	return append(out, last...)
}

// skeleton returns the chains and their rules.
//
// input (filter, priority 0) sees packets for local addresses before IPVS
// (LOCAL_IN at priority 98/99) and sends those for a VIP to the family's
// vip chain: established connections pass; ICMP passes (ping, and errors
// are related anyway); clients outside a restricted service's source
// ranges drop; Local services without endpoints drop; Cluster
// services mark the packet and pass; other services pass; anything else is
// refused. postrouting (NAT) masquerades marked packets and hairpin
// connections (an endpoint reaching itself through its VIP, whose reply
// would otherwise never come back through IPVS).
func skeleton(t *nft.Table, mark uint32) []chainSpec {
	accept := nft.ChainPolicyAccept
	base := func(name string, typ nft.ChainType, h *nft.ChainHook, prio *nft.ChainPriority) *nft.Chain {
		return &nft.Chain{Table: t, Name: name, Type: typ, Hooknum: h, Priority: prio, Policy: &accept}
	}
	toVIP := func(v6 bool) []expr.Any {
		return cat(matchFamily(v6), []expr.Any{loadAddr(v6, true, 0), lookup(setVIPs+fam(v6), 0), gotoChain("vip" + fam(v6))})
	}
	hairpin := func(v6 bool) []expr.Any {
		return cat(matchFamily(v6), []expr.Any{loadAddr(v6, false, 0), loadAddr(v6, true, words(v6)), lookup(setHairpin+fam(v6), 0), &expr.Masq{}})
	}
	markLocal := func(v6 bool) []expr.Any {
		return cat(matchFamily(v6), loadServiceKey(v6), []expr.Any{lookup(setMasq+fam(v6), 0)}, setMark(mark, true))
	}
	specs := []chainSpec{
		{chain: base("input", nft.ChainTypeFilter, nft.ChainHookInput, nft.ChainPriorityFilter), rules: [][]expr.Any{toVIP(false), toVIP(true)}},
		// Connections from the node itself (hostNetwork pods) meet IPVS at
		// LOCAL_OUT (priority -99) and never pass input; without the mark
		// their source would be the VIP, and an endpoint on another node
		// would send its reply to whichever node the network routes the
		// VIP to.
		{chain: base("output", nft.ChainTypeFilter, nft.ChainHookOutput, nft.ChainPriorityMangle), rules: [][]expr.Any{markLocal(false), markLocal(true)}},
		{chain: base("postrouting", nft.ChainTypeNAT, nft.ChainHookPostrouting, nft.ChainPriorityNATSource), rules: [][]expr.Any{
			cat(matchMark(mark), setMark(mark, false), []expr.Any{&expr.Masq{}}),
			hairpin(false), hairpin(true),
		}},
	}
	for _, v6 := range []bool{false, true} {
		f := fam(v6)
		icmp := uint8(unix.IPPROTO_ICMP)
		if v6 {
			icmp = unix.IPPROTO_ICMPV6
		}
		specs = append(specs, chainSpec{chain: &nft.Chain{Table: t, Name: "vip" + f}, rules: [][]expr.Any{
			cat(matchEstablished(), []expr.Any{verdict(expr.VerdictAccept)}),
			cat(matchL4Proto(icmp), []expr.Any{verdict(expr.VerdictAccept)}),
			// Source ranges come before any other decision: a client
			// outside them is dropped, whatever the service's state.
			cat(loadServiceKey(v6), []expr.Any{lookup(setRestricted+f, 0), loadAddr(v6, false, words(v6)+2),
				&expr.Lookup{SourceRegister: reg(0), SetName: setSources + f, Invert: true}, verdict(expr.VerdictDrop)}),
			cat(loadServiceKey(v6), []expr.Any{lookup(setDrop+f, 0), verdict(expr.VerdictDrop)}),
			cat(loadServiceKey(v6), []expr.Any{lookup(setMasq+f, 0)}, setMark(mark, true), []expr.Any{verdict(expr.VerdictAccept)}),
			cat(loadServiceKey(v6), []expr.Any{lookup(setAccept+f, 0), verdict(expr.VerdictAccept)}),
			cat(matchL4Proto(unix.IPPROTO_TCP), []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_TCP_RST}}),
			{&expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_PORT_UNREACH}},
		}})
	}
	return specs
}

type chainSpec struct {
	chain *nft.Chain
	rules [][]expr.Any
}

// skeletonDigest names the skeleton; a table with another one (an older
// IronLB, another mark) is replaced whole.
func skeletonDigest(mark uint32) string {
	t := &nft.Table{Family: nft.TableFamilyINet, Name: "x"}
	h := sha256.New()
	fmt.Fprintf(h, "ironlb-ipvs-v2 mark=%#x\n", mark)
	for _, v6 := range []bool{false, true} {
		for _, n := range setNames {
			s := setFor(t, n, v6)
			fmt.Fprintf(h, "set %s %s\n", s.Name, s.KeyType.Name)
		}
	}
	for _, c := range skeleton(t, mark) {
		fmt.Fprintf(h, "chain %s\n", c.chain.Name)
		for _, r := range c.rules {
			j, _ := json.Marshal(r)
			h.Write(j)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// nftTable keeps IronLB's table in step with a State. have mirrors the
// kernel's set elements, so an unchanged State costs no netlink message.
type nftTable struct {
	conn  *nft.Conn
	table *nft.Table
	mark  uint32
	skel  string
	have  elements // nil until adopted or built
}

func (t *nftTable) metaComment() string { return "ironlb ipvs skeleton=" + t.skel }

// adopt reads the table if it carries this skeleton; false means it must be
// built.
func (t *nftTable) adopt() (bool, error) {
	rules, err := t.conn.GetRules(t.table, &nft.Chain{Table: t.table, Name: chainMeta})
	if err != nil || len(rules) != 1 {
		return false, nil // no table, or not ours in this shape
	}
	if c, _ := userdata.GetString(rules[0].UserData, userdata.TypeComment); c != t.metaComment() {
		return false, nil
	}
	have := newElements()
	for _, v6 := range []bool{false, true} {
		for _, n := range setNames {
			s := setFor(t.table, n, v6)
			els, err := t.conn.GetSetElements(s)
			if err != nil {
				return false, fmt.Errorf("list set %s: %w", s.Name, err)
			}
			for _, e := range els {
				have[s.Name][string(e.Key)+string(e.KeyEnd)] = true
			}
		}
	}
	t.have = have
	return true, nil
}

// build replaces the table with the skeleton and want's elements in one
// transaction.
func (t *nftTable) build(want elements) error {
	c := t.conn
	c.AddTable(t.table) // so that the delete finds one
	c.DelTable(t.table)
	c.AddTable(t.table)
	for _, v6 := range []bool{false, true} {
		for _, n := range setNames {
			s := setFor(t.table, n, v6)
			if err := c.AddSet(s, nil); err != nil {
				return fmt.Errorf("set %s: %w", s.Name, err)
			}
			if err := addElements(c, s, sortedKeys(want[s.Name])); err != nil {
				return err
			}
		}
	}
	specs := skeleton(t.table, t.mark)
	for _, sp := range specs {
		if sp.chain.Hooknum == nil {
			c.AddChain(sp.chain) // regular chains before the rules that jump to them
		}
	}
	for _, sp := range specs {
		ch := sp.chain
		if ch.Hooknum != nil {
			ch = c.AddChain(ch)
		}
		for _, r := range sp.rules {
			c.AddRule(&nft.Rule{Table: t.table, Chain: ch, Exprs: r})
		}
	}
	meta := c.AddChain(&nft.Chain{Table: t.table, Name: chainMeta})
	c.AddRule(&nft.Rule{Table: t.table, Chain: meta, Exprs: []expr.Any{verdict(expr.VerdictReturn)},
		UserData: userdata.AppendString(nil, userdata.TypeComment, t.metaComment())})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("replace table inet %s: %w", t.table.Name, err)
	}
	t.have = newElements()
	for n, keys := range want {
		for k := range keys {
			t.have[n][k] = true
		}
	}
	return nil
}

// update adds (add=true) or removes the elements by which want and the
// kernel differ, in one transaction. It reports whether it sent anything.
func (t *nftTable) update(want elements, add bool) (bool, error) {
	diffs := map[string][]string{}
	for _, v6 := range []bool{false, true} {
		for _, n := range setNames {
			name := n + fam(v6)
			from, other := want[name], t.have[name]
			if !add {
				from, other = t.have[name], want[name]
			}
			var diff []string
			for k := range from {
				if !other[k] {
					diff = append(diff, k)
				}
			}
			if len(diff) == 0 {
				continue
			}
			slices.Sort(diff)
			s := setFor(t.table, n, v6)
			var err error
			if add {
				err = addElements(t.conn, s, diff)
			} else {
				err = deleteElements(t.conn, s, diff)
			}
			if err != nil {
				return false, err
			}
			diffs[name] = diff
		}
	}
	if len(diffs) == 0 {
		return false, nil
	}
	if err := t.conn.Flush(); err != nil {
		return false, fmt.Errorf("update sets of table inet %s: %w", t.table.Name, err)
	}
	for name, keys := range diffs {
		for _, k := range keys {
			if add {
				t.have[name][k] = true
			} else {
				delete(t.have[name], k)
			}
		}
	}
	return true, nil
}

// remove deletes the table if it exists.
func (t *nftTable) remove() error {
	t.conn.AddTable(t.table)
	t.conn.DelTable(t.table)
	if err := t.conn.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete table inet %s: %w", t.table.Name, err)
	}
	t.have = nil
	return nil
}

// elementChunk keeps each message well under what one netlink attribute
// can carry.
const elementChunk = 256

func toElements(s *nft.Set, keys []string) []nft.SetElement {
	out := make([]nft.SetElement, len(keys))
	for i, k := range keys {
		if s.Interval {
			out[i] = nft.SetElement{Key: []byte(k[:len(k)/2]), KeyEnd: []byte(k[len(k)/2:])}
			continue
		}
		out[i] = nft.SetElement{Key: []byte(k)}
	}
	return out
}

func addElements(c *nft.Conn, s *nft.Set, keys []string) error {
	for len(keys) > 0 {
		n := min(len(keys), elementChunk)
		if err := c.SetAddElements(s, toElements(s, keys[:n])); err != nil {
			return fmt.Errorf("elements of %s: %w", s.Name, err)
		}
		keys = keys[n:]
	}
	return nil
}

func deleteElements(c *nft.Conn, s *nft.Set, keys []string) error {
	for len(keys) > 0 {
		n := min(len(keys), elementChunk)
		if err := c.SetDeleteElements(s, toElements(s, keys[:n])); err != nil {
			return fmt.Errorf("delete elements of %s: %w", s.Name, err)
		}
		keys = keys[n:]
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
