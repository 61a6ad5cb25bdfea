package controller_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/kubeapi"
)

func ipv6() svcOpt {
	return func(s *corev1.Service) { s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol} }
}

func TestConcurrentCreatesGetDistinctAddressesFromTheRightPools(t *testing.T) {
	e := newEnv(t, kubeapi.Options{})
	web := pool("web", "2001:db8:300:1::/120")
	web.Spec.ServiceAllocation = &v1beta1.ServiceAllocation{
		Priority:         1,
		ServiceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"tier": "web"}}},
	}
	e.create(web)
	e.create(pool("bulk", "2001:db8:300:2::/120"))
	e.create(pool("v4", "203.0.113.0/24"))
	e.namespace("shop")
	e.startController()

	const n = 300
	kind := func(i int) string {
		switch {
		case i%3 == 0:
			return "web"
		case i%10 == 1:
			return "v4"
		default:
			return "bulk"
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var opts []svcOpt
			switch kind(i) {
			case "web":
				opts = []svcOpt{ipv6(), withLabels("tier", "web")}
			case "bulk":
				opts = []svcOpt{ipv6()}
			}
			if err := e.c.Create(context.Background(), lbService("shop", fmt.Sprintf("svc-%03d", i), opts...)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("create: %v", err)
	}

	prefixes := map[string]netip.Prefix{
		"web":  netip.MustParsePrefix("2001:db8:300:1::/120"),
		"bulk": netip.MustParsePrefix("2001:db8:300:2::/120"),
		"v4":   netip.MustParsePrefix("203.0.113.0/24"),
	}
	seen := map[netip.Addr]string{}
	for i := range n {
		name := fmt.Sprintf("svc-%03d", i)
		svc := e.waitForIPs("shop", name, 1)
		ip := ingressIPs(svc)[0]
		if other, dup := seen[ip]; dup {
			t.Fatalf("%s and %s both hold %s", other, name, ip)
		}
		seen[ip] = name
		want := kind(i)
		if !prefixes[want].Contains(ip) {
			t.Errorf("%s got %s, want an address of pool %q (%s)", name, ip, want, prefixes[want])
		}
		if got := svc.Annotations["ironlb.io/ip-allocated-from-pool"]; got != want {
			t.Errorf("%s: ironlb.io/ip-allocated-from-pool = %q, want %q", name, got, want)
		}
		if in := svc.Status.LoadBalancer.Ingress[0]; in.IPMode == nil || *in.IPMode != corev1.LoadBalancerIPModeVIP {
			t.Errorf("%s: ipMode = %v, want VIP", name, in.IPMode)
		}
	}

	// Pool status counts what was handed out.
	waitFor(t, 10*time.Second, "pool status of web", func() (bool, error) {
		var p v1beta1.IPAddressPool
		if err := e.c.Get(context.Background(), client.ObjectKey{Name: "web"}, &p); err != nil {
			return false, err
		}
		return p.Status.IPv6 != nil && p.Status.IPv6.Assigned == 100 && p.Status.IPv6.Total == 256 && p.Status.IPv6.Available == 156, nil
	})
}

func TestExhaustedPoolLeavesServicePendingWithOneEvent(t *testing.T) {
	e := newEnv(t, kubeapi.Options{})
	e.create(pool("tiny", "203.0.113.10/32"))
	e.startController()

	e.create(lbService("default", "first"))
	e.waitForIPs("default", "first", 1)
	e.create(lbService("default", "second"))

	var evs []corev1.Event
	waitFor(t, 15*time.Second, "AllocationFailed event on default/second", func() (bool, error) {
		evs = e.events("Service", "default", "second", "AllocationFailed")
		return len(evs) > 0, nil
	})
	if !strings.Contains(evs[0].Message, `"tiny"`) || !strings.Contains(evs[0].Message, "exhausted") {
		t.Fatalf("event does not name the exhausted pool: %s", evs[0].Message)
	}

	// Things that make the controller look again must not repeat the event:
	// an edit of the Service, and a change to an unrelated pool.
	svc := e.getService("default", "second")
	svc.Labels = map[string]string{"touched": "yes"}
	if err := e.c.Update(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	other := pool("other", "198.51.100.0/28")
	other.Spec.AutoAssign = ptr(false)
	e.create(other)
	time.Sleep(3 * time.Second)

	evs = e.events("Service", "default", "second", "AllocationFailed")
	if eventCount(evs) != 1 {
		t.Fatalf("want exactly one AllocationFailed event, got:%s", messages(evs))
	}
	if got := ingressIPs(e.getService("default", "second")); len(got) != 0 {
		t.Fatalf("exhausted pool still gave out %v", got)
	}
}

func TestDeletingAServiceFreesItsAddress(t *testing.T) {
	e := newEnv(t, kubeapi.Options{})
	e.create(pool("one", "203.0.113.20/32"))
	e.startController()

	e.create(lbService("default", "holder"))
	held := ingressIPs(e.waitForIPs("default", "holder", 1))[0]
	e.create(lbService("default", "waiter"))
	waitFor(t, 15*time.Second, "waiter to be reported pending", func() (bool, error) {
		return len(e.events("Service", "default", "waiter", "AllocationFailed")) > 0, nil
	})

	if err := e.c.Delete(context.Background(), e.getService("default", "holder")); err != nil {
		t.Fatal(err)
	}
	got := ingressIPs(e.waitForIPs("default", "waiter", 1))[0]
	if got != held {
		t.Fatalf("waiter got %s, want the freed %s", got, held)
	}
}

// An address freed without any Service being deleted reaches the Service
// waiting for it too: here the holder first moves to another address, then
// stops being a LoadBalancer.
func TestAServiceWaitingForAnAddressGetsItWhenTheHolderLetsGo(t *testing.T) {
	e := newEnv(t, kubeapi.Options{})
	e.create(pool("two", "203.0.113.20-203.0.113.21"))
	e.startController()

	first, second := netip.MustParseAddr("203.0.113.20"), netip.MustParseAddr("203.0.113.21")
	e.create(lbService("default", "holder", withAnnotation("ironlb.io/loadBalancerIPs", first.String())))
	e.waitForIPs("default", "holder", 1)
	for _, name := range []string{"wants-first", "wants-second"} {
		ip := first
		if name == "wants-second" {
			ip = second
		}
		e.create(lbService("default", name, withAnnotation("ironlb.io/loadBalancerIPs", ip.String())))
	}
	waitFor(t, 15*time.Second, "wants-first to be reported pending", func() (bool, error) {
		return len(e.events("Service", "default", "wants-first", "AllocationFailed")) > 0, nil
	})
	if got := ingressIPs(e.waitForIPs("default", "wants-second", 1))[0]; got != second {
		t.Fatalf("wants-second got %s", got)
	}

	// The holder moves to .21, held by wants-second: it keeps .20, nothing
	// is freed, and wants-first still waits.
	e.update("default", "holder", func(s *corev1.Service) {
		s.Annotations["ironlb.io/loadBalancerIPs"] = second.String()
	})
	waitFor(t, 15*time.Second, "holder to be refused .21", func() (bool, error) {
		return len(e.events("Service", "default", "holder", "AllocationFailed")) > 0, nil
	})
	if got := ingressIPs(e.getService("default", "wants-first")); len(got) != 0 {
		t.Fatalf("wants-first got %v while the holder kept .20", got)
	}

	// wants-second stops being a LoadBalancer: .21 is free, the holder
	// takes it and so lets go of .20, which wants-first then gets.
	e.update("default", "wants-second", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeClusterIP
	})
	waitFor(t, 30*time.Second, "holder on .21 and wants-first on .20", func() (bool, error) {
		h, w := ingressIPs(e.getService("default", "holder")), ingressIPs(e.getService("default", "wants-first"))
		return slices.Equal(h, []netip.Addr{second}) && slices.Equal(w, []netip.Addr{first}), nil
	})
}

func TestRequestingAnAddressHeldByAnotherServiceNamesTheHolder(t *testing.T) {
	e := newEnv(t, kubeapi.Options{})
	e.create(pool("p", "203.0.113.0/28"))
	e.startController()

	e.create(lbService("default", "owner", withAnnotation("ironlb.io/loadBalancerIPs", "203.0.113.5")))
	if got := ingressIPs(e.waitForIPs("default", "owner", 1))[0]; got != netip.MustParseAddr("203.0.113.5") {
		t.Fatalf("owner got %s, want the requested 203.0.113.5", got)
	}
	e.create(lbService("default", "thief", withAnnotation("ironlb.io/loadBalancerIPs", "203.0.113.5")))
	var evs []corev1.Event
	waitFor(t, 15*time.Second, "AllocationFailed on default/thief", func() (bool, error) {
		evs = e.events("Service", "default", "thief", "AllocationFailed")
		return len(evs) > 0, nil
	})
	if !strings.Contains(evs[0].Message, "default/owner") {
		t.Fatalf("event does not name the holder default/owner: %s", evs[0].Message)
	}
	if got := ingressIPs(e.getService("default", "thief")); len(got) != 0 {
		t.Fatalf("thief got %v", got)
	}
}

func TestDualStackFromOnePool(t *testing.T) {
	e := newEnv(t, kubeapi.Options{})
	e.create(pool("v4only", "198.51.100.0/28"))
	e.create(pool("dual", "203.0.113.0/28", "2001:db8:300::/124"))
	e.startController()

	e.create(lbService("default", "both", dualStack(corev1.IPFamilyPolicyRequireDualStack)))
	svc := e.waitForIPs("default", "both", 2)
	ips := ingressIPs(svc)
	if !ips[0].Is4() || !ips[1].Is6() {
		t.Fatalf("want IPv4 then IPv6, got %v", ips)
	}
	if got := svc.Annotations["ironlb.io/ip-allocated-from-pool"]; got != "dual" {
		t.Fatalf("pool %q, want dual (the only pool with both families)", got)
	}
}

func TestMetalLBAnnotationsAreHonouredWithAWarning(t *testing.T) {
	e := newEnv(t, kubeapi.Options{})
	e.create(pool("a", "203.0.113.0/28"))
	b := pool("b", "198.51.100.0/28")
	b.Spec.AutoAssign = ptr(false)
	e.create(b)
	e.startController()

	e.create(lbService("default", "migrated", withAnnotation("metallb.io/address-pool", "b")))
	svc := e.waitForIPs("default", "migrated", 1)
	if got := svc.Annotations["ironlb.io/ip-allocated-from-pool"]; got != "b" {
		t.Fatalf("pool %q, want b from metallb.io/address-pool", got)
	}
	waitFor(t, 10*time.Second, "a deprecation warning event", func() (bool, error) {
		evs := e.events("Service", "default", "migrated", "DeprecatedAnnotation")
		return len(evs) == 1 && strings.Contains(evs[0].Message, "metallb.io/address-pool"), nil
	})
}

func TestLeavingTypeLoadBalancerReleasesTheAddress(t *testing.T) {
	e := newEnv(t, kubeapi.Options{})
	e.create(pool("one", "203.0.113.30/32"))
	e.startController()

	e.create(lbService("default", "was-lb"))
	e.waitForIPs("default", "was-lb", 1)
	e.create(lbService("default", "next"))

	svc := e.getService("default", "was-lb")
	svc.Spec.Type = corev1.ServiceTypeClusterIP
	svc.Spec.AllocateLoadBalancerNodePorts = nil
	if err := e.c.Update(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	e.waitForIPs("default", "next", 1)
	waitFor(t, 10*time.Second, "was-lb's status to be cleared", func() (bool, error) {
		s := e.getService("default", "was-lb")
		_, annotated := s.Annotations["ironlb.io/ip-allocated-from-pool"]
		return len(s.Status.LoadBalancer.Ingress) == 0 && !annotated, nil
	})
}

func TestOtherLoadBalancerClassesAreLeftAlone(t *testing.T) {
	e := newEnv(t, kubeapi.Options{})
	e.create(pool("p", "203.0.113.0/28"))
	e.startController()

	e.create(lbService("default", "ours", func(s *corev1.Service) { s.Spec.LoadBalancerClass = ptr("ironlb.io/ironlb") }))
	e.create(lbService("default", "theirs", func(s *corev1.Service) { s.Spec.LoadBalancerClass = ptr("example.com/other") }))
	e.waitForIPs("default", "ours", 1)
	time.Sleep(2 * time.Second)
	if got := ingressIPs(e.getService("default", "theirs")); len(got) != 0 {
		t.Fatalf("a Service of another class got %v", got)
	}
}
