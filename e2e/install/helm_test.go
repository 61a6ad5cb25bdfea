package install

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/frr"
	"github.com/ironlb/ironlb/e2e/kcluster"
	"github.com/ironlb/ironlb/e2e/vlan"
)

const (
	systemNS = "ironlb-system"
	appNS    = "demo"
)

// TestHelmInstall: `helm install` of the chart with the webhook on (its
// certificate managed by the controller), two controller replicas and the
// speakers' datapath on (auto: nftables on this kernel), into a cluster
// with kube-proxy in nftables mode on node1 and node3 and iptables mode on
// node2. The controller and every speaker become Running and Ready, the
// webhook rejects a bad pool naming the field, and a client on the LAN
// reaches the test server's pods on every node through layer 2 VIPs
// (Cluster: every pod answers; Local: the pod sees the client's address;
// an IPv6 VIP), and through a VIP of a BGP pool that FRR on the router
// learns from the speakers, while kube-proxy leaves the VIPs alone and the
// Services' ClusterIPs and NodePorts keep working through it
// (checkKubeProxy).
func TestHelmInstall(t *testing.T) {
	s := installScenario(t, helmInstall)
	c, ctx, cl, client1, vip, podNames := s.c, s.ctx, s.cl, s.client, s.vip, s.pods
	t.Logf("cluster start %v; helm install -> controller and speakers Ready %v, -> webhook answering %v, -> first answer through VIP %s %v",
		c.StartDuration.Round(time.Millisecond), s.toReady.Round(time.Millisecond), s.toWebhook.Round(time.Millisecond), vip, s.toFirst.Round(time.Millisecond))

	// Cluster: the client reaches every pod, on every node, through the VIP.
	seen := map[string]bool{}
	cluster.Eventually(t, 30*time.Second, "every pod answering through "+vip.String(), func() error {
		a, err := kcluster.Ask(ctx, client1, vip)
		if err != nil {
			return err
		}
		if !podNames[a.Pod] {
			return fmt.Errorf("answer from %q, not a pod of web %v", a.Pod, podNames)
		}
		seen[a.Pod] = true
		if len(seen) < len(podNames) {
			return fmt.Errorf("answers from %v of %v", seen, podNames)
		}
		return nil
	})

	// Local: the pod sees the client's own address.
	lvip := netip.AddrPortFrom(awaitIP(t, ctx, c, "web-local"), 80)
	cluster.Eventually(t, time.Minute, "an answer through "+lvip.String(), func() error {
		_, err := kcluster.Ask(ctx, client1, lvip)
		return err
	})
	for range 10 {
		a, err := kcluster.Ask(ctx, client1, lvip)
		if err != nil {
			t.Fatalf("Local VIP %s: %v", lvip, err)
		}
		if !podNames[a.Pod] || a.Client.Addr() != client1.IPv4.Addr() {
			t.Fatalf("Local VIP %s: answer %+v, want a web pod seeing the client %s", lvip, a, client1.IPv4.Addr())
		}
	}

	// IPv6: a layer 2 VIP from the pool's IPv6 range reaches the pods'
	// IPv6 addresses.
	v6 := cluster.LoadBalancer(appNS, "web6", cluster.IPv6Only)
	v6.Spec.Selector = map[string]string{"app": "web"}
	create(t, cl, v6)
	vip6 := netip.AddrPortFrom(awaitIP(t, ctx, c, "web6"), 80)
	if !vip6.Addr().Is6() {
		t.Fatalf("web6 got %s, want an IPv6 address", vip6.Addr())
	}
	cluster.Eventually(t, time.Minute, "an answer through the IPv6 VIP "+vip6.String(), func() error {
		a, err := kcluster.Ask(ctx, client1, vip6)
		if err == nil && !podNames[a.Pod] {
			err = fmt.Errorf("answer from %q, not a web pod", a.Pod)
		}
		return err
	})

	checkBGP(t, s)

	// kube-proxy (both modes) leaves the VIPs to IronLB's datapath and
	// keeps serving ClusterIPs and NodePorts.
	checkKubeProxy(t, s, true, "web", "web-local", "web-bgp")
}

// scenario is a fresh install serving the test server through a layer 2
// VIP, with how long each step took from `helm install`.
type scenario struct {
	c                           *kcluster.Cluster
	ctx                         context.Context
	cl                          client.Client
	client                      *vlan.Host
	vip                         netip.AddrPort
	pods                        map[string]bool // the test server's pods
	toReady, toWebhook, toFirst time.Duration
}

