package install

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/e2e/cluster"
)

const (
	speakerSelector    = "app.kubernetes.io/name=ironlb,app.kubernetes.io/component=speaker"
	controllerSelector = "app.kubernetes.io/name=ironlb,app.kubernetes.io/component=controller"
	// leaseName is the controller's leader election Lease (its
	// -leader-election-id default, which the chart keeps).
	leaseName = "ironlb-controller"
)

// TestRolloutRestart: on a `helm install`, under steady client traffic to
// every layer 2 VIP (Cluster and Local, IPv4 and IPv6), `kubectl rollout
// restart` of the speaker DaemonSet costs each VIP at most one failed
// request per speaker restart, and of the controller Deployment none; no
// Service's address changes. Then the leading controller's pod, deleted
// with grace period 0, hands leadership to a running replica, and a new
// Service gets its address within the Lease's duration plus 1 s.
func TestRolloutRestart(t *testing.T) {
	s := installScenario(t, helmInstall)
	moreTime(t, s)
	vips := l2VIPs(t, s)
	before := appServiceIPs(t, s)
	traffic := startTraffic(t, s, vips...)
	time.Sleep(time.Second)

	// The speakers, one node at a time (maxUnavailable 1).
	pw := watchPods(t, s, systemNS, speakerSelector)
	start := traffic.Snapshot()
	begin := time.Now()
	if _, err := s.c.Kubectl(s.ctx, "-n", systemNS, "rollout", "restart", "daemonset/ironlb-speaker"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.Kubectl(s.ctx, "-n", systemNS, "rollout", "status", "daemonset/ironlb-speaker", "--timeout=3m"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.WaitPodsReady(s.ctx, systemNS, speakerSelector, len(s.c.Nodes)); err != nil {
		t.Fatal(err)
	}
	// Long enough for a moved address to come back and for a late
	// failure to show.
	time.Sleep(3 * time.Second)
	counts := cluster.Since(start, traffic.Snapshot())
	pw.stop()
	terminating, _ := pw.events()
	var starts []time.Time
	for _, e := range terminating {
		t.Logf("speaker %s on %s terminating at +%v", e.pod, e.node, e.at.Sub(begin).Round(time.Millisecond))
		starts = append(starts, e.at)
	}
	if len(starts) != len(s.c.Nodes) {
		t.Fatalf("%d speaker pods terminated during the rollout, want one per node (%d)", len(starts), len(s.c.Nodes))
	}
	t.Logf("speaker rollout restart: %v", time.Since(begin).Round(time.Millisecond))
	for _, vip := range vips {
		n := counts[vip]
		per := perWindow(starts, n.FailedSent)
		t.Logf("%s: %d requests during the speaker rollout, failed per restart %v (last error: %v)", vip, n.Sent, per, n.LastError)
		if n.Sent < 100 {
			t.Errorf("%s: only %d requests: the traffic did not run", vip, n.Sent)
		}
		// A graceful hand-off may cost one request per restart; more
		// means the VIP went down.
		if slices.Max(per) > 1 {
			t.Errorf("%s: failed requests per speaker restart %v (at most 1 each), at %v after the rollout began", vip, per, cluster.Offsets(n.FailedSent, begin))
		}
	}
	sameIPs(t, "after the speakers' rollout", before, appServiceIPs(t, s))

	// The controllers: not in the data path, so no request may fail.
	start = traffic.Snapshot()
	begin = time.Now()
	if _, err := s.c.Kubectl(s.ctx, "-n", systemNS, "rollout", "restart", "deployment/ironlb-controller"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.Kubectl(s.ctx, "-n", systemNS, "rollout", "status", "deployment/ironlb-controller", "--timeout=3m"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.WaitPodsReady(s.ctx, systemNS, controllerSelector, 2); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	t.Logf("controller rollout restart: %v", time.Since(begin).Round(time.Millisecond))
	for vip, n := range cluster.Since(start, traffic.Snapshot()) {
		t.Logf("%s: %d requests during the controller rollout, %d failed", vip, n.Sent, n.Failed)
		if n.Failed > 0 {
			t.Errorf("%s: %d of %d requests failed during the controller rollout, at %v: %v", vip, n.Failed, n.Sent, cluster.Offsets(n.FailedSent, begin), n.LastError)
		}
	}
	sameIPs(t, "after the controllers' rollout", before, appServiceIPs(t, s))

	leaderKilled(t, s)
	end := traffic.Snapshot()
	traffic.Stop()
	sameIPs(t, "after the leader's pod was deleted", before, appServiceIPs(t, s))
	for vip, n := range cluster.Since(start, end) {
		if n.Failed > 0 {
			t.Errorf("%s: %d requests failed from the controller rollout to the end: %v", vip, n.Failed, n.LastError)
		}
	}
}

// leaderKilled deletes the leading controller's pod with grace period 0,
// waits for another running replica to take the Lease, then creates a
// Service and checks that it gets an address within the Lease's duration
// plus 1 s of the deletion.
func leaderKilled(t *testing.T, s *scenario) {
	t.Helper()
	leases := s.c.Clientset.CoordinationV1().Leases(systemNS)
	var leader, other string
	var duration time.Duration
	// After the rollout, the Lease passes to a replica of the new
	// ReplicaSet (at once when the old leader released it).
	cluster.Eventually(t, time.Minute, "a running controller holding the Lease", func() error {
		l, err := leases.Get(s.ctx, leaseName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if l.Spec.HolderIdentity == nil || l.Spec.LeaseDurationSeconds == nil {
			return errors.New("no holder")
		}
		leader, duration = *l.Spec.HolderIdentity, time.Duration(*l.Spec.LeaseDurationSeconds)*time.Second
		pods, err := s.c.WaitPodsReady(s.ctx, systemNS, controllerSelector, 2)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(pods, func(p corev1.Pod) bool { return p.Name == leader }) {
			return fmt.Errorf("held by %q, not a running controller pod", leader)
		}
		for _, p := range pods {
			if p.Name != leader {
				other = p.Name
			}
		}
		return nil
	})

	grace := int64(0)
	killed := time.Now()
	if err := s.c.Clientset.CoreV1().Pods(systemNS).Delete(s.ctx, leader, metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
		t.Fatal(err)
	}
	// The deleted pod's container lives on for a moment (the kubelet stops
	// it), so a Service created at once may still be served by the old
	// leader. Wait for the hand-off first, so that the new Service proves
	// the new leader serves.
	var holder string
	cluster.Eventually(t, duration+time.Second, "the Lease held by a running controller other than "+leader, func() error {
		l, err := leases.Get(s.ctx, leaseName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" || *l.Spec.HolderIdentity == leader {
			return fmt.Errorf("held by %q", ptr.Deref(l.Spec.HolderIdentity, ""))
		}
		holder = *l.Spec.HolderIdentity
		pods, err := s.c.Clientset.CoreV1().Pods(systemNS).List(s.ctx, metav1.ListOptions{LabelSelector: controllerSelector})
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(pods.Items, func(p corev1.Pod) bool { return p.Name == holder && p.DeletionTimestamp == nil }) {
			return fmt.Errorf("held by %q, not a controller pod", holder)
		}
		return nil
	})
	handedOff := time.Since(killed)
	who := "the other replica"
	if holder != other {
		who = "the Deployment's replacement pod"
	}
	svc := cluster.LoadBalancer(appNS, "after-kill")
	svc.Spec.Selector = map[string]string{"app": "web"}
	create(t, s.cl, svc)
	ip := awaitIP(t, s.ctx, s.c, "after-kill")
	took := time.Since(killed)
	t.Logf("leader %s deleted with grace 0: %s (%s) holds the Lease after %v; a Service created then got %s %v after the deletion (Lease duration %v)",
		leader, holder, who, handedOff.Round(time.Millisecond), ip, took.Round(time.Millisecond), duration)
	if took > duration+time.Second {
		t.Errorf("the new Service got its address %v after the leader's pod was deleted, want at most the Lease duration %v + 1s", took.Round(time.Millisecond), duration)
	}
	vip := netip.AddrPortFrom(ip, 80)
	cluster.Eventually(t, time.Minute, "an answer through "+vip.String(), func() error {
		return askWeb(s.ctx, s, vip)
	})
}
