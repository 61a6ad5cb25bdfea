//go:build vmguest

package ipvs

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"testing"
	"time"

	mipvs "github.com/moby/ipvs"

	"github.com/ironlb/ironlb/datapath"
)

// benchState is n Cluster services with perSvc endpoints each: 100 ports
// on each of n/100 VIPs.
func benchState(n, perSvc int) datapath.State {
	st := datapath.State{Services: make(map[datapath.ServiceKey]datapath.VirtualService, n)}
	for i := range n {
		vip := netip.AddrFrom4([4]byte{203, 0, 113, byte(1 + i/100)})
		k := datapath.ServiceKey{VIP: vip, Port: uint16(1000 + i%100), Protocol: datapath.TCP}
		be := make(map[netip.AddrPort]datapath.Backend, perSvc)
		for j := range perSvc {
			be[netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + j)}), uint16(20000+i%1000))] = datapath.Backend{Weight: 1}
		}
		st.Services[k] = datapath.VirtualService{Scheduler: datapath.RoundRobin, Masquerade: true, Backends: be}
	}
	return st
}

// BenchmarkGuestFullSync: a fresh node programmed from nothing, and a
// restarted backend re-reading the same State (which must write nothing).
func BenchmarkGuestFullSync(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		st := benchState(n, 10)
		b.Run(fmt.Sprintf("services=%d/endpoints=10", n), func(b *testing.B) {
			var writes int
			for range b.N {
				b.StopTimer()
				l := newLab(b, 0, 0)
				be := l.newBackend(Options{})
				b.StartTimer()
				applyOK(b, be, st)
				b.StopTimer()
				writes = be.Stats().IPVSWrites
				b.StartTimer()
			}
			b.ReportMetric(float64(writes), "ipvs-writes/op")
		})
		b.Run(fmt.Sprintf("services=%d/endpoints=10/restart", n), func(b *testing.B) {
			l := newLab(b, 0, 0)
			applyOK(b, l.newBackend(Options{}), st)
			b.ResetTimer()
			for range b.N {
				be := l.newBackend(Options{})
				applyOK(b, be, st)
				if w := be.Stats().IPVSWrites; w != 0 {
					b.Fatalf("restart wrote %d IPVS changes", w)
				}
				be.Close()
			}
		})
	}
}

// BenchmarkGuestEndpointChange: 1,000 services synced; each op replaces
// one endpoint of one service (the old one drains and, idle, goes).
func BenchmarkGuestEndpointChange(b *testing.B) {
	l := newLab(b, 0, 0)
	be := l.newBackend(Options{})
	base := benchState(1000, 10)
	applyOK(b, be, base)
	key := datapath.ServiceKey{VIP: netip.AddrFrom4([4]byte{203, 0, 113, 1}), Port: 1000, Protocol: datapath.TCP}
	states := [2]datapath.State{base, {Services: maps.Clone(base.Services)}}
	vs := base.Services[key]
	vs.Backends = maps.Clone(vs.Backends)
	delete(vs.Backends, netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, 10}), 20000))
	vs.Backends[netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, 99}), 20000)] = datapath.Backend{Weight: 1}
	states[1].Services[key] = vs
	w0 := be.Stats().IPVSWrites
	b.ResetTimer()
	for i := range b.N {
		applyOK(b, be, states[(i+1)%2])
	}
	b.ReportMetric(float64(be.Stats().IPVSWrites-w0)/float64(b.N), "ipvs-writes/op")
}

