package reach_test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/frr"
	"github.com/ironlb/ironlb/ironlbctl/snapshot"
	"github.com/ironlb/ironlb/ironlbctl/status"
	"github.com/ironlb/ironlb/ironlbctl/why"
	"github.com/ironlb/ironlb/speaker/l2sync"
)

// Addresses advertised only over BGP are checked by every node that
// advertises them, and a node where one does not answer says so in the
// Service IP's ServiceBGPStatus (its own entry), an event, and `ironlbctl
// status` / `why`, within 10 s; the entry goes when it answers again.
// FRR peers with the three nodes; the nftables datapath serves the pods.
func TestBGPAnnouncedButNotAnswering(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Router: true, Datapath: "nftables", ControllerArgs: []string{"-ip-mode", "Proxy"}})
	ctx := context.Background()
	rt := c.Lab.Router
	var neighbors []frr.Neighbor
	for _, n := range c.Lab.Nodes {
		neighbors = append(neighbors, frr.Neighbor{Address: n.IPv4.Addr(), ASN: cluster.ClusterASN})
		// A node connects to the VIP from its own network namespace: like
		// a real node it needs a route covering the address (its default
		// route), or its kernel refuses the connection before the
		// datapath sees it.
		if out, err := n.Exec(ctx, "ip", "route", "add", "default", "via", rt.IPv4.Addr().String()); err != nil {
			t.Fatalf("%s default route: %v: %s", n.Name, err, out)
		}
	}
	r := frr.New(t, rt, frr.Options{ASN: cluster.RouterASN, Neighbors: neighbors, MaximumPaths: 8})
	c.Create(t,
		cluster.Pool("bgp", cluster.BGPv4),
		&v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: "bgp"}, Spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"bgp"}}},
		cluster.RouterPeer("tor", rt.IPv4.Addr(), ""),
	)
	// One pod per node, each stoppable.
	var pods []*cluster.Pod
	stop := map[string]context.CancelFunc{}
	for _, n := range c.Lab.Nodes {
		podCtx, cancel := context.WithCancel(ctx)
		t.Cleanup(cancel)
		p, err := c.StartPodProcess(podCtx, n.Name, "web-"+n.Name)
		if err != nil {
			t.Fatal(err)
		}
		pods, stop[n.Name] = append(pods, p), cancel
	}
	// "local" (externalTrafficPolicy Local) is advertised by every node,
	// each serving it from its own pod; "web" (Cluster) by every node,
	// served by all pods.
	c.Create(t, cluster.LoadBalancer("default", "local", cluster.Local), cluster.LoadBalancer("default", "web"))
	c.SetEndpoints(t, "default", "local", cluster.Endpoints(pods...)...)
	c.SetEndpoints(t, "default", "web", cluster.Endpoints(pods...)...)
	vips := map[string]netip.Addr{}
	for _, svc := range []string{"local", "web"} {
		vips[svc] = c.WaitForIPs(t, "default", svc, 1)[0]
		waitRoute(t, r, vips[svc], c.Lab.Nodes[0].IPv4.Addr(), c.Lab.Nodes[1].IPv4.Addr(), c.Lab.Nodes[2].IPv4.Addr())
	}
	// Every node answers: no node writes anything. (Checked with the
	// positive one below: node2's entry does appear once it fails.)
	time.Sleep(3 * time.Second)
	for _, svc := range []string{"local", "web"} {
		if nodes := notAnsweringOn(t, c, svc, vips[svc]); nodes != nil {
			t.Fatalf("%s: reported not answering on %v while every node answers", svc, nodes)
		}
	}
	checkCtl(t, c, "local", vips["local"], "-", why.Announced, "advertised over BGP")

	top := t
	t.Run("server stopped on one node", func(t *testing.T) {
		node := "node2"
		broken := time.Now()
		stop[node]() // the pod stays Ready in its EndpointSlice; its server is gone
		took := waitNotAnswering(t, c, "local", vips["local"], []string{node}, "tcp/80: connection refused")
		t.Logf("server stopped on %s: reported after %v", node, took.Round(time.Millisecond))
		waitServiceEvent(t, c, "local", "VIPNotAnswering", "tcp/80: connection refused", broken)
		checkCtl(t, c, "local", vips["local"], "NO", why.NotAnswering, "does not answer on nodes "+node)
		// The other nodes serve "local" from their own pods, and "web"
		// from any pod: nobody else reports.
		if nodes := notAnsweringOn(t, c, "web", vips["web"]); nodes != nil {
			t.Errorf("web: reported not answering on %v", nodes)
		}

		pod := pods[slices.IndexFunc(pods, func(p *cluster.Pod) bool { return p.Node == node })]
		restored := serveAgain(t, top, pod)
		took = waitNotAnswering(t, c, "local", vips["local"], nil, "")
		t.Logf("server back on %s: cleared after %v", node, took.Round(time.Millisecond))
		waitServiceEvent(t, c, "local", "VIPAnswering", "answers on tcp/80", restored)
		checkCtl(t, c, "local", vips["local"], "-", why.Announced, "advertised over BGP")
	})

	t.Run("foreign firewall rule on one node", func(t *testing.T) {
		// A table IronLB does not own rejects the VIP's port on node1:
		// the datapath's rules are intact (drift repair has nothing to
		// do), only the check finds it.
		node := c.Lab.Nodes[0]
		broken := time.Now()
		unblock := blockPort(t, node, vips["web"], 80)
		took := waitNotAnswering(t, c, "web", vips["web"], []string{node.Name}, "tcp/80: connection refused")
		t.Logf("foreign firewall rule on %s: reported after %v", node.Name, took.Round(time.Millisecond))
		waitServiceEvent(t, c, "web", "VIPNotAnswering", "connection refused", broken)
		checkCtl(t, c, "web", vips["web"], "NO", why.NotAnswering, "does not answer on nodes "+node.Name)

		unblock()
		took = waitNotAnswering(t, c, "web", vips["web"], nil, "")
		t.Logf("foreign firewall rule removed on %s: cleared after %v", node.Name, took.Round(time.Millisecond))
		checkCtl(t, c, "web", vips["web"], "-", why.Announced, "advertised over BGP")
	})

	t.Run("node dies while not answering", func(t *testing.T) {
		node := "node3"
		stop[node]()
		waitNotAnswering(t, c, "local", vips["local"], []string{node}, "tcp/80: connection refused")
		// Its speaker dies with the entry in place; the live speakers
		// see it go (liveness), and the status writer drops its entry.
		died := time.Now()
		c.Speaker(node).Kill()
		cluster.Eventually(t, 30*time.Second, node+"'s entry dropped", func() error {
			if nodes := notAnsweringOn(t, c, "local", vips["local"]); nodes != nil {
				return fmt.Errorf("still not answering on %v", nodes)
			}
			return nil
		})
		t.Logf("speaker of %s killed: its entry dropped after %v", node, time.Since(died).Round(time.Millisecond))
	})
}

