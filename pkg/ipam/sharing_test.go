package ipam

import (
	"net/netip"
	"slices"
	"testing"
)

func TestSharing(t *testing.T) {
	p := []Pool{pl("a", "192.0.2.0/29")}
	tests := []struct {
		name  string
		pools []Pool
		steps []step
	}{
		{"same key, different ports: shared", p, []step{
			{req: rq("ns/web", share("k", "TCP/80")), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/tls", share("k", "TCP/443")), pool: "a", ips: []string{"192.0.2.0"}},
		}},
		{"same port, other protocol: shared", p, []step{
			{req: rq("ns/dns-tcp", share("k", "TCP/53")), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/dns-udp", share("k", "udp/53")), pool: "a", ips: []string{"192.0.2.0"}},
		}},
		{"same key, same port: new address", p, []step{
			{req: rq("ns/a", share("k", "TCP/80")), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/b", share("k", "TCP/80", "TCP/81")), pool: "a", ips: []string{"192.0.2.1"}},
			{req: rq("ns/c", share("k", "TCP/81")), pool: "a", ips: []string{"192.0.2.0"}},
		}},
		{"same key, same port, requested: sharing conflict", p, []step{
			{req: rq("default/foo", share("k", "TCP/80")), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("default/bar", share("k", "TCP/80"), ips("192.0.2.0")), reason: SharingConflict,
				msg: "requested IP 192.0.2.0 cannot be shared with service default/foo: both use port TCP/80"},
		}},
		{"different keys: never shared", p, []step{
			{req: rq("ns/a", share("k1", "TCP/80")), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/b", share("k2", "TCP/443")), pool: "a", ips: []string{"192.0.2.1"}},
			{req: rq("ns/c", share("k2", "TCP/8443"), ips("192.0.2.0")), reason: IPInUse,
				msg: `requested IP 192.0.2.0 is in use by service ns/a: sharing keys differ ("k2" vs "k1")`},
		}},
		{"no key on one side", p, []step{
			{req: rq("ns/a"), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/b", share("k", "TCP/443"), ips("192.0.2.0")), reason: IPInUse,
				msg: "requested IP 192.0.2.0 is in use by service ns/a: that service has no sharing key"},
			{req: rq("ns/c", share("k", "TCP/443")), pool: "a", ips: []string{"192.0.2.1"}},
			{req: rq("ns/d", ips("192.0.2.1")), reason: IPInUse,
				msg: "requested IP 192.0.2.1 is in use by service ns/c: this service has no sharing key"},
		}},
		{"Cluster + Cluster shared", p, []step{
			{req: rq("ns/a", share("k", "TCP/80")), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/b", share("k", "TCP/81")), pool: "a", ips: []string{"192.0.2.0"}},
		}},
		{"Local + Local, same selector: shared", p, []step{
			{req: rq("ns/a", share("k", "TCP/80"), local("app=x")), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/b", share("k", "TCP/81"), local("app=x")), pool: "a", ips: []string{"192.0.2.0"}},
		}},
		{"Local + Local, different selector: not shared", p, []step{
			{req: rq("ns/a", share("k", "TCP/80"), local("app=x")), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/b", share("k", "TCP/81"), local("app=y")), pool: "a", ips: []string{"192.0.2.1"}},
			{req: rq("ns/c", share("k", "TCP/82"), local("app=y"), ips("192.0.2.0")), reason: SharingConflict,
				msg: `requested IP 192.0.2.0 cannot be shared with service ns/a: services with externalTrafficPolicy Local must select the same pods ("app=y" vs "app=x")`},
		}},
		{"Cluster + Local: not shared", p, []step{
			{req: rq("ns/a", share("k", "TCP/80")), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/b", share("k", "TCP/81"), local("")), pool: "a", ips: []string{"192.0.2.1"}},
			{req: rq("ns/c", share("k", "TCP/82"), local(""), ips("192.0.2.0")), reason: SharingConflict,
				msg: "requested IP 192.0.2.0 cannot be shared with service ns/a: one service has externalTrafficPolicy Local and the other Cluster"},
		}},
		{"requested shared IP", p, []step{
			{req: rq("ns/a", share("k", "TCP/80")), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/b", share("k", "TCP/81")), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/c", share("k", "TCP/82"), ips("192.0.2.0")), pool: "a", ips: []string{"192.0.2.0"}},
		}},
		{"conflicts with any holder, not just the first", p, []step{
			{req: rq("ns/a", share("k", "TCP/80")), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/b", share("k", "TCP/81")), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/c", share("k", "TCP/81", "TCP/82")), pool: "a", ips: []string{"192.0.2.1"}},
		}},
		{"shared IP only in the candidate pool", []Pool{pl("a", "192.0.2.0/30"), pl("b", "198.51.100.0/30")}, []step{
			{req: rq("ns/a", share("k", "TCP/80")), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/b", share("k", "TCP/81"), inPool("b")), pool: "b", ips: []string{"198.51.100.0"}},
			{req: rq("ns/c", share("k", "TCP/82"), inPool("b")), pool: "b", ips: []string{"198.51.100.0"}},
		}},
		{"shared IP beats lower free IP", p, []step{
			{req: rq("ns/x"), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/a", share("k", "TCP/80")), pool: "a", ips: []string{"192.0.2.1"}},
			{op: "release", release: "ns/x", ips: []string{"192.0.2.0"}},
			{req: rq("ns/b", share("k", "TCP/81")), pool: "a", ips: []string{"192.0.2.1"}},
		}},
		{"shared IP survives until the last holder leaves", p, []step{
			{req: rq("ns/a", share("k", "TCP/80")), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/b", share("k", "TCP/81")), pool: "a", ips: []string{"192.0.2.0"}},
			{op: "release", release: "ns/a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/c"), pool: "a", ips: []string{"192.0.2.1"}},
			{req: rq("ns/d", ips("192.0.2.0")), reason: IPInUse, msg: "requested IP 192.0.2.0 is in use by service ns/b: this service has no sharing key"},
			{op: "release", release: "ns/b", ips: []string{"192.0.2.0"}},
			{req: rq("ns/d", ips("192.0.2.0")), pool: "a", ips: []string{"192.0.2.0"}},
		}},
		{"dual-stack sharing", []Pool{pl("d", "192.0.2.0/30", "2001:db8::/126")}, []step{
			{req: rq("ns/a", dual(RequireDualStack, IPv4, IPv6), share("k", "TCP/80")), pool: "d", ips: []string{"192.0.2.0", "2001:db8::"}},
			{req: rq("ns/b", fams(IPv6), share("k", "TCP/81")), pool: "d", ips: []string{"2001:db8::"}},
			{req: rq("ns/c", dual(PreferDualStack, IPv6, IPv4), share("k", "TCP/82")), pool: "d", ips: []string{"2001:db8::", "192.0.2.0"}},
		}},
		{"changing ports into a conflict moves only that service", p, []step{
			{req: rq("ns/a", share("k", "TCP/80")), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/b", share("k", "TCP/81")), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/b", share("k", "TCP/80")), pool: "a", ips: []string{"192.0.2.1"}},
			{req: rq("ns/a", share("k", "TCP/80", "TCP/90")), pool: "a", ips: []string{"192.0.2.0"}},
		}},
		{"dropping the sharing key while shared moves the service", p, []step{
			{req: rq("ns/a", share("k", "TCP/80")), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/b", share("k", "TCP/81")), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/b"), pool: "a", ips: []string{"192.0.2.1"}},
		}},
		{"dropping the sharing key when alone keeps the IP", p, []step{
			{req: rq("ns/a", share("k", "TCP/80")), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/a"), pool: "a", ips: []string{"192.0.2.0"}},
			{req: rq("ns/b", share("k", "TCP/81")), pool: "a", ips: []string{"192.0.2.1"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runSteps(t, tt.pools, tt.steps) })
	}
}

func TestHoldersAndStatsWithSharing(t *testing.T) {
	a := runSteps(t, []Pool{pl("a", "192.0.2.0/30")}, []step{
		{req: rq("ns/a", share("k", "TCP/80")), pool: "a", ips: []string{"192.0.2.0"}},
		{req: rq("ns/b", share("k", "TCP/81")), pool: "a", ips: []string{"192.0.2.0"}},
	})
	ip := netip.MustParseAddr("192.0.2.0")
	if got := a.Holders(ip); !slices.Equal(got, []ServiceKey{svcKey("ns/a"), svcKey("ns/b")}) {
		t.Fatalf("Holders = %v", got)
	}
	if st := a.Stats("a")[IPv4]; st != (Stats{Total: 4, Assigned: 1, Available: 3}) {
		t.Fatalf("Stats = %+v, shared IP must count once", st)
	}
	a.Release(svcKey("ns/a"))
	if got := a.Holders(ip); !slices.Equal(got, []ServiceKey{svcKey("ns/b")}) {
		t.Fatalf("Holders after release = %v", got)
	}
	a.Release(svcKey("ns/b"))
	if got := a.Holders(ip); got != nil {
		t.Fatalf("Holders after last release = %v", got)
	}
	if st := a.Stats("a")[IPv4]; st != (Stats{Total: 4, Assigned: 0, Available: 4}) {
		t.Fatalf("Stats = %+v", st)
	}
}
