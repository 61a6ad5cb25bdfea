package ipam

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{
		"192.0.2.0/24", "192.0.2.10-192.0.2.20", "192.0.2.10 - 192.0.2.20", "2001:db8::/64",
		"2001:db8::1-2001:db8::ff", "192.0.2.1/24", "192.0.2.20-192.0.2.10", "fe80::1%eth0-fe80::2",
		"::ffff:192.0.2.0/120", "", "-", "1.2.3.4-", "0.0.0.0/0", "::/0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRange(s)
		if err != nil {
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", s)) {
				t.Fatalf("error %q does not quote the input", err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("ParseRange(%q) = %v which does not validate: %v", s, r, err)
		}
		back, err := ParseRange(r.String())
		if err != nil || back != r {
			t.Fatalf("round trip %q -> %v -> %q -> %v, %v", s, r, r.String(), back, err)
		}
		if !r.Contains(r.First) || !r.Contains(r.Last) {
			t.Fatalf("%v does not contain its ends", r)
		}
	})
}

// bytesource decodes fuzz input; past the end it yields zeros.
type bytesource struct{ b []byte }

func (s *bytesource) next() int {
	if len(s.b) == 0 {
		return 0
	}
	v := s.b[0]
	s.b = s.b[1:]
	return int(v)
}
func (s *bytesource) pick(n int) int { return s.next() % n }
func (s *bytesource) done() bool     { return len(s.b) == 0 }

// Small address universe: ranges overlap, straddle .255/.0, and mix families.
func fuzzRanges() []string {
	return []string{
		"192.0.2.0/30", "192.0.2.2-192.0.2.5", "192.0.2.254-192.0.3.1", "198.51.100.0/31",
		"192.0.2.4/32", "2001:db8::/126", "2001:db8::2-2001:db8::5", "2001:db8:1::/127",
	}
}

func fuzzAddrs() []string {
	return []string{
		"192.0.2.0", "192.0.2.1", "192.0.2.3", "192.0.2.5", "192.0.2.255", "192.0.3.0", "198.51.100.1",
		"203.0.113.1", "2001:db8::", "2001:db8::3", "2001:db8::5", "2001:db8:1::1", "2001:db8:9::1",
	}
}

func fuzzPools(s *bytesource) []Pool {
	n := s.pick(4)
	var pools []Pool
	for i := 0; i < n; i++ {
		p := Pool{Name: []string{"a", "b", "c", "a"}[s.pick(4)]} // "a" twice: duplicates
		mask := s.next()
		for j, r := range fuzzRanges() {
			if mask&(1<<j) != 0 {
				p.Ranges = append(p.Ranges, rng(r))
			}
		}
		flags := s.next()
		p.AutoAssign = flags&1 == 0
		p.AvoidBuggyIPs = flags&2 != 0
		if flags&4 != 0 {
			p.Allocation = &AllocationPolicy{Priority: s.pick(3)}
			if flags&8 != 0 {
				p.Allocation.Namespaces = []string{"ns0"}
			}
			if flags&16 != 0 {
				p.Allocation.ServiceSelectors = []Selector{MatchLabels{"tier": "web"}}
			}
			if flags&32 != 0 {
				p.Allocation.NamespaceSelectors = []Selector{MatchLabels{"env": "prod"}}
			}
		}
		pools = append(pools, p)
	}
	return pools
}

func fuzzRequest(s *bytesource, svc int) Request {
	req := Request{Service: ServiceKey{Namespace: fmt.Sprintf("ns%d", svc%2), Name: fmt.Sprintf("s%d", svc)}}
	if svc%3 == 0 {
		req.NamespaceLabels = map[string]string{"env": "prod"}
	}
	v := s.next()
	req.Families = [][]Family{{IPv4}, {IPv6}, {IPv4, IPv6}, {IPv6, IPv4}}[v%4]
	req.FamilyPolicy = FamilyPolicy((v / 4) % 3)
	if len(req.Families) == 1 && req.FamilyPolicy == RequireDualStack {
		req.FamilyPolicy = SingleStack
	}
	if v&16 != 0 {
		req.Labels = map[string]string{"tier": "web"}
	}
	w := s.next()
	addrs := fuzzAddrs()
	if w&1 != 0 {
		req.RequestedIPs = append(req.RequestedIPs, netip.MustParseAddr(addrs[s.pick(len(addrs))]))
	}
	if w&2 != 0 {
		req.RequestedIPs = append(req.RequestedIPs, netip.MustParseAddr(addrs[s.pick(len(addrs))]))
	}
	req.RequestedPool = []string{"", "", "a", "b", "c", "zz"}[(w>>2)%6]
	x := s.next()
	req.SharingKey = []string{"", "k1", "k2", "k1"}[x%4]
	all := []Port{{"TCP", 80}, {"TCP", 443}, {"UDP", 80}}
	for i, p := range all {
		if x&(4<<i) != 0 {
			req.Ports = append(req.Ports, p)
		}
	}
	if x&32 != 0 {
		req.Local = true
		req.Backend = []string{"app=x", "app=y"}[(x>>6)%2]
	}
	return req
}

