package kcluster

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ironlb/ironlb/e2e/kubeapi"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// Options shape a cluster.
type Options struct {
	// Nodes is the number of kubelet nodes, 1 to vlan.MaxPodNodes; 0 means 3.
	Nodes int
}

// Cluster is a running kubelet cluster.
type Cluster struct {
	API       *kubeapi.Server
	Lab       *vlan.Lab
	Clientset kubernetes.Interface
	Tools     Tools
	// Repo is the repository root (charts, manifests).
	Repo string
	// Nodes are the node names, node1 first.
	Nodes []string
	// StartDuration is the time from Start to every node Ready.
	StartDuration time.Duration

	dir    string
	mnt    *mountNS
	egress *egressProxy
	host   []*kubeapi.Child // controller-manager, scheduler
	nodes  []*node
}

// ProxyMode is kube-proxy's mode on node i (1-based): iptables on node2,
// nftables elsewhere, so both modes run beside IronLB.
func ProxyMode(i int) string {
	if i == 2 {
		return "iptables"
	}
	return "nftables"
}

// Start builds the cluster for a test and waits until every node is Ready;
// everything is torn down at test end.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	begin := time.Now()
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.Nodes < 1 || opts.Nodes > vlan.MaxPodNodes {
		t.Fatalf("kcluster: Options.Nodes: %d is outside 1..%d", opts.Nodes, vlan.MaxPodNodes)
	}
	repo := kubeapi.RepoRoot(t)
	tools, err := findTools(repo)
	if err != nil {
		t.Fatalf("kcluster: %v", err)
	}
	images, err := buildImages(repo)
	if err != nil {
		t.Fatalf("kcluster: images: %v", err)
	}
	t.Logf("kcluster: images built in %v", time.Since(begin).Round(time.Millisecond))
	// The cluster's start is timed from here: image builds are cached per
	// test binary and are not part of it.
	begin = time.Now()
	dir, err := os.MkdirTemp("", "ironlb-kcluster-")
	if err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs last, after every process is gone.
	t.Cleanup(func() {
		if t.Failed() && os.Getenv(kubeapi.EnvKeep) == "1" {
			t.Logf("kcluster: kept %s (%s=1)", dir, kubeapi.EnvKeep)
			return
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("kcluster: %v", err)
		}
	})
	lab := vlan.New(t, vlan.Options{Nodes: opts.Nodes, Router: true})
	c := &Cluster{Lab: lab, Tools: tools, Repo: repo, dir: dir}

	// The egress proxy must listen before the API server starts; it stops
	// after it (cleanups run last-registered first).
	sock := filepath.Join(dir, "egress.sock")
	if c.egress, err = startEgressProxy(sock, lab.Router); err != nil {
		t.Fatalf("kcluster: %v", err)
	}
	t.Cleanup(c.egress.stop)
	egressFile := filepath.Join(dir, "egress.yaml")
	if err := os.WriteFile(egressFile, []byte(egressConfig(sock)), 0o644); err != nil {
		t.Fatal(err)
	}
	c.API = kubeapi.Start(t, kubeapi.Options{ExtraFlags: []string{
		// Kubelets act as system:node:<name>.
		"--authorization-mode=Node,RBAC",
		// Real pods need their ServiceAccount token (ServiceAccount
		// admission); kube-controller-manager creates the accounts.
		"--disable-admission-plugins=",
		// Webhooks are called at their pods' addresses, through the egress
		// proxy; the host has no kube-proxy for ClusterIPs.
		"--enable-aggregator-routing=true",
		"--egress-selector-config-file=" + egressFile,
		"--kubelet-preferred-address-types=InternalIP",
	}})
	c.Clientset = c.API.Clientset(t)

	t.Cleanup(func() {
		if err := c.stop(t.Failed()); err != nil {
			t.Errorf("kcluster: teardown: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := c.setup(ctx, images); err != nil {
		t.Fatalf("kcluster: %v", err)
	}
	c.StartDuration = time.Since(begin)
	t.Logf("kcluster: %d nodes Ready %v after Start (dir %s)", opts.Nodes, c.StartDuration.Round(time.Millisecond), dir)
	return c
}

func (c *Cluster) setup(ctx context.Context, images string) error {
	u, err := url.Parse(c.API.URL)
	if err != nil {
		return err
	}
	apiPort := u.Port()
	rt := c.Lab.Router
	if err := c.routeLab(ctx); err != nil {
		return err
	}
	// Pods reach the API server through the "kubernetes" Service, whose
	// endpoint is a forwarder on the router.
	if err := rt.ForwardTo(context.Background(), netip.AddrPortFrom(rt.IPv6.Addr(), mustPort(apiPort)).String(), u.Host); err != nil {
		return err
	}
	if err := c.publishAPIEndpoint(ctx, rt.IPv6.Addr(), mustPort(apiPort)); err != nil {
		return err
	}
	if c.mnt, err = newMountNS(c.Tools, c.dir); err != nil {
		return err
	}
	if err := c.startControlPlane(); err != nil {
		return err
	}
	// Nodes start in parallel: each waits for its containerd and imports
	// the images, seconds that need not add up.
	nodes := make([]*node, len(c.Lab.Nodes))
	errs := make([]error, len(c.Lab.Nodes))
	var wg sync.WaitGroup
	for i, h := range c.Lab.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i], errs[i] = c.startNode(ctx, i+1, h, apiPort, images)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("node %s: %w", h.Name, errs[i])
			}
		}()
	}
	wg.Wait()
	for i, n := range nodes {
		// A node that failed half way is stopped with the others.
		if n != nil {
			c.nodes = append(c.nodes, n)
			c.Nodes = append(c.Nodes, c.Lab.Nodes[i].Name)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return c.waitNodesReady(ctx)
}

func mustPort(s string) uint16 {
	var p uint16
	fmt.Sscan(s, &p)
	return p
}

// routeLab makes the router route to every pod subnet, and every node route
// to the others' pod subnets and by default through the router.
func (c *Cluster) routeLab(ctx context.Context) error {
	rt := c.Lab.Router
	for _, kv := range []string{"net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"} {
		if out, err := rt.Exec(ctx, "sysctl", "-qw", kv); err != nil {
			return fmt.Errorf("router %s: %w: %s", kv, err, out)
		}
	}
	for _, n := range c.Lab.Nodes {
		for _, r := range [][2]netip.Prefix{{n.PodCIDRv4, n.IPv4}, {n.PodCIDRv6, n.IPv6}} {
			if err := rt.AddRoute(r[0], r[1].Addr()); err != nil {
				return err
			}
		}
		for _, o := range c.Lab.Nodes {
			if o == n {
				continue
			}
			for _, r := range [][2]netip.Prefix{{o.PodCIDRv4, o.IPv4}, {o.PodCIDRv6, o.IPv6}} {
				if err := n.AddRoute(r[0], r[1].Addr()); err != nil {
					return err
				}
			}
		}
		for _, args := range [][]string{
			{"route", "replace", "default", "via", rt.IPv4.Addr().String()},
			{"-6", "route", "replace", "default", "via", rt.IPv6.Addr().String()},
		} {
			if out, err := n.Exec(ctx, "ip", args...); err != nil {
				return fmt.Errorf("%s: ip %v: %w: %s", n.Name, args, err, out)
			}
		}
	}
	return nil
}

// publishAPIEndpoint writes the "kubernetes" Service's EndpointSlice (the
// API server's own reconciler is off: it would publish its loopback
// address).
func (c *Cluster) publishAPIEndpoint(ctx context.Context, addr netip.Addr, port uint16) error {
	svc, err := c.Clientset.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		return err
	}
	if len(svc.Spec.IPFamilies) == 0 || svc.Spec.IPFamilies[0] != corev1.IPv6Protocol {
		return fmt.Errorf("the kubernetes Service is %v, the forwarder IPv6", svc.Spec.IPFamilies)
	}
	ready := true
	name, proto, p := "https", corev1.ProtocolTCP, int32(port)
	_, err = c.Clientset.DiscoveryV1().EndpointSlices("default").Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Labels: map[string]string{
			discoveryv1.LabelServiceName: "kubernetes",
			discoveryv1.LabelManagedBy:   "kcluster.e2e.ironlb.io",
		}},
		AddressType: discoveryv1.AddressTypeIPv6,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{addr.String()}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Protocol: &proto, Port: &p}},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("kubernetes EndpointSlice: %w", err)
	}
	return nil
}