// BenchmarkGuestThroughput: one TCP stream through the VIP (IPVS NAT plus
// masquerade) and one straight to the pod (routed by the same node), in
// the same run. Under TCG absolute numbers mean little; the ratio counts.
func BenchmarkGuestThroughput(b *testing.B) {
	l := newLab(b, 1, 1)
	be := l.newBackend(Options{})
	l.pinVIP(vipA4)
	applyOK(b, be, l.state(svcSpec{name: "stream", vips: []netip.Addr{vipA4}, pods: l.pods,
		ports: []corev1ServicePort{streamServicePort}}))
	const size = 16 << 20
	measure := func(to netip.AddrPort) time.Duration {
		c, err := l.dial("tcp", to, 5*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		if _, err := io.CopyN(io.Discard, c, size); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var viaVIP, direct time.Duration
	b.ResetTimer()
	for range b.N {
		viaVIP += measure(netip.AddrPortFrom(vipA4, 9000))
		direct += measure(netip.AddrPortFrom(l.pods[0].ip4, streamPort))
	}
	mbps := func(d time.Duration) float64 { return float64(b.N) * size / (1 << 20) / d.Seconds() }
	b.ReportMetric(mbps(viaVIP), "vip-MB/s")
	b.ReportMetric(mbps(direct), "direct-MB/s")
	b.ReportMetric(mbps(viaVIP)/mbps(direct), "vip/direct")
}

// BenchmarkGuestDriftRepair: 1,000 services of 10 endpoints on 10 VIPs,
// plus port 80 of the first VIP served by a real pod, repaired by Run (1 s
// checks) after `ipvsadm -C` and the dummy interface deleted (flush), or
// after that VIP's address deleted (one-vip). repaired-ms: until the whole
// repair is done (detection included), i.e. the last VIP is back;
// first-vip-reply-ms: until the client is answered through the first VIP
// (the repair goes VIP by VIP); netlink-calls/repair: the reads and writes
// the checks and the repair made; writes/repair: IPVS, address and
// nftables writes alone. Under TCG the times are emulated; the counts are
// not.
func BenchmarkGuestDriftRepair(b *testing.B) {
	firstVIP := netip.AddrFrom4([4]byte{203, 0, 113, 1}) // benchState's first
	for _, tc := range []struct {
		name  string
		drift func(l *lab, h *mipvs.Handle)
	}{
		{"services=1000/flush", func(l *lab, h *mipvs.Handle) {
			must(b, h.Flush())
			link, err := l.nodeNL.LinkByName(defaultInterface)
			must(b, err)
			must(b, l.nodeNL.LinkDel(link))
		}},
		{"services=1000/one-vip", func(l *lab, h *mipvs.Handle) {
			link, err := l.nodeNL.LinkByName(defaultInterface)
			must(b, err)
			must(b, l.nodeNL.AddrDel(link, vipAddr(firstVIP)))
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			l := newLab(b, 1, 1)
			be := l.newBackend(Options{ResyncPeriod: -1})
			st := benchState(1000, 10)
			maps.Copy(st.Services, l.state(svcSpec{name: "web", vips: []netip.Addr{firstVIP}, pods: l.pods}).Services)
			applyOK(b, be, st)
			l.pinVIP(firstVIP)
			h, err := mipvs.New(l.nodePath)
			must(b, err)
			defer h.Close()
			ctx, stop := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- be.Run(ctx) }()
			defer func() {
				stop()
				<-done
			}()
			served := func() bool {
				c, err := l.dial("tcp", netip.AddrPortFrom(firstVIP, 80), 300*time.Millisecond)
				if err == nil {
					_, err = readLine(c)
					c.Close()
				}
				return err == nil
			}
			var toRepair, toReply time.Duration
			var calls, writes int
			b.ResetTimer()
			for range b.N {
				before := be.Stats()
				start := time.Now()
				tc.drift(l, h)
				for !served() {
					if time.Since(start) > 5*time.Minute {
						b.Fatal("no reply within 5 minutes")
					}
					time.Sleep(10 * time.Millisecond)
				}
				toReply += time.Since(start)
				// Stats waits for a running repair to finish.
				for be.Stats().DriftRepairs == before.DriftRepairs {
					if time.Since(start) > 5*time.Minute {
						b.Fatal("no repair within 5 minutes")
					}
					time.Sleep(5 * time.Millisecond)
				}
				toRepair += time.Since(start)
				s := be.Stats()
				w := (s.IPVSWrites - before.IPVSWrites) + (s.AddressChanges - before.AddressChanges) + (s.NftTransactions - before.NftTransactions)
				writes += w
				calls += w + s.DriftReads - before.DriftReads
			}
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
			b.ReportMetric(ms(toRepair), "repaired-ms")
			b.ReportMetric(ms(toReply), "first-vip-reply-ms")
			b.ReportMetric(float64(calls)/float64(b.N), "netlink-calls/repair")
			b.ReportMetric(float64(writes)/float64(b.N), "writes/repair")
		})
	}
}

// BenchmarkGuestDriftCheck: one drift check without drift, 1,000 services
// of 10 endpoints (Run makes one a second).
func BenchmarkGuestDriftCheck(b *testing.B) {
	l := newLab(b, 0, 0)
	be := l.newBackend(Options{})
	applyOK(b, be, benchState(1000, 10))
	r0 := be.Stats().DriftReads
	b.ResetTimer()
	for range b.N {
		if drift, err := be.Check(context.Background()); drift || err != nil {
			b.Fatalf("check without drift: drift %v, %v", drift, err)
		}
	}
	b.ReportMetric(float64(be.Stats().DriftReads-r0)/float64(b.N), "netlink-reads/op")
}
