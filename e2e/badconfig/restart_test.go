package badconfig_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
)

// badObject is an object the API server accepts but IronLB must set
// aside, and the field its status must name.
type badObject struct {
	obj   client.Object
	field string
}

// newBadObjects are invalid objects of each kind that can get past the
// API server's schema (this cluster runs without the webhook, as a cluster
// where it was bypassed or never installed). Every BFDProfile field is
// range-checked by the CRD schema, so no invalid BFDProfile can exist.
func newBadObjects(router netip.Addr) []badObject {
	return []badObject{
		// Overlaps both pools in force: the newer pool loses.
		{cluster.Pool("overlap", "203.0.113.0/24"), "spec.addresses[0]"},
		{&v1beta1.L2Advertisement{ObjectMeta: metav1.ObjectMeta{Name: "bad-iface"},
			Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"lan"}, Interfaces: []string{"eth0/1"}}}, "spec.interfaces[0]"},
		{&v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: "bad-community"},
			Spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"bgp"}, Communities: []string{"65000:99999999"}}}, "spec.communities[0]"},
		{&v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: "short-hold"},
			Spec: v1beta1.BGPPeerSpec{MyASN: cluster.ClusterASN, ASN: cluster.RouterASN, Address: "192.0.2.250", HoldTime: &metav1.Duration{Duration: time.Second}}}, "spec.holdTime"},
		{&v1beta1.Community{ObjectMeta: metav1.ObjectMeta{Name: "garbage"},
			Spec: v1beta1.CommunitySpec{Communities: []v1beta1.CommunityAlias{{Name: "junk", Value: "1:2:3:4"}}}}, "spec.communities[0].value"},
	}
}

