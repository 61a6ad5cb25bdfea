package kcluster

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
)

// nodePaths are one node's files, all under its own directory.
type nodePaths struct {
	dir, containerdSock, cniConf, kubeletRoot, podLogs string
}

func pathsFor(dir string) nodePaths {
	return nodePaths{
		dir:            dir,
		containerdSock: filepath.Join(dir, "containerd.sock"),
		cniConf:        filepath.Join(dir, "cni"),
		kubeletRoot:    filepath.Join(dir, "kubelet"),
		podLogs:        filepath.Join(dir, "pods"),
	}
}

// containerdConfig is one node's containerd: its own root, state, sockets,
// runc root, opt dir and CNI configuration. restrict_oom_score_adj: root
// here lacks CAP_SYS_RESOURCE, and runc fails every sandbox trying to lower
// oom_score_adj without it.
func containerdConfig(p nodePaths) string {
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %[5]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[6]q
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[7]q
    conf_dir = %[8]q
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = %[9]q
        SystemdCgroup = false
`, filepath.Join(p.dir, "containerd", "root"), filepath.Join(p.dir, "containerd", "state"),
		p.containerdSock, p.containerdSock+".ttrpc", filepath.Join(p.dir, "containerd", "opt"),
		PauseImage, cniBinDir, p.cniConf, filepath.Join(p.dir, "runc"))
}

// cniConfig puts a node's pods on bridge cni0 with addresses from its pod
// subnets; the node routes (no masquerade, so pods see clients' addresses)
// and other nodes reach them by the routes Start adds.
func cniConfig(p nodePaths, v4, v6 netip.Prefix) string {
	return fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": "kcluster",
  "plugins": [{
    "type": "bridge",
    "bridge": "cni0",
    "isGateway": true,
    "ipMasq": false,
    "hairpinMode": true,
    "ipam": {
      "type": "host-local",
      "dataDir": %q,
      "ranges": [[{"subnet": %q}], [{"subnet": %q}]],
      "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]
    }
  }]
}
`, filepath.Join(p.dir, "ipam"), v4, v6)
}

// kubeletConfig follows ENVIRONMENT.md: cgroup v1 with the cgroupfs driver
// under the node's own cgroupRoot, no kernel-default or swap checks,
// webhook authentication and authorization, and eviction thresholds low
// enough that a busy shared disk never evicts test pods (absolute sizes:
// 1% of a large disk is gigabytes).
func kubeletConfig(p nodePaths, cgroupRoot, caFile string, podCIDRs []netip.Prefix) string {
	var cidrs []string
	for _, c := range podCIDRs {
		cidrs = append(cidrs, c.String())
	}
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: %q
protectKernelDefaults: false
failSwapOn: false
containerRuntimeEndpoint: unix://%s
podCIDR: %q
podLogsDir: %q
readOnlyPort: 0
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: %q
authorization:
  mode: Webhook
evictionHard:
  memory.available: "1Mi"
  nodefs.available: "100Mi"
  nodefs.inodesFree: "1%%"
  imagefs.available: "100Mi"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
nodeStatusUpdateFrequency: 2s
syncFrequency: 5s
fileCheckFrequency: 5s
resolvConf: ""
`, cgroupRoot, p.containerdSock, strings.Join(cidrs, ","), p.podLogs, caFile)
}

// kubeProxyConfig runs kube-proxy in mode (nftables or iptables) with its
// conntrack settings at 0, so it leaves the kernel's (global) ones alone.
func kubeProxyConfig(kubeconfig, node, mode string) string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: %q
hostnameOverride: %q
mode: %q
clusterCIDR: %q
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
metricsBindAddress: "127.0.0.1:10249"
healthzBindAddress: "0.0.0.0:10256"
`, kubeconfig, node, mode, "192.0.2.0/25,2001:db8:200::/48")
}
