package main

import (
	"context"
	"maps"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/e2e/kubeapi"
)

// countingClient counts the watch's reads of the cache.
type countingClient struct {
	client.Client
	gets, lists atomic.Int64
}

func (c *countingClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.gets.Add(1)
	return c.Client.Get(ctx, key, obj, opts...)
}

func (c *countingClient) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	c.lists.Add(1)
	return c.Client.List(ctx, list, opts...)
}

// peerRecorder keeps the last peer set handed to the liveness layer.
type peerRecorder struct {
	mu   sync.Mutex
	last map[string]netip.AddrPort
}

func (r *peerRecorder) SetPeers(p map[string]netip.AddrPort) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = maps.Clone(p)
	return nil
}

func (r *peerRecorder) peers() map[string]netip.AddrPort {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.last)
}

// Against a real API server: the peer list follows Nodes coming, changing
// address and going, and each change reads only the Node it concerns (one
// Get from the cache, never a List); a heartbeat or a label change reads
// nothing.
func TestPeerWatchReadsOnlyChangedNodes(t *testing.T) {
	api := kubeapi.Start(t, kubeapi.Options{SkipCRDs: true})
	c := api.Client(t, nil)
	ctx := context.Background()
	node := func(name string, addrs ...string) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"zone": "a"}}}
		for _, a := range addrs {
			n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: a})
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
		return n
	}
	for _, n := range []*corev1.Node{node("n1", "192.0.2.1"), node("n2", "192.0.2.2"), node("n3", "2001:db8::3")} {
		if err := c.Create(ctx, n); err != nil {
			t.Fatal(err)
		}
	}

	mgr := newTestManager(t, api)
	cc := &countingClient{Client: mgr.GetClient()}
	rec := &peerRecorder{}
	if err := (&peerWatch{client: cc, members: rec, port: 7946, family4: true}).setup(mgr); err != nil {
		t.Fatal(err)
	}
	kubeapi.StartManager(t, mgr)

	ap := func(s string) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr(s), 7946) }
	waitPeers := func(step string, want map[string]netip.AddrPort, gets int64) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !maps.Equal(rec.peers(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: peers %v, want %v", step, rec.peers(), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if g, l := cc.gets.Load(), cc.lists.Load(); g != gets || l != 0 {
			t.Fatalf("%s: %d Node reads and %d lists so far, want %d and none", step, g, l, gets)
		}
	}
	// Each Node read once; n3 has no IPv4 InternalIP.
	waitPeers("start", map[string]netip.AddrPort{"n1": ap("192.0.2.1"), "n2": ap("192.0.2.2")}, 3)

	update := func(name string, change func(*corev1.Node)) {
		t.Helper()
		var n corev1.Node
		if err := c.Get(ctx, client.ObjectKey{Name: name}, &n); err != nil {
			t.Fatal(err)
		}
		change(&n)
		if err := c.Update(ctx, &n); err != nil {
			t.Fatal(err)
		}
		change(&n) // the update answered with the status as it was
		if err := c.Status().Update(ctx, &n); err != nil {
			t.Fatal(err)
		}
	}
	// A heartbeat and a relabelling read nothing; the address change that
	// follows them reads n2 alone.
	update("n1", func(n *corev1.Node) { n.Status.Conditions[0].LastHeartbeatTime = metav1.NewTime(time.Unix(100, 0)) })
	update("n2", func(n *corev1.Node) { n.Labels["rack"] = "r1" })
	update("n2", func(n *corev1.Node) { n.Status.Addresses[0].Address = "192.0.2.22" })
	waitPeers("n2 moved", map[string]netip.AddrPort{"n1": ap("192.0.2.1"), "n2": ap("192.0.2.22")}, 4)

	if err := c.Delete(ctx, node("n1")); err != nil {
		t.Fatal(err)
	}
	waitPeers("n1 deleted", map[string]netip.AddrPort{"n2": ap("192.0.2.22")}, 5)
}

func TestPeerAddr(t *testing.T) {
	n := &corev1.Node{Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
		{Type: corev1.NodeExternalIP, Address: "198.51.100.1"},
		{Type: corev1.NodeInternalIP, Address: "not-an-ip"},
		{Type: corev1.NodeInternalIP, Address: "2001:db8::1"},
		{Type: corev1.NodeInternalIP, Address: "192.0.2.1"},
		{Type: corev1.NodeInternalIP, Address: "192.0.2.2"},
	}}}
	for _, tc := range []struct {
		family4 bool
		want    string
	}{{true, "192.0.2.1:7946"}, {false, "[2001:db8::1]:7946"}} {
		got, ok := peerAddr(n, tc.family4, 7946)
		if !ok || got.String() != tc.want {
			t.Errorf("family4=%v: %v %v, want %s (the first InternalIP of the family)", tc.family4, got, ok, tc.want)
		}
	}
	if got, ok := peerAddr(&corev1.Node{}, true, 7946); ok {
		t.Errorf("a Node without addresses: %v, want none", got)
	}
}
