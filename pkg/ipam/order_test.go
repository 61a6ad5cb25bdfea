package ipam

import "testing"

// Pool order: requested IPs, requested pool, matching policy pools by
// priority then name, then plain auto-assign pools by name.
func TestPoolOrder(t *testing.T) {
	prio := func(p Pool, n int) Pool { return withPolicy(p, AllocationPolicy{Priority: n}) }
	tests := []struct {
		name  string
		pools []Pool
		steps []step
	}{
		{
			name:  "plain pools by name",
			pools: []Pool{pl("b", "198.51.100.0/30"), pl("a", "192.0.2.0/30")},
			steps: []step{{req: rq("ns/s"), pool: "a", ips: []string{"192.0.2.0"}}},
		},
		{
			name:  "next pool when the first is full",
			pools: []Pool{pl("a", "192.0.2.0/31"), pl("b", "198.51.100.0/30")},
			steps: []step{
				{req: rq("ns/s1"), pool: "a", ips: []string{"192.0.2.0"}},
				{req: rq("ns/s2"), pool: "a", ips: []string{"192.0.2.1"}},
				{req: rq("ns/s3"), pool: "b", ips: []string{"198.51.100.0"}},
			},
		},
		{
			name:  "policy pools before plain pools, by priority",
			pools: []Pool{pl("a", "192.0.2.0/30"), prio(pl("z", "198.51.100.0/30"), 5), prio(pl("y", "203.0.113.0/30"), 10)},
			steps: []step{{req: rq("ns/s"), pool: "z", ips: []string{"198.51.100.0"}}},
		},
		{
			name:  "priority tie broken by name",
			pools: []Pool{prio(pl("z", "198.51.100.0/30"), 3), prio(pl("m", "203.0.113.0/30"), 3), prio(pl("q", "192.0.2.0/30"), 7)},
			steps: []step{{req: rq("ns/s"), pool: "m", ips: []string{"203.0.113.0"}}},
		},
		{
			name:  "negative priority first",
			pools: []Pool{prio(pl("a", "198.51.100.0/30"), 0), prio(pl("b", "203.0.113.0/30"), -1)},
			steps: []step{{req: rq("ns/s"), pool: "b", ips: []string{"203.0.113.0"}}},
		},
		{
			name:  "requested pool beats priority",
			pools: []Pool{prio(pl("a", "198.51.100.0/30"), 0), pl("b", "203.0.113.0/30")},
			steps: []step{{req: rq("ns/s", inPool("b")), pool: "b", ips: []string{"203.0.113.0"}}},
		},
		{
			name:  "requested IP beats everything and picks its pool",
			pools: []Pool{prio(pl("a", "198.51.100.0/30"), 0), pl("b", "203.0.113.0/30")},
			steps: []step{{req: rq("ns/s", ips("203.0.113.2")), pool: "b", ips: []string{"203.0.113.2"}}},
		},
		{
			name:  "requested IP and pool agree",
			pools: []Pool{pl("a", "192.0.2.0/24"), pl("b", "192.0.2.0/25")},
			steps: []step{{req: rq("ns/s", ips("192.0.2.3"), inPool("b")), pool: "b", ips: []string{"192.0.2.3"}}},
		},
		{
			name:  "requested IP in overlapping pools: first by name",
			pools: []Pool{pl("b", "192.0.2.0/24"), pl("a", "192.0.2.0/25")},
			steps: []step{{req: rq("ns/s", ips("192.0.2.3")), pool: "a", ips: []string{"192.0.2.3"}}},
		},
		{
			name:  "requested IP outside requested pool",
			pools: []Pool{pl("a", "192.0.2.0/24"), pl("b", "198.51.100.0/24")},
			steps: []step{{req: rq("ns/s", ips("192.0.2.3"), inPool("b")), reason: IPNotInAnyPool,
				msg: `requested IP 192.0.2.3 is not in pool "b"`}},
		},
		{
			name:  "requested IP outside every pool",
			pools: []Pool{pl("a", "192.0.2.0/24")},
			steps: []step{{req: rq("ns/s", ips("198.51.100.3")), reason: IPNotInAnyPool,
				msg: `requested IP 198.51.100.3 is not in any pool`}},
		},
		{
			name:  "requested pool missing",
			pools: []Pool{pl("a", "192.0.2.0/24")},
			steps: []step{
				{req: rq("ns/s", inPool("nope")), reason: PoolNotFound, msg: `pool "nope" does not exist`},
				{req: rq("ns/s", inPool("nope"), ips("192.0.2.1")), reason: PoolNotFound},
			},
		},
		{
			name:  "autoAssign=false only when asked for",
			pools: []Pool{manual(pl("a", "192.0.2.0/30")), pl("b", "198.51.100.0/30")},
			steps: []step{
				{req: rq("ns/s1"), pool: "b", ips: []string{"198.51.100.0"}},
				{req: rq("ns/s2", inPool("a")), pool: "a", ips: []string{"192.0.2.0"}},
				{req: rq("ns/s3", ips("192.0.2.2")), pool: "a", ips: []string{"192.0.2.2"}},
			},
		},
		{
			name:  "autoAssign=false with a matching policy is still manual",
			pools: []Pool{manual(withPolicy(pl("a", "192.0.2.0/30"), AllocationPolicy{Priority: 1}))},
			steps: []step{{req: rq("ns/s"), reason: NoMatchingPool,
				msg: "no pool matches service ns/s: no pool has autoAssign enabled"}},
		},
		{
			name:  "no pools at all",
			steps: []step{{req: rq("ns/s"), reason: NoMatchingPool, msg: "no pool matches service ns/s: no address pools are configured"}},
		},
		{
			name:  "exhausted single pool message",
			pools: []Pool{avoid(pl("web", "192.0.2.0/24"))},
			steps: func() []step {
				var s []step
				for i := 1; i <= 254; i++ {
					s = append(s, step{req: rq("ns/s" + itoa(i)), pool: "web", ips: []string{"192.0.2." + itoa(i)}})
				}
				return append(s, step{req: rq("ns/last"), reason: PoolExhausted, msg: `pool "web" exhausted (IPv4: 254 of 254 in use)`})
			}(),
		},
		{
			name:  "exhausted several pools message",
			pools: []Pool{pl("a", "192.0.2.0/32"), pl("b", "198.51.100.0/32")},
			steps: []step{
				{req: rq("ns/s1"), pool: "a", ips: []string{"192.0.2.0"}},
				{req: rq("ns/s2"), pool: "b", ips: []string{"198.51.100.0"}},
				{req: rq("ns/s3"), reason: PoolExhausted, msg: `pools "a", "b" exhausted (a: IPv4: 1 of 1 in use; b: IPv4: 1 of 1 in use)`},
			},
		},
		{
			name:  "requested pool exhausted does not fall through",
			pools: []Pool{pl("a", "192.0.2.0/32"), pl("b", "198.51.100.0/30")},
			steps: []step{
				{req: rq("ns/s1", inPool("a")), pool: "a", ips: []string{"192.0.2.0"}},
				{req: rq("ns/s2", inPool("a")), reason: PoolExhausted},
			},
		},
		{
			name:  "lowest free address is reused after release",
			pools: []Pool{pl("a", "192.0.2.0/29")},
			steps: []step{
				{req: rq("ns/s1"), pool: "a", ips: []string{"192.0.2.0"}},
				{req: rq("ns/s2"), pool: "a", ips: []string{"192.0.2.1"}},
				{req: rq("ns/s3"), pool: "a", ips: []string{"192.0.2.2"}},
				{op: "release", release: "ns/s2", ips: []string{"192.0.2.1"}},
				{req: rq("ns/s4"), pool: "a", ips: []string{"192.0.2.1"}},
				{req: rq("ns/s5"), pool: "a", ips: []string{"192.0.2.3"}},
				{op: "release", release: "ns/unknown"},
			},
		},
		{
			name:  "second range used when first is full",
			pools: []Pool{pl("a", "198.51.100.0/32", "192.0.2.8/31")},
			steps: []step{
				{req: rq("ns/s1"), pool: "a", ips: []string{"192.0.2.8"}},
				{req: rq("ns/s2"), pool: "a", ips: []string{"192.0.2.9"}},
				{req: rq("ns/s3"), pool: "a", ips: []string{"198.51.100.0"}},
			},
		},
		{
			name:  "overlapping pools never hand out the same address",
			pools: []Pool{pl("a", "192.0.2.0/30"), pl("b", "192.0.2.0/29")},
			steps: []step{
				{req: rq("ns/s1", inPool("b")), pool: "b", ips: []string{"192.0.2.0"}},
				{req: rq("ns/s2", inPool("a")), pool: "a", ips: []string{"192.0.2.1"}},
				{req: rq("ns/s3"), pool: "a", ips: []string{"192.0.2.2"}},
			},
		},
		{
			name:  "avoidBuggyIPs skips .0 and .255",
			pools: []Pool{avoid(pl("a", "192.0.2.254-192.0.3.1"))},
			steps: []step{
				{req: rq("ns/s1"), pool: "a", ips: []string{"192.0.2.254"}},
				{req: rq("ns/s2"), pool: "a", ips: []string{"192.0.3.1"}},
				{req: rq("ns/s3"), reason: PoolExhausted, msg: `pool "a" exhausted (IPv4: 2 of 2 in use)`},
				{req: rq("ns/s4", ips("192.0.3.0")), reason: IPNotInAnyPool,
					msg: `requested IP 192.0.3.0 is not in any pool: pool "a" excludes addresses ending in .0 and .255 (avoidBuggyIPs)`},
			},
		},
		{
			name:  "avoidBuggyIPs skips the IPv6 subnet-router anycast address",
			pools: []Pool{avoid(pl("a", "2001:db8:300::/126"))},
			steps: []step{
				{req: rq("ns/s1", fams(IPv6)), pool: "a", ips: []string{"2001:db8:300::1"}},
				{req: rq("ns/s2", fams(IPv6), ips("2001:db8:300::")), reason: IPNotInAnyPool,
					msg: `requested IP 2001:db8:300:: is not in any pool: pool "a" excludes 2001:db8:300::, the subnet-router anycast address of its range (avoidBuggyIPs)`},
				{req: rq("ns/s3", fams(IPv6)), pool: "a", ips: []string{"2001:db8:300::2"}},
				{req: rq("ns/s4", fams(IPv6)), pool: "a", ips: []string{"2001:db8:300::3"}},
				{req: rq("ns/s5", fams(IPv6)), reason: PoolExhausted, msg: `pool "a" exhausted (IPv6: 3 of 3 in use)`},
			},
		},
		{
			// Each entry's own prefix, also inside a merged run: the second
			// /126 starts at ::4, which is excluded too.
			name:  "avoidBuggyIPs: the anycast address of every prefix entry",
			pools: []Pool{avoid(pl("a", "2001:db8:300::/127", "2001:db8:300::2-2001:db8:300::3", "2001:db8:300::4/126"))},
			steps: []step{
				{req: rq("ns/s1", fams(IPv6)), pool: "a", ips: []string{"2001:db8:300::"}},
				{req: rq("ns/s2", fams(IPv6)), pool: "a", ips: []string{"2001:db8:300::1"}},
				{req: rq("ns/s3", fams(IPv6)), pool: "a", ips: []string{"2001:db8:300::2"}},
				{req: rq("ns/s4", fams(IPv6)), pool: "a", ips: []string{"2001:db8:300::3"}},
				{req: rq("ns/s5", fams(IPv6)), pool: "a", ips: []string{"2001:db8:300::5"}},
			},
		},
		{
			name:  "a first-last range that is no prefix keeps its first address",
			pools: []Pool{avoid(pl("a", "2001:db8:300::-2001:db8:300::2"))},
			steps: []step{{req: rq("ns/s1", fams(IPv6)), pool: "a", ips: []string{"2001:db8:300::"}}},
		},
		{
			name:  "the IPv6 anycast address is fine without the flag",
			pools: []Pool{pl("a", "2001:db8:300::/120")},
			steps: []step{{req: rq("ns/s1", fams(IPv6)), pool: "a", ips: []string{"2001:db8:300::"}}},
		},
		{
			name:  "buggy addresses fine without the flag",
			pools: []Pool{pl("a", "192.0.2.255-192.0.3.0")},
			steps: []step{
				{req: rq("ns/s1"), pool: "a", ips: []string{"192.0.2.255"}},
				{req: rq("ns/s2", ips("192.0.3.0")), pool: "a", ips: []string{"192.0.3.0"}},
			},
		},
		{
			name:  "requested IP in use",
			pools: []Pool{pl("a", "192.0.2.0/28")},
			steps: []step{
				{req: rq("default/foo", ips("192.0.2.10")), pool: "a", ips: []string{"192.0.2.10"}},
				{req: rq("default/bar", ips("192.0.2.10")), reason: IPInUse, msg: "requested IP 192.0.2.10 is in use by service default/foo"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runSteps(t, tt.pools, tt.steps) })
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// Selectors and namespaces in serviceAllocation.
func TestServiceAllocationMatching(t *testing.T) {
	onlyTeamA := withPolicy(pl("team-a", "192.0.2.0/30"), AllocationPolicy{Priority: 1, Namespaces: []string{"team-a"}})
	byNsLabel := withPolicy(pl("prod", "198.51.100.0/30"), AllocationPolicy{
		Priority: 2, NamespaceSelectors: []Selector{MatchLabels{"env": "prod"}},
	})
	nsOrLabel := withPolicy(pl("either", "198.51.100.0/30"), AllocationPolicy{
		Namespaces: []string{"team-b"}, NamespaceSelectors: []Selector{MatchLabels{"env": "prod"}, nil},
	})
	bySvcLabel := withPolicy(pl("web", "203.0.113.0/30"), AllocationPolicy{
		ServiceSelectors: []Selector{MatchLabels{"tier": "web"}, MatchLabels{"tier": "edge"}},
	})
	both := withPolicy(pl("both", "203.0.113.0/30"), AllocationPolicy{
		Namespaces: []string{"team-a"}, ServiceSelectors: []Selector{MatchLabels{"tier": "web"}},
	})
	fallback := pl("zz-default", "192.0.2.128/30")
	tests := []struct {
		name  string
		pools []Pool
		steps []step
	}{
		{"namespace listed", []Pool{onlyTeamA, fallback}, []step{
			{req: rq("team-a/s"), pool: "team-a", ips: []string{"192.0.2.0"}},
			{req: rq("team-b/s"), pool: "zz-default", ips: []string{"192.0.2.128"}},
		}},
		{"namespace selector", []Pool{byNsLabel, fallback}, []step{
			{req: rq("x/s", nsLabels("env", "prod")), pool: "prod", ips: []string{"198.51.100.0"}},
			{req: rq("x/t", nsLabels("env", "dev")), pool: "zz-default", ips: []string{"192.0.2.128"}},
			{req: rq("x/u"), pool: "zz-default", ips: []string{"192.0.2.129"}},
		}},
		{"namespace list OR namespace selector", []Pool{nsOrLabel}, []step{
			{req: rq("team-b/s"), pool: "either", ips: []string{"198.51.100.0"}},
			{req: rq("other/s", nsLabels("env", "prod")), pool: "either", ips: []string{"198.51.100.1"}},
			{req: rq("other/t", nsLabels("env", "dev")), reason: NoMatchingPool, msg: "no pool matches service other/t (pools tried: either)"},
		}},
		{"service selector, any of several", []Pool{bySvcLabel, fallback}, []step{
			{req: rq("x/a", labels("tier", "web")), pool: "web", ips: []string{"203.0.113.0"}},
			{req: rq("x/b", labels("tier", "edge", "app", "x")), pool: "web", ips: []string{"203.0.113.1"}},
			{req: rq("x/c", labels("tier", "db")), pool: "zz-default", ips: []string{"192.0.2.128"}},
		}},
		{"namespace AND service selector", []Pool{both, fallback}, []step{
			{req: rq("team-a/a", labels("tier", "web")), pool: "both", ips: []string{"203.0.113.0"}},
			{req: rq("team-a/b", labels("tier", "db")), pool: "zz-default", ips: []string{"192.0.2.128"}},
			{req: rq("team-b/c", labels("tier", "web")), pool: "zz-default", ips: []string{"192.0.2.129"}},
		}},
		{"priority-only policy matches everyone", []Pool{fallback, withPolicy(pl("p", "203.0.113.0/30"), AllocationPolicy{Priority: 9})}, []step{
			{req: rq("any/s"), pool: "p", ips: []string{"203.0.113.0"}},
		}},
		{"explicit pool request still checked", []Pool{onlyTeamA, fallback}, []step{
			{req: rq("team-b/s", inPool("team-a")), reason: PoolNotAllowed,
				msg: `pool "team-a" does not serve service team-b/s (serviceAllocation namespaces or selectors do not match)`},
			{req: rq("team-b/s", ips("192.0.2.1")), reason: PoolNotAllowed},
			{req: rq("team-a/s", ips("192.0.2.1")), pool: "team-a", ips: []string{"192.0.2.1"}},
		}},
		{"requested IP in two pools, one allowed", []Pool{onlyTeamA, pl("wide", "192.0.2.0/29")}, []step{
			{req: rq("team-b/s", ips("192.0.2.1")), pool: "wide", ips: []string{"192.0.2.1"}},
		}},
		{"no pool allowed", []Pool{onlyTeamA, bySvcLabel}, []step{
			{req: rq("default/bar"), reason: NoMatchingPool, msg: "no pool matches service default/bar (pools tried: team-a, web)"},
		}},
		{"not matching pool exhausted, other used", []Pool{onlyTeamA, fallback}, []step{
			{req: rq("team-a/1"), pool: "team-a", ips: []string{"192.0.2.0"}},
			{req: rq("team-a/2"), pool: "team-a", ips: []string{"192.0.2.1"}},
			{req: rq("team-a/3"), pool: "team-a", ips: []string{"192.0.2.2"}},
			{req: rq("team-a/4"), pool: "team-a", ips: []string{"192.0.2.3"}},
			{req: rq("team-a/5"), pool: "zz-default", ips: []string{"192.0.2.128"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runSteps(t, tt.pools, tt.steps) })
	}
}
