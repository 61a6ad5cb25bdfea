package install

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/frr"
	"github.com/ironlb/ironlb/e2e/kcluster"
	"github.com/ironlb/ironlb/e2e/kubeapi"
)

// previousRelease is the commit whose chart and images a user upgrades
// from. The chart's version is still 0.1.0 and the repository has no
// release tag, so the previous version is main as it was before the chart
// last changed: the first parent of 5d5be4b (the merge that added the
// chart's secrets.yaml and narrowed the controller's Secret access). Its
// controller creates the Secrets it keeps, and its webhook could not start
// in a real install (fixed since), so it is installed with the webhook off,
// the only way it ran; the upgrade turns the webhook on.
const previousRelease = "2acd8d9b52f72b42c88ab7ff009629179b5d3d14"

// TestHelmUpgrade: `helm upgrade` from the previous release's chart and
// images to the current ones, under steady client traffic through a layer
// 2 VIP (Cluster and Local) and a BGP VIP, rolls every speaker and
// controller over to the new images with at most one failed request per
// VIP and speaker restart (the bound of a rolling restart: a layer 2
// hand-off, or a BGP next hop leaving and rejoining the router's ECMP set
// while a connection is open), without any Service's address changing,
// with every layer 2 address still announced, the BGP route never missing
// more than the one restarting node (the new speakers' readiness paces
// the rollout) and in the end learned from every node again; the new
// controller then serves the webhook and gives a new Service an address.
func TestHelmUpgrade(t *testing.T) {
	tag := previousRelease[:7]
	prevChart, prevImages := buildPrevious(t, kubeapi.RepoRoot(t), tag)
	s := installScenarioWebhook(t, func(ctx context.Context, c *kcluster.Cluster) error {
		if err := c.ImportImages(ctx, prevImages...); err != nil {
			return err
		}
		return helmRelease(ctx, c, "install", prevChart, "--set", "webhook.enabled=false",
			"--set", "controller.image.tag="+tag, "--set", "speaker.image.tag="+tag)
	}, false)
	c, ctx := s.c, s.ctx
	checkImages(t, ctx, c, ":"+tag)
	router := checkBGP(t, s)

	names := []string{"web", "web-local", "web-bgp"}
	before := serviceIPs(t, ctx, c, names)
	bgpVIP := netip.PrefixFrom(before["web-bgp"], 32)
	routeBefore, err := router.WaitRoute(ctx, bgpVIP, func(r frr.Route, ok bool) bool { return ok && len(r.NextHops()) == len(c.Nodes) })
	if err != nil {
		t.Fatalf("BGP route %s from every node before the upgrade: %v", bgpVIP, err)
	}
	l2Before := l2Announcers(t, ctx, s.cl)
	t.Logf("before the upgrade: addresses %v, BGP next hops %v, layer 2 announcers %v", before, routeBefore.NextHops(), l2Before)

	var targets []netip.AddrPort
	for _, n := range names {
		targets = append(targets, netip.AddrPortFrom(before[n], 80))
	}
	changes := watchIPs(t, c, names, before)
	nextHops := watchNextHops(t, router, bgpVIP)
	tr := cluster.StartTraffic(t, s.client, 100*time.Millisecond, 2*time.Second, targets...)
	time.Sleep(2 * time.Second) // some requests before, for the counts to show traffic flowed

	upgraded := time.Now()
	if err := helmRelease(ctx, c, "upgrade", filepath.Join(c.Repo, "manifests", "helm", "ironlb")); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"daemonset/ironlb-speaker", "deployment/ironlb-controller"} {
		if _, err := c.Kubectl(ctx, "rollout", "status", "-n", systemNS, w, "--timeout=3m"); err != nil {
			t.Fatal(err)
		}
	}
	for comp, n := range map[string]int{"controller": 2, "speaker": len(c.Nodes)} {
		if _, err := c.WaitPodsReady(ctx, systemNS, "app.kubernetes.io/name=ironlb,app.kubernetes.io/component="+comp, n); err != nil {
			t.Fatal(err)
		}
	}
	rolled := time.Since(upgraded)
	checkImages(t, ctx, c, ":latest")
	time.Sleep(3 * time.Second) // traffic after the last restart, too
	tr.Stop()
	counts := tr.Snapshot()
	for target, n := range counts {
		t.Logf("%s: %d requests, %d failed", target, n.Sent, n.Failed)
		if n.Sent < 20 {
			t.Errorf("%s: only %d requests sent", target, n.Sent)
		}
	}
	for target, n := range counts {
		if n.Failed > 0 {
			t.Logf("%s: failed requests at %v after helm upgrade; last: %v", target, cluster.Offsets(n.FailedSent, upgraded), n.LastError)
		}
		if n.Failed > len(c.Nodes) {
			t.Errorf("%s: %d failed requests over %d speaker restarts, want at most one per restart", target, n.Failed, len(c.Nodes))
		}
	}
	if ch := changes(); len(ch) > 0 {
		t.Errorf("addresses changed during the upgrade: %v", ch)
	}
	if after := serviceIPs(t, ctx, c, names); !maps.Equal(after, before) {
		t.Errorf("addresses after the upgrade %v, before %v", after, before)
	}
	// The speakers restart one at a time, each only once the one before
	// is back at the router (its readiness): never two nodes missing.
	fewest, hopChanges := nextHops()
	t.Logf("BGP next hops of %s during the upgrade: %v", bgpVIP, hopChanges)
	if fewest < len(c.Nodes)-1 {
		t.Errorf("the router had %d next hops for %s at one point during the upgrade, want at least %d (one speaker restarting at a time): %v", fewest, bgpVIP, len(c.Nodes)-1, hopChanges)
	}
	route, err := router.WaitRoute(ctx, bgpVIP, func(r frr.Route, ok bool) bool {
		return ok && slices.Equal(r.NextHops(), routeBefore.NextHops())
	})
	if err != nil {
		t.Errorf("BGP route %s after the upgrade: %v (before: next hops %v)", bgpVIP, err, routeBefore.NextHops())
	}
	l2After := l2Announcers(t, ctx, s.cl)
	if !slices.Equal(slices.Sorted(maps.Keys(l2After)), slices.Sorted(maps.Keys(l2Before))) {
		t.Errorf("layer 2 announcements after the upgrade %v, before %v", l2After, l2Before)
	}
	t.Logf("helm upgrade to every pod rolled over and Ready: %v; BGP next hops %v; layer 2 announcers %v", rolled.Round(time.Millisecond), route.NextHops(), l2After)

	// The new controller leads: the webhook the upgrade turned on answers,
	// and a new Service gets an address.
	checkWebhook(t, ctx, s.cl)
	svc := cluster.LoadBalancer(appNS, "web-new")
	svc.Spec.Selector = map[string]string{"app": "web"}
	create(t, s.cl, svc)
	vip := netip.AddrPortFrom(awaitIP(t, ctx, c, svc.Name), 80)
	cluster.Eventually(t, time.Minute, "an answer through the new Service's VIP "+vip.String(), func() error {
		_, err := kcluster.Ask(ctx, s.client, vip)
		return err
	})
}

