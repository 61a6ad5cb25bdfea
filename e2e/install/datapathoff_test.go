package install

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/kcluster"
)

// TestHelmInstallDatapathOff: the chart with speaker.datapath=off, the
// option for clusters that leave Service traffic to kube-proxy. The
// controller publishes ipMode VIP, no node has IronLB's table, and
// kube-proxy (nftables on node1 and node3, iptables on node2) carries the
// traffic of every VIP: layer 2 and BGP, Cluster and Local (the pod sees
// the client's address), beside ClusterIPs and NodePorts.
func TestHelmInstallDatapathOff(t *testing.T) {
	s := installScenario(t, func(ctx context.Context, c *kcluster.Cluster) error {
		return helmRelease(ctx, c, "install", filepath.Join(c.Repo, "manifests", "helm", "ironlb"), "--set", "speaker.datapath=off")
	})
	checkBGP(t, s)
	local := cluster.LoadBalancer(appNS, "web-bgp-local", cluster.Local)
	local.Spec.Selector = map[string]string{"app": "web"}
	local.Annotations = map[string]string{"ironlb.io/address-pool": "bgp"}
	create(t, s.cl, local)
	if ip := awaitIP(t, s.ctx, s.c, local.Name); !netip.MustParsePrefix(cluster.BGPv4).Contains(ip) {
		t.Fatalf("%s got %s, not from the BGP pool %s", local.Name, ip, cluster.BGPv4)
	}
	checkKubeProxy(t, s, false, "web", "web-local", "web-bgp", local.Name)
}