// helmInstall installs the chart as the README says, with the webhook on,
// two controller replicas and the datapath on (auto: nftables here).
func helmInstall(ctx context.Context, c *kcluster.Cluster) error {
	return helmRelease(ctx, c, "install", filepath.Join(c.Repo, "manifests", "helm", "ironlb"))
}

// helmRelease runs `helm install` or `helm upgrade` of the release with
// those values, and more (later --set wins) from extra.
func helmRelease(ctx context.Context, c *kcluster.Cluster, verb, chart string, extra ...string) error {
	_, err := c.Helm(ctx, append([]string{verb, "ironlb", chart,
		"--namespace", systemNS, "--create-namespace",
		"--set", "controller.replicas=2", "--set", "webhook.enabled=true", "--set", "speaker.datapath=auto",
		"--wait", "--timeout", "3m"}, extra...)...)
	return err
}

// kubectlApply installs the plain manifests (the chart rendered with its
// defaults) as the README says.
func kubectlApply(ctx context.Context, c *kcluster.Cluster) error {
	_, err := c.Kubectl(ctx, "apply", "--server-side", "-f", filepath.Join(c.Repo, "manifests", "ironlb.yaml"))
	return err
}

// installScenario starts a 3-node cluster, installs IronLB with install as
// a user would, checks that the controller and every speaker are Running and
// Ready and that the webhook rejects a bad pool naming the field, creates
// a layer 2 pool, the test server on every node and the Services "web"
// (Cluster) and "web-local" (Local), and waits for a first answer through
// web's VIP.
func installScenario(tb testing.TB, install func(context.Context, *kcluster.Cluster) error) *scenario {
	return installScenarioWebhook(tb, install, true)
}

// installScenarioWebhook is installScenario, with the webhook's check only
// when webhook (an install with the webhook off has none to check).
func installScenarioWebhook(tb testing.TB, install func(context.Context, *kcluster.Cluster) error, webhook bool) *scenario {
	c := kcluster.Start(tb, kcluster.Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	tb.Cleanup(cancel)
	s := &scenario{c: c, ctx: ctx, cl: c.API.Client(tb, cluster.Scheme()), client: c.Lab.Clients[0], pods: map[string]bool{}}
	cl, client1 := s.cl, s.client

	installed := time.Now()
	if err := install(ctx, c); err != nil {
		tb.Fatal(err)
	}
	for comp, n := range map[string]int{"controller": 2, "speaker": len(c.Nodes)} {
		if _, err := c.WaitPodsReady(ctx, systemNS, "app.kubernetes.io/name=ironlb,app.kubernetes.io/component="+comp, n); err != nil {
			tb.Fatal(err)
		}
	}
	s.toReady = time.Since(installed)

	if webhook {
		// The webhook, served with the certificate the controller made
		// for itself, rejects a reversed range naming the field, within
		// a minute of the install.
		checkWebhook(tb, ctx, cl)
		s.toWebhook = time.Since(installed)
	}

	// A layer 2 pool on the client's LAN.
	create(tb, cl, cluster.Pool("lan", cluster.LANv4, cluster.LANv6), cluster.L2("lan", []string{"lan"}))
	for _, r := range [][]string{
		{"route", "replace", cluster.LANv4, "dev", client1.Iface},
		{"-6", "route", "replace", cluster.LANv6, "dev", client1.Iface},
	} {
		if out, err := client1.Exec(ctx, "ip", r...); err != nil {
			tb.Fatalf("client route %v: %v: %s", r, err, out)
		}
	}
	create(tb, cl, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appNS}})
	create(tb, cl, kcluster.TestServerDeployment(appNS, "web", int32(len(c.Nodes))))
	local := cluster.LoadBalancer(appNS, "web-local", cluster.Local)
	local.Spec.Selector = map[string]string{"app": "web"}
	create(tb, cl, cluster.LoadBalancer(appNS, "web"), local)
	pods, err := c.WaitPodsReady(ctx, appNS, "app=web", len(c.Nodes))
	if err != nil {
		tb.Fatal(err)
	}
	for _, p := range pods {
		s.pods[p.Name] = true
	}
	s.vip = netip.AddrPortFrom(awaitIP(tb, ctx, c, "web"), 80)
	cluster.Eventually(tb, time.Minute, "a first answer through "+s.vip.String(), func() error {
		_, err := kcluster.Ask(ctx, client1, s.vip)
		return err
	})
	s.toFirst = time.Since(installed)
	return s
}