// buildPrevious builds the previous release from its vendored source,
// compiled the way `make image` does and packed by
// hack/image as <repo>/<name>:tag, and its chart. It returns the chart's
// directory and the image tarballs.
func buildPrevious(tb testing.TB, repo, tag string) (string, []string) {
	tb.Helper()
	begin := time.Now()
	dir := tb.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		tb.Fatal(err)
	}
	run := func(wd string, env []string, name string, args ...string) {
		tb.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = wd, append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	// The source is vendored, so the test needs no git history (CI may
	// clone shallow): e2e/testdata/previous-release/README.md says how it
	// was made.
	run(src, nil, "tar", "-xzf", filepath.Join(repo, "e2e", "testdata", "previous-release", "ironlb-"+previousRelease[:7]+".tar.gz"))
	bin := filepath.Join(dir, "bin")
	run(src, []string{"CGO_ENABLED=0", "GOWORK=off"}, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin+"/", "./controller", "./speaker")
	out := filepath.Join(dir, "images")
	run(repo, nil, "go", "run", "./hack/image", "-version", tag, "-also-tag", "", "-bin", bin, "-out", out, "-only", "controller,speaker")
	tb.Logf("previous release %s built in %v", tag, time.Since(begin).Round(time.Millisecond))
	return filepath.Join(src, "manifests", "helm", "ironlb"), []string{filepath.Join(out, "controller.tar"), filepath.Join(out, "speaker.tar")}
}

