// Package kcluster runs a real Kubernetes cluster for tests: etcd and
// kube-apiserver (e2e/kubeapi), kube-controller-manager and kube-scheduler
// on the host, and N nodes on the virtual LAN of e2e/vlan, each node a
// network namespace with its own containerd, kubelet and kube-proxy
// (nftables mode, iptables mode on node2), pods on a CNI bridge per node and
// routes between the nodes' pod subnets. The LAN also holds a client and a
// router (FRR runs there in BGP tests), as e2e/cluster lays them out.
//
// It follows ../shared/ENVIRONMENT.md ("A real Kubernetes cluster"):
//   - every containerd, kubelet and kube-proxy runs inside one private mount
//     namespace (held by `unshare --mount --propagation private sleep
//     infinity`) in which files are bind-mounted over the four global
//     sysctls the kubelet writes, and tmpfs over /run, /var/lib and /var/log,
//     which hold the paths all nodes would otherwise share on the host
//     (/run/netns, /run/containerd, /var/lib/kubelet/device-plugins,
//     /var/lib/cni, /var/log/containers), so the machine's settings and
//     files are never changed; processes enter a node with
//     nsenter --mount --net, not `ip netns exec`;
//   - runc cannot set oom_score_adj here (no CAP_SYS_RESOURCE), hence
//     restrict_oom_score_adj in containerd's CRI config;
//   - each kubelet has a cgroupRoot of its own, created beforehand in every
//     cgroup v1 hierarchy and removed at teardown after every process in it
//     has been killed.
//
// There is no registry: the pause image, IronLB's images and the test
// server are built by hack/image (as `make image` does) and imported into
// every node with ctr.
//
// The API server runs on the host's loopback. Nodes reach it through a
// forwarder on 127.0.0.1 in their namespace; pods reach it through the
// "kubernetes" Service, whose EndpointSlice points at a forwarder on the
// router; and the API server reaches pods (webhooks) and kubelets through
// an HTTP CONNECT egress proxy that dials from the router's namespace, so
// the host needs no route into the lab.
//
// Only documentation address ranges are used: the LAN of e2e/vlan, pod
// subnets 192.0.2.(16*i)/28 and 2001:db8:200:i::/64 (vlan.PodsV4/V6), and
// the ClusterIPs of e2e/kubeapi.
package kcluster
