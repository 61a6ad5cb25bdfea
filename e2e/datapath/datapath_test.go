// Package datapath_test checks the whole path on a virtual LAN: the
// controller assigns a VIP, a speaker announces it with ARP, and the
// speakers' own datapath (nftables on this kernel) carries client
// connections to the pods, honouring externalTrafficPolicy.
package datapath_test

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	client2 "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
)

func setup(t *testing.T) *cluster.Cluster { return setupClients(t, 1) }

// setupClients starts the cluster with n client namespaces, each routing
// the VIP range onto the LAN.
func setupClients(t *testing.T, n int) *cluster.Cluster {
	// With IronLB's datapath on, the controller publishes ipMode: Proxy so
	// that kube-proxy leaves VIP traffic to IronLB.
	c := cluster.Start(t, cluster.Options{Datapath: "nftables", Clients: n, ControllerArgs: []string{"-ip-mode", "Proxy"}})
	c.Create(t, cluster.Pool("lan", "203.0.113.0/24"), cluster.L2("lan", []string{"lan"}, "eth0"))
	for _, client := range c.Lab.Clients {
		if _, err := client.Exec(context.Background(), "ip", "route", "add", "203.0.113.0/24", "dev", client.Iface); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// ask opens a connection to vip:80, sends one line and returns the pod
// name and the address the pod saw.
func ask(ctx context.Context, client *vlan.Host, vip netip.Addr) (pod, seen string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := client.DialContext(ctx, "tcp", netip.AddrPortFrom(vip, 80).String())
	if err != nil {
		return "", "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintln(conn, "hello"); err != nil {
		return "", "", err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "", "", err
	}
	f := strings.Fields(line)
	if len(f) != 2 {
		return "", "", fmt.Errorf("bad answer %q", line)
	}
	host, _, _ := strings.Cut(strings.TrimPrefix(f[1], "["), "]:")
	if i := strings.LastIndex(f[1], ":"); i > 0 && !strings.HasPrefix(f[1], "[") {
		host = f[1][:i]
	}
	return f[0], host, nil
}

func TestClusterPolicyReachesEveryPodWithSourceNAT(t *testing.T) {
	c := setup(t)
	client := c.Lab.Clients[0]
	pods := []*cluster.Pod{c.StartPod(t, "node1", "web-a"), c.StartPod(t, "node2", "web-b"), c.StartPod(t, "node3", "web-c")}
	c.Create(t, cluster.LoadBalancer("default", "web"))
	c.SetEndpoints(t, "default", "web", cluster.Endpoints(pods...)...)
	vip := c.WaitForIPs(t, "default", "web", 1)[0]
	owner := c.WaitForAnnouncer(t, "default", "web", vip, func(string) bool { return true })

	// A node's addresses: its LAN address, and the gateway address it
	// holds towards its pods (masquerade picks the outgoing interface's).
	nodeAddrs := map[string]bool{}
	for _, n := range c.Lab.Nodes {
		nodeAddrs[n.IPv4.Addr().String()] = true
		nodeAddrs[n.PodCIDRv4.Addr().Next().String()] = true
	}
	seenPods := map[string]bool{}
	cluster.Eventually(t, 30*time.Second, "requests through the VIP to reach every pod", func() error {
		pod, seen, err := ask(context.Background(), client, vip)
		if err != nil {
			return err
		}
		if !nodeAddrs[seen] {
			t.Fatalf("%s saw %s: Cluster policy must source-NAT to a node address", pod, seen)
		}
		seenPods[pod] = true
		if len(seenPods) < len(pods) {
			return fmt.Errorf("reached %v so far", seenPods)
		}
		return nil
	})
	t.Logf("VIP %s announced by %s reached pods %v", vip, owner, seenPods)
	var svc corev1.Service
	if err := c.Client.Get(context.Background(), client2.ObjectKey{Namespace: "default", Name: "web"}, &svc); err != nil {
		t.Fatal(err)
	}
	if m := svc.Status.LoadBalancer.Ingress[0].IPMode; m == nil || *m != corev1.LoadBalancerIPModeProxy {
		t.Fatalf("ipMode %v, want Proxy", m)
	}
}

func TestLocalPolicyKeepsTheClientAddress(t *testing.T) {
	c := setup(t)
	client := c.Lab.Clients[0]
	pod := c.StartPod(t, "node2", "local-a")
	c.Create(t, cluster.LoadBalancer("default", "local", cluster.Local))
	c.SetEndpoints(t, "default", "local", cluster.Endpoints(pod)...)
	vip := c.WaitForIPs(t, "default", "local", 1)[0]
	c.WaitForAnnouncer(t, "default", "local", vip, func(n string) bool { return n == "node2" })

	cluster.Eventually(t, 30*time.Second, "a request through the VIP", func() error {
		name, seen, err := ask(context.Background(), client, vip)
		if err != nil {
			return err
		}
		if name != "local-a" || seen != client.IPv4.Addr().String() {
			t.Fatalf("answer from %s seeing %s; want local-a seeing the client %s", name, seen, client.IPv4.Addr())
		}
		return nil
	})
}

func TestAPortThatIsNotAServicePortIsRefused(t *testing.T) {
	c := setup(t)
	client := c.Lab.Clients[0]
	pod := c.StartPod(t, "node1", "only")
	c.Create(t, cluster.LoadBalancer("default", "web"))
	c.SetEndpoints(t, "default", "web", cluster.Endpoints(pod)...)
	vip := c.WaitForIPs(t, "default", "web", 1)[0]
	c.WaitForAnnouncer(t, "default", "web", vip, func(string) bool { return true })
	cluster.Eventually(t, 30*time.Second, "the service port to answer", func() error {
		_, _, err := ask(context.Background(), client, vip)
		return err
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	conn, err := client.DialContext(ctx, "tcp", netip.AddrPortFrom(vip, 8081).String())
	if err == nil {
		conn.Close()
		t.Fatal("a connection to a non-service port of the VIP succeeded")
	}
	if !strings.Contains(err.Error(), "refused") {
		t.Fatalf("want the connection refused at once, got %v after %v", err, time.Since(start))
	}
}
