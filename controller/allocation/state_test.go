package allocation

import (
	"net/netip"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/ipam"
)

func compile(t *testing.T, pools map[string][]string) *config.Config {
	t.Helper()
	var r config.Resources
	for name, addrs := range pools {
		r.Pools = append(r.Pools, v1beta1.IPAddressPool{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       v1beta1.IPAddressPoolSpec{Addresses: addrs},
		})
	}
	cfg, err := config.Compile(r)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return cfg
}

func v4req(name string) ipam.Request {
	return ipam.Request{Service: ipam.ServiceKey{Namespace: "ns", Name: name}, Families: []ipam.Family{ipam.IPv4}}
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestRestoreOlderKeepsDuplicate(t *testing.T) {
	s := NewState()
	if s.Ready() {
		t.Fatal("ready before Restore")
	}
	ip := addr("203.0.113.1")
	lost := s.Restore(compile(t, map[string][]string{"a": {"203.0.113.0/30"}}), []Restored{
		{Request: v4req("old"), IPs: []netip.Addr{ip}},
		{Request: v4req("young"), IPs: []netip.Addr{ip}},
		{Request: v4req("outside"), IPs: []netip.Addr{addr("198.51.100.9")}},
	})
	if !s.Ready() {
		t.Fatal("not ready after Restore")
	}
	if _, ok := lost[v4req("old").Service]; ok {
		t.Fatal("the oldest claimant lost its address")
	}
	for _, n := range []string{"young", "outside"} {
		if _, ok := lost[v4req(n).Service]; !ok {
			t.Fatalf("%s kept an address it cannot have; lost = %v", n, lost)
		}
	}
	// Reconciling the young Service must not take the address from the old.
	d := s.Allocate(v4req("young"), []netip.Addr{ip})
	if d.Err != nil || len(d.Result.IPs) != 1 || d.Result.IPs[0] == ip {
		t.Fatalf("young got %+v, want a fresh address", d)
	}
	if d.Dropped == nil {
		t.Fatal("Dropped does not say why the status address was not kept")
	}
}

func TestAllocateReportsEachFailureOnce(t *testing.T) {
	s := NewState()
	s.Restore(compile(t, map[string][]string{"tiny": {"203.0.113.8/32"}}), nil)
	if d := s.Allocate(v4req("a"), nil); d.Err != nil {
		t.Fatalf("first allocation failed: %v", d.Err)
	}
	first := s.Allocate(v4req("b"), nil)
	if first.Err == nil || !first.Report {
		t.Fatalf("exhaustion not reported: %+v", first)
	}
	again := s.Allocate(v4req("b"), nil)
	if again.Err == nil || again.Report {
		t.Fatalf("same failure reported twice: %+v", again)
	}
	if got := s.PendingIn("ns"); !slices.Equal(got, []ipam.ServiceKey{v4req("b").Service}) {
		t.Fatalf("pending = %v", got)
	}
	// Growing the pool requeues exactly the pending Service.
	affected := s.SetConfig(compile(t, map[string][]string{"tiny": {"203.0.113.8/31"}}))
	if !slices.Equal(affected, []ipam.ServiceKey{v4req("b").Service}) {
		t.Fatalf("SetConfig affected %v, want only the pending service", affected)
	}
	if d := s.Allocate(v4req("b"), nil); d.Err != nil || d.Result.IPs[0] != addr("203.0.113.9") {
		t.Fatalf("after growth got %+v", d)
	}
	if s.PendingCount() != 0 {
		t.Fatalf("pending count %d after success", s.PendingCount())
	}
}

func TestFailedReRequestKeepsAddress(t *testing.T) {
	s := NewState()
	s.Restore(compile(t, map[string][]string{"p": {"203.0.113.0/29"}}), nil)
	a := s.Allocate(v4req("a"), nil)
	b := s.Allocate(v4req("b"), nil)
	want := b.Result.IPs
	req := v4req("b")
	req.RequestedIPs = a.Result.IPs // taken by a
	d := s.Allocate(req, want)
	if d.Err == nil {
		t.Fatal("requesting a held address succeeded")
	}
	if !slices.Equal(d.Result.IPs, want) {
		t.Fatalf("failed re-request moved the address: %v -> %v", want, d.Result.IPs)
	}
}

func TestSetConfigShrinkReportsOnlyLost(t *testing.T) {
	s := NewState()
	s.Restore(compile(t, map[string][]string{"p": {"203.0.113.0/29"}}), nil)
	first := s.Allocate(v4req("first"), nil)   // 203.0.113.0
	second := s.Allocate(v4req("second"), nil) // 203.0.113.1
	if first.Err != nil || second.Err != nil {
		t.Fatal(first.Err, second.Err)
	}
	affected := s.SetConfig(compile(t, map[string][]string{"p": {"203.0.113.1-203.0.113.7"}}))
	if !slices.Equal(affected, []ipam.ServiceKey{v4req("first").Service}) {
		t.Fatalf("affected = %v, want only the service whose address left", affected)
	}
	if d := s.Allocate(v4req("second"), second.Result.IPs); !slices.Equal(d.Result.IPs, second.Result.IPs) {
		t.Fatalf("unaffected service moved: %v -> %v", second.Result.IPs, d.Result.IPs)
	}
	dirty := s.TakeDirtyPools()
	if !slices.Contains(dirty, "p") {
		t.Fatalf("pool not marked dirty: %v", dirty)
	}
	if again := s.TakeDirtyPools(); len(again) != 0 {
		t.Fatalf("dirty pools not cleared: %v", again)
	}
}

func TestFreeingAnAddressRetriesTheWaiting(t *testing.T) {
	s := NewState()
	s.Restore(compile(t, map[string][]string{"p": {"203.0.113.1-203.0.113.2"}}), nil)
	one, two := addr("203.0.113.1"), addr("203.0.113.2")
	wants := func(name string, ip netip.Addr) ipam.Request {
		r := v4req(name)
		r.RequestedIPs = []netip.Addr{ip}
		return r
	}
	keys := func(names ...string) []ipam.ServiceKey {
		var out []ipam.ServiceKey
		for _, n := range names {
			out = append(out, v4req(n).Service)
		}
		return out
	}
	sorted := func(k []ipam.ServiceKey) []ipam.ServiceKey {
		return slices.SortedFunc(slices.Values(k), ipam.ServiceKey.Compare)
	}

	if d := s.Allocate(wants("holder", one), nil); d.Err != nil || d.Retry != nil {
		t.Fatalf("holder: %+v", d)
	}
	if d := s.Allocate(wants("other", two), nil); d.Err != nil || d.Retry != nil {
		t.Fatalf("other: %+v", d)
	}
	if d := s.Allocate(wants("waiter", one), nil); d.Err == nil || d.Retry != nil {
		t.Fatalf("waiter got .1 or retried others: %+v", d)
	}
	// A failed re-request keeps the address: nothing freed, nothing retried.
	if d := s.Allocate(wants("holder", two), []netip.Addr{one}); d.Err == nil || d.Retry != nil {
		t.Fatalf("holder asking for the taken .2: %+v", d)
	}
	// Releasing other frees .2; both waiting Services may want it.
	if held, retry := s.Release(v4req("other").Service); !slices.Equal(held.IPs, []netip.Addr{two}) ||
		!slices.Equal(sorted(retry), keys("holder", "waiter")) {
		t.Fatalf("release other: held %v, retry %v", held.IPs, retry)
	}
	// The holder moves to .2 and so frees .1: the waiter is retried.
	if d := s.Allocate(wants("holder", two), []netip.Addr{one}); d.Err != nil || !slices.Equal(d.Retry, keys("waiter")) {
		t.Fatalf("holder moving to .2: %+v", d)
	}
	if d := s.Allocate(wants("waiter", one), nil); d.Err != nil || !slices.Equal(d.Result.IPs, []netip.Addr{one}) {
		t.Fatalf("waiter after .1 was freed: %+v", d)
	}
	// Releasing a Service that held nothing retries nobody.
	if _, retry := s.Release(v4req("never").Service); retry != nil {
		t.Fatalf("release of nothing retried %v", retry)
	}
}
