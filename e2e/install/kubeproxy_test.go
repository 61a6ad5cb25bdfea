package install

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/kcluster"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// withNodePorts asks for NodePorts, which cluster.LoadBalancer turns off.
func withNodePorts(s *corev1.Service) {
	yes := true
	s.Spec.AllocateLoadBalancerNodePorts = &yes
}

// checkKubeProxy proves kube-proxy, in both its modes, beside IronLB. Two
// more Services of the test server in the layer 2 pool, with NodePorts
// (Cluster and Local), join the ones already there (names). With IronLB's
// datapath on, every Service publishes ipMode Proxy, IronLB's nftables
// table on every node carries each VIP and kube-proxy's rules do not
// mention it; with the datapath off, ipMode VIP, no IronLB table, and
// kube-proxy's rules carry each VIP. Either way the client reaches the
// pods through every VIP (with Local the pod sees the client's address),
// each Service's ClusterIP answers from every node and from every pod, and
// its NodePort answers on every node's address (with Local, the node's own
// pod, seeing the client's address).
func checkKubeProxy(t *testing.T, s *scenario, datapath bool, names ...string) {
	c, ctx := s.c, s.ctx
	np := cluster.LoadBalancer(appNS, "web-np", withNodePorts)
	npLocal := cluster.LoadBalancer(appNS, "web-np-local", withNodePorts, cluster.Local)
	for _, svc := range []*corev1.Service{np, npLocal} {
		svc.Spec.Selector = map[string]string{"app": "web"}
		svc.Annotations = map[string]string{"ironlb.io/address-pool": "lan"}
	}
	create(t, s.cl, np, npLocal)
	names = append(names, np.Name, npLocal.Name)

	pods, err := c.Clientset.CoreV1().Pods(appNS).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	podOn := map[string]string{} // node -> its web pod
	for _, p := range pods.Items {
		podOn[p.Spec.NodeName] = p.Name
	}

	want := corev1.LoadBalancerIPModeVIP
	if datapath {
		want = corev1.LoadBalancerIPModeProxy
	}
	for _, name := range names {
		svc := awaitService(t, ctx, c, name)
		local := svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
		if (name == np.Name || name == npLocal.Name) && svc.Spec.Ports[0].NodePort == 0 {
			t.Fatalf("%s has no NodePort: %+v", name, svc.Spec.Ports)
		}
		in := svc.Status.LoadBalancer.Ingress[0]
		if in.IPMode == nil || *in.IPMode != want {
			t.Fatalf("%s: status ingress %s ipMode %s, want %s", name, in.IP, ptr.Deref(in.IPMode, "(none)"), want)
		}
		vip := netip.AddrPortFrom(netip.MustParseAddr(in.IP), 80)
		t.Logf("%s: VIP %s ipMode %s, ClusterIP %s, NodePort %d", name, vip, *in.IPMode, svc.Spec.ClusterIP, svc.Spec.Ports[0].NodePort)

		// Who carries the VIP: IronLB's table or kube-proxy's rules, on
		// every node.
		for i, n := range c.Lab.Nodes {
			mode := kcluster.ProxyMode(i + 1)
			cluster.Eventually(t, 30*time.Second, fmt.Sprintf("%s on %s: VIP %s carried by %s", name, n.Name, vip.Addr(), carrier(datapath)), func() error {
				return checkCarrier(ctx, n, mode, vip.Addr(), datapath)
			})
		}

		answer := func(what string, a kcluster.Answer, err error, pod string, client netip.Addr) error {
			if err != nil {
				return err
			}
			if !s.pods[a.Pod] || (pod != "" && a.Pod != pod) {
				return fmt.Errorf("%s: answer from %q, want %s", what, a.Pod, orAny(pod))
			}
			if client.IsValid() && a.Client.Addr() != client {
				return fmt.Errorf("%s: the pod saw %s, want the client's %s", what, a.Client.Addr(), client)
			}
			return nil
		}
		var clientAddr netip.Addr
		if local {
			clientAddr = s.client.IPv4.Addr()
		}
		cluster.Eventually(t, 30*time.Second, name+": the client through the VIP "+vip.String(), func() error {
			a, err := kcluster.Ask(ctx, s.client, vip)
			return answer("VIP", a, err, "", clientAddr)
		})

		cip := netip.AddrPortFrom(netip.MustParseAddr(svc.Spec.ClusterIP), 80)
		for i, n := range c.Lab.Nodes {
			what := fmt.Sprintf("%s: ClusterIP %s from node %s (kube-proxy %s)", name, cip, n.Name, kcluster.ProxyMode(i+1))
			cluster.Eventually(t, 30*time.Second, what, func() error {
				a, err := kcluster.Ask(ctx, n, cip)
				return answer(what, a, err, "", netip.Addr{})
			})
			pod := podOn[n.Name]
			what = fmt.Sprintf("%s: ClusterIP %s from pod %s on %s", name, cip, pod, n.Name)
			cluster.Eventually(t, 30*time.Second, what, func() error {
				a, err := askFromPod(ctx, c, pod, cip)
				return answer(what, a, err, "", netip.Addr{})
			})
			if port := svc.Spec.Ports[0].NodePort; port != 0 {
				nodePort := netip.AddrPortFrom(n.IPv4.Addr(), uint16(port))
				what = fmt.Sprintf("%s: NodePort %s from the client (kube-proxy %s)", name, nodePort, kcluster.ProxyMode(i+1))
				wantPod := ""
				if local {
					wantPod = pod
				}
				cluster.Eventually(t, 30*time.Second, what, func() error {
					a, err := kcluster.Ask(ctx, s.client, nodePort)
					return answer(what, a, err, wantPod, clientAddr)
				})
			}
		}
	}
}

