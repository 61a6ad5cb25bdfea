//go:build vmguest

package ipvs

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	nft "github.com/google/nftables"
	mipvs "github.com/moby/ipvs"
)

// driftDeadline is how soon drift must be repaired (issue: within 5 s).
const driftDeadline = 5 * time.Second

// waitServed connects to every VIP's port 80 every 20 ms until each
// answers, and returns how long that took from since.
func (l *lab) waitServed(t testing.TB, since time.Time, vips ...netip.Addr) time.Duration {
	t.Helper()
	for _, vip := range vips {
		for {
			c, err := l.dial("tcp", netip.AddrPortFrom(vip, 80), 300*time.Millisecond)
			if err == nil {
				_, err = readLine(c)
				c.Close()
			}
			if err == nil {
				break
			}
			if time.Since(since) > driftDeadline {
				t.Fatalf("%s not served %v after the drift: %v", vip, driftDeadline, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return time.Since(since)
}

// TestGuestDriftRepaired: IronLB's IPVS services, a VIP address, the dummy
// interface, a real server or its weight, the nftables ruleset or rules
// of IronLB's nftables chains removed or changed behind the backend's back
// are repaired by Run's check within 5 s, touching only what drifted; the
// foreign IPVS services stay as they are.
func TestGuestDriftRepaired(t *testing.T) {
	l := newLab(t, 2, 2)
	h, err := mipvs.New(l.nodePath)
	must(t, err)
	defer h.Close()
	foreign := &mipvs.Service{Address: net.ParseIP("192.0.2.100").To4(), Protocol: syscall.IPPROTO_TCP, Port: 80, AddressFamily: syscall.AF_INET, SchedName: "rr", Netmask: 0xffffffff}
	must(t, h.NewService(foreign))
	must(t, h.NewDestination(foreign, &mipvs.Destination{Address: net.ParseIP("198.51.100.200").To4(), Port: 80, Weight: 1}))
	foreignDump := l.ipvsDump()

	// No periodic full resync: the check alone must find the drift.
	b := l.newBackend(Options{CheckInterval: time.Second, ResyncPeriod: -1})
	vips := []netip.Addr{vipA4, vipA6, vipB4}
	applyOK(t, b, l.state(
		svcSpec{name: "web", vips: []netip.Addr{vipA4, vipA6}, pods: l.pods},
		svcSpec{name: "other", vips: []netip.Addr{vipB4}, pods: l.pods, scheduler: "mh"},
	))
	for _, v := range vips {
		l.pinVIP(v)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		<-done
	})
	l.waitServed(t, time.Now(), vips...)
	want := l.ipvsDump()
	wantAddrs := l.dummyAddrs()
	for b.Stats().Checks < 2 {
		time.Sleep(100 * time.Millisecond)
	}
	if s := b.Stats(); s.DriftRepairs != 0 {
		t.Fatalf("drift repaired without drift: %+v", s)
	}

	owned := func(s *mipvs.Service) bool {
		a, _ := netip.AddrFromSlice(s.Address)
		return slices.Contains(vips, a.Unmap())
	}
	// firstOwned returns an IronLB service with destinations, and them.
	firstOwned := func() (*mipvs.Service, []*mipvs.Destination) {
		svcs, err := h.GetServices()
		must(t, err)
		for _, s := range svcs {
			if !owned(s) {
				continue
			}
			ds, err := h.GetDestinations(s)
			must(t, err)
			if len(ds) > 0 {
				return s, ds
			}
		}
		t.Fatal("no IronLB service with destinations")
		return nil, nil
	}
	for _, tc := range []struct {
		name  string
		drift func()
		// writes: IPVS writes plus address changes plus nftables
		// transactions the repair may make (it must make some).
		maxWrites int
	}{
		{"IronLB's IPVS services deleted", func() {
			svcs, err := h.GetServices()
			must(t, err)
			for _, s := range svcs {
				if owned(s) {
					must(t, h.DelService(s))
				}
			}
		}, 3 + 3*2},
		{"one VIP address deleted", func() {
			link, err := l.nodeNL.LinkByName(defaultInterface)
			must(t, err)
			must(t, l.nodeNL.AddrDel(link, vipAddr(vipB4)))
		}, 1},
		{"dummy interface deleted", func() {
			link, err := l.nodeNL.LinkByName(defaultInterface)
			must(t, err)
			must(t, l.nodeNL.LinkDel(link))
		}, 1 + len(vips)},
		{"nft flush ruleset", func() {
			c, err := nft.New(nft.WithNetNSFd(int(l.nodeNS)))
			must(t, err)
			c.FlushRuleset()
			must(t, c.Flush())
		}, 1},
		{"real server deleted (ipvsadm -d)", func() {
			s, ds := firstOwned()
			must(t, h.DelDestination(s, ds[0]))
		}, 1},
		{"weight changed (ipvsadm -e -w)", func() {
			s, ds := firstOwned()
			ds[0].Weight = 7
			must(t, h.UpdateDestination(s, ds[0]))
		}, 1},
		// The vip chain holds the source ranges' drop and the refusals;
		// flushed, every client reaches every port of a VIP.
		{"nft flush chain vip4", func() {
			c, err := nft.New(nft.WithNetNSFd(int(l.nodeNS)))
			must(t, err)
			c.FlushChain(&nft.Chain{Table: b.nft.table, Name: "vip4"})
			must(t, c.Flush())
		}, 1},
		{"masquerade rule deleted", func() {
			c, err := nft.New(nft.WithNetNSFd(int(l.nodeNS)))
			must(t, err)
			rules, err := c.GetRules(b.nft.table, &nft.Chain{Table: b.nft.table, Name: "postrouting"})
			must(t, err)
			if len(rules) == 0 {
				t.Fatal("postrouting has no rule to delete")
			}
			must(t, c.DelRule(rules[0]))
			must(t, c.Flush())
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := b.Stats()
			start := time.Now()
			tc.drift()
			took := l.waitServed(t, start, vips...)
			var s Stats
			for s = b.Stats(); s.DriftRepairs == before.DriftRepairs && time.Since(start) < driftDeadline; s = b.Stats() {
				time.Sleep(50 * time.Millisecond)
			}
			writes := (s.IPVSWrites - before.IPVSWrites) + (s.AddressChanges - before.AddressChanges) + (s.NftTransactions - before.NftTransactions)
			if s.DriftRepairs != before.DriftRepairs+1 || writes == 0 || writes > tc.maxWrites {
				t.Fatalf("stats before %+v, after %+v: want one repair of 1..%d writes, got %d", before, s, tc.maxWrites, writes)
			}
			if got := l.ipvsDump(); !slices.Equal(got, want) {
				t.Fatalf("IPVS after repair:\n%s\nwant (foreign services included):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			for _, f := range foreignDump {
				if !slices.Contains(l.ipvsDump(), f) {
					t.Fatalf("foreign entry %q changed or vanished", f)
				}
			}
			if got := l.dummyAddrs(); !slices.Equal(got, wantAddrs) {
				t.Fatalf("VIP addresses after repair %v, want %v", got, wantAddrs)
			}
			if !b.nft.intact() {
				t.Fatal("nftables table not rebuilt")
			}
			t.Logf("%s: traffic back after %v, %d writes", tc.name, took.Round(time.Millisecond), writes)
		})
	}
}
