// Package ironlbctl_test runs the real ironlbctl binary against a real API
// server with the real controller and speakers on a virtual LAN
// (e2e/cluster): every command, and `why` for causes created for real.
package ironlbctl_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/speaker/l2plan"
)

// bin is the ironlbctl under test, built fresh by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ironlbctl-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "kubectl-ironlb") // the plugin name: it must behave the same
	build := exec.Command("go", "build", "-o", bin, "github.com/ironlb/ironlb/ironlbctl")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build ironlbctl:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type ctl struct {
	t          *testing.T
	kubeconfig string
}

// run executes ironlbctl and returns its stdout+stderr and exit status.
func (c ctl) run(args ...string) (string, int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, "--kubeconfig", c.kubeconfig)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG=/nonexistent") // the flag must win
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee):
		return out.String(), ee.ExitCode()
	}
	c.t.Fatalf("ironlbctl %v: %v\n%s", args, err, out.String())
	return "", -1
}

// eventually reruns ironlbctl until its output, with white space runs
// collapsed to one space, has every want and the exit status is code.
func (c ctl) eventually(code int, want []string, args ...string) string {
	c.t.Helper()
	var out string
	cluster.Eventually(c.t, 30*time.Second, fmt.Sprintf("ironlbctl %v to say %q", args, want), func() error {
		var got int
		out, got = c.run(args...)
		if got != code {
			return fmt.Errorf("exit %d, want %d:\n%s", got, code, out)
		}
		flat := strings.Join(strings.Fields(out), " ") // table columns: any spacing
		for _, w := range want {
			if !strings.Contains(flat, w) {
				return fmt.Errorf("no %q in:\n%s", w, out)
			}
		}
		return nil
	})
	return out
}