// model is the fuzz harness's independent view: pool address sets computed
// by enumeration and the sharing facts of every service's last success.
type model struct {
	pools map[string]map[netip.Addr]bool
	last  map[ServiceKey]Request
}

func newModel(pools []Pool) map[string]map[netip.Addr]bool {
	m := map[string]map[netip.Addr]bool{}
	for _, p := range pools {
		if p.Name == "" || m[p.Name] != nil {
			continue
		}
		set := map[netip.Addr]bool{}
		anycast := map[netip.Addr]bool{} // first address of each IPv6 entry that is one prefix of /126 or shorter
		for _, r := range p.Ranges {
			if pfx, ok := r.Prefix(); ok && p.AvoidBuggyIPs && r.First.Is6() && pfx.Bits() < 127 {
				anycast[r.First] = true
			}
		}
		for _, r := range p.Ranges {
			for a := r.First; a.IsValid() && a.Compare(r.Last) <= 0; a = a.Next() {
				if !(p.AvoidBuggyIPs && isBuggy(a)) && !anycast[a] {
					set[a] = true
				}
			}
		}
		m[p.Name] = set
	}
	return m
}

func mayShare(x, y Request) bool {
	if x.SharingKey == "" || x.SharingKey != y.SharingKey || x.Local != y.Local || (x.Local && x.Backend != y.Backend) {
		return false
	}
	for _, p := range x.Ports {
		for _, q := range y.Ports {
			if p.Port == q.Port && strings.EqualFold(p.Protocol, q.Protocol) {
				return false
			}
		}
	}
	return true
}

func (m *model) check(a *Allocator) error {
	if err := checkInvariants(a); err != nil {
		return err
	}
	names := make([]string, 0, len(m.pools))
	for n := range m.pools {
		names = append(names, n)
	}
	slices.Sort(names)
	if !slices.Equal(a.Pools(), names) {
		return fmt.Errorf("Pools() = %v, want %v", a.Pools(), names)
	}
	holders := map[netip.Addr][]ServiceKey{}
	for _, k := range a.Services() {
		r, _ := a.Get(k)
		if _, ok := m.last[k]; !ok {
			return fmt.Errorf("%s holds %v but never succeeded", k, r)
		}
		for _, ip := range r.IPs {
			if !m.pools[r.Pool][ip] {
				return fmt.Errorf("%s holds %s outside its pool %q", k, ip, r.Pool)
			}
			holders[ip] = append(holders[ip], k)
		}
	}
	for ip, hs := range holders {
		for i := range hs {
			for j := i + 1; j < len(hs); j++ {
				if !mayShare(m.last[hs[i]], m.last[hs[j]]) {
					return fmt.Errorf("%s held by %s and %s, which may not share", ip, hs[i], hs[j])
				}
			}
		}
	}
	for _, n := range names {
		want := map[Family]Stats{}
		for ip := range m.pools[n] {
			st := want[FamilyOf(ip)]
			st.Total++
			if len(holders[ip]) == 0 {
				st.Available++
			}
			for _, k := range holders[ip] {
				if r, _ := a.Get(k); r.Pool == n {
					st.Assigned++
					break
				}
			}
			want[FamilyOf(ip)] = st
		}
		got := a.Stats(n)
		for _, f := range []Family{IPv4, IPv6} {
			if got[f] != want[f] {
				return fmt.Errorf("Stats(%s)[%s] = %+v, recount %+v", n, f, got[f], want[f])
			}
		}
	}
	return nil
}

func FuzzAllocatorNoDuplicates(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{2, 0x01, 0x00, 0x0f, 0x04, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0})
	f.Add([]byte{3, 0xff, 0x00, 1, 0xff, 0x02, 0x05, 0, 7, 0, 0x01, 0x14, 0, 1, 0, 0x02, 0x24, 8, 2, 3, 5, 3, 0x02, 0})
	f.Add([]byte{1, 0x21, 0x04, 0, 2, 0x08, 0x01, 0x00, 0x01, 5, 1, 0x7f, 0x02, 0, 4, 0, 0, 0x05, 6, 1, 0x10, 0x20})
	f.Add([]byte("a fairly long seed that exercises many operations in sequence over and over again"))
	f.Fuzz(runFuzzBody)
}

