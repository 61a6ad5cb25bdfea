package ipam

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// ---- builders ----

func rng(s string) Range {
	r, err := ParseRange(s)
	if err != nil {
		panic(err) // test tables are constants; a typo must be loud
	}
	return r
}

// pl builds an auto-assign pool.
func pl(name string, ranges ...string) Pool {
	p := Pool{Name: name, AutoAssign: true}
	for _, s := range ranges {
		p.Ranges = append(p.Ranges, rng(s))
	}
	return p
}

func manual(p Pool) Pool { p.AutoAssign = false; return p }
func avoid(p Pool) Pool  { p.AvoidBuggyIPs = true; return p }
func withPolicy(p Pool, ap AllocationPolicy) Pool {
	p.Allocation = &ap
	return p
}

type opt func(*Request)

func svcKey(s string) ServiceKey {
	ns, name, _ := strings.Cut(s, "/")
	return ServiceKey{Namespace: ns, Name: name}
}

// rq builds a SingleStack IPv4 request for "ns/name" and applies opts.
func rq(svc string, opts ...opt) Request {
	req := Request{Service: svcKey(svc), Families: []Family{IPv4}}
	for _, o := range opts {
		o(&req)
	}
	return req
}

func fams(fs ...Family) opt     { return func(r *Request) { r.Families = fs } }
func policy(p FamilyPolicy) opt { return func(r *Request) { r.FamilyPolicy = p } }
func inPool(p string) opt       { return func(r *Request) { r.RequestedPool = p } }
func local(backend string) opt  { return func(r *Request) { r.Local, r.Backend = true, backend } }
func labels(kv ...string) opt   { return func(r *Request) { r.Labels = kvMap(kv) } }
func nsLabels(kv ...string) opt { return func(r *Request) { r.NamespaceLabels = kvMap(kv) } }
func dual(p FamilyPolicy, fs ...Family) opt {
	return func(r *Request) { r.FamilyPolicy, r.Families = p, fs }
}
func ips(ss ...string) opt {
	return func(r *Request) {
		for _, s := range ss {
			r.RequestedIPs = append(r.RequestedIPs, netip.MustParseAddr(s))
		}
	}
}

// share sets the sharing key and ports ("TCP/80").
func share(key string, ports ...string) opt {
	return func(r *Request) {
		r.SharingKey = key
		r.Ports = nil
		for _, p := range ports {
			proto, num, _ := strings.Cut(p, "/")
			var n int32
			fmt.Sscan(num, &n)
			r.Ports = append(r.Ports, Port{Protocol: proto, Port: n})
		}
	}
}

