package ipvs

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/moby/ipvs"
	"golang.org/x/sys/unix"

	"github.com/ironlb/ironlb/datapath"
)

func TestDesiredService(t *testing.T) {
	tests := []struct {
		name string
		key  datapath.ServiceKey
		vs   datapath.VirtualService
		want kService
	}{
		{
			name: "defaults",
			key:  tcp80,
			vs:   datapath.VirtualService{Backends: map[netip.AddrPort]datapath.Backend{podA: {Weight: 1}, podB: {Weight: 0, Terminating: true}}},
			want: kService{sched: "rr", netmask: 0xffffffff, dests: map[netip.AddrPort]kDest{podA: {weight: 1}, podB: {weight: 0}}},
		},
		{
			name: "mh with both flags",
			key:  tcp80,
			vs:   datapath.VirtualService{Scheduler: datapath.MaglevHashing, Flags: datapath.SchedulerFlags{Fallback: true, Port: true}},
			want: kService{sched: "mh", flags: flagSched1 | flagSched2, netmask: 0xffffffff, dests: map[netip.AddrPort]kDest{}},
		},
		{
			name: "flags ignored for rr",
			key:  tcp80,
			vs:   datapath.VirtualService{Scheduler: datapath.RoundRobin, Flags: datapath.SchedulerFlags{Fallback: true}},
			want: kService{sched: "rr", netmask: 0xffffffff, dests: map[netip.AddrPort]kDest{}},
		},
		{
			name: "sh-port",
			key:  tcp80,
			vs:   datapath.VirtualService{Scheduler: datapath.SourceHashing, Flags: datapath.SchedulerFlags{Port: true}},
			want: kService{sched: "sh", flags: flagSched2, netmask: 0xffffffff, dests: map[netip.AddrPort]kDest{}},
		},
		{
			name: "persistence IPv4, rounded up to seconds",
			key:  tcp80,
			vs:   datapath.VirtualService{Scheduler: datapath.WeightedLeastConnection, Persistence: 1500 * time.Millisecond},
			want: kService{sched: "wlc", flags: flagPersistent, timeout: 2, netmask: 0xffffffff, dests: map[netip.AddrPort]kDest{}},
		},
		{
			name: "persistence IPv6 takes a prefix length",
			key:  datapath.ServiceKey{VIP: vip6, Port: 443, Protocol: datapath.TCP},
			vs:   datapath.VirtualService{Persistence: datapath.DefaultPersistenceTimeout},
			want: kService{sched: "rr", flags: flagPersistent, timeout: 10800, netmask: 128, dests: map[netip.AddrPort]kDest{}},
		},
		{
			name: "IPv6 without persistence still has a prefix length",
			key:  datapath.ServiceKey{VIP: vip6, Port: 80, Protocol: datapath.UDP},
			vs:   datapath.VirtualService{},
			want: kService{sched: "rr", netmask: 128, dests: map[netip.AddrPort]kDest{}},
		},
		{
			name: "weights clamped",
			key:  tcp80,
			vs:   datapath.VirtualService{Backends: map[netip.AddrPort]datapath.Backend{podA: {Weight: -3}, podB: {Weight: 1 << 20}}},
			want: kService{sched: "rr", netmask: 0xffffffff, dests: map[netip.AddrPort]kDest{podA: {weight: 0}, podB: {weight: maxWeight}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := desiredService(tc.key, tc.vs)
			if !got.sameAttrs(tc.want) || len(got.dests) != len(tc.want.dests) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for a, d := range tc.want.dests {
				if got.dests[a] != d {
					t.Errorf("dest %s = %+v, want %+v", a, got.dests[a], d)
				}
			}
		})
	}
}

// TestKernelRoundTrip: what IronLB writes, read back as the kernel reports
// it (hashed flag set, IPv4 as 4 bytes), compares equal: no rewrite on
// resync.
func TestKernelRoundTrip(t *testing.T) {
	for _, key := range []datapath.ServiceKey{tcp80, udp53, {VIP: vip6, Port: 443, Protocol: datapath.SCTP}} {
		vs := datapath.VirtualService{Scheduler: datapath.SourceHashing, Flags: datapath.SchedulerFlags{Fallback: true}, Persistence: time.Minute,
			Backends: map[netip.AddrPort]datapath.Backend{podA: {Weight: 1}}}
		if key.VIP.Is6() {
			vs.Backends = map[netip.AddrPort]datapath.Backend{netip.MustParseAddrPort("[2001:db8:2::11]:8443"): {Weight: 1}}
		}
		want := desiredService(key, vs)
		svc := serviceID(key, want)
		svc.Flags |= flagHashed
		var dests []*ipvs.Destination
		for a, d := range want.dests {
			dests = append(dests, destination(a, d))
		}
		gotKey, ok := keyOf(svc)
		if !ok || gotKey != key {
			t.Fatalf("keyOf = %v, %v; want %v", gotKey, ok, key)
		}
		got := kernelService(svc, dests)
		if p := planService(key, &got, &want, nil); len(p.ops) != 0 {
			t.Errorf("%s: round trip needs writes: %s", key, render(p))
		}
	}
}

func TestKeyOfSkipsForeignShapes(t *testing.T) {
	tests := []struct {
		name string
		svc  ipvs.Service
	}{
		{"firewall mark", ipvs.Service{FWMark: 7, AddressFamily: unix.AF_INET}},
		{"unknown protocol", ipvs.Service{Address: net.ParseIP("192.0.2.1").To4(), Protocol: 51, Port: 1, AddressFamily: unix.AF_INET}},
		{"family mismatch", ipvs.Service{Address: net.ParseIP("192.0.2.1").To4(), Protocol: unix.IPPROTO_TCP, Port: 1, AddressFamily: unix.AF_INET6}},
		{"no address", ipvs.Service{Protocol: unix.IPPROTO_TCP, Port: 1, AddressFamily: unix.AF_INET}},
	}
	for _, tc := range tests {
		if k, ok := keyOf(&tc.svc); ok {
			t.Errorf("%s: keyOf = %v, want not ours", tc.name, k)
		}
	}
}
