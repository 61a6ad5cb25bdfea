package ipam

import "testing"

func TestDualStack(t *testing.T) {
	v4 := pl("a-v4", "192.0.2.0/30")
	v6 := pl("b-v6", "2001:db8::/126")
	ds := pl("c-dual", "198.51.100.0/30", "2001:db8:1::/126")
	ds2 := pl("d-dual", "203.0.113.0/30", "2001:db8:2::/126")
	tests := []struct {
		name  string
		pools []Pool
		steps []step
	}{
		{"single stack IPv4 from first pool with IPv4", []Pool{v6, v4}, []step{
			{req: rq("ns/s"), pool: "a-v4", ips: []string{"192.0.2.0"}},
		}},
		{"single stack IPv6 skips IPv4-only pools", []Pool{v4, v6}, []step{
			{req: rq("ns/s", fams(IPv6)), pool: "b-v6", ips: []string{"2001:db8::"}},
		}},
		{"single stack uses only the primary of two families", []Pool{ds}, []step{
			{req: rq("ns/s", fams(IPv6, IPv4)), pool: "c-dual", ips: []string{"2001:db8:1::"}},
		}},
		{"single stack family nowhere", []Pool{v4}, []step{
			{req: rq("ns/s", fams(IPv6)), reason: FamilyUnavailable, msg: "no pool offers IPv6 for service ns/s (pools tried: a-v4)"},
		}},
		{"require dual stack from one pool", []Pool{v4, v6, ds}, []step{
			{req: rq("ns/s", dual(RequireDualStack, IPv4, IPv6)), pool: "c-dual", ips: []string{"198.51.100.0", "2001:db8:1::"}},
		}},
		{"require dual stack, IPv6 primary: result in families order", []Pool{ds}, []step{
			{req: rq("ns/s", dual(RequireDualStack, IPv6, IPv4)), pool: "c-dual", ips: []string{"2001:db8:1::", "198.51.100.0"}},
		}},
		{"require dual stack never mixes pools", []Pool{v4, v6}, []step{
			{req: rq("ns/s", dual(RequireDualStack, IPv4, IPv6)), reason: FamilyUnavailable,
				msg: "no pool offers IPv4 and IPv6 for service ns/s (pools tried: a-v4, b-v6)"},
		}},
		{"require dual stack with one family exhausted", []Pool{pl("d", "192.0.2.0/32", "2001:db8::/126")}, []step{
			{req: rq("ns/x"), pool: "d", ips: []string{"192.0.2.0"}},
			{req: rq("ns/s", dual(RequireDualStack, IPv4, IPv6)), reason: PoolExhausted, msg: `pool "d" exhausted (IPv4: 1 of 1 in use)`},
		}},
		{"require dual stack skips pool full in one family", []Pool{pl("c", "192.0.2.0/32", "2001:db8::/126"), ds2}, []step{
			{req: rq("ns/x"), pool: "c", ips: []string{"192.0.2.0"}},
			{req: rq("ns/s", dual(RequireDualStack, IPv4, IPv6)), pool: "d-dual", ips: []string{"203.0.113.0", "2001:db8:2::"}},
		}},
		{"require dual stack with one requested IP", []Pool{ds, ds2}, []step{
			{req: rq("ns/s", dual(RequireDualStack, IPv4, IPv6), ips("203.0.113.2")), pool: "d-dual", ips: []string{"203.0.113.2", "2001:db8:2::"}},
		}},
		{"require dual stack, requested IP's pool lacks the other family", []Pool{v4, ds}, []step{
			{req: rq("ns/s", dual(RequireDualStack, IPv4, IPv6), ips("192.0.2.1")), reason: FamilyUnavailable,
				msg: "no pool offers IPv6 for service ns/s (pools tried: a-v4)"},
		}},
		{"requested IPs in different pools", []Pool{v4, v6}, []step{
			{req: rq("ns/s", dual(RequireDualStack, IPv4, IPv6), ips("192.0.2.1", "2001:db8::1")), reason: NoCommonPool,
				msg: `requested IPs are not in one common pool: 192.0.2.1 is in pool "a-v4", 2001:db8::1 is in pool "b-v6"`},
			{req: rq("ns/s", dual(PreferDualStack, IPv4, IPv6), ips("192.0.2.1", "2001:db8::1")), reason: NoCommonPool},
		}},
		{"prefer dual stack takes first pool with both families", []Pool{v4, v6, ds, ds2}, []step{
			{req: rq("ns/s", dual(PreferDualStack, IPv4, IPv6)), pool: "c-dual", ips: []string{"198.51.100.0", "2001:db8:1::"}},
		}},
		{"prefer dual stack falls back to first pool with the primary", []Pool{v6, v4}, []step{
			{req: rq("ns/s", dual(PreferDualStack, IPv4, IPv6)), pool: "a-v4", ips: []string{"192.0.2.0"}},
			{req: rq("ns/t", dual(PreferDualStack, IPv6, IPv4)), pool: "b-v6", ips: []string{"2001:db8::"}},
		}},
		{"prefer dual stack prefers a later pool that has both over a full one", []Pool{pl("c", "192.0.2.0/30", "2001:db8::/128"), ds2}, []step{
			{req: rq("ns/x", fams(IPv6)), pool: "c", ips: []string{"2001:db8::"}},
			{req: rq("ns/s", dual(PreferDualStack, IPv4, IPv6)), pool: "d-dual", ips: []string{"203.0.113.0", "2001:db8:2::"}},
		}},
		{"prefer dual stack, nobody has both free: first with primary", []Pool{pl("c", "192.0.2.0/30", "2001:db8::/128"), pl("d", "203.0.113.0/30", "2001:db8:2::/128")}, []step{
			{req: rq("ns/x", fams(IPv6)), pool: "c", ips: []string{"2001:db8::"}},
			{req: rq("ns/y", fams(IPv6)), pool: "d", ips: []string{"2001:db8:2::"}},
			{req: rq("ns/s", dual(PreferDualStack, IPv4, IPv6)), pool: "c", ips: []string{"192.0.2.0"}},
		}},
		{"prefer dual stack with a single family behaves like single stack", []Pool{ds}, []step{
			{req: rq("ns/s", dual(PreferDualStack, IPv6)), pool: "c-dual", ips: []string{"2001:db8:1::"}},
		}},
		{"prefer dual stack, primary unavailable", []Pool{v6}, []step{
			{req: rq("ns/s", dual(PreferDualStack, IPv4, IPv6)), reason: FamilyUnavailable, msg: "no pool offers IPv4 for service ns/s (pools tried: b-v6)"},
		}},
		{"prefer dual stack, requested secondary only, primary from same pool", []Pool{ds, ds2}, []step{
			{req: rq("ns/s", dual(PreferDualStack, IPv4, IPv6), ips("2001:db8:2::3")), pool: "d-dual", ips: []string{"203.0.113.0", "2001:db8:2::3"}},
		}},
		{"prefer dual stack, requested secondary in a pool without the primary", []Pool{v6}, []step{
			{req: rq("ns/s", dual(PreferDualStack, IPv4, IPv6), ips("2001:db8::3")), reason: FamilyUnavailable},
		}},
		{"invalid family combinations", []Pool{ds}, []step{
			{req: rq("ns/s", dual(RequireDualStack, IPv4)), reason: InvalidRequest,
				msg: "invalid request for service ns/s: RequireDualStack needs two IP families, got IPv4"},
			{req: rq("ns/s", fams()), reason: InvalidRequest},
			{req: rq("ns/s", fams(IPv4, IPv4)), reason: InvalidRequest},
			{req: rq("ns/s", fams(Family(5))), reason: InvalidRequest},
			{req: rq("ns/s", fams(IPv4, IPv6, IPv4)), reason: InvalidRequest},
			{req: rq("ns/s", policy(FamilyPolicy(7))), reason: InvalidRequest},
			{req: rq("ns/s", ips("2001:db8:1::1")), reason: InvalidRequest,
				msg: "invalid request for service ns/s: requested IP 2001:db8:1::1 is IPv6 but the service gets only IPv4"},
			{req: rq("ns/s", dual(PreferDualStack, IPv4, IPv6), ips("198.51.100.1", "198.51.100.2")), reason: InvalidRequest},
			{req: rq("ns/s", ips("::ffff:198.51.100.1")), reason: InvalidRequest},
			{req: rq("/s"), reason: InvalidRequest},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runSteps(t, tt.pools, tt.steps) })
	}
}
