package nftables

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	nft "github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Names of the table's fixed objects ("4"/"6" suffixes per family).
const (
	setServices = "services" // map: vip . proto . port -> goto svc chain
	setVIPs     = "vips"     // set: every VIP of the State
	setLocal    = "local"    // set: vip . proto . port of LocalOnly services (dropped, not refused, without backends)
	setHairpin  = "hairpin"  // set: addr . addr of every backend address (source == destination after DNAT)
	setAffinity = "affinity" // dynamic set: client . backend addr . backend port, with timeouts

	chainMeta = "ironlb-meta" // one rule whose comment records what the table holds
)

// affinitySize bounds the pinned clients per family.
const affinitySize = 1 << 20

type setSpec struct {
	name string
	key  nft.SetDatatype
	data nft.SetDatatype // zero: a plain set
	// dynamic: updated from the packet path, elements time out.
	dynamic bool
}

func addrType(v6 bool) nft.SetDatatype {
	if v6 {
		return nft.TypeIP6Addr
	}
	return nft.TypeIPAddr
}

// mainSetSpecs are the sets of the main table, which every service shares.
func mainSetSpecs(v6 bool) []setSpec {
	a := addrType(v6)
	f := fam(v6)
	return []setSpec{
		{name: setVIPs + f, key: a},
		{name: setLocal + f, key: serviceKeyType(v6)},
		{name: setHairpin + f, key: nft.MustConcatSetType(a, a)},
	}
}

// shardSetSpecs are the sets of each shard table: its services' dispatch
// map and the affinity pins of its services' chains (a chain can only use
// a set of its own table).
func shardSetSpecs(v6 bool) []setSpec {
	a := addrType(v6)
	f := fam(v6)
	return []setSpec{
		{name: setServices + f, key: serviceKeyType(v6), data: nft.TypeVerdict},
		{name: setAffinity + f, key: nft.MustConcatSetType(a, a, nft.TypeInetService), dynamic: true},
	}
}

func serviceKeyType(v6 bool) nft.SetDatatype {
	return nft.MustConcatSetType(addrType(v6), nft.TypeInetProto, nft.TypeInetService)
}

func (s setSpec) set(t *nft.Table) *nft.Set {
	out := &nft.Set{Table: t, Name: s.name, KeyType: s.key}
	if s.data != (nft.SetDatatype{}) {
		out.IsMap = true
		out.DataType = s.data
	}
	if s.dynamic {
		out.Dynamic = true
		out.HasTimeout = true
		out.Size = affinitySize
	}
	return out
}

// baseChain is a hooked chain and its rules.
type baseChain struct {
	chain *nft.Chain
	rules [][]expr.Any
}

