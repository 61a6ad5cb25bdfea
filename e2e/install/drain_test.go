package install

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/kcluster"
	"github.com/ironlb/ironlb/ironlbctl/drain"
)

// TestDrain: on a `helm install`, under steady client traffic to every
// layer 2 VIP, two nodes are drained for maintenance the two ways a user
// would: `kubectl drain` alone (cordon, then evictions), and `ironlbctl
// drain` followed by `kubectl drain`. Each time the node's layer 2 IPs move
// to other nodes before its pods are gone, no request fails but at most one
// in flight when a VIP moves, and no Service's address changes. The test server's pods stop the way a
// well-behaved server does (a preStop pause: they keep serving while their
// endpoints are withdrawn).
func TestDrain(t *testing.T) {
	ctlBin := filepath.Join(t.TempDir(), "ironlbctl")
	var ctlErr error
	var built sync.WaitGroup
	built.Go(func() {
		out, err := exec.Command("go", "build", "-o", ctlBin, "github.com/ironlb/ironlb/ironlbctl").CombinedOutput()
		if err != nil {
			ctlErr = &cmdError{err, out}
		}
	})
	s := installScenario(t, helmInstall)
	moreTime(t, s)
	gracefulWeb(t, s)
	vips := l2VIPs(t, s)
	before := appServiceIPs(t, s)
	traffic := startTraffic(t, s, vips...)
	time.Sleep(time.Second)

	// kubectl drain alone: the cordon moves the IPs, the evictions follow.
	// The node announcing web's IP (Cluster policy: only the cordon moves
	// it; a Local IP would move anyway when its local pod is evicted).
	node := announcer(t, s, s.vip.Addr().String())
	drainNode(t, s, traffic, node, "kubectl drain", func(ctx context.Context) error {
		_, err := s.c.Kubectl(ctx, "drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=2m")
		return err
	})
	sameIPs(t, "after kubectl drain "+node, before, appServiceIPs(t, s))

	// ironlbctl drain, then kubectl drain, of another node (the first one
	// stays cordoned, so no IP moves back to it meanwhile): the IPs have
	// moved when ironlbctl returns, before any eviction.
	built.Wait()
	if ctlErr != nil {
		t.Fatal(ctlErr)
	}
	node = drainTarget(t, s, node)
	drainNode(t, s, traffic, node, "ironlbctl drain + kubectl drain", func(ctx context.Context) error {
		cmd := exec.CommandContext(ctx, ctlBin, "drain", node, "--kubeconfig", s.c.API.Kubeconfig, "--timeout", "1m")
		out, err := cmd.CombinedOutput()
		t.Logf("ironlbctl drain %s: %s", node, out)
		if err != nil {
			return &cmdError{err, out}
		}
		_, err = s.c.Kubectl(ctx, "drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=2m")
		return err
	})
	sameIPs(t, "after ironlbctl drain "+node, before, appServiceIPs(t, s))
	traffic.Stop()
}

// cmdError is a command's failure with its output.
type cmdError struct {
	err error
	out []byte
}

func (e *cmdError) Error() string { return e.err.Error() + ": " + string(e.out) }

