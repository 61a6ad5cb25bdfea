package layer2_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
)

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func pct(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
}

// answers records when requests of a stream got their answer.
type answers struct {
	mu sync.Mutex
	at []time.Time
}

func (a *answers) firstAfter(t time.Time) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, x := range a.at {
		if x.After(t) {
			return x, true
		}
	}
	return time.Time{}, false
}

// answerLoop sends a request every 5 ms and records each answer's time.
func answerLoop(ctx context.Context, client *vlan.Host, target netip.AddrPort, rec *answers) error {
	conn, err := client.DialContext(ctx, "udp", target.String())
	if err != nil {
		return err
	}
	defer conn.Close()
	go func() {
		buf := make([]byte, 64)
		for {
			if _, err := conn.Read(buf); err != nil {
				if ctx.Err() != nil {
					return
				}
				continue // ECONNREFUSED while no node serves the VIP
			}
			rec.mu.Lock()
			rec.at = append(rec.at, time.Now())
			rec.mu.Unlock()
		}
	}()
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			_, _ = conn.Write([]byte("x"))
		}
	}
}

// BenchmarkFailover kills the announcing speaker 20 times (its node stops
// serving the VIP at the same moment, as when the whole node dies) and
// measures the time from the kill to the first answer the client gets
// through the new node. Run with -benchtime=1x.
func BenchmarkFailover(b *testing.B) {
	for range b.N {
		benchFailover(b, 20)
	}
}

func benchFailover(b *testing.B, kills int) {
	c := cluster.Start(b, cluster.Options{})
	c.Create(b, cluster.Pool("lan", poolV4), cluster.L2("lan", []string{"lan"}, "eth0"))
	client := c.Lab.Clients[0]
	if _, err := client.Exec(context.Background(), "ip", "route", "add", poolV4, "dev", client.Iface); err != nil {
		b.Fatal(err)
	}
	c.Create(b, cluster.LoadBalancer("default", "web"))
	c.SetEndpoints(b, "default", "web", endpointsOn("node1", "node2", "node3")...)
	ip := c.WaitForIPs(b, "default", "web", 1)[0]
	serveVIPTB(b, c, ip)
	udpEchoTB(b, c, ip)
	owner := c.WaitForAnnouncer(b, "default", "web", ip, func(string) bool { return true })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &answers{}
	go func() { _ = answerLoop(ctx, client, netip.AddrPortFrom(ip, 9000), rec) }()
	time.Sleep(time.Second)

	var took []time.Duration
	for i := range kills {
		killed := owner
		killedAt := time.Now()
		c.Speaker(killed).Kill()
		unbindVIPTB(b, c.Lab.Host(killed), ip)
		// Only answers after the unbind must have come through another node.
		unbound := time.Now().Add(5 * time.Millisecond)
		cluster.Eventually(b, 15*time.Second, fmt.Sprintf("kill %d: an answer through another node", i), func() error {
			if _, ok := rec.firstAfter(unbound); !ok {
				return fmt.Errorf("none yet")
			}
			return nil
		})
		first, _ := rec.firstAfter(unbound)
		took = append(took, first.Sub(killedAt))
		c.WaitForAnnouncer(b, "default", "web", ip, func(n string) bool { return n != killed })
		bindVIPTB(b, c.Lab.Host(killed), ip)
		if err := c.StartSpeaker(killed); err != nil {
			b.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond) // rejoin; the IP may move back
		owner = c.WaitForAnnouncer(b, "default", "web", ip, func(string) bool { return true })
	}
	b.ReportMetric(ms(pct(took, 0.5)), "failover-p50-ms")
	b.ReportMetric(ms(pct(took, 0.99)), "failover-p99-ms")
	b.ReportMetric(ms(slices.Max(took)), "failover-max-ms")
	b.ReportMetric(float64(len(took)), "kills")
}

// BenchmarkAssignmentToFirstReply creates Services one after another and
// measures, for each, the time from its address appearing in its status to
// the first ARP reply for that address on the LAN (the new owner's
// announcement after its conflict probe). Run with -benchtime=1x.
func BenchmarkAssignmentToFirstReply(b *testing.B) {
	for range b.N {
		benchAssignment(b, 30)
	}
}

func benchAssignment(b *testing.B, n int) {
	c := cluster.Start(b, cluster.Options{})
	c.Create(b, cluster.Pool("lan", poolV4), cluster.L2("lan", []string{"lan"}, "eth0"))
	capt, err := c.Lab.Capture(context.Background(), func(f vlan.Frame) bool { return f.IsARPReply() })
	if err != nil {
		b.Fatal(err)
	}
	defer capt.Stop()

	assigned := map[string]time.Time{}
	var mu sync.Mutex
	factory := informers.NewSharedInformerFactoryWithOptions(c.API.Clientset(b), 0, informers.WithNamespace("default"))
	inf := factory.Core().V1().Services().Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{UpdateFunc: func(_, obj any) {
		s := obj.(*corev1.Service)
		if len(s.Status.LoadBalancer.Ingress) == 0 {
			return
		}
		mu.Lock()
		if _, ok := assigned[s.Status.LoadBalancer.Ingress[0].IP]; !ok {
			assigned[s.Status.LoadBalancer.Ingress[0].IP] = time.Now()
		}
		mu.Unlock()
	}})
	stop := make(chan struct{})
	defer close(stop)
	factory.Start(stop)
	cache.WaitForCacheSync(stop, inf.HasSynced)

	// Warm up: the first announcement also waits for the speakers to
	// have heard each other after their start; measure the steady state.
	c.Create(b, cluster.LoadBalancer("default", "warmup"))
	c.SetEndpoints(b, "default", "warmup", endpointsOn("node1", "node2", "node3")...)
	warm := c.WaitForIPs(b, "default", "warmup", 1)[0]
	c.WaitForAnnouncer(b, "default", "warmup", warm, func(string) bool { return true })

	var took []time.Duration
	for i := range n {
		name := fmt.Sprintf("svc-%02d", i)
		c.Create(b, cluster.LoadBalancer("default", name))
		c.SetEndpoints(b, "default", name, endpointsOn("node1", "node2", "node3")...)
		ip := c.WaitForIPs(b, "default", name, 1)[0]
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		f, err := capt.WaitFor(ctx, func(f vlan.Frame) bool { return f.ARP.SenderIP == ip })
		cancel()
		if err != nil {
			b.Fatalf("%s: no ARP reply for %s: %v", name, ip, err)
		}
		mu.Lock()
		at, ok := assigned[ip.String()]
		mu.Unlock()
		if !ok {
			b.Fatalf("%s: assignment of %s not seen", name, ip)
		}
		took = append(took, f.Time.Sub(at))
	}
	b.ReportMetric(ms(pct(took, 0.5)), "assign-to-reply-p50-ms")
	b.ReportMetric(ms(pct(took, 0.99)), "assign-to-reply-p99-ms")
}
