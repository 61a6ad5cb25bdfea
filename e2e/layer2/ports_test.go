package layer2_test

import (
	"context"
	"strings"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/e2e/cluster"
)

// An endpoint counts for announcing a Service only through one of the
// Service's ports, as for forwarding: ready endpoints whose EndpointSlice
// carries other ports only must not attract traffic nobody will serve.
func TestEndpointsWithoutTheServicePortAreNotAnnounced(t *testing.T) {
	c := l2Cluster(t, cluster.Options{})
	client0 := c.Lab.Clients[0]
	c.Create(t, cluster.LoadBalancer("default", "ports"))
	c.SetEndpoints(t, "default", "ports", endpointsOn("node1", "node2", "node3")...)
	ip := c.WaitForIPs(t, "default", "ports", 1)[0]
	serveVIP(t, c, ip)
	c.WaitForAnnouncer(t, "default", "ports", ip, func(string) bool { return true })
	reach(t, client0, ip)

	// setPorts rewrites the ports of both of the Service's slices (one per
	// family), keeping their ready endpoints.
	setPorts := func(names ...string) {
		t.Helper()
		for _, name := range []string{"ports-ipv4", "ports-ipv6"} {
			var sl discoveryv1.EndpointSlice
			if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: name}, &sl); err != nil {
				t.Fatal(err)
			}
			sl.Ports = nil
			for i, n := range names {
				pn, port := n, int32(9090+i)
				sl.Ports = append(sl.Ports, discoveryv1.EndpointPort{Name: &pn, Port: &port})
			}
			if err := c.Client.Update(context.Background(), &sl); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Same ready endpoints, but only on a port the Service does not have.
	setPorts("metrics")
	cluster.Eventually(t, 10*time.Second, "the announcement to be withdrawn", func() error {
		st := c.L2Status(t, "default", "ports", ip)
		if st == nil || st.Status.Node != "" || !strings.Contains(st.Status.Reason, "no ready endpoint") {
			return errorf("status %+v", st)
		}
		return nil
	})

	// One of the Service's ports back (TCP "http"): announced again.
	setPorts("metrics", "http")
	c.WaitForAnnouncer(t, "default", "ports", ip, func(string) bool { return true })
	reach(t, client0, ip)
}