func kvMap(kv []string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func strs(as []netip.Addr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

// ---- table runner ----

type step struct {
	op      string // "" = Allocate, "release", "assign"
	req     Request
	assign  []string // for "assign"
	release string   // for "release": service key

	pool   string   // want on success
	ips    []string // want on success ("release": want released)
	reason Reason   // want on failure
	msg    string   // want exact Error() when set
}

func runSteps(t *testing.T, pools []Pool, steps []step) *Allocator {
	t.Helper()
	a := New()
	if ch := a.SetPools(pools); len(ch.Ignored) > 0 {
		t.Fatalf("SetPools ignored: %v", ch.Ignored)
	}
	for i, s := range steps {
		doStep(t, a, i, s)
	}
	return a
}

func doStep(t *testing.T, a *Allocator, i int, s step) {
	t.Helper()
	if s.op == "release" {
		got := a.Release(svcKey(s.release))
		if !slices.Equal(strs(got), s.ips) && !(len(got) == 0 && len(s.ips) == 0) {
			t.Fatalf("step %d: Release(%s) = %v, want %v", i, s.release, got, s.ips)
		}
		mustInvariants(t, a)
		return
	}
	before, hadBefore := a.Get(s.req.Service)
	var res Result
	var err error
	if s.op == "assign" {
		res, err = a.Assign(s.req, addrs(s.assign...))
	} else {
		res, err = a.Allocate(s.req)
	}
	mustInvariants(t, a)
	if s.reason != "" {
		if err == nil {
			t.Fatalf("step %d (%s): got %v, want error %s", i, s.req.Service, res, s.reason)
		}
		if ReasonOf(err) != s.reason {
			t.Fatalf("step %d (%s): error %q has reason %q, want %s", i, s.req.Service, err, ReasonOf(err), s.reason)
		}
		if s.msg != "" && err.Error() != s.msg {
			t.Fatalf("step %d (%s): error\n got %q\nwant %q", i, s.req.Service, err, s.msg)
		}
		after, hadAfter := a.Get(s.req.Service)
		if hadBefore != hadAfter || before.Pool != after.Pool || !slices.Equal(before.IPs, after.IPs) {
			t.Fatalf("step %d (%s): failed call changed allocation from %v (%v) to %v (%v)", i, s.req.Service, before, hadBefore, after, hadAfter)
		}
		return
	}
	if err != nil {
		t.Fatalf("step %d (%s): unexpected error: %v", i, s.req.Service, err)
	}
	if res.Pool != s.pool || !slices.Equal(strs(res.IPs), s.ips) {
		t.Fatalf("step %d (%s): got pool %q IPs %v, want pool %q IPs %v", i, s.req.Service, res.Pool, strs(res.IPs), s.pool, s.ips)
	}
	if got, ok := a.Get(s.req.Service); !ok || got.Pool != res.Pool || !slices.Equal(got.IPs, res.IPs) {
		t.Fatalf("step %d: Get = %v, %v; want %v", i, got, ok, res)
	}
}

func mustInvariants(t testing.TB, a *Allocator) {
	t.Helper()
	if err := checkInvariants(a); err != nil {
		t.Fatalf("invariant broken: %v", err)
	}
}

// checkInvariants recomputes everything the allocator maintains
// incrementally and compares.
func checkInvariants(a *Allocator) error {
	held := map[netip.Addr][]ServiceKey{}
	for k, h := range a.services {
		if len(h.ips) == 0 || len(h.ips) > 2 {
			return fmt.Errorf("%s holds %d IPs", k, len(h.ips))
		}
		if len(h.ips) == 2 && FamilyOf(h.ips[0]) == FamilyOf(h.ips[1]) {
			return fmt.Errorf("%s holds two %s IPs", k, FamilyOf(h.ips[0]))
		}
		ps := a.pools[h.pool]
		if ps == nil {
			return fmt.Errorf("%s attributed to missing pool %q", k, h.pool)
		}
		for _, ip := range h.ips {
			if !ps.contains(ip) {
				return fmt.Errorf("%s holds %s outside its pool %q", k, ip, h.pool)
			}
			held[ip] = append(held[ip], k)
		}
	}
	for ip, hs := range held {
		for i := range hs {
			for j := range hs {
				if i != j {
					if why := shareConflict(a.services[hs[i]].share, a.services[hs[j]].share); why != "" {
						return fmt.Errorf("%s held by %s and %s: %s", ip, hs[i], hs[j], why)
					}
				}
			}
		}
		slices.SortFunc(hs, ServiceKey.Compare)
		if e := a.ips[ip]; !slices.Equal(e, hs) {
			return fmt.Errorf("ip index for %s wrong: %v vs %v", ip, e, hs)
		}
		if !a.used.has(ip) {
			return fmt.Errorf("%s held but not in used set", ip)
		}
	}
	if len(a.ips) != len(held) || a.used.len() != len(held) {
		return fmt.Errorf("index sizes: ips %d, used %d, held %d", len(a.ips), a.used.len(), len(held))
	}
	// Spans: ordered, maximal, counting exactly n addresses.
	var prev *span
	var count u128
	var bad error
	a.used.ascend(func(s span) bool {
		if prev != nil {
			if next, _ := prev.hi.next(); !prev.hi.less(s.lo) || next == s.lo {
				bad = fmt.Errorf("span %v not after and apart from %v", s, prev)
				return false
			}
		}
		if s.hi.less(s.lo) {
			bad = fmt.Errorf("bad span %v", s)
			return false
		}
		count = count.addSat(s.hi.subSat(s.lo).addSat(u128From64(1)))
		sp := s
		prev = &sp
		return true
	})
	if bad != nil {
		return bad
	}
	if count != u128From64(uint64(len(held))) {
		return fmt.Errorf("spans cover %v addresses, %d held", count, len(held))
	}
	// Sharing-key index.
	for key, set := range a.byKey {
		for ip := range set {
			hs := held[ip]
			if len(hs) == 0 || a.services[hs[0]].share.key != key {
				return fmt.Errorf("byKey[%q] has stale %s", key, ip)
			}
		}
	}
	for ip, hs := range held {
		if k := a.services[hs[0]].share.key; k != "" {
			if _, ok := a.byKey[k][ip]; !ok {
				return fmt.Errorf("byKey[%q] misses %s", k, ip)
			}
		}
	}
	// Counters.
	for _, n := range a.names {
		ps := a.pools[n]
		var used, assigned [2]uint64
		for ip, hs := range held {
			fi := familyIndex(FamilyOf(ip))
			if ps.contains(ip) {
				used[fi]++
			}
			for _, k := range hs {
				if a.services[k].pool == n {
					assigned[fi]++
					break
				}
			}
		}
		if used != ps.used || assigned != ps.assigned {
			return fmt.Errorf("pool %q counters used %v assigned %v, recount %v %v", n, ps.used, ps.assigned, used, assigned)
		}
	}
	return nil
}
