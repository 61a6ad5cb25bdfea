package controller_test

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/kubeapi"
)

func (e *env) poolCondition(name string) (string, string) {
	var p v1beta1.IPAddressPool
	if err := e.c.Get(context.Background(), client.ObjectKey{Name: name}, &p); err != nil {
		return "", err.Error()
	}
	c := meta.FindStatusCondition(p.Status.Conditions, "Valid")
	if c == nil {
		return "", ""
	}
	return string(c.Status), c.Message
}

func TestInvalidPoolIsReportedInStatusWithoutAWebhook(t *testing.T) {
	e := newEnv(t, kubeapi.Options{})
	e.create(pool("good", "203.0.113.0/28"))
	e.startController()
	e.create(lbService("default", "existing"))
	before := ingressIPs(e.waitForIPs("default", "existing", 1))

	e.create(pool("reversed", "203.0.113.100-203.0.113.90"))
	var msg string
	waitFor(t, 15*time.Second, `Valid=False on pool "reversed"`, func() (bool, error) {
		var status string
		status, msg = e.poolCondition("reversed")
		return status == "False", nil
	})
	if !strings.Contains(msg, "spec.addresses[0]") {
		t.Fatalf("condition message does not name the field: %q", msg)
	}
	if status, _ := e.poolCondition("good"); status != "True" {
		t.Fatalf("good pool Valid=%q", status)
	}
	// The valid objects keep working.
	if got := ingressIPs(e.getService("default", "existing")); !slices.Equal(got, before) {
		t.Fatalf("an invalid pool moved an existing address: %v -> %v", before, got)
	}
	e.create(lbService("default", "newcomer"))
	e.waitForIPs("default", "newcomer", 1)
}

func TestBadInputNeverCrashesAndNeverMovesAnAddress(t *testing.T) {
	e := newEnv(t, kubeapi.Options{})
	e.create(pool("p", "203.0.113.0/28"))
	ctrl := e.startController()
	e.create(lbService("default", "stable"))
	want := ingressIPs(e.waitForIPs("default", "stable", 1))

	// A Service asking for garbage is told so, by annotation name.
	e.create(lbService("default", "garbage", withAnnotation("ironlb.io/loadBalancerIPs", "203.0.113.300,zz")))
	waitFor(t, 15*time.Second, "AllocationFailed on default/garbage", func() (bool, error) {
		evs := e.events("Service", "default", "garbage", "AllocationFailed")
		return len(evs) > 0 && strings.Contains(evs[0].Message, "ironlb.io/loadBalancerIPs"), nil
	})

	// An existing Service whose annotations turn to garbage keeps its address.
	s := e.getService("default", "stable")
	s.Annotations = map[string]string{"ironlb.io/loadBalancerIPs": "not-an-ip", "ironlb.io/ip-allocated-from-pool": "p"}
	if err := e.c.Update(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "AllocationFailed on default/stable", func() (bool, error) {
		return len(e.events("Service", "default", "stable", "AllocationFailed")) > 0, nil
	})

	// A pool edit that overlaps another pool is rejected: the pool's
	// last valid spec stays in force.
	e.create(pool("q", "198.51.100.0/28"))
	// q must be in force before p's edit: two changes compiled in one pass
	// are ordered by age, and the older p would win.
	waitFor(t, 15*time.Second, `Valid=True on pool "q"`, func() (bool, error) {
		status, _ := e.poolCondition("q")
		return status == "True", nil
	})
	var p v1beta1.IPAddressPool
	if err := e.c.Get(context.Background(), client.ObjectKey{Name: "p"}, &p); err != nil {
		t.Fatal(err)
	}
	p.Spec.Addresses = []string{"198.51.100.8/29"} // overlaps q, and drops stable's address
	if err := e.c.Update(context.Background(), &p); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, `Valid=False on pool "p"`, func() (bool, error) {
		status, msg := e.poolCondition("p")
		return status == "False" && strings.Contains(msg, "overlap"), nil
	})
	time.Sleep(time.Second)
	if got := ingressIPs(e.getService("default", "stable")); !slices.Equal(got, want) {
		t.Fatalf("bad input moved an existing address: %v -> %v", want, got)
	}
	if !ctrl.alive() {
		t.Fatal("the controller died on bad input")
	}
}

func TestShrinkingAPoolMovesOnlyTheServicesWhoseAddressLeft(t *testing.T) {
	e := newEnv(t, kubeapi.Options{})
	e.create(pool("p", "203.0.113.0/29"))
	e.startController()
	names := []string{"a", "b", "c"}
	got := map[string]netip.Addr{}
	for _, n := range names {
		e.create(lbService("default", n))
		got[n] = ingressIPs(e.waitForIPs("default", n, 1))[0]
	}
	var leaver string
	for n, ip := range got {
		if ip == netip.MustParseAddr("203.0.113.0") {
			leaver = n
		}
	}
	if leaver == "" {
		t.Fatalf("no service got the pool's first address: %v", got)
	}

	var p v1beta1.IPAddressPool
	if err := e.c.Get(context.Background(), client.ObjectKey{Name: "p"}, &p); err != nil {
		t.Fatal(err)
	}
	p.Spec.Addresses = []string{"203.0.113.1-203.0.113.7"}
	if err := e.c.Update(context.Background(), &p); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, leaver+" to get a new address", func() (bool, error) {
		ips := ingressIPs(e.getService("default", leaver))
		return len(ips) == 1 && ips[0] != got[leaver], nil
	})
	waitFor(t, 10*time.Second, "an IPReleased event naming the old address", func() (bool, error) {
		evs := e.events("Service", "default", leaver, "IPReleased")
		return len(evs) > 0 && strings.Contains(evs[0].Message, "203.0.113.0"), nil
	})
	for _, n := range names {
		if n == leaver {
			continue
		}
		if ips := ingressIPs(e.getService("default", n)); len(ips) != 1 || ips[0] != got[n] {
			t.Errorf("%s moved from %s to %v though its address stayed in the pool", n, got[n], ips)
		}
	}
}
