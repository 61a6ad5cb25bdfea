package datapath_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	client2 "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// The operator's scenario of issue 11: a live Service is patched with
// spec.loadBalancerSourceRanges; from then on the client outside the range
// is dropped and the one inside is still served, by the speakers' own
// datapath (ipMode Proxy, so kube-proxy is not involved). Removing the
// ranges admits everyone again.
func TestPatchedSourceRangesDropClientsOutside(t *testing.T) {
	c := setupClients(t, 2)
	inside, outside := c.Lab.Clients[0], c.Lab.Clients[1]
	pod := c.StartPod(t, "node1", "web-a")
	c.Create(t, cluster.LoadBalancer("default", "web"))
	c.SetEndpoints(t, "default", "web", cluster.Endpoints(pod)...)
	vip := c.WaitForIPs(t, "default", "web", 1)[0]
	c.WaitForAnnouncer(t, "default", "web", vip, func(string) bool { return true })
	for _, cl := range c.Lab.Clients {
		cluster.Eventually(t, 30*time.Second, "a request from "+cl.Name, func() error {
			_, _, err := ask(context.Background(), cl, vip)
			return err
		})
	}

	patch := func(ranges []string) time.Time {
		t.Helper()
		svc := &corev1.Service{}
		if err := c.Client.Get(context.Background(), client2.ObjectKey{Namespace: "default", Name: "web"}, svc); err != nil {
			t.Fatal(err)
		}
		orig := svc.DeepCopy()
		svc.Spec.LoadBalancerSourceRanges = ranges
		if err := c.Client.Patch(context.Background(), svc, client2.MergeFrom(orig)); err != nil {
			t.Fatal(err)
		}
		return time.Now()
	}
	// served: nil when a pod answered the client, else why not.
	served := func(cl *vlan.Host) error {
		_, _, err := ask(context.Background(), cl, vip)
		return err
	}
	// Before any range: both clients are served, connection after
	// connection (the control for what follows).
	for i := range 5 {
		for _, cl := range c.Lab.Clients {
			if err := served(cl); err != nil {
				t.Fatalf("before any range, connection %d from %s: %v", i, cl.Name, err)
			}
		}
	}
	// The first connection attempt that is dropped says how soon the
	// ranges took effect (logged: speed targets belong in benchmarks).
	start := patch([]string{netip.PrefixFrom(inside.IPv4.Addr(), 32).String()})
	for {
		began := time.Since(start)
		if err := served(outside); err != nil {
			t.Logf("the first dropped connection began %v after the patch: %v", began.Round(time.Millisecond), err)
			break
		}
		if began > 10*time.Second {
			t.Fatalf("%s still served 10 s after the patch", outside.Name)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Dropped, not refused: the connection attempt times out.
	if err := served(outside); err == nil || !isTimeout(err) {
		t.Errorf("outside client: %v, want a timeout (dropped)", err)
	}
	if err := served(inside); err != nil {
		t.Errorf("inside client: %v, want served", err)
	}

	patch(nil)
	cluster.Eventually(t, 10*time.Second, "the outside client to be served again", func() error { return served(outside) })
	if err := served(inside); err != nil {
		t.Errorf("inside client after the ranges were lifted: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}