// gracefulWeb gives the test server's pods a preStop pause of 5 s (within a
// grace period of 15 s), as a server behind a load balancer has: a pod
// being evicted keeps serving while its endpoint is withdrawn everywhere.
func gracefulWeb(t *testing.T, s *scenario) {
	t.Helper()
	// maxSurge 0: each replaced pod's successor lands on its node (the
	// spread constraint leaves no other), so every node keeps one pod.
	patch := `{"spec":{"strategy":{"rollingUpdate":{"maxSurge":0,"maxUnavailable":1}},` +
		`"template":{"spec":{"terminationGracePeriodSeconds":15,` +
		`"containers":[{"name":"server","lifecycle":{"preStop":{"sleep":{"seconds":5}}}}]}}}}`
	if _, err := s.c.Kubectl(s.ctx, "-n", appNS, "patch", "deployment", "web", "--patch", patch); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.Kubectl(s.ctx, "-n", appNS, "rollout", "status", "deployment/web", "--timeout=3m"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.WaitPodsReady(s.ctx, appNS, "app=web", len(s.c.Nodes)); err != nil {
		t.Fatal(err)
	}
}

// l2Statuses lists every ServiceL2Status.
func l2Statuses(ctx context.Context, s *scenario) ([]v1beta1.ServiceL2Status, error) {
	var l v1beta1.ServiceL2StatusList
	err := s.cl.List(ctx, &l)
	return l.Items, err
}

// announcer is the node announcing ip, once one does.
func announcer(t *testing.T, s *scenario, ip string) string {
	t.Helper()
	var node string
	cluster.Eventually(t, 30*time.Second, "a node announcing "+ip, func() error {
		items, err := l2Statuses(s.ctx, s)
		if err != nil {
			return err
		}
		for _, st := range items {
			if st.Status.IP == ip && st.Status.Node != "" {
				node = st.Status.Node
				return nil
			}
		}
		return errors.New("no ServiceL2Status names a node for it")
	})
	return node
}

// drainTarget is a node other than not that announces a layer 2 IP and
// runs a test server pod, once there is one.
func drainTarget(t *testing.T, s *scenario, not string) string {
	t.Helper()
	var node string
	cluster.Eventually(t, time.Minute, "a node other than "+not+" announcing a layer 2 IP and running a web pod", func() error {
		items, err := l2Statuses(s.ctx, s)
		if err != nil {
			return err
		}
		pods, err := s.c.Clientset.CoreV1().Pods(appNS).List(s.ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return err
		}
		for _, p := range pods.Items {
			if p.Spec.NodeName != not && p.DeletionTimestamp == nil && p.Status.PodIP != "" && len(drain.OnNode(items, p.Spec.NodeName)) > 0 {
				node = p.Spec.NodeName
				return nil
			}
		}
		return errors.New("none yet")
	})
	return node
}

// waitWebPodOn waits until a ready test server pod runs on node, which the
// drain is to evict: the rollout of gracefulWeb leaves one per node, but
// a pod it replaced last may still be starting.
func waitWebPodOn(t *testing.T, s *scenario, node string) {
	t.Helper()
	cluster.Eventually(t, time.Minute, "a ready test server pod on "+node, func() error {
		pods, err := s.c.Clientset.CoreV1().Pods(appNS).List(s.ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return err
		}
		var where []string
		for _, p := range pods.Items {
			if p.Spec.NodeName == node && p.DeletionTimestamp == nil && kcluster.PodReady(&p) {
				return nil
			}
			where = append(where, p.Name+" on "+p.Spec.NodeName+" ("+string(p.Status.Phase)+")")
		}
		return fmt.Errorf("none; the test server pods: %v", where)
	})
}

// drainNode runs drain (which must end with the node's pods evicted) under
// the traffic and checks that the layer 2 IPs that were on node left it
// before the first of its test server pods was gone, and that no request
// failed but at most one per VIP in flight at the move.
func drainNode(t *testing.T, s *scenario, traffic *cluster.Traffic, node, how string, drainIt func(context.Context) error) {
	t.Helper()
	items, err := l2Statuses(s.ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	on := drain.OnNode(items, node)
	if len(on) == 0 {
		t.Fatalf("%s: no layer 2 IP on %s to move", how, node)
	}
	waitWebPodOn(t, s, node)
	pw := watchPods(t, s, appNS, "app=web")
	moved := watchMoved(t, s, node, on)
	start := traffic.Snapshot()
	begin := time.Now()
	if err := drainIt(s.ctx); err != nil {
		t.Fatalf("%s %s: %v", how, node, err)
	}
	took := time.Since(begin)
	time.Sleep(2 * time.Second)
	counts := cluster.Since(start, traffic.Snapshot())
	pw.stop()
	movedAt := moved()
	_, gone := pw.events()
	var firstGone time.Time
	for _, e := range gone {
		if e.node == node && (firstGone.IsZero() || e.at.Before(firstGone)) {
			firstGone = e.at
		}
	}
	t.Logf("%s %s (%d layer 2 IPs on it: %v): done after %v, IPs moved at +%v, first pod gone at +%v",
		how, node, len(on), on, took.Round(time.Millisecond), offset(movedAt, begin), offset(firstGone, begin))
	switch {
	case firstGone.IsZero():
		t.Errorf("%s %s: no test server pod on the node went away (%s)", how, node, pw.report())
	case movedAt.IsZero():
		t.Errorf("%s %s: its layer 2 IPs %v never left it", how, node, on)
	case !movedAt.Before(firstGone):
		t.Errorf("%s %s: its layer 2 IPs left it at +%v, after its first pod was gone (+%v)", how, node, offset(movedAt, begin), offset(firstGone, begin))
	}
	for vip, n := range counts {
		t.Logf("%s: %d requests during %s, %d failed", vip, n.Sent, how, n.Failed)
		if n.Failed == 0 {
			continue
		}
		// A connection open at the moment the client's neighbour entry
		// switches to the new owner is reset there (no node shares
		// connection state): one such request per VIP is the move's
		// price. Its status is written after the move, so the window
		// reaches back before the moment seen.
		atMove := 0
		for _, at := range n.FailedSent {
			if !movedAt.IsZero() && at.After(movedAt.Add(-1500*time.Millisecond)) && at.Before(movedAt.Add(500*time.Millisecond)) {
				atMove++
			}
		}
		if n.Failed > 1 || atMove != n.Failed {
			t.Errorf("%s: %d of %d requests failed during %s %s, at %v (IPs moved at +%v; at most one request in flight at the move may fail): %v",
				vip, n.Failed, n.Sent, how, node, cluster.Offsets(n.FailedSent, begin), offset(movedAt, begin), n.LastError)
		}
	}
}

func offset(at, since time.Time) any {
	if at.IsZero() {
		return "never"
	}
	return at.Sub(since).Round(time.Millisecond)
}

// watchMoved polls the ServiceL2Statuses every 50 ms until none of the IPs
// that were on node is announced by it; the returned function stops the
// polling and says when that was (zero: not yet).
func watchMoved(t *testing.T, s *scenario, node string, on []drain.Entry) func() time.Time {
	ctx, cancel := context.WithCancel(s.ctx)
	done := make(chan struct{})
	var at time.Time
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if items, err := l2Statuses(ctx, s); err == nil {
				if _, remaining := drain.Progress(on, items, node); len(remaining) == 0 {
					at = time.Now()
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	stop := func() time.Time {
		cancel()
		<-done
		return at
	}
	t.Cleanup(func() { stop() })
	return stop
}