func endpointsOn(nodes ...string) []cluster.Endpoint {
	var eps []cluster.Endpoint
	for i, n := range nodes {
		eps = append(eps, cluster.Endpoint{Node: n, Addr: netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", 10+i)), Ready: true})
	}
	return eps
}

func setLabel(t *testing.T, c *cluster.Cluster, node, key string, value *string) {
	t.Helper()
	var n corev1.Node
	if err := c.Client.Get(context.Background(), client.ObjectKey{Name: node}, &n); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(n.DeepCopy())
	if value == nil {
		delete(n.Labels, key)
	} else {
		n.Labels[key] = *value
	}
	if err := c.Client.Patch(context.Background(), &n, patch); err != nil {
		t.Fatal(err)
	}
}

func TestIronlbctl(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Clients: 2})
	kubeconfig, err := c.API.KubeconfigFor("admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	x := ctl{t: t, kubeconfig: kubeconfig}

	// "lan": layer 2 on eth0, only for namespace default. "tiny": one
	// address, on request. "edge": announced only by node3.
	lan := cluster.Pool("lan", "203.0.113.0/24")
	lan.Spec.ServiceAllocation = &v1beta1.ServiceAllocation{Namespaces: []string{"default"}}
	no := false
	tiny := cluster.Pool("tiny", "198.51.100.10/32")
	tiny.Spec.AutoAssign = &no
	edge := cluster.Pool("edge", "198.51.100.32/28")
	edge.Spec.AutoAssign = &no
	edgeAdv := cluster.L2("edge", []string{"edge"}, "eth0")
	edgeAdv.Spec.NodeSelectors = []metav1.LabelSelector{{MatchLabels: map[string]string{"kubernetes.io/hostname": "node3"}}}
	c.Create(t, lan, tiny, edge, cluster.L2("lan", []string{"lan", "tiny"}, "eth0"), edgeAdv,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere"}})
	all := endpointsOn("node1", "node2", "node3")

	c.Create(t, cluster.LoadBalancer("default", "web"))
	c.SetEndpoints(t, "default", "web", all...)
	webIP := c.WaitForIPs(t, "default", "web", 1)[0]
	webNode := c.WaitForAnnouncer(t, "default", "web", webIP, func(string) bool { return true })

	t.Run("status", func(t *testing.T) {
		x.t = t
		out := x.eventually(0, []string{
			"lan IPv4 256 1 255 True",
			fmt.Sprintf("default/web %s lan layer2 %s kube-proxy 3 -", webIP, webNode),
		}, "status")
		t.Logf("status:\n%s", out)
		x.eventually(0, []string{"Announced: " + webIP.String(), "by node " + webNode}, "why", "default/web")
	})

	t.Run("why", func(t *testing.T) {
		x.t = t
		// Pool exhausted: t1 takes tiny's only address.
		c.Create(t, cluster.LoadBalancer("default", "t1", func(s *corev1.Service) {
			s.Annotations = map[string]string{"ironlb.io/address-pool": "tiny"}
		}))
		c.WaitForIPs(t, "default", "t1", 1)
		c.Create(t, cluster.LoadBalancer("default", "t2", func(s *corev1.Service) {
			s.Annotations = map[string]string{"ironlb.io/address-pool": "tiny"}
		}))
		// No pool admits namespace elsewhere.
		c.Create(t, cluster.LoadBalancer("elsewhere", "lost"))
		// Not a LoadBalancer; another class.
		plain := cluster.LoadBalancer("default", "plain")
		plain.Spec.Type, plain.Spec.AllocateLoadBalancerNodePorts = corev1.ServiceTypeClusterIP, nil
		c.Create(t, plain, cluster.LoadBalancer("default", "foreign", func(s *corev1.Service) {
			class := "example.com/other"
			s.Spec.LoadBalancerClass = &class
		}))
		// No endpoints; Local with its only endpoint on no node of ours.
		c.Create(t, cluster.LoadBalancer("default", "noeps"), cluster.LoadBalancer("default", "loc", cluster.Local))
		c.SetEndpoints(t, "default", "loc", cluster.Endpoint{Node: "gone", Addr: netip.MustParseAddr("192.0.2.40"), Ready: true})
		// The only node edge's advertisement selects is excluded.
		excluded := ""
		setLabel(t, c, "node3", l2plan.LabelExclude, &excluded)
		defer setLabel(t, c, "node3", l2plan.LabelExclude, nil)
		c.Create(t, cluster.LoadBalancer("default", "ex", func(s *corev1.Service) {
			s.Annotations = map[string]string{"ironlb.io/address-pool": "edge"}
		}))
		c.SetEndpoints(t, "default", "ex", all...)
		// Another host on the LAN already uses the requested address.
		rogue := c.Lab.Clients[1]
		if out, err := rogue.Exec(context.Background(), "ip", "addr", "add", "203.0.113.50/24", "dev", rogue.Iface); err != nil {
			t.Fatalf("rogue address: %v: %s", err, out)
		}
		c.Create(t, cluster.LoadBalancer("default", "clash", cluster.RequestIP("203.0.113.50")))
		c.SetEndpoints(t, "default", "clash", all...)

		for _, tc := range []struct {
			svc  string
			want []string
		}{
			{"default/missing", []string{"ServiceNotFound"}},
			{"default/plain", []string{"NotLoadBalancer", `spec.type "ClusterIP"`}},
			{"default/foreign", []string{"OtherLoadBalancerClass", `"example.com/other"`}},
			{"default/t2", []string{"PoolExhausted", `pool "tiny" exhausted`}},
			{"elsewhere/lost", []string{"NoPoolMatches", `IPAddressPool "lan": spec.serviceAllocation.namespaces [default]`}},
			{"default/noeps", []string{"NoReadyEndpoint"}},
			{"default/loc", []string{"NoLocalEndpoint", "externalTrafficPolicy Local"}},
			{"default/ex", []string{"NoEligibleNode", "node node3: labelled node.kubernetes.io/exclude-from-external-load-balancers",
				"node node1: not selected by spec.nodeSelectors of L2Advertisement edge"}},
			{"default/clash", []string{"AddressConflict", rogue.MAC.String()}},
		} {
			out := x.eventually(1, tc.want, "why", tc.svc)
			t.Logf("why %s:\n%s", tc.svc, out)
		}
		out, code := x.run("why", "default/t2", "-o", "json")
		if code != 1 || !strings.Contains(out, `"code": "PoolExhausted"`) {
			t.Errorf("why -o json: exit %d\n%s", code, out)
		}
	})

	t.Run("validate", func(t *testing.T) {
		x.t = t
		dir := t.TempDir()
		bad := filepath.Join(dir, "bad.yaml")
		write(t, bad, "apiVersion: ironlb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n  name: bad\nspec:\n  addresses: [nonsense]\n")
		out, code := x.run("validate", "-f", bad, "--offline")
		if code != 1 || !strings.Contains(out, `IPAddressPool "bad": spec.addresses[0]`) {
			t.Errorf("bad file: exit %d, want 1 naming the object and field:\n%s", code, out)
		}
		// Shrinking lan to web's address leaves the younger Services none.
		shrink := filepath.Join(dir, "shrink.yaml")
		write(t, shrink, fmt.Sprintf("apiVersion: ironlb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n  name: lan\nspec:\n  addresses: [%s/32]\n  serviceAllocation:\n    namespaces: [default]\n", webIP))
		out, code = x.run("validate", "-f", dir+"/shrink.yaml", "--preview")
		if code != 0 || !strings.Contains(out, "lose  default/noeps would lose") || strings.Contains(out, "default/web would") {
			t.Errorf("shrink preview: exit %d, want default/noeps to lose its address and web to keep it:\n%s", code, out)
		}
		t.Logf("validate preview:\n%s", out)
	})

	t.Run("drain", func(t *testing.T) {
		x.t = t
		out, code := x.run("drain", webNode, "--timeout", "20s")
		t.Logf("drain:\n%s", out)
		if code != 0 || !strings.Contains(out, fmt.Sprintf("%s (default/web): %s -> ", webIP, webNode)) {
			t.Fatalf("drain %s: exit %d", webNode, code)
		}
		moved := c.WaitForAnnouncer(t, "default", "web", webIP, func(n string) bool { return n != webNode })
		if st := c.L2Status(t, "default", "web", webIP); st == nil || st.Status.Node != moved {
			t.Fatalf("status after drain: %+v", st)
		}
		if out, code := x.run("undrain", webNode); code != 0 {
			t.Fatalf("undrain: exit %d\n%s", code, out)
		}
		// Eligible again: with the other two nodes drained (without
		// waiting), the IP can only come back to it.
		for _, n := range []string{"node1", "node2", "node3"} {
			if n == webNode {
				continue
			}
			if out, code := x.run("drain", n, "--timeout", "0"); code != 0 {
				t.Fatalf("drain %s: exit %d\n%s", n, code, out)
			}
			defer x.run("drain", "--undo", n)
		}
		c.WaitForAnnouncer(t, "default", "web", webIP, func(n string) bool { return n == webNode })
	})
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
