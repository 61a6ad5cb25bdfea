package ironlbctl_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/pkg/presence"
)

// TestWhyNamesEndpointsSetAsideOnALostNode loses a node (its LAN link
// down) that holds one endpoint of a Service: the speakers hold it dead,
// the status writer publishes it on the presence Lease (what an operator
// sees with kubectl), and `ironlbctl why` names the node's endpoints as set
// aside, with since when; once the link is back, neither does any more and
// why says the Service is announced.
func TestWhyNamesEndpointsSetAsideOnALostNode(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Datapath: "nftables", ControllerArgs: []string{"-ip-mode", "Proxy"}})
	kubeconfig, err := c.API.KubeconfigFor("admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	x := ctl{t: t, kubeconfig: kubeconfig}
	c.Create(t, cluster.Pool("lan", "203.0.113.0/24"), cluster.L2("lan", []string{"lan"}, "eth0"))
	c.Create(t, cluster.LoadBalancer("default", "web"))
	c.SetEndpoints(t, "default", "web", endpointsOn("node1", "node2", "node3")...)
	ip := c.WaitForIPs(t, "default", "web", 1)[0]
	x.eventually(0, []string{"Announced: " + ip.String() + " is assigned (IPAddressPool \"lan\") and announced in layer 2 by node"}, "why", "default/web", "--namespace", cluster.SystemNamespace)
	if out, _ := x.run("why", "default/web"); strings.Contains(out, "set aside") {
		t.Fatalf("endpoints set aside with every node up:\n%s", out)
	}

	lost := c.Lab.Host("node3")
	if err := lost.SetLink(false); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	t.Cleanup(func() { _ = lost.SetLink(true) })
	// node3's endpoint is 192.0.2.12 (endpointsOn), on both Service ports.
	out := x.eventually(0, []string{
		"EndpointsSetAside: 2 endpoint(s) of Service default/web get no new connections",
		"192.0.2.12:5353: set aside: node node3's speaker is held dead since",
		"192.0.2.12:8080: set aside: node node3's speaker is held dead since",
	}, "why", "default/web")
	t.Logf("node3 lost: ironlbctl why names its endpoints set aside after %v:\n%s", time.Since(down).Round(time.Millisecond), out)
	for _, other := range []string{"192.0.2.10", "192.0.2.11"} {
		if strings.Contains(out, other+":") {
			t.Errorf("an endpoint of a live node reported set aside:\n%s", out)
		}
	}
	if dead := leaseDeadNodes(t, c); !strings.HasPrefix(dead, "node3=") || strings.Contains(dead, ",") {
		t.Errorf("Lease %s annotation %s = %q, want node3 only", presence.LeaseName, presence.DeadNodesAnnotation, dead)
	}

	if err := lost.SetLink(true); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	cluster.Eventually(t, 30*time.Second, "ironlbctl why to set nothing aside", func() error {
		out, code := x.run("why", "default/web")
		if code != 0 || !strings.Contains(out, "Announced: ") || strings.Contains(out, "set aside") {
			return fmt.Errorf("exit %d:\n%s", code, out)
		}
		return nil
	})
	t.Logf("node3 back: nothing set aside after %v", time.Since(up).Round(time.Millisecond))
	if dead := leaseDeadNodes(t, c); dead != "" {
		t.Errorf("Lease %s annotation %s = %q with every node back", presence.LeaseName, presence.DeadNodesAnnotation, dead)
	}
}

// leaseDeadNodes is the presence Lease's dead-nodes annotation.
func leaseDeadNodes(t *testing.T, c *cluster.Cluster) string {
	t.Helper()
	var l coordinationv1.Lease
	if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: cluster.SystemNamespace, Name: presence.LeaseName}, &l); err != nil {
		t.Fatal(err)
	}
	return l.Annotations[presence.DeadNodesAnnotation]
}
