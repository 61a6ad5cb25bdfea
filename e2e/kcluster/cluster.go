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

	closeOnce sync.Once
	closeErr  error
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
	c, err := StartProcess(context.Background(), opts, ProcessOptions{Repo: kubeapi.RepoRoot(t), Logf: t.Logf})
	if err != nil {
		t.Fatalf("kcluster: %v", err)
	}
	t.Cleanup(func() {
		if err := c.close(t.Failed()); err != nil {
			t.Errorf("kcluster: teardown: %v", err)
		}
	})
	return c
}

// ProcessOptions are what a cluster outside a test (the lab) needs beyond
// Options.
type ProcessOptions struct {
	// Repo is the repository root (images, charts); required.
	Repo string
	// LabID names the virtual LAN's namespaces ("ilb-<pid>-<LabID>-node1")
	// and the nodes' cgroups; empty: random.
	LabID string
	// Logf reports progress; nil: silent.
	Logf func(format string, args ...any)
}

// StartProcess builds the cluster outside a test and waits until every
// node is Ready. ctx bounds startup only (without a deadline: the API
// server two minutes, the nodes three); everything runs until Close, or
// until this process dies (the daemons are started with Pdeathsig; Sweep
// removes what survives). On failure everything started is stopped again.
func StartProcess(ctx context.Context, opts Options, popts ProcessOptions) (c *Cluster, err error) {
	begin := time.Now()
	logf := popts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.Nodes < 1 || opts.Nodes > vlan.MaxPodNodes {
		return nil, fmt.Errorf("Options.Nodes: %d is outside 1..%d", opts.Nodes, vlan.MaxPodNodes)
	}
	if popts.Repo == "" {
		return nil, errors.New("ProcessOptions.Repo: the repository root is required")
	}
	tools, err := findTools(popts.Repo)
	if err != nil {
		return nil, err
	}
	images, err := buildImages(popts.Repo)
	if err != nil {
		return nil, fmt.Errorf("images: %w", err)
	}
	logf("kcluster: images built in %v", time.Since(begin).Round(time.Millisecond))
	// The cluster's start is timed from here: image builds are cached per
	// process and are not part of it.
	begin = time.Now()
	// Leftovers of clusters whose process died (their cgroups).
	if err := Sweep(); err != nil {
		logf("kcluster: %v", err)
	}
	dir, err := os.MkdirTemp("", "ironlb-kcluster-")
	if err != nil {
		return nil, err
	}
	c = &Cluster{Tools: tools, Repo: popts.Repo, dir: dir}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.close(true))
			c = nil
		}
	}()
	if c.Lab, err = vlan.Start(ctx, vlan.Options{Nodes: opts.Nodes, Router: true, ID: popts.LabID}); err != nil {
		return c, err
	}
	// The egress proxy must listen before the API server starts; it stops
	// after it.
	sock := filepath.Join(dir, "egress.sock")
	if c.egress, err = startEgressProxy(sock, c.Lab.Router); err != nil {
		return c, err
	}
	egressFile := filepath.Join(dir, "egress.yaml")
	if err := os.WriteFile(egressFile, []byte(egressConfig(sock)), 0o644); err != nil {
		return c, err
	}
	if c.API, err = kubeapi.StartProcess(ctx, kubeapi.Options{ExtraFlags: []string{
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
	}}); err != nil {
		return c, fmt.Errorf("API server: %w", err)
	}
	logf("kcluster: API server %s ready in %v", c.API.URL, c.API.StartupDuration.Round(time.Millisecond))
	if c.Clientset, err = kubernetes.NewForConfig(c.API.Config); err != nil {
		return c, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
	}
	if err := c.setup(ctx, images); err != nil {
		return c, err
	}
	c.StartDuration = time.Since(begin)
	logf("kcluster: %d nodes Ready %v after Start (dir %s)", opts.Nodes, c.StartDuration.Round(time.Millisecond), dir)
	return c, nil
}

// Close tears the cluster down: node daemons, every container, the
// control plane, cgroups, the mount namespace, the API server, the virtual
// LAN and the cluster's directory. Safe to call twice.
func (c *Cluster) Close() error { return c.close(false) }

// close is Close; after a failure it prints the daemons' logs, and keeps
// the directories when IRONLB_KEEP=1.
func (c *Cluster) close(failed bool) error {
	c.closeOnce.Do(func() {
		keep := failed && os.Getenv(kubeapi.EnvKeep) == "1"
		errs := []error{c.stop(failed)}
		if c.API != nil {
			if failed {
				fmt.Fprintf(os.Stderr, "kcluster: last 50 lines of %s:\n%s\n", c.API.APIServerLog, lastLines(c.API.APIServerLog, 50))
			}
			// Stop keeps the API server's directory when IRONLB_KEEP=1.
			errs = append(errs, c.API.Stop())
		}
		if c.egress != nil {
			c.egress.stop()
		}
		if c.Lab != nil {
			errs = append(errs, c.Lab.Close())
		}
		if keep {
			fmt.Fprintf(os.Stderr, "kcluster: kept %s (%s=1)\n", c.dir, kubeapi.EnvKeep)
		} else if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, err)
		}
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
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
		fmt.Fprintf(os.Stderr, "=== %s (last lines)\n%s\n", l, lastLines(l, 25))
	}
}

// lastLines returns the last n lines of a file.
func lastLines(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Dir is the cluster's directory: the daemons' logs and the nodes' state.
func (c *Cluster) Dir() string { return c.dir }
