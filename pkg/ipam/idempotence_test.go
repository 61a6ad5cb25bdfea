package ipam

import (
	"slices"
	"testing"
)

func TestReRequest(t *testing.T) {
	two := []Pool{pl("a", "192.0.2.0/29"), pl("b", "198.51.100.0/29")}
	ds := []Pool{pl("d", "192.0.2.0/30", "2001:db8::/126"), pl("e", "203.0.113.0/30", "2001:db8:1::/126")}
	tests := []struct {
		name  string
		pools []Pool
		steps []step
	}{
		{"same request, same answer", two, []step{
			{req: rq("ns/s"), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/t"), pool: "a", ips: []string{"192.0.2.1"}},
			{op: "release", release: "ns/t", ips: []string{"192.0.2.1"}},
			{req: rq("ns/s"), pool: "a", ips: []string{"192.0.2.0"}},
		}},
		{"IP kept even if a better pool appears in order", []Pool{pl("b", "198.51.100.0/29"), manual(pl("a", "192.0.2.0/29"))}, []step{
			{req: rq("ns/s", inPool("a")), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/s"), pool: "a", ips: []string{"192.0.2.0"}},
		}},
		{"new requested pool moves the service", two, []step{
			{req: rq("ns/s"), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/s", inPool("b")), pool: "b", ips: []string{"198.51.100.0"}},
			{req: rq("ns/t"), pool: "a", ips: []string{"192.0.2.0"}},
		}},
		{"new requested IP in same pool", two, []step{
			{req: rq("ns/s"), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/s", ips("192.0.2.5")), pool: "a", ips: []string{"192.0.2.5"}},
			{req: rq("ns/t"), pool: "a", ips: []string{"192.0.2.0"}},
		}},
		{"dropping the requested IP keeps it", two, []step{
			{req: rq("ns/s", ips("192.0.2.5")), pool: "a", ips: []string{"192.0.2.5"}},
			{req: rq("ns/s"), pool: "a", ips: []string{"192.0.2.5"}},
		}},
		{"failed re-request keeps the old IP", two, []step{
			{req: rq("ns/other", ips("192.0.2.7")), pool: "a", ips: []string{"192.0.2.7"}},
			{req: rq("ns/s"), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/s", ips("192.0.2.7")), reason: IPInUse},
			{req: rq("ns/s", ips("203.0.113.1")), reason: IPNotInAnyPool},
			{req: rq("ns/s", inPool("missing")), reason: PoolNotFound},
			{req: rq("ns/s", fams(IPv6)), reason: FamilyUnavailable},
			{req: rq("ns/s", fams()), reason: InvalidRequest},
			{req: rq("ns/s"), pool: "a", ips: []string{"192.0.2.0"}},
		}},
		{"failed re-request into a full pool keeps the old IP", []Pool{pl("a", "192.0.2.0/30"), pl("b", "198.51.100.0/32")}, []step{
			{req: rq("ns/x", inPool("b")), pool: "b", ips: []string{"198.51.100.0"}},
			{req: rq("ns/s"), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/s", inPool("b")), reason: PoolExhausted},
			{req: rq("ns/t"), pool: "a", ips: []string{"192.0.2.1"}},
		}},
		{"failed re-request keeps shared holders intact", []Pool{pl("a", "192.0.2.0/32")}, []step{
			{req: rq("ns/a", share("k", "TCP/80")), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/b", share("k", "TCP/81")), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/b", share("k", "TCP/80")), reason: PoolExhausted},
			{req: rq("ns/c", share("k", "TCP/82")), pool: "a", ips: []string{"192.0.2.0"}},
		}},
		{"dual to single keeps the primary", ds, []step{
			{req: rq("ns/s", dual(RequireDualStack, IPv4, IPv6)), pool: "d", ips: []string{"192.0.2.0", "2001:db8::"}},
			{req: rq("ns/s"), pool: "d", ips: []string{"192.0.2.0"}},
			{req: rq("ns/t", fams(IPv6)), pool: "d", ips: []string{"2001:db8::"}},
		}},
		{"single to require-dual adds a family, keeps the primary", ds, []step{
			{req: rq("ns/x"), pool: "d", ips: []string{"192.0.2.0"}},
			{req: rq("ns/s"), pool: "d", ips: []string{"192.0.2.1"}},
			{op: "release", release: "ns/x", ips: []string{"192.0.2.0"}},
			{req: rq("ns/s", dual(RequireDualStack, IPv4, IPv6)), pool: "d", ips: []string{"192.0.2.1", "2001:db8::"}},
		}},
		{"family order swap reorders, keeps IPs", ds, []step{
			{req: rq("ns/s", dual(RequireDualStack, IPv4, IPv6)), pool: "d", ips: []string{"192.0.2.0", "2001:db8::"}},
			{req: rq("ns/s", dual(RequireDualStack, IPv6, IPv4)), pool: "d", ips: []string{"2001:db8::", "192.0.2.0"}},
		}},
		{"prefer-dual holding one family gets the other when it frees up", []Pool{pl("d", "192.0.2.0/30", "2001:db8::/128")}, []step{
			{req: rq("ns/x", fams(IPv6)), pool: "d", ips: []string{"2001:db8::"}},
			{req: rq("ns/s", dual(PreferDualStack, IPv4, IPv6)), pool: "d", ips: []string{"192.0.2.0"}},
			{req: rq("ns/s", dual(PreferDualStack, IPv4, IPv6)), pool: "d", ips: []string{"192.0.2.0"}},
			{op: "release", release: "ns/x", ips: []string{"2001:db8::"}},
			{req: rq("ns/s", dual(PreferDualStack, IPv4, IPv6)), pool: "d", ips: []string{"192.0.2.0", "2001:db8::"}},
		}},
		{"require-dual fails, single-stack allocation kept", []Pool{pl("v4", "192.0.2.0/30")}, []step{
			{req: rq("ns/s"), pool: "v4", ips: []string{"192.0.2.0"}},
			{req: rq("ns/s", dual(RequireDualStack, IPv4, IPv6)), reason: FamilyUnavailable},
		}},
		{"re-request with changed local/backend while alone", two, []step{
			{req: rq("ns/s", share("k", "TCP/80")), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/s", share("k", "TCP/80"), local("app=x")), pool: "a", ips: []string{"192.0.2.0"}},
		}},
		{"assign then allocate is idempotent", two, []step{
			{op: "assign", req: rq("ns/s"), assign: []string{"198.51.100.5"}, pool: "b", ips: []string{"198.51.100.5"}},
			{req: rq("ns/s"), pool: "b", ips: []string{"198.51.100.5"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runSteps(t, tt.pools, tt.steps) })
	}
}

// A Service whose pool stops admitting it (selectors changed) keeps its IP.
func TestPolicyChangeDoesNotMoveServices(t *testing.T) {
	a := runSteps(t, []Pool{pl("a", "192.0.2.0/30"), pl("b", "198.51.100.0/30")}, []step{
		{req: rq("ns/s"), pool: "a", ips: []string{"192.0.2.0"}},
	})
	ch := a.SetPools([]Pool{
		withPolicy(pl("a", "192.0.2.0/30"), AllocationPolicy{Namespaces: []string{"other"}}),
		pl("b", "198.51.100.0/30"),
	})
	if len(ch.Lost)+len(ch.Moved) != 0 {
		t.Fatalf("changes %+v, want none", ch)
	}
	doStep(t, a, 0, step{req: rq("ns/s"), pool: "a", ips: []string{"192.0.2.0"}})
	doStep(t, a, 1, step{req: rq("ns/t"), pool: "b", ips: []string{"198.51.100.0"}})
	a.SetPools([]Pool{manual(pl("a", "192.0.2.0/30")), pl("b", "198.51.100.0/30")})
	doStep(t, a, 2, step{req: rq("ns/s"), pool: "a", ips: []string{"192.0.2.0"}})
}

func TestAssign(t *testing.T) {
	pools := []Pool{
		manual(withPolicy(pl("a", "192.0.2.0/29", "2001:db8::/126"), AllocationPolicy{Namespaces: []string{"nobody"}})),
		pl("b", "192.0.2.0/28"),
		pl("c", "198.51.100.0/29"),
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"restores exactly, ignoring autoAssign and selectors", []step{
			{op: "assign", req: rq("ns/s"), assign: []string{"192.0.2.3"}, pool: "a", ips: []string{"192.0.2.3"}},
		}},
		{"pool preference: requested pool", []step{
			{op: "assign", req: rq("ns/s", inPool("b")), assign: []string{"192.0.2.3"}, pool: "b", ips: []string{"192.0.2.3"}},
		}},
		{"requested pool not containing the IP is only a preference", []step{
			{op: "assign", req: rq("ns/s", inPool("c")), assign: []string{"192.0.2.3"}, pool: "a", ips: []string{"192.0.2.3"}},
		}},
		{"dual-stack restore ordered by families", []step{
			{op: "assign", req: rq("ns/s", dual(RequireDualStack, IPv6, IPv4)), assign: []string{"192.0.2.1", "2001:db8::2"}, pool: "a", ips: []string{"2001:db8::2", "192.0.2.1"}},
		}},
		{"IP in use", []step{
			{op: "assign", req: rq("ns/x"), assign: []string{"198.51.100.1"}, pool: "c", ips: []string{"198.51.100.1"}},
			{op: "assign", req: rq("ns/s"), assign: []string{"198.51.100.1"}, reason: IPInUse},
		}},
		{"shared restore", []step{
			{op: "assign", req: rq("ns/x", share("k", "TCP/1")), assign: []string{"198.51.100.1"}, pool: "c", ips: []string{"198.51.100.1"}},
			{op: "assign", req: rq("ns/s", share("k", "TCP/2")), assign: []string{"198.51.100.1"}, pool: "c", ips: []string{"198.51.100.1"}},
		}},
		{"not in any pool, no common pool, invalid", []step{
			{op: "assign", req: rq("ns/s"), assign: []string{"203.0.113.1"}, reason: IPNotInAnyPool},
			{op: "assign", req: rq("ns/s", dual(PreferDualStack, IPv4, IPv6)), assign: []string{"198.51.100.1", "2001:db8::1"}, reason: NoCommonPool},
			{op: "assign", req: rq("ns/s"), assign: []string{"198.51.100.1", "198.51.100.2"}, reason: InvalidRequest},
			{op: "assign", req: rq("ns/s"), assign: []string{}, reason: InvalidRequest},
			{op: "assign", req: rq("ns/s"), assign: []string{"fe80::1%eth0"}, reason: InvalidRequest},
		}},
		{"re-assign replaces, failure keeps", []step{
			{op: "assign", req: rq("ns/x"), assign: []string{"198.51.100.2"}, pool: "c", ips: []string{"198.51.100.2"}},
			{op: "assign", req: rq("ns/s"), assign: []string{"198.51.100.1"}, pool: "c", ips: []string{"198.51.100.1"}},
			{op: "assign", req: rq("ns/s"), assign: []string{"198.51.100.3"}, pool: "c", ips: []string{"198.51.100.3"}},
			{op: "assign", req: rq("ns/s"), assign: []string{"198.51.100.2"}, reason: IPInUse},
			{req: rq("ns/t"), pool: "b", ips: []string{"192.0.2.0"}},
			{req: rq("ns/u", inPool("c")), pool: "c", ips: []string{"198.51.100.0"}},
			{req: rq("ns/v", inPool("c")), pool: "c", ips: []string{"198.51.100.1"}},
		}},
		{"assign then allocate with a different policy keeps the primary", []step{
			{op: "assign", req: rq("ns/s", inPool("b")), assign: []string{"192.0.2.1", "2001:db8::2"}, pool: "a", ips: []string{"192.0.2.1", "2001:db8::2"}},
			{req: rq("ns/s", inPool("b")), pool: "b", ips: []string{"192.0.2.1"}},
		}},
		{"re-allocation applies pool rules: a pool that rejects the service is left, the IP kept", []step{
			{op: "assign", req: rq("ns/s"), assign: []string{"192.0.2.1", "2001:db8::2"}, pool: "a", ips: []string{"192.0.2.1", "2001:db8::2"}},
			{req: rq("ns/s", ips("192.0.2.1")), pool: "b", ips: []string{"192.0.2.1"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runSteps(t, pools, tt.steps) })
	}
}

func TestResultIsACopy(t *testing.T) {
	a := runSteps(t, []Pool{pl("a", "192.0.2.0/30")}, []step{{req: rq("ns/s"), pool: "a", ips: []string{"192.0.2.0"}}})
	r, _ := a.Get(svcKey("ns/s"))
	r.IPs[0] = r.IPs[0].Next()
	again, _ := a.Get(svcKey("ns/s"))
	if again.IPs[0].String() != "192.0.2.0" {
		t.Fatalf("caller mutated allocator state through Result")
	}
	if got := a.Services(); !slices.Equal(got, []ServiceKey{svcKey("ns/s")}) {
		t.Fatalf("Services = %v", got)
	}
}