// startControlPlane runs kube-controller-manager (ServiceAccounts, the
// kube-root-ca.crt ConfigMaps pods mount, ReplicaSets, DaemonSets,
// EndpointSlices from real pods) and kube-scheduler on the host.
func (c *Cluster) startControlPlane() error {
	pki := filepath.Join(c.API.Dir, "pki")
	for _, p := range []struct {
		name, bin string
		args      []string
	}{
		{"kube-controller-manager", c.Tools.ControllerManager, []string{
			"--kubeconfig=" + c.API.Kubeconfig, "--leader-elect=false", "--secure-port=0",
			"--root-ca-file=" + filepath.Join(pki, "ca.crt"),
			"--service-account-private-key-file=" + filepath.Join(pki, "sa.key"),
			"--controllers=*,-nodeipam,-persistentvolume-binder,-attachdetach,-ttl,-bootstrapsigner,-tokencleaner",
			"--concurrent-service-endpoint-syncs=5", "--v=1",
		}},
		{"kube-scheduler", c.Tools.Scheduler, []string{
			"--kubeconfig=" + c.API.Kubeconfig, "--leader-elect=false", "--secure-port=0", "--v=2",
		}},
	} {
		ch, err := kubeapi.StartChild(p.name, p.bin, p.args, filepath.Join(c.dir, p.name+".log"))
		if err != nil {
			return err
		}
		c.host = append(c.host, ch)
	}
	return nil
}