// checkImages checks that every IronLB pod runs an image with that tag
// suffix.
func checkImages(tb testing.TB, ctx context.Context, c *kcluster.Cluster, suffix string) {
	tb.Helper()
	pods, err := c.Clientset.CoreV1().Pods(systemNS).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=ironlb"})
	if err != nil {
		tb.Fatal(err)
	}
	if len(pods.Items) == 0 {
		tb.Fatal("no IronLB pods")
	}
	for _, p := range pods.Items {
		for _, ct := range p.Spec.Containers {
			if !strings.HasSuffix(ct.Image, suffix) {
				tb.Fatalf("pod %s runs %s, want an image ending in %s", p.Name, ct.Image, suffix)
			}
		}
	}
}

// serviceIPs are the Services' first load-balancer addresses.
func serviceIPs(tb testing.TB, ctx context.Context, c *kcluster.Cluster, names []string) map[string]netip.Addr {
	tb.Helper()
	out := map[string]netip.Addr{}
	for _, n := range names {
		out[n] = awaitIP(tb, ctx, c, n)
	}
	return out
}

// watchIPs polls the Services' addresses until test end; the function it
// returns lists every change seen so far (an address other than want, or
// none).
func watchIPs(tb testing.TB, c *kcluster.Cluster, names []string, want map[string]netip.Addr) func() []string {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var changes []string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			for _, n := range names {
				svc, err := c.Clientset.CoreV1().Services(appNS).Get(ctx, n, metav1.GetOptions{})
				if err != nil {
					continue
				}
				if got := ingressIPs(svc); len(got) != 1 || got[0] != want[n] {
					mu.Lock()
					changes = append(changes, fmt.Sprintf("%s at %s: %v", n, time.Now().Format("15:04:05.000"), got))
					mu.Unlock()
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	tb.Cleanup(func() { cancel(); wg.Wait() })
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(changes)
	}
}

func ingressIPs(svc *corev1.Service) []netip.Addr {
	var out []netip.Addr
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if ip, err := netip.ParseAddr(in.IP); err == nil {
			out = append(out, ip)
		}
	}
	return out
}

// l2Announcers waits until every ServiceL2Status names a node and
// returns, per announced address, the node.
func l2Announcers(tb testing.TB, ctx context.Context, cl client.Client) map[string]string {
	tb.Helper()
	out := map[string]string{}
	cluster.Eventually(tb, 30*time.Second, "every layer 2 address announced by a node", func() error {
		var list v1beta1.ServiceL2StatusList
		if err := cl.List(ctx, &list, client.InNamespace(appNS)); err != nil {
			return err
		}
		clear(out)
		for _, st := range list.Items {
			if st.Status.Node == "" {
				return fmt.Errorf("%s (%s): no node announces it: %s", st.Name, st.Status.IP, st.Status.Reason)
			}
			out[st.Status.IP] = st.Status.Node
		}
		if len(out) == 0 {
			return fmt.Errorf("no ServiceL2Status in %s", appNS)
		}
		return nil
	})
	return out
}