// checkWebhook waits up to a minute for the webhook to reject a reversed
// range naming the field.
func checkWebhook(tb testing.TB, ctx context.Context, cl client.Client) {
	tb.Helper()
	var rejection error
	cluster.Eventually(tb, time.Minute, "the webhook rejecting a reversed range", func() error {
		rejection = cl.Create(ctx, cluster.Pool("reversed", "203.0.113.100-203.0.113.90"))
		if rejection == nil {
			return errors.New("a reversed range was accepted")
		}
		if !strings.Contains(rejection.Error(), "denied the request") || !strings.Contains(rejection.Error(), "spec.addresses[0]") {
			return rejection
		}
		return nil
	})
	tb.Logf("webhook: %v", rejection)
}

// checkBGP peers the speakers with FRR on the router and checks that a
// Service in a BGP pool answers the client through the router; it returns
// the router.
func checkBGP(t *testing.T, s *scenario) *frr.Router {
	c, ctx, rt := s.c, s.ctx, s.c.Lab.Router
	var neighbors []frr.Neighbor
	for _, n := range c.Lab.Nodes {
		neighbors = append(neighbors, frr.Neighbor{Address: n.IPv4.Addr(), ASN: cluster.ClusterASN})
	}
	router := frr.New(t, rt, frr.Options{ASN: cluster.RouterASN, Neighbors: neighbors})
	create(t, s.cl, cluster.Pool("bgp", cluster.BGPv4),
		&v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: "bgp"}, Spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"bgp"}}},
		cluster.RouterPeer("tor", rt.IPv4.Addr(), ""))
	if out, err := s.client.Exec(ctx, "ip", "route", "replace", cluster.BGPv4, "via", rt.IPv4.Addr().String()); err != nil {
		t.Fatalf("client route: %v: %s", err, out)
	}
	svc := cluster.LoadBalancer(appNS, "web-bgp")
	svc.Spec.Selector = map[string]string{"app": "web"}
	svc.Annotations = map[string]string{"ironlb.io/address-pool": "bgp"}
	create(t, s.cl, svc)
	vip := netip.AddrPortFrom(awaitIP(t, ctx, c, "web-bgp"), 80)
	if !netip.MustParsePrefix(cluster.BGPv4).Contains(vip.Addr()) {
		t.Fatalf("web-bgp got %s, not from the BGP pool %s", vip.Addr(), cluster.BGPv4)
	}
	cluster.Eventually(t, time.Minute, "an answer through the BGP VIP "+vip.String(), func() error {
		a, err := kcluster.Ask(ctx, s.client, vip)
		if err == nil && !s.pods[a.Pod] {
			err = fmt.Errorf("answer from %q, not a web pod", a.Pod)
		}
		return err
	})
	return router
}

// awaitIP waits for the Service's first load-balancer address.
func awaitIP(tb testing.TB, ctx context.Context, c *kcluster.Cluster, name string) netip.Addr {
	tb.Helper()
	var ip netip.Addr
	cluster.Eventually(tb, time.Minute, "an address on "+appNS+"/"+name, func() error {
		svc, err := c.Clientset.CoreV1().Services(appNS).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if ip, err = netip.ParseAddr(in.IP); err == nil {
				return nil
			}
		}
		return errors.New("no address yet")
	})
	return ip
}

func create(tb testing.TB, cl client.Client, objs ...client.Object) {
	tb.Helper()
	for _, o := range objs {
		if err := cl.Create(context.Background(), o); err != nil {
			tb.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

// TestKubectlApply: the plain manifests, applied with kubectl, give the same
// running system: controller and speakers Ready, the webhook rejecting a
// bad pool, and the test server answering through a layer 2 VIP.
func TestKubectlApply(t *testing.T) {
	s := installScenario(t, kubectlApply)
	t.Logf("cluster start %v; kubectl apply -> controller and speakers Ready %v, -> webhook answering %v, -> first answer through VIP %s %v",
		s.c.StartDuration.Round(time.Millisecond), s.toReady.Round(time.Millisecond), s.toWebhook.Round(time.Millisecond), s.vip, s.toFirst.Round(time.Millisecond))
}
