package layer2

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/vlan"
)

// BenchmarkClaimToFirstReply measures "assignment -> reachable": from
// SetClaims on a node to the first ARP reply for the IP (a gratuitous one
// or the answer to a request) read by a client on the LAN, which asks for
// the IP every millisecond meanwhile. Target: under 100ms in every case.
//
//   - takeover: Probe false (failover), the node's sockets on the interface
//     are already open because it holds another IP;
//   - takeover-cold: the same, but the node holds nothing else, so the
//     sockets are opened first;
//   - probe: Probe true (a new IP): RFC 5227-style probes with the default
//     timings before the first announcement.
//
// ns/op is the mean; p50-ms, p99-ms and max-ms the distribution.
func BenchmarkClaimToFirstReply(b *testing.B) {
	requireRoot(b)
	lab := vlan.New(b, vlan.Options{Nodes: 1, Clients: 1})
	node, client := lab.Nodes[0], lab.Clients[0]
	n := startNode(b, node, Options{Logger: discardLogger()})
	w := openWire(b, client, "eth0", client.IPv4.Addr(), client.IPv6.Addr())
	anchor := netip.MustParseAddr("203.0.113.254")

	for _, bc := range []struct {
		name   string
		probe  bool
		anchor bool
	}{
		{"takeover", false, true},
		{"takeover-cold", false, false},
		{"probe", true, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var base []Claim
			if bc.anchor {
				base = claims(false, "eth0", anchor)
			}
			apply(b, n, base)
			var all []time.Duration
			i := 0
			b.ResetTimer()
			for b.Loop() {
				ip := netip.AddrFrom4([4]byte{203, 0, 113, byte(30 + i%200)})
				i++
				ctx, stopAsking := context.WithCancel(context.Background())
				go func() {
					tick := time.NewTicker(time.Millisecond)
					defer tick.Stop()
					for {
						_ = w.sendARP(arpRequest(w.mac, w.ip4, ip))
						select {
						case <-ctx.Done():
							return
						case <-tick.C:
						}
					}
				}()
				start := time.Now()
				if err := n.a.SetClaims(append(slices.Clone(base), claims(bc.probe, "eth0", ip)...)); err != nil {
					b.Fatal(err)
				}
				if _, err := w.answer(ip, start.Add(labTimeout)); err != nil {
					b.Fatal(err)
				}
				d := time.Since(start)
				b.StopTimer()
				stopAsking()
				all = append(all, d)
				apply(b, n, base)
				b.StartTimer()
			}
			reportDistribution(b, all)
		})
	}
}

// apply sets the claims and waits until the loop has applied them.
func apply(b testing.TB, n *labNode, cs []Claim) {
	b.Helper()
	desired, err := normalizeClaims(cs)
	if err != nil {
		b.Fatal(err)
	}
	gen := n.a.setDesired(desired)
	eventually(b, "claims applied", func() error {
		n.a.mu.Lock()
		defer n.a.mu.Unlock()
		if n.a.applied < gen {
			return context.DeadlineExceeded
		}
		return nil
	})
}

// BenchmarkTakeoverToTraffic measures the layer 2 part of a failover as
// clients see it: a client sends a datagram to the IP every millisecond
// and has node1's MAC in its neighbour cache; node1 releases the IP and
// node2 claims it (Probe false). The time is from node2's SetClaims to the
// first of the client's packets for the IP entering the LAN bridge towards
// node2's MAC (kernel timestamps of the capture), so it includes the
// gratuitous frame, the client kernel's update of its neighbour entry, and
// its next packet (up to 1ms later).
func BenchmarkTakeoverToTraffic(b *testing.B) {
	requireRoot(b)
	lab := vlan.New(b, vlan.Options{Nodes: 2, Clients: 1})
	client := lab.Clients[0]
	addVIPRoutes(b, client)
	n1 := startNode(b, lab.Nodes[0], Options{Logger: discardLogger()})
	n2 := startNode(b, lab.Nodes[1], Options{Logger: discardLogger()})
	// Each node holds another IP, so its sockets stay open as on a real
	// cluster.
	base1 := claims(false, "eth0", netip.MustParseAddr("203.0.113.253"))
	base2 := claims(false, "eth0", netip.MustParseAddr("203.0.113.254"))
	apply(b, n2, base2)

	for _, fam := range []string{"v4", "v6"} {
		b.Run(fam, func(b *testing.B) {
			var all []time.Duration
			i := 0
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				ip := netip.AddrFrom4([4]byte{203, 0, 113, byte(30 + i%200)})
				if fam == "v6" {
					ip = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0x03, 0x00, 15: byte(30 + i%200)}) // 2001:db8:300::xx
				}
				i++
				apply(b, n1, append(slices.Clone(base1), claims(false, "eth0", ip)...))
				poke(b, client, ip)
				waitNeigh(b, client, ip, n1.h.MAC)
				ctx, cancel := context.WithCancel(context.Background())
				capture, err := lab.Capture(ctx, func(f vlan.Frame) bool { return f.DstIP == ip && f.Port == client.Name })
				if err != nil {
					b.Fatal(err)
				}
				sending := make(chan struct{})
				go func() {
					defer close(sending)
					tick := time.NewTicker(time.Millisecond)
					defer tick.Stop()
					for ctx.Err() == nil {
						_ = client.Do(func() error {
							c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 9)))
							if err != nil {
								return err
							}
							defer c.Close()
							_, err = c.Write([]byte("ironlb"))
							return err
						})
						<-tick.C
					}
				}()
				apply(b, n1, base1)
				b.StartTimer()
				start := time.Now()
				if err := n2.a.SetClaims(append(slices.Clone(base2), claims(false, "eth0", ip)...)); err != nil {
					b.Fatal(err)
				}
				wctx, wcancel := context.WithTimeout(context.Background(), labTimeout)
				f, err := capture.WaitFor(wctx, func(f vlan.Frame) bool { return macEqual(f.Dst, n2.h.MAC) })
				wcancel()
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				all = append(all, f.Time.Sub(start))
				cancel()
				<-sending
				capture.Stop()
				apply(b, n2, base2)
				b.StartTimer()
			}
			b.StopTimer()
			reportDistribution(b, all)
		})
	}
}

func reportDistribution(b *testing.B, all []time.Duration) {
	slices.Sort(all)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(all[len(all)/2]), "p50-ms")
	b.ReportMetric(ms(all[len(all)*99/100]), "p99-ms")
	b.ReportMetric(ms(all[len(all)-1]), "max-ms")
}
