package controller_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/kubeapi"
)

// shortLease lets a restarted controller take over quickly after its
// predecessor was killed without releasing its Lease.
var shortLease = []string{"-lease-duration", "2s", "-renew-deadline", "1500ms", "-retry-period", "250ms"}

// watchAddresses watches the Services of ns until the test ends.
func watchAddresses(t *testing.T, e *env, ns string) *cluster.AddressLog {
	return cluster.WatchAddresses(t, e.api.Clientset(t), ns)
}

func TestKillingTheControllerMidwayChangesNoAddress(t *testing.T) {
	e := newEnv(t, kubeapi.Options{})
	e.create(pool("bulk", "2001:db8:300:2::/120"))
	e.create(pool("v4", "203.0.113.0/24"))
	e.namespace("apps")
	log := watchAddresses(t, e, "apps")
	ctrl := e.startController(shortLease...)

	const n = 200
	var created atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			opts := []svcOpt{ipv6()}
			if i%4 == 0 {
				opts = nil // IPv4
			}
			if err := e.c.Create(context.Background(), lbService("apps", fmt.Sprintf("s-%03d", i), opts...)); err != nil {
				t.Errorf("create: %v", err)
				return
			}
			created.Add(1)
		}
	}()

	// Kill the controller (no clean shutdown) twice while Services are still
	// being created, restarting it each time.
	for round := 1; round <= 2; round++ {
		target := int32(round * n / 3)
		waitFor(t, 60*time.Second, fmt.Sprintf("%d services created", target), func() (bool, error) {
			return created.Load() >= target, nil
		})
		ctrl.kill()
		ctrl = e.startController(shortLease...)
	}
	<-done

	final := map[netip.Addr]string{}
	for i := range n {
		name := fmt.Sprintf("s-%03d", i)
		for _, ip := range ingressIPs(e.waitForIPs("apps", name, 1)) {
			if other, dup := final[ip]; dup {
				t.Fatalf("%s and %s both hold %s", other, name, ip)
			}
			final[ip] = name
		}
	}
	// Give a late, wrong rewrite the chance to show up in the watch.
	time.Sleep(time.Second)
	rep := log.Report()
	if rep.Ended != nil {
		t.Fatalf("the watch ended early, so it did not see everything: %v", rep.Ended)
	}
	for name, sets := range rep.Changed {
		t.Errorf("%s changed address across restarts: %v", name, sets)
	}
	if !ctrl.alive() {
		t.Fatal("controller died")
	}
}

func TestRestartRewritesNoStatusAndServesNewServices(t *testing.T) {
	e := newEnv(t, kubeapi.Options{})
	e.create(pool("bulk", "2001:db8:300:2::/120"))
	e.namespace("apps")
	ctrl := e.startController(shortLease...)

	const n = 50
	for i := range n {
		e.create(lbService("apps", fmt.Sprintf("s-%02d", i), ipv6()))
	}
	versions := map[string]string{}
	for i := range n {
		s := e.waitForIPs("apps", fmt.Sprintf("s-%02d", i), 1)
		versions[s.Name] = s.ResourceVersion
	}

	ctrl.stop(t) // clean shutdown releases the Lease
	e.startController(shortLease...)
	e.create(lbService("apps", "after-restart", ipv6()))
	e.waitForIPs("apps", "after-restart", 1)
	time.Sleep(time.Second)

	var list corev1.ServiceList
	if err := e.c.List(context.Background(), &list, client.InNamespace("apps")); err != nil {
		t.Fatal(err)
	}
	for _, s := range list.Items {
		if want, ok := versions[s.Name]; ok && s.ResourceVersion != want {
			t.Errorf("%s was rewritten after the restart (resourceVersion %s -> %s)", s.Name, want, s.ResourceVersion)
		}
	}
}
