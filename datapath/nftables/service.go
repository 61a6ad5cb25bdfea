package nftables

import (
	"encoding/binary"
	"hash/fnv"
	"net/netip"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/ironlb/ironlb/datapath"
)

// hashSeed is fixed so that a restart (or another node) hashes clients to
// the same backends.
const hashSeed = 0x1b1b2c2c

// Register plan of a service chain: the affinity key (client . backend .
// port) starts at register 0, the scheduler's number goes to the last one.
const selReg = 15

// serviceRules renders the chain of one virtual service. Rules, in order:
//
//  0. Services with source ranges: drop clients outside the ranges (one
//     rule, see sources.go).
//  1. Cluster services: mark the packet for masquerade.
//  2. With persistence, one rule per usable backend: a client pinned to it
//     (an element client . backend . port of the affinity set) goes there
//     again, and its pin's timeout restarts. Pins are keyed by backend, not
//     by service (as kube-proxy's per-endpoint affinity sets), so pins to
//     backends that drain or leave are simply never looked at again and
//     time out; nothing has to be purged.
//  3. One rule per usable backend (Weight > 0), sorted by address: the
//     scheduler's choice, then (with persistence) pin the client, then DNAT.
//     The last rule takes whatever the others left.
//
// No usable backend: only rule 1 (or nothing), so the packet leaves the
// chain undNATed and the filter hooks refuse or drop it.
//
// Schedulers: nf_tables has no connection counts, so:
//   - rr: `numgen inc`, every usable backend once (weights ignored, as IPVS rr).
//   - wrr: `numgen inc` over the weights: exact weighted round robin.
//   - lc, wlc: `numgen random` (over the weights for wlc): the same
//     long-run share, without looking at open connections.
//   - sh, mh: `jhash` of the client address (and source port with the -port
//     flag) over the weights. Unlike IPVS mh this is not consistent hashing:
//     a change of backends remaps most clients. -fallback is implicit, as
//     only usable backends are in the chain.
//
// Each rule is a cascade step: with remaining weight R and this backend's
// weight w, `numgen inc mod R < w` picks it; numgen counters are per rule,
// so the steps together give exact round robin. Hash rules instead compare
// one hash (recomputed per rule, same seed) against cumulative ranges.
// Sets are avoided on purpose: every set in a table costs the kernel time
// per set created in a transaction, and 10,000 services would make a full
// sync take tens of seconds.
func serviceRules(k datapath.ServiceKey, vs datapath.VirtualService, mark uint32) [][]expr.Any {
	v6 := k.VIP.Is6()
	var rules [][]expr.Any
	if vs.Sources.Restricted {
		rules = append(rules, sourceRule(k, vs.Sources))
	}
	if vs.Masquerade {
		rules = append(rules, setMark(mark, true))
	}
	type pick struct {
		addr   netip.AddrPort
		weight int
	}
	var picks []pick
	total := 0
	for _, a := range vs.SortedBackends() {
		b := vs.Backends[a]
		if b.Weight <= 0 {
			continue
		}
		w := b.Weight
		switch vs.Scheduler {
		case datapath.RoundRobin, datapath.LeastConnection, "":
			w = 1
		}
		picks = append(picks, pick{a, w})
		total += w
	}
	if len(picks) == 0 {
		return rules
	}
	persist := vs.Persistence > 0
	affinity := setAffinity + fam(v6)
	if persist {
		// 2: a client pinned to a usable backend goes there again, and its
		// pin is refreshed. Pins to backends that left are never looked
		// at, and time out.
		for _, p := range picks {
			rules = append(rules, cat(deps(v6, k.Protocol), affinityKey(p.addr), []expr.Any{
				lookup(affinity, 0),
				&expr.Dynset{SrcRegKey: reg(0), SetName: affinity, Operation: unix.NFT_DYNSET_OP_UPDATE, Timeout: vs.Persistence},
				dnat(v6, words(v6)),
			}))
		}
	}
	hashed := vs.Scheduler == datapath.SourceHashing || vs.Scheduler == datapath.MaglevHashing
	remaining, lo := total, 0
	for i, p := range picks {
		var r []expr.Any
		if persist || hashed {
			// nft needs these to print the payload loads by name.
			r = deps(v6, k.Protocol)
		}
		last := i == len(picks)-1
		switch {
		case hashed && !last:
			r = append(r, hashSelect(v6, vs.Flags.Port, uint32(total), uint32(lo), uint32(lo+p.weight))...)
		case !hashed && !last:
			ng := uint32(unix.NFT_NG_INCREMENTAL)
			if vs.Scheduler == datapath.LeastConnection || vs.Scheduler == datapath.WeightedLeastConnection {
				ng = unix.NFT_NG_RANDOM
			}
			r = append(r, &expr.Numgen{Register: reg(selReg), Modulus: uint32(remaining), Type: ng})
			r = append(r, inRange(selReg, 0, uint32(p.weight))...)
		}
		if persist {
			r = append(r, affinityKey(p.addr)...)
			r = append(r, &expr.Dynset{SrcRegKey: reg(0), SetName: affinity, Operation: unix.NFT_DYNSET_OP_UPDATE, Timeout: vs.Persistence})
		} else {
			r = append(r, loadAddrPort(p.addr, words(v6))...)
		}
		r = append(r, dnat(v6, words(v6)))
		rules = append(rules, r)
		remaining -= p.weight
		lo += p.weight
	}
	return rules
}