// waitNodesReady waits for every Node to be Ready.
func (c *Cluster) waitNodesReady(ctx context.Context) error {
	for {
		var notReady []string
		for _, name := range c.Nodes {
			n, err := c.Clientset.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil || !nodeReady(n) {
				notReady = append(notReady, name)
			}
		}
		if len(notReady) == 0 {
			return nil
		}
		for _, n := range c.nodes {
			if err := n.exited(); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nodes %v not Ready: %w", notReady, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Kubectl runs kubectl as admin and returns its combined output.
func (c *Cluster) Kubectl(ctx context.Context, args ...string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, c.Tools.Kubectl, append([]string{"--kubeconfig", c.API.Kubeconfig}, args...)...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return out, nil
}

// Helm runs helm as admin and returns its combined output.
func (c *Cluster) Helm(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, c.Tools.Helm, append([]string{"--kubeconfig", c.API.Kubeconfig}, args...)...)
	// helm keeps caches and its repository list in these; none of the
	// user's own may be read or written.
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(c.dir, "helm", "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(c.dir, "helm", "config"), "HELM_DATA_HOME="+filepath.Join(c.dir, "helm", "data"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return out, nil
}

// stop tears everything down: node daemons and every container, the
// control plane, cgroups, the mount namespace. The API server, egress proxy
// and lab go afterwards in their own cleanups.
func (c *Cluster) stop(failed bool) error {
	var errs []error
	if failed {
		c.dumpLogs()
	}
	var wg sync.WaitGroup
	errc := make(chan error, len(c.nodes))
	for _, n := range c.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); errc <- n.stop() }()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		errs = append(errs, err)
	}
	for _, h := range c.host {
		errs = append(errs, h.Stop(5*time.Second))
	}
	if c.mnt != nil {
		errs = append(errs, c.mnt.close())
	}
	return errors.Join(errs...)
}

// dumpLogs prints the end of every daemon's log to stderr (go test shows
// it with the failure).
func (c *Cluster) dumpLogs() {
	logs, _ := filepath.Glob(filepath.Join(c.dir, "*.log"))
	more, _ := filepath.Glob(filepath.Join(c.dir, "node*", "*.log"))
	pods, _ := filepath.Glob(filepath.Join(c.dir, "node*", "pods", "*", "*", "*.log"))
	for _, l := range append(append(logs, more...), pods...) {
		b, _ := os.ReadFile(l)
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 25 {
			lines = lines[len(lines)-25:]
		}
		fmt.Fprintf(os.Stderr, "=== %s (last %d lines)\n%s\n", l, len(lines), strings.Join(lines, "\n"))
	}
}