// TestBadObjectsChangeNothingAcrossRestarts puts one invalid object of each
// kind next to the running configuration, then edits running objects into
// invalid ones, then restarts the controller and every speaker one by one
// (a rollout) under steady traffic to every VIP: no address, announcement
// or session of the valid objects changes, every VIP keeps answering, a new
// Service still gets an address, and the statuses say which object is
// invalid and why.
func TestBadObjectsChangeNothingAcrossRestarts(t *testing.T) {
	s := startSystem(t)
	c := s.C
	traffic := cluster.StartTraffic(t, c.Lab.Clients[0], 15*time.Millisecond, time.Second, s.AllVIPs()...)
	// Sessions and routes of every node first: the snapshot is the
	// baseline.
	s.WaitSessions(t)
	s.WaitBGPRoutes(t)
	before := s.Snapshot(t, "lan", "bgp")

	// 1. New invalid objects: each is set aside on its own.
	bad := newBadObjects(c.Lab.Router.IPv4.Addr())
	for _, b := range bad {
		c.Create(t, b.obj)
	}
	for _, b := range bad {
		waitValid(t, s, b.obj, false, b.field)
	}
	waitValid(t, s, named(&v1beta1.IPAddressPool{}, "lan"), true, "")
	waitValid(t, s, named(&v1beta1.IPAddressPool{}, "bgp"), true, "")
	waitValid(t, s, named(&v1beta1.BGPPeer{}, "tor"), true, "")
	if diffs := cluster.SameNetwork(before, s.Snapshot(t, "lan", "bgp"), true, false); len(diffs) > 0 {
		t.Fatalf("new invalid objects changed the network:\n%v", diffs)
	}

	// 2. Running objects edited into invalid ones keep their last valid
	// spec: the pool "lan" made to overlap "bgp", the BGP advertisement
	// pointed at a pool that does not exist, the peer "tor" given a
	// hold time BGP does not allow.
	edit(t, c, named(&v1beta1.IPAddressPool{}, "lan"), func(p *v1beta1.IPAddressPool) {
		p.Spec.Addresses = append(p.Spec.Addresses, "203.0.113.128/26")
	})
	edit(t, c, named(&v1beta1.BGPAdvertisement{}, "bgp"), func(a *v1beta1.BGPAdvertisement) {
		a.Spec.IPAddressPools = []string{"no-such-pool"}
	})
	edit(t, c, named(&v1beta1.BGPPeer{}, "tor"), func(p *v1beta1.BGPPeer) {
		p.Spec.HoldTime = &metav1.Duration{Duration: 2 * time.Second}
	})
	edited := []badObject{
		{named(&v1beta1.IPAddressPool{}, "lan"), "spec.addresses[2]"},
		{named(&v1beta1.BGPAdvertisement{}, "bgp"), "spec.ipAddressPools[0]"},
		{named(&v1beta1.BGPPeer{}, "tor"), "spec.holdTime"},
	}
	for _, b := range edited {
		waitValid(t, s, b.obj, false, b.field)
	}
	if diffs := cluster.SameNetwork(before, s.Snapshot(t, "lan", "bgp"), true, false); len(diffs) > 0 {
		t.Fatalf("edits into invalid objects changed the network:\n%v", diffs)
	}

	// 3. Restart everything with the bad objects present: the controller
	// killed, then every speaker stopped and started in turn.
	restartsAt := traffic.Snapshot()
	c.Controller().Kill()
	if err := c.StartController(); err != nil {
		t.Fatal(err)
	}
	// The restarted speakers must peer again from the valid objects (and
	// the last valid spec of "tor").
	s.RollingRestart(t)
	s.WaitAnnounced(t, before)

	// A new Service still gets an address from a valid pool.
	c.Create(t, cluster.LoadBalancer("default", "newcomer", func(svc *corev1.Service) {
		svc.Annotations = map[string]string{"ironlb.io/address-pool": "bgp"}
	}))
	ip := c.WaitForIPs(t, "default", "newcomer", 1)[0]
	if !netip.MustParsePrefix(cluster.BGPv4).Contains(ip) {
		t.Errorf("newcomer got %s, outside pool bgp %s", ip, cluster.BGPv4)
	}

	// Let traffic run a little longer on the settled system.
	settled := traffic.Snapshot()
	time.Sleep(2 * time.Second)
	end := traffic.Snapshot()
	traffic.Stop()

	after := s.Snapshot(t, "lan", "bgp")
	if diffs := cluster.SameNetwork(before, after, true, true); len(diffs) > 0 {
		t.Errorf("after the restarts the network differs:\n%v", diffs)
	}
	for _, b := range append(bad, edited...) {
		waitValid(t, s, b.obj, false, b.field)
	}
	restarts := 1 + len(c.Lab.Nodes)
	for vip, n := range cluster.Since(restartsAt, end) {
		t.Logf("%s: %d requests during and after %d restarts, %d failed (last error: %v)", vip, n.Sent, restarts, n.Failed, n.LastError)
		if n.Sent < 100 {
			t.Errorf("%s: only %d requests: the traffic did not run", vip, n.Sent)
		}
		// A graceful hand-off may cost one request per speaker restart;
		// anything more means a VIP went down.
		if n.Failed > len(c.Lab.Nodes) {
			t.Errorf("%s: %d requests failed across the restarts (at most %d allowed)", vip, n.Failed, len(c.Lab.Nodes))
		}
	}
	for vip, n := range cluster.Since(settled, end) {
		if n.Failed > 0 {
			t.Errorf("%s: %d of %d requests failed once everything had restarted: %v", vip, n.Failed, n.Sent, n.LastError)
		}
	}
}

func named[T client.Object](obj T, name string) T {
	obj.SetName(name)
	return obj
}

// edit reads obj, changes it and writes it back.
func edit[T client.Object](t *testing.T, c *cluster.Cluster, obj T, change func(T)) {
	t.Helper()
	if err := c.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	change(obj)
	if err := c.Client.Update(context.Background(), obj); err != nil {
		t.Fatalf("update %s: %v", obj.GetName(), err)
	}
}
