package kcluster

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/ironlb/ironlb/e2e/kubeapi"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// node is one kubelet node: a lab namespace running containerd, kubelet
// and kube-proxy inside the cluster's mount namespace.
type node struct {
	host       *vlan.Host
	paths      nodePaths
	cgroupRoot string
	mnt        *mountNS
	containerd *kubeapi.Child
	kubelet    *kubeapi.Child
	proxy      *kubeapi.Child
}

// nodeSysctls are per network namespace: the node routes for its pods, and
// bridged pod traffic passes netfilter so kube-proxy sees it.
var nodeSysctls = []string{
	"net.ipv4.ip_forward=1",
	"net.ipv6.conf.all.forwarding=1",
	"net.bridge.bridge-nf-call-iptables=1",
	"net.bridge.bridge-nf-call-ip6tables=1",
}

func (c *Cluster) startNode(ctx context.Context, i int, h *vlan.Host, apiPort, images string) (n *node, err error) {
	p := pathsFor(filepath.Join(c.dir, h.Name))
	// The lab's name is unique on the machine and lets a reader tell whose
	// cgroup it is.
	n = &node{host: h, paths: p, mnt: c.mnt, cgroupRoot: "/" + c.Lab.Name + "-" + h.Name}
	for _, d := range []string{p.cniConf, p.kubeletRoot, p.podLogs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return n, err
		}
	}
	for _, kv := range nodeSysctls {
		if out, err := h.Exec(ctx, "sysctl", "-qw", kv); err != nil {
			return n, fmt.Errorf("%s: %w: %s", kv, err, out)
		}
	}
	// Kubelet and kube-proxy dial the API server at the host's address,
	// forwarded from the node's own loopback.
	local := "127.0.0.1:" + apiPort
	if err := h.ForwardTo(context.Background(), local, local); err != nil {
		return n, err
	}
	if err := makeCgroupRoot(n.cgroupRoot); err != nil {
		return n, err
	}
	files := map[string]string{
		"containerd.toml":    containerdConfig(p),
		"cni/10-kc.conflist": cniConfig(p, h.PodCIDRv4, h.PodCIDRv6),
		"kubelet.yaml": kubeletConfig(p, n.cgroupRoot, filepath.Join(c.API.Dir, "pki", "ca.crt"),
			[]netip.Prefix{h.PodCIDRv4, h.PodCIDRv6}),
	}
	kubeletKC, err := c.API.KubeconfigFor("system:node:"+h.Name, "system:nodes")
	if err != nil {
		return n, err
	}
	proxyKC, err := c.API.KubeconfigFor("system:kube-proxy")
	if err != nil {
		return n, err
	}
	files["kube-proxy.yaml"] = kubeProxyConfig(proxyKC, h.Name, ProxyMode(i))
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(p.dir, name), []byte(content), 0o644); err != nil {
			return n, err
		}
	}

	if n.containerd, err = n.start("containerd", c.Tools.Containerd, "--config", filepath.Join(p.dir, "containerd.toml")); err != nil {
		return n, err
	}
	if err := n.importImages(ctx, c.Tools.Ctr, images); err != nil {
		return n, err
	}
	if n.kubelet, err = n.start("kubelet", c.Tools.Kubelet,
		"--config="+filepath.Join(p.dir, "kubelet.yaml"),
		"--kubeconfig="+kubeletKC,
		"--root-dir="+p.kubeletRoot,
		"--cert-dir="+filepath.Join(p.kubeletRoot, "pki"),
		"--hostname-override="+h.Name,
		"--node-ip="+h.IPv4.Addr().String()+","+h.IPv6.Addr().String(),
		"--v=1",
	); err != nil {
		return n, err
	}
	if n.proxy, err = n.start("kube-proxy", c.Tools.KubeProxy, "--config="+filepath.Join(p.dir, "kube-proxy.yaml"), "--v=1"); err != nil {
		return n, err
	}
	return n, nil
}

// start runs a daemon in the node's network namespace and the cluster's
// mount namespace.
func (n *node) start(name, bin string, args ...string) (*kubeapi.Child, error) {
	return kubeapi.StartChild(name+" "+n.host.Name, n.mnt.nsenter,
		n.mnt.args(n.host.NetNS, append([]string{bin}, args...)...), filepath.Join(n.paths.dir, name+".log"))
}

// importImages waits for containerd's socket and imports every image into
// the namespace the CRI plugin uses.
func (n *node) importImages(ctx context.Context, ctr, dir string) error {
	ctrArgs := func(a ...string) []string {
		return append([]string{"-a", n.paths.containerdSock, "-n", "k8s.io"}, a...)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := exec.CommandContext(ctx, ctr, ctrArgs("version")...).Run()
		if err == nil {
			break
		}
		if n.containerd.Exited() {
			return n.containerd.ExitError()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("containerd not answering on %s: %w", n.paths.containerdSock, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, img := range imageNames {
		if err := n.importImage(ctx, ctr, filepath.Join(dir, img+".tar")); err != nil {
			return err
		}
	}
	return nil
}

// importImage imports one docker-archive tarball into the namespace the CRI
// plugin uses. ctr unpacks through containerd, which mounts in its own (the
// cluster's) mount namespace; ctr itself needs none.
func (n *node) importImage(ctx context.Context, ctr, file string) error {
	if out, err := exec.CommandContext(ctx, ctr, "-a", n.paths.containerdSock, "-n", "k8s.io", "images", "import", file).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: ctr images import %s: %w: %s", n.host.Name, filepath.Base(file), err, out)
	}
	return nil
}

// exited is an error naming a daemon that died.
func (n *node) exited() error {
	for _, d := range []*kubeapi.Child{n.containerd, n.kubelet, n.proxy} {
		if d != nil && d.Exited() {
			return d.ExitError()
		}
	}
	return nil
}

// stop ends the kubelet and kube-proxy, kills every container (whatever is
// left in the node's cgroups), then containerd and its shims, and removes
// the cgroups.
func (n *node) stop() error {
	var errs []error
	for _, d := range []*kubeapi.Child{n.kubelet, n.proxy} {
		if d != nil {
			errs = append(errs, d.Stop(5*time.Second))
		}
	}
	if n.cgroupRoot != "" {
		errs = append(errs, removeCgroupRoot(n.cgroupRoot))
	}
	if n.containerd != nil {
		errs = append(errs, n.containerd.Stop(5*time.Second))
	}
	// Shims outlive containerd; they run in the node's namespace and end
	// with the lab, which kills everything left in it.
	return errors.Join(errs...)
}