// deps: meta nfproto and meta l4proto, the matches nft expects before
// loading addresses and ports (the services map guarantees both already).
func deps(v6 bool, p datapath.Protocol) []expr.Any {
	return cat(matchFamily(v6), matchL4Proto(p.Number()))
}

// affinityKey loads saddr . backend address . backend port from register
// 0 on; the backend part is where dnat expects it.
func affinityKey(b netip.AddrPort) []expr.Any {
	v6 := b.Addr().Is6()
	return append([]expr.Any{loadAddr(v6, false, 0)}, loadAddrPort(b, words(v6))...)
}

// hashSelect: jhash (saddr [. sport]) mod total in [lo, hi).
func hashSelect(v6, port bool, total, lo, hi uint32) []expr.Any {
	w := words(v6)
	n := uint32(4 * w)
	out := []expr.Any{loadAddr(v6, false, 0)}
	if port {
		out = append(out, loadPort(false, w))
		n += 4
	}
	out = append(out, &expr.Hash{SourceRegister: reg(0), DestRegister: reg(selReg), Length: n, Modulus: total, Seed: hashSeed, Type: expr.HashTypeJenkins})
	return append(out, inRange(selReg, lo, hi)...)
}

// inRange: register r (a host-order 32-bit number) is in [lo, hi). cmp
// compares bytes, so numbers are turned big-endian first unless the range
// is one value.
func inRange(r int, lo, hi uint32) []expr.Any {
	if hi == lo+1 {
		return []expr.Any{&expr.Cmp{Op: expr.CmpOpEq, Register: reg(r), Data: binaryutil.NativeEndian.PutUint32(lo)}}
	}
	out := []expr.Any{&expr.Byteorder{SourceRegister: reg(r), DestRegister: reg(r), Op: expr.ByteorderHton, Len: 4, Size: 4}}
	if lo > 0 {
		out = append(out, &expr.Cmp{Op: expr.CmpOpGte, Register: reg(r), Data: binary.BigEndian.AppendUint32(nil, lo)})
	}
	return append(out, &expr.Cmp{Op: expr.CmpOpLt, Register: reg(r), Data: binary.BigEndian.AppendUint32(nil, hi)})
}

// serviceDigest fingerprints everything the kernel holds for a virtual
// service (its chains' rules and its set memberships), for the table's
// record of what it holds. Owner is not part of it: it changes nothing in
// the kernel.
func serviceDigest(k datapath.ServiceKey, vs datapath.VirtualService) uint64 {
	h := fnv.New64a()
	b := serviceKeyBytes(k)
	h.Write(b)
	h.Write([]byte(vs.Scheduler))
	var flags [8]byte
	if vs.Flags.Fallback {
		flags[0] = 1
	}
	if vs.Flags.Port {
		flags[1] = 1
	}
	if vs.Masquerade {
		flags[2] = 1
	}
	if vs.LocalOnly {
		flags[3] = 1
	}
	h.Write(flags[:])
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(vs.Persistence)))
	if vs.Sources.Restricted {
		h.Write([]byte("sources"))
		for _, p := range vs.Sources.Allowed {
			h.Write(p.Addr().AsSlice())
			h.Write([]byte{byte(p.Bits())})
		}
	}
	for _, a := range vs.SortedBackends() {
		be := vs.Backends[a]
		h.Write(addrPortData(a))
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(be.Weight)))
	}
	return h.Sum64()
}