// skeleton returns the fixed chains of the main table. mark is the
// packet-mark bit that flags connections to masquerade.
//
// Packets to a VIP enter at prerouting (from the network) and output
// (from this node, hostNetwork pods included), both at dstnat priority,
// where each shard's services map sends them to their virtual service's
// chain, which DNATs (see shardSkeleton). What is not DNATed and still
// addressed to a VIP is refused (or dropped, for LocalOnly services) by the
// main table's filter chains just after: prerouting at dstnat+10, before
// routing, and output. Masquerade happens at postrouting for marked packets
// (Cluster services) and for hairpin connections (a pod reaching itself
// through the VIP).
func skeleton(t *nft.Table, mark uint32) ([]baseChain, []*nft.Chain) {
	refuse := func(v6 bool) []expr.Any {
		return cat(matchFamily(v6), []expr.Any{loadAddr(v6, true, 0), lookup(setVIPs+fam(v6), 0), gotoChain("refuse" + fam(v6))})
	}
	var post [][]expr.Any
	post = append(post, cat(matchMark(mark), setMark(mark, false), []expr.Any{&expr.Masq{}}))
	for _, v6 := range []bool{false, true} {
		post = append(post, cat(matchFamily(v6), matchCtDNAT(),
			[]expr.Any{loadAddr(v6, false, 0), loadAddr(v6, true, words(v6)), lookup(setHairpin+fam(v6), 0), &expr.Masq{}}))
	}
	filter := [][]expr.Any{refuse(false), refuse(true)}
	base := []baseChain{
		{hookChain(t, "nat-postrouting", nft.ChainTypeNAT, nft.ChainHookPostrouting, nft.ChainPriorityNATSource), post},
		// Right after DNAT and before routing, which would otherwise
		// answer "network unreachable" or bounce the packet back out.
		{hookChain(t, "filter-prerouting", nft.ChainTypeFilter, nft.ChainHookPrerouting, nft.ChainPriorityRef(*nft.ChainPriorityNATDest+10)), filter},
		{hookChain(t, "filter-output", nft.ChainTypeFilter, nft.ChainHookOutput, nft.ChainPriorityFilter), filter},
	}
	var regular []*nft.Chain
	for _, v6 := range []bool{false, true} {
		f := fam(v6)
		c := &nft.Chain{Table: t, Name: "refuse" + f}
		regular = append(regular, c)
		base = append(base, baseChain{c, [][]expr.Any{
			// ICMP errors about live connections, and connections that
			// predate the VIP's rules, are not ours to refuse.
			cat(matchCtEstablishedRelated(), []expr.Any{verdict(expr.VerdictAccept)}),
			cat(matchFamily(v6), loadServiceKey(v6), []expr.Any{lookup(setLocal+f, 0), verdict(expr.VerdictDrop)}),
			cat(matchL4Proto(unix.IPPROTO_TCP), []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_TCP_RST}}),
			{&expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_PORT_UNREACH}},
		}})
	}
	return base, regular
}

// shardSkeleton returns the hooked chains of one shard table: at dstnat
// priority, its services map sends a connection's first packet to the
// chain of its virtual service. NAT chains run for new connections only,
// and the kernel stops at the first one that set up a DNAT, so the shards
// cost one map lookup each per new connection, nothing per packet.
func shardSkeleton(t *nft.Table) []baseChain {
	dispatch := func(v6 bool) []expr.Any {
		return cat(matchFamily(v6), loadServiceKey(v6), []expr.Any{lookupVerdict(setServices+fam(v6), 0)})
	}
	rules := [][]expr.Any{dispatch(false), dispatch(true)}
	return []baseChain{
		{hookChain(t, "nat-prerouting", nft.ChainTypeNAT, nft.ChainHookPrerouting, nft.ChainPriorityNATDest), rules},
		{hookChain(t, "nat-output", nft.ChainTypeNAT, nft.ChainHookOutput, nft.ChainPriorityNATDest), rules},
	}
}

func hookChain(t *nft.Table, name string, typ nft.ChainType, h *nft.ChainHook, prio *nft.ChainPriority) *nft.Chain {
	accept := nft.ChainPolicyAccept
	return &nft.Chain{Table: t, Name: name, Type: typ, Hooknum: h, Priority: prio, Policy: &accept}
}

// skeletonDigest identifies the skeleton: a table built by another version
// (or another mark) is replaced as a whole.
func skeletonDigest(mark uint32) string {
	t := &nft.Table{Family: nft.TableFamilyINet, Name: "x"}
	base, _ := skeleton(t, mark)
	base = append(base, shardSkeleton(t)...)
	h := sha256.New()
	fmt.Fprintf(h, "ironlb-nftables-v2 mark=%#x shards=%d\n", mark, shardCount)
	for _, v6 := range []bool{false, true} {
		for _, s := range append(mainSetSpecs(v6), shardSetSpecs(v6)...) {
			fmt.Fprintf(h, "set %s %s %s %v\n", s.name, s.key.Name, s.data.Name, s.dynamic)
		}
	}
	for _, b := range base {
		fmt.Fprintf(h, "chain %s\n", b.chain.Name)
		for _, r := range b.rules {
			j, _ := json.Marshal(r)
			h.Write(j)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
