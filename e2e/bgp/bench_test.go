package bgp_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/frr"
)

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// assignments records when each Service's first address appeared.
type assignments struct {
	mu sync.Mutex
	at map[netip.Addr]time.Time
}

func watchAssignments(b *testing.B, c *cluster.Cluster) *assignments {
	a := &assignments{at: map[netip.Addr]time.Time{}}
	factory := informers.NewSharedInformerFactory(c.API.Clientset(b), 0)
	inf := factory.Core().V1().Services().Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{UpdateFunc: func(_, obj any) {
		now := time.Now()
		for _, in := range obj.(*corev1.Service).Status.LoadBalancer.Ingress {
			if ip, err := netip.ParseAddr(in.IP); err == nil {
				a.mu.Lock()
				if _, ok := a.at[ip]; !ok {
					a.at[ip] = now
				}
				a.mu.Unlock()
			}
		}
	}})
	stop := make(chan struct{})
	b.Cleanup(func() { close(stop) })
	factory.Start(stop)
	cache.WaitForCacheSync(stop, inf.HasSynced)
	return a
}

func benchCluster(b *testing.B) (*cluster.Cluster, *frr.Router) {
	c := cluster.Start(b, cluster.Options{Router: true})
	var neighbors []frr.Neighbor
	for _, n := range c.Lab.Nodes {
		neighbors = append(neighbors, frr.Neighbor{Address: n.IPv6.Addr(), ASN: clusterASN})
	}
	r := frr.New(b, c.Lab.Router, frr.Options{ASN: routerASN, RouterID: c.Lab.Router.IPv4.Addr(), Neighbors: neighbors, MaximumPaths: 8})
	c.Create(b,
		cluster.Pool("bgp", "2001:db8:300:1::/112"),
		&v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: "bgp"}},
		&v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: "tor"}, Spec: v1beta1.BGPPeerSpec{MyASN: clusterASN, ASN: routerASN, Address: c.Lab.Router.IPv6.Addr().String()}},
	)
	return c, r
}

// BenchmarkAssignmentToRoute creates 100 Services one by one and measures,
// for each, the time from its address appearing in its status to the
// route in FRR's RIB; then creates 1,000 more at once and measures how long
// FRR takes to hold all of them. Run with -benchtime=1x.
func BenchmarkAssignmentToRoute(b *testing.B) {
	for range b.N {
		c, r := benchCluster(b)
		a := watchAssignments(b, c)
		ctx := context.Background()
		if _, err := r.WaitNeighbors(ctx, func(m map[netip.Addr]frr.NeighborStatus) bool {
			up := 0
			for _, n := range m {
				if n.State == "Established" {
					up++
				}
			}
			return up == 3
		}); err != nil {
			b.Fatal(err)
		}
		var took []time.Duration
		for i := range 100 {
			name := fmt.Sprintf("one-%03d", i)
			c.Create(b, cluster.LoadBalancer("default", name, cluster.IPv6Only))
			c.SetEndpoints(b, "default", name, cluster.Endpoint{Node: "node1", Addr: netip.MustParseAddr("2001:db8:200::20"), Ready: true})
			ip := c.WaitForIPs(b, "default", name, 1)[0]
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, err := r.WaitRoute(wctx, netip.PrefixFrom(ip, 128), func(route frr.Route, ok bool) bool { return ok })
			seen := time.Now()
			cancel()
			if err != nil {
				b.Fatalf("%s: no route: %v", ip, err)
			}
			a.mu.Lock()
			took = append(took, seen.Sub(a.at[ip]))
			a.mu.Unlock()
		}
		slices.Sort(took)
		b.ReportMetric(ms(took[len(took)/2]), "assign-to-route-p50-ms")
		b.ReportMetric(ms(took[len(took)*99/100]), "assign-to-route-p99-ms")

		const bulk = 1000
		for i := range bulk {
			name := fmt.Sprintf("bulk-%04d", i)
			c.Create(b, cluster.LoadBalancer("default", name, cluster.IPv6Only))
		}
		// One EndpointSlice per Service would be realistic but slow to
		// write here; the Services are served from node1's endpoints.
		for i := range bulk {
			c.SetEndpoints(b, "default", fmt.Sprintf("bulk-%04d", i), cluster.Endpoint{Node: "node1", Addr: netip.MustParseAddr("2001:db8:200::20"), Ready: true})
		}
		endpointsDone := time.Now()
		var lastAssigned time.Time
		cluster.Eventually(b, 2*time.Minute, "every bulk Service's address", func() error {
			a.mu.Lock()
			defer a.mu.Unlock()
			if len(a.at) < 100+bulk {
				return fmt.Errorf("%d assigned", len(a.at))
			}
			for _, t := range a.at {
				if t.After(lastAssigned) {
					lastAssigned = t
				}
			}
			return nil
		})
		rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		_, err := r.WaitRoutes(rctx, frr.IPv6, func(m map[netip.Prefix]frr.Route) bool { return len(m) >= 100+bulk })
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		// From the moment the speakers could know everything (the last
		// address assigned and the last endpoint written) to FRR holding
		// every route.
		from := lastAssigned
		if endpointsDone.After(from) {
			from = endpointsDone
		}
		b.ReportMetric(ms(time.Since(from)), "bulk1000-to-all-routes-ms")
	}
}
