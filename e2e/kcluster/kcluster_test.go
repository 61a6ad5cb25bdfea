package kcluster_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/kcluster"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// TestCluster: real pods on every node of the cluster answer at their
// addresses from outside their node, and through a ClusterIP from a node
// running kube-proxy in either mode; after teardown nothing of the cluster
// is left on the machine.
func TestCluster(t *testing.T) {
	var cgroupRoots []string
	var labName string
	// Paths the daemons write below /run, /var/lib and /var/log must stay
	// inside the cluster's mount namespace.
	// The global sysctls the kubelet sets (to 1, 0, 10, 1, 1000000 and
	// 25000000) keep the machine's values.
	sysctls := map[string]string{}
	for _, k := range []string{"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops", "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes"} {
		b, err := os.ReadFile("/proc/sys/" + k)
		if err != nil {
			t.Fatal(err)
		}
		sysctls[k] = string(b)
	}
	hostPaths := map[string]bool{}
	for _, p := range []string{"/run/containerd", "/var/lib/kubelet", "/var/lib/cni", "/var/log/containers", "/var/log/pods"} {
		if _, err := os.Stat(p); err != nil {
			hostPaths[p] = true
		}
	}
	t.Run("cluster", func(t *testing.T) {
		c := kcluster.Start(t, kcluster.Options{Nodes: 3})
		labName = c.Lab.Name
		for _, n := range c.Nodes {
			cgroupRoots = append(cgroupRoots, "/sys/fs/cgroup/pids/"+c.Lab.Name+"-"+n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		ns := "default"
		if _, err := c.Clientset.AppsV1().Deployments(ns).Create(ctx, kcluster.TestServerDeployment(ns, "web", 3), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		single := corev1.IPFamilyPolicySingleStack
		svc, err := c.Clientset.CoreV1().Services(ns).Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "web"},
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": "web"}, IPFamilyPolicy: &single,
				IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
				Ports:      []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(kcluster.TestServerPort)}},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pods, err := c.WaitPodsReady(ctx, ns, "app=web", 3)
		if err != nil {
			t.Fatal(err)
		}
		nodes := map[string]bool{}
		for _, p := range pods {
			nodes[p.Spec.NodeName] = true
			// From the router: across the LAN into another namespace's
			// pod subnet, and the pod sees the router's own address.
			for _, ip := range p.Status.PodIPs {
				a := netip.MustParseAddr(ip.IP)
				got := get(t, c.Lab.Router, netip.AddrPortFrom(a, kcluster.TestServerPort))
				want := c.Lab.Router.IPv4.Addr()
				if a.Is6() {
					want = c.Lab.Router.IPv6.Addr()
				}
				if got.Pod != p.Name || got.Client.Addr() != want {
					t.Errorf("pod %s at %s answered %+v, want its name and client %s", p.Name, a, got, want)
				}
			}
		}
		if len(nodes) != 3 {
			t.Errorf("pods on nodes %v, want one on each of 3", nodes)
		}
		// Through the ClusterIP from each node (host network): kube-proxy
		// in nftables mode on node1 and node3, iptables on node2.
		cip := netip.AddrPortFrom(netip.MustParseAddr(svc.Spec.ClusterIP), 80)
		for i, n := range c.Lab.Nodes {
			seen := map[string]bool{}
			cluster.Eventually(t, 30*time.Second, "ClusterIP "+cip.String()+" from "+n.Name+" ("+kcluster.ProxyMode(i+1)+") reaching every pod", func() error {
				ans, err := kcluster.Ask(ctx, n, cip)
				if err != nil {
					return err
				}
				seen[ans.Pod] = true
				if len(seen) < 3 {
					return fmt.Errorf("answers from %v only", seen)
				}
				return nil
			})
		}
	})
	for p := range hostPaths {
		cgroupRoots = append(cgroupRoots, p)
	}
	for _, p := range append(cgroupRoots, "/run/netns/"+labName+"-node1") {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s is left after teardown", p)
		}
	}
	for k, v := range sysctls {
		if b, _ := os.ReadFile("/proc/sys/" + k); string(b) != v {
			t.Errorf("sysctl %s changed from %q to %q", k, strings.TrimSpace(v), strings.TrimSpace(string(b)))
		}
	}
	if m, _ := filepath.Glob("/run/netns/cni-*"); len(m) > 0 {
		t.Errorf("pod network namespaces left on the host: %v", m)
	}
}

func get(t *testing.T, h *vlan.Host, target netip.AddrPort) kcluster.Answer {
	t.Helper()
	var ans kcluster.Answer
	cluster.Eventually(t, 20*time.Second, "an answer from "+target.String()+" in "+h.Name, func() error {
		var err error
		ans, err = kcluster.Ask(context.Background(), h, target)
		return err
	})
	return ans
}