func runFuzzBody(t *testing.T, data []byte) {
	{
		s := &bytesource{b: data}
		a := New()
		pools := fuzzPools(s)
		a.SetPools(pools)
		m := &model{pools: newModel(pools), last: map[ServiceKey]Request{}}
		for step := 0; step < 300 && !s.done(); step++ {
			svc := s.pick(6)
			key := ServiceKey{Namespace: fmt.Sprintf("ns%d", svc%2), Name: fmt.Sprintf("s%d", svc)}
			before, had := a.Get(key)
			desc := ""
			switch op := s.pick(8); {
			case op < 4:
				req := fuzzRequest(s, svc)
				desc = fmt.Sprintf("Allocate(%+v)", req)
				res, err := a.Allocate(req)
				if err != nil {
					if after, has := a.Get(key); has != had || !slices.Equal(after.IPs, before.IPs) || after.Pool != before.Pool {
						t.Fatalf("step %d %s failed (%v) but changed %v -> %v", step, desc, err, before, after)
					}
					break
				}
				m.last[key] = req
				if err := checkResult(req, res); err != nil {
					t.Fatalf("step %d %s = %v: %v", step, desc, res, err)
				}
				again, err := a.Allocate(req)
				if err != nil || again.Pool != res.Pool || !slices.Equal(again.IPs, res.IPs) {
					t.Fatalf("step %d %s not idempotent: %v then %v, %v", step, desc, res, again, err)
				}
			case op == 4:
				desc = fmt.Sprintf("Release(%s)", key)
				a.Release(key)
				delete(m.last, key)
			case op == 5:
				pools = fuzzPools(s)
				desc = fmt.Sprintf("SetPools(%+v)", pools)
				ch := a.SetPools(pools)
				m.pools = newModel(pools)
				for _, k := range ch.Lost {
					delete(m.last, k)
				}
			case op == 6:
				req := fuzzRequest(s, svc)
				var want []netip.Addr
				addrs := fuzzAddrs()
				for i := 0; i < 1+s.pick(2); i++ {
					want = append(want, netip.MustParseAddr(addrs[s.pick(len(addrs))]))
				}
				desc = fmt.Sprintf("Assign(%+v, %v)", req, want)
				res, err := a.Assign(req, want)
				if err != nil {
					if after, has := a.Get(key); has != had || !slices.Equal(after.IPs, before.IPs) || after.Pool != before.Pool {
						t.Fatalf("step %d %s failed (%v) but changed %v -> %v", step, desc, err, before, after)
					}
					break
				}
				m.last[key] = req
				slices.SortFunc(want, func(x, y netip.Addr) int { return x.Compare(y) })
				got := slices.SortedFunc(slices.Values(res.IPs), func(x, y netip.Addr) int { return x.Compare(y) })
				if !slices.Equal(got, want) {
					t.Fatalf("step %d %s = %v", step, desc, res)
				}
			case op == 7:
				// Re-request with the last successful request: must keep
				// the IPs of the requested families (moves happen only
				// when a pool edit changed attribution).
				req, ok := m.last[key]
				if !ok {
					break
				}
				desc = fmt.Sprintf("re-Allocate(%+v)", req)
				res, err := a.Allocate(req)
				if err != nil {
					break
				}
				if err := checkResult(req, res); err != nil {
					t.Fatalf("step %d %s = %v: %v", step, desc, res, err)
				}
			}
			if err := m.check(a); err != nil {
				t.Fatalf("after step %d %s: %v", step, desc, err)
			}
		}
	}
}

// checkResult verifies a successful Allocate result against its request.
func checkResult(req Request, res Result) error {
	if req.RequestedPool != "" && res.Pool != req.RequestedPool {
		return fmt.Errorf("pool %q, requested %q", res.Pool, req.RequestedPool)
	}
	for _, ip := range req.RequestedIPs {
		if !slices.Contains(res.IPs, ip) {
			return fmt.Errorf("requested %s missing", ip)
		}
	}
	if len(res.IPs) > len(req.Families) {
		return fmt.Errorf("%d IPs for %d families", len(res.IPs), len(req.Families))
	}
	if len(res.IPs) == 0 || FamilyOf(res.IPs[0]) != req.Families[0] {
		return fmt.Errorf("primary family %s missing or not first", req.Families[0])
	}
	switch req.FamilyPolicy {
	case SingleStack:
		if len(res.IPs) != 1 {
			return fmt.Errorf("single stack got %d IPs", len(res.IPs))
		}
	case RequireDualStack:
		if len(res.IPs) != 2 || FamilyOf(res.IPs[1]) != req.Families[1] {
			return fmt.Errorf("require dual stack got %v", res.IPs)
		}
	case PreferDualStack:
		if len(res.IPs) == 2 && FamilyOf(res.IPs[1]) != req.Families[1] {
			return fmt.Errorf("prefer dual stack got %v", res.IPs)
		}
	}
	return nil
}