// waitRoute waits until FRR has the VIP with these next hops.
func waitRoute(t *testing.T, r *frr.Router, vip netip.Addr, hops ...netip.Addr) {
	t.Helper()
	slices.SortFunc(hops, netip.Addr.Compare)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := r.WaitRoute(ctx, netip.PrefixFrom(vip, 32), func(route frr.Route, ok bool) bool {
		return ok && slices.Equal(route.NextHops(), hops)
	}); err != nil {
		t.Fatalf("route %s via %v: %v", vip, hops, err)
	}
}

// notAnsweringOn reads the ServiceBGPStatus of svc's vip: the nodes it
// lists (nil: no object).
func notAnsweringOn(t *testing.T, c *cluster.Cluster, svc string, vip netip.Addr) []string {
	t.Helper()
	var st v1beta1.ServiceBGPStatus
	err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: l2sync.StatusName(svc, vip)}, &st)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	nodes := []string{}
	for _, e := range st.Status.NotAnswering {
		nodes = append(nodes, e.Node)
	}
	return nodes
}

// waitNotAnswering waits until the ServiceBGPStatus of svc's vip lists
// exactly nodes, each entry's message containing msg (nodes nil: the
// object is gone), and returns how long that took.
func waitNotAnswering(t *testing.T, c *cluster.Cluster, svc string, vip netip.Addr, nodes []string, msg string) time.Duration {
	t.Helper()
	start := time.Now()
	cluster.Eventually(t, reportBound, fmt.Sprintf("%s %s not answering on %v", svc, vip, nodes), func() error {
		var st v1beta1.ServiceBGPStatus
		err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: l2sync.StatusName(svc, vip)}, &st)
		switch {
		case apierrors.IsNotFound(err) && nodes == nil:
			return nil
		case apierrors.IsNotFound(err):
			return fmt.Errorf("no ServiceBGPStatus")
		case err != nil:
			return err
		case nodes == nil:
			return fmt.Errorf("still %+v", st.Status)
		}
		var got []string
		for _, e := range st.Status.NotAnswering {
			if !strings.Contains(e.Message, msg) || e.Reason != "NotAnswering" {
				return fmt.Errorf("entry %+v", e)
			}
			got = append(got, e.Node)
		}
		if !slices.Equal(got, nodes) || st.Status.ServiceName != svc || st.Status.IP != vip.String() {
			return fmt.Errorf("status %+v", st.Status)
		}
		if len(st.OwnerReferences) != 1 || st.OwnerReferences[0].Kind != "Service" || st.OwnerReferences[0].Name != svc {
			return fmt.Errorf("owner references %+v", st.OwnerReferences)
		}
		return nil
	})
	return time.Since(start)
}

// checkCtl runs what `ironlbctl status` and `ironlbctl why default/svc`
// run, on a snapshot of the API server.
func checkCtl(t *testing.T, c *cluster.Cluster, svc string, vip netip.Addr, answering string, code why.Code, msg string) {
	t.Helper()
	snap, err := snapshot.Fetch(context.Background(), c.Client, "ironlb-system")
	if err != nil {
		t.Fatal(err)
	}
	r := status.Build(snap, why.Options{}.Handles)
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(r.Services, func(row status.ServiceRow) bool { return row.Service == "default/"+svc && row.IP == vip.String() })
	switch {
	case i < 0:
		t.Errorf("ironlbctl status has no row for default/%s %s:\n%s", svc, vip, buf.String())
	case r.Services[i].Answering != answering:
		t.Errorf("ironlbctl status: ANSWERING %q, want %q:\n%s", r.Services[i].Answering, answering, buf.String())
	}
	reasons := why.Explain(snap, "default", svc, why.Options{})
	for _, rs := range reasons {
		if rs.Code == code && strings.Contains(rs.Message, msg) {
			return
		}
	}
	t.Errorf("ironlbctl why default/%s: %+v, want %s naming %q", svc, reasons, code, msg)
}
