package controller_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/e2e/kubeapi"
)

// leaderEnv is an API server with a pool, a namespace for Services and a
// watch that records when each Service first shows an address.
type leaderEnv struct {
	*env
	rec *firstAddress
	n   int // Services created so far, for unique names
}

func newLeaderEnv(tb testing.TB) *leaderEnv {
	e := newEnv(tb, kubeapi.Options{})
	e.create(pool("v6", "2001:db8:300:3::/112"))
	e.namespace("apps")
	l := &leaderEnv{env: e, rec: newFirstAddress()}
	l.rec.watch(tb, e, "apps")
	return l
}

// serveOne creates a Service and returns how long after since the watch
// first saw its address.
func (l *leaderEnv) serveOne(since time.Time) time.Duration {
	l.t.Helper()
	l.n++
	name := fmt.Sprintf("s-%03d", l.n)
	l.rec.markCreated(name, since)
	l.create(lbService("apps", name, ipv6()))
	waitFor(l.t, 60*time.Second, "address of "+name, func() (bool, error) { return l.rec.has(name), nil })
	return l.rec.latencies([]string{name})[0]
}

// holder is the identity holding the controller's Lease.
func (l *leaderEnv) holder() string {
	l.t.Helper()
	var lease coordinationv1.Lease
	if err := l.c.Get(context.Background(), client.ObjectKey{Namespace: systemNS, Name: "ironlb-controller"}, &lease); err != nil {
		l.t.Fatalf("leader Lease: %v", err)
	}
	if lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}

// startReplica starts a controller with leader election on and the given
// identity, as the pod name would give it.
func (l *leaderEnv) startReplica(identity string, extra ...string) *controllerProc {
	return l.startController(append([]string{"-leader-elect=true", "-leader-election-identity", identity}, extra...)...)
}

// restartSamePod kills the leader with SIGKILL (its Lease stays held, as after
// a crash or OOM kill), starts it again with the same identity, as kubelet
// restarts a container in its pod, and returns how long after the new
// process started a Service created at the restart had its address.
func (l *leaderEnv) restartSamePod(leader *controllerProc, identity string, extra ...string) (*controllerProc, time.Duration) {
	l.t.Helper()
	leader.kill()
	started := time.Now()
	p := l.startReplica(identity, extra...)
	return p, l.serveOne(started)
}

// waitCandidate waits until a replica has asked for the Lease once: from then
// on it watches the leader's renewals and counts the Lease's duration from
// the last one it saw.
func waitCandidate(tb testing.TB, p *controllerProc) {
	tb.Helper()
	waitFor(tb, 30*time.Second, "the standby to try for the Lease", func() (bool, error) {
		b, err := os.ReadFile(p.log)
		return strings.Contains(string(b), "attempting to acquire leader lease"), err
	})
}

// takeover kills the leader with SIGKILL while a standby runs and returns how
// long after the kill a Service created at the kill had its address.
func (l *leaderEnv) takeover(leader *controllerProc) time.Duration {
	l.t.Helper()
	leader.kill()
	return l.serveOne(time.Now())
}

// The default Lease (15 s) is kept: without the stable identity the restarted
// controller would wait it out.
func TestControllerRestartedInItsPodServesAtOnce(t *testing.T) {
	l := newLeaderEnv(t)
	leader := l.startReplica("ironlb-controller-0")
	l.serveOne(time.Now())
	var metricsAddr string
	for round := 1; round <= 3; round++ {
		var took time.Duration
		metricsAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		leader, took = l.restartSamePod(leader, "ironlb-controller-0", "-metrics-bind-address", metricsAddr, "-metrics-secure=false")
		t.Logf("round %d: new Service's address %v after the restart", round, took)
		if took >= time.Second {
			t.Errorf("round %d: a controller restarted in its pod served a new Service %v after it started, want < 1s", round, took)
		}
		if h := l.holder(); h != "ironlb-controller-0" {
			t.Errorf("round %d: Lease held by %q, want the restarted controller", round, h)
		}
	}
	// The alert IronLBNoLeader reads this gauge, named after the Lease.
	const leading = `leader_election_master_status{name="ironlb-controller"} 1`
	if m := scrape(t, "http://"+metricsAddr+"/metrics"); !strings.Contains(m, leading) {
		t.Errorf("metrics lack %s", leading)
	}
}

func TestStandbyTakesOverWithinLeaseDurationPlusOneSecond(t *testing.T) {
	const lease = 4 * time.Second // shorter than the default to keep the test short
	timing := []string{"-lease-duration", lease.String(), "-renew-deadline", "3s"}
	l := newLeaderEnv(t)
	a := l.startReplica("ironlb-controller-a", timing...)
	l.serveOne(time.Now())
	b := l.startReplica("ironlb-controller-b", timing...)
	waitCandidate(t, b)
	if h := l.holder(); h != "ironlb-controller-a" {
		t.Fatalf("Lease held by %q before the kill, want ironlb-controller-a", h)
	}

	took := l.takeover(a)
	t.Logf("standby served a new Service %v after the leader was killed (Lease %v)", took, lease)
	if took > lease+time.Second {
		t.Errorf("standby served %v after the leader died, want within the Lease duration %v + 1s", took, lease)
	}
	// The standby must not have taken a Lease that could still be renewed:
	// the dead leader's last renewal was at most one retry period (200 ms)
	// before the kill.
	if took < lease-time.Second {
		t.Errorf("standby served %v after the leader died: before the Lease (%v) could have expired", took, lease)
	}
	if h := l.holder(); h != "ironlb-controller-b" {
		t.Errorf("Lease held by %q after the takeover, want ironlb-controller-b", h)
	}
	if !b.alive() {
		t.Error("standby exited")
	}
}

// Two live processes with one identity (a misconfiguration: a pod name is
// never shared) must not both lead. The newcomer takes the Lease over at
// once, as it cannot tell a live holder from a dead predecessor; the process
// that then reads a write under its identity that it did not make stops.
func TestTwoLiveProcessesWithOneIdentityDoNotBothLead(t *testing.T) {
	l := newLeaderEnv(t)
	a := l.startReplica("ironlb-controller-0")
	l.serveOne(time.Now())
	b := l.startReplica("ironlb-controller-0")
	waitFor(t, 10*time.Second, "one of the two processes to stop", func() (bool, error) {
		return !a.alive() || !b.alive(), nil
	})
	stopped, survivor := a, b
	if a.alive() {
		stopped, survivor = b, a
	}
	t.Logf("the %s process stopped", map[bool]string{true: "first", false: "second"}[stopped == a])
	exit := <-stopped.done
	stopped.done <- exit
	if exit == nil {
		t.Error("the stopped process exited with status 0, want an error")
	}
	if b, _ := os.ReadFile(stopped.log); !strings.Contains(string(b), "another live process holds the Lease") {
		t.Errorf("the stopped process's log does not say why:\n%s", tail(stopped.log, 10))
	}
	l.serveOne(time.Now())
	if !survivor.alive() {
		t.Fatal("both processes stopped")
	}
	if h := l.holder(); h != "ironlb-controller-0" {
		t.Errorf("Lease held by %q, want ironlb-controller-0", h)
	}
}
