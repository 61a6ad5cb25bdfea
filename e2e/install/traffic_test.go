package install

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/kcluster"
)

// trafficInterval is the time from one request to the next to each VIP.
const trafficInterval = 15 * time.Millisecond

// startTraffic sends the client's HTTP requests to every target, each
// failing when no answer came within a second (what a user's client would
// see as an outage).
func startTraffic(t *testing.T, s *scenario, targets ...netip.AddrPort) *cluster.Traffic {
	return cluster.StartSteadyTraffic(t, trafficInterval, func(ctx context.Context, target netip.AddrPort) error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return askWeb(ctx, s, target)
	}, targets...)
}

// askWeb is one request from the client to target that a pod of the test
// server's Deployment "web" must answer (by name: its pods change when it
// rolls out).
func askWeb(ctx context.Context, s *scenario, target netip.AddrPort) error {
	a, err := kcluster.Ask(ctx, s.client, target)
	if err == nil && !strings.HasPrefix(a.Pod, "web-") {
		err = fmt.Errorf("%s: answer from %q, not a web pod", target, a.Pod)
	}
	return err
}

// moreTime gives the scenario's calls ten more minutes from now (the
// install had six minutes in all; these tests run longer).
func moreTime(t *testing.T, s *scenario) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	s.ctx = ctx
}

// l2VIPs adds an IPv6 Service to the scenario's two and returns the three
// layer 2 VIPs (Cluster IPv4, Local IPv4, Cluster IPv6), each answering.
func l2VIPs(t *testing.T, s *scenario) []netip.AddrPort {
	v6 := cluster.LoadBalancer(appNS, "web6", cluster.IPv6Only)
	v6.Spec.Selector = map[string]string{"app": "web"}
	create(t, s.cl, v6)
	vips := []netip.AddrPort{s.vip}
	for _, name := range []string{"web-local", "web6"} {
		vips = append(vips, netip.AddrPortFrom(awaitIP(t, s.ctx, s.c, name), 80))
	}
	for _, vip := range vips {
		cluster.Eventually(t, time.Minute, "an answer through "+vip.String(), func() error {
			return askWeb(s.ctx, s, vip)
		})
	}
	return vips
}

// appServiceIPs is every load-balancer address of the Services in appNS, by
// Service name.
func appServiceIPs(t *testing.T, s *scenario) map[string][]string {
	t.Helper()
	svcs, err := s.c.Clientset.CoreV1().Services(appNS).List(s.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, svc := range svcs.Items {
		for _, in := range svc.Status.LoadBalancer.Ingress {
			out[svc.Name] = append(out[svc.Name], in.IP)
		}
	}
	return out
}

// sameIPs fails the test when a Service's addresses changed (a Service
// created in between is not a change).
func sameIPs(t *testing.T, what string, before, after map[string][]string) {
	t.Helper()
	for name, ips := range before {
		if !slices.Equal(ips, after[name]) {
			t.Errorf("%s: %s/%s had %v, now %v", what, appNS, name, ips, after[name])
		}
	}
}

// podEvent is when a pod was first seen terminating (its deletion
// timestamp set) or gone (deleted from the API).
type podEvent struct {
	pod, node string
	at        time.Time
}

// podWatch records when the pods matching a selector began terminating
// and when they were gone, polling every 50 ms (a pod gone between two
// polls counts as terminating then too).
type podWatch struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu          sync.Mutex
	terminating []podEvent
	gone        []podEvent
	first       []podEvent // the pods of the first poll that succeeded
	polls       int
	failed      int
	err         error // the last failed poll
}

// watchPods starts recording; stop ends it (and runs at test end).
func watchPods(t *testing.T, s *scenario, ns, selector string) *podWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(s.ctx)
	pw := &podWatch{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(pw.done)
		known := map[string]string{} // pod -> node
		terminating := map[string]bool{}
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			pods, err := s.c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
			now := time.Now()
			pw.mu.Lock()
			pw.polls++
			if err != nil {
				pw.failed++
				pw.err = err
			} else {
				present := map[string]bool{}
				firstOK := pw.polls-pw.failed == 1
				for _, p := range pods.Items {
					if firstOK {
						pw.first = append(pw.first, podEvent{p.Name, p.Spec.NodeName, now})
					}
					present[p.Name] = true
					known[p.Name] = p.Spec.NodeName
					if p.DeletionTimestamp != nil && !terminating[p.Name] {
						terminating[p.Name] = true
						pw.terminating = append(pw.terminating, podEvent{p.Name, p.Spec.NodeName, now})
					}
				}
				for name, node := range known {
					if present[name] {
						continue
					}
					if !terminating[name] {
						terminating[name] = true
						pw.terminating = append(pw.terminating, podEvent{name, node, now})
					}
					pw.gone = append(pw.gone, podEvent{name, node, now})
					delete(known, name)
				}
			}
			pw.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(pw.stop)
	return pw
}

func (pw *podWatch) stop() {
	pw.cancel()
	<-pw.done
}

// events returns copies of what was recorded so far.
func (pw *podWatch) events() (terminating, gone []podEvent) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	return slices.Clone(pw.terminating), slices.Clone(pw.gone)
}

// report says what the watch saw, for a failure's message: the pods at
// its start and the polls that failed.
func (pw *podWatch) report() string {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	var at []string
	for _, e := range pw.first {
		at = append(at, e.pod+" on "+e.node)
	}
	return fmt.Sprintf("pods at the start: %v; %d gone; %d of %d polls failed, the last with: %v", at, len(pw.gone), pw.failed, pw.polls, pw.err)
}

// perWindow counts the times in each window [starts[i], starts[i+1]), the
// last one open; times before the first start count in the first window.
func perWindow(starts, times []time.Time) []int {
	out := make([]int, len(starts))
	if len(starts) == 0 {
		return out
	}
	for _, at := range times {
		i := 0
		for i+1 < len(starts) && !at.Before(starts[i+1]) {
			i++
		}
		out[i]++
	}
	return out
}