func carrier(datapath bool) string {
	if datapath {
		return "IronLB's datapath, not kube-proxy"
	}
	return "kube-proxy, with no IronLB datapath"
}

func orAny(pod string) string {
	if pod == "" {
		return "a web pod"
	}
	return pod
}

// checkCarrier checks on node n whether IronLB's nftables table (inet
// ironlb) or kube-proxy's rules (its nftables table, or the nat table of
// iptables) hold vip.
func checkCarrier(ctx context.Context, n *vlan.Host, mode string, vip netip.Addr, datapath bool) error {
	ironlb, ironlbErr := n.Exec(ctx, "nft", "list", "table", "inet", "ironlb")
	var proxy []byte
	var err error
	if mode == "iptables" {
		proxy, err = n.Exec(ctx, "iptables-save", "-t", "nat")
	} else {
		proxy, err = n.Exec(ctx, "nft", "list", "table", "ip", "kube-proxy")
	}
	if err != nil {
		return fmt.Errorf("kube-proxy's rules: %w: %s", err, proxy)
	}
	if !mentions(proxy, "KUBE-SERVICES", "services") {
		return fmt.Errorf("kube-proxy (%s) has no service rules yet", mode)
	}
	inProxy, inIronLB := mentions(proxy, vip.String()), ironlbErr == nil && mentions(ironlb, vip.String())
	switch {
	case datapath && ironlbErr != nil:
		return fmt.Errorf("no IronLB table: %w: %s", ironlbErr, ironlb)
	case datapath && !inIronLB:
		return errors.New("IronLB's table does not hold the VIP")
	case datapath && inProxy:
		return fmt.Errorf("kube-proxy (%s) programs the VIP despite ipMode Proxy", mode)
	case !datapath && ironlbErr == nil:
		return fmt.Errorf("an IronLB table exists with the datapath off:\n%s", ironlb)
	case !datapath && !inProxy:
		return fmt.Errorf("kube-proxy (%s) does not program the VIP", mode)
	}
	return nil
}

// mentions reports whether rules hold any of words as a whole word (an
// address 192.0.2.1 is not found in 192.0.2.10).
func mentions(rules []byte, words ...string) bool {
	for _, w := range words {
		if regexp.MustCompile(`(^|[^0-9A-Za-z.:_-])` + regexp.QuoteMeta(w) + `($|[^0-9A-Za-z.:_-])`).Match(rules) {
			return true
		}
	}
	return false
}

// askFromPod asks target from inside a test-server pod (kubectl exec of the
// image's client mode).
func askFromPod(ctx context.Context, c *kcluster.Cluster, pod string, target netip.AddrPort) (kcluster.Answer, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := c.Kubectl(ctx, "exec", "-n", appNS, pod, "--", "/usr/local/bin/testserver", "get", "http://"+target.String()+"/")
	if err != nil {
		return kcluster.Answer{}, err
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	f := strings.Fields(lines[len(lines)-1])
	if len(f) != 2 {
		return kcluster.Answer{}, fmt.Errorf("%s from pod %s: %q, want \"<pod> <client>\"", target, pod, out)
	}
	from, err := netip.ParseAddrPort(f[1])
	if err != nil {
		return kcluster.Answer{}, fmt.Errorf("%s from pod %s: client address %q: %w", target, pod, f[1], err)
	}
	return kcluster.Answer{Pod: f[0], Client: from}, nil
}

// awaitService waits for the Service's first load-balancer address and
// returns the Service.
func awaitService(tb testing.TB, ctx context.Context, c *kcluster.Cluster, name string) *corev1.Service {
	tb.Helper()
	awaitIP(tb, ctx, c, name)
	svc, err := c.Clientset.CoreV1().Services(appNS).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return svc
}
