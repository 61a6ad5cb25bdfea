package controller_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// outageLease is the Lease timing of the outage tests: shorter than the
// default to keep them short, with the same shape (a stop grace of
// 4 s - 3 s - 200 ms = 800 ms).
const (
	outageLease = 4 * time.Second
	outageRenew = 3 * time.Second
)

// outageTiming gives a replica the outage tests' Lease timing and its
// metrics on plain HTTP at addr.
func outageTiming(addr string) []string {
	return []string{"-lease-duration", outageLease.String(), "-renew-deadline", outageRenew.String(),
		"-retry-period", "200ms", "-metrics-bind-address", addr, "-metrics-secure=false"}
}

// waitLog waits until the controller's log holds n lines matching re; the
// controller exiting meanwhile fails the test at once.
func waitLog(tb testing.TB, p *controllerProc, timeout time.Duration, what string, re *regexp.Regexp, n int) {
	tb.Helper()
	waitFor(tb, timeout, what, func() (bool, error) {
		if !p.alive() {
			tb.Fatalf("the controller (pid %d) exited while waiting for %s; its log ends:\n%s", p.cmd.Process.Pid, what, tail(p.log, 5))
		}
		return countLog(tb, p, re) >= n, nil
	})
}

func countLog(tb testing.TB, p *controllerProc, re *regexp.Regexp) int {
	b, err := os.ReadFile(p.log)
	if err != nil {
		tb.Fatal(err)
	}
	return len(re.FindAll(b, -1))
}

var (
	logLost    = regexp.MustCompile(`"msg":"Lease lost: stopping leader-only work"`)
	logAgain   = regexp.MustCompile(`"msg":"leader-only work stopped after the Lease was lost; campaigning again in this process"`)
	logElected = regexp.MustCompile(`"msg":"elected: starting leader-only work"`)
)

// survive runs an outage that outlasts the renew deadline against one
// controller: outage starts it and returns the function that ends it. The
// controller must lose the Lease during the outage (its log says so), and
// afterwards be the same process, hold the Lease again, and serve a new
// Service within the Lease duration plus 1 s of the end of the outage.
func survive(t *testing.T, outage func(l *leaderEnv) (end func())) {
	l := newLeaderEnv(t)
	const id = "ironlb-controller-0"
	metrics := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ctrl := l.startReplica(id, outageTiming(metrics)...)
	l.serveOne(time.Now())
	pid := ctrl.cmd.Process.Pid

	end := outage(l)
	waitLog(t, ctrl, 3*outageRenew, "the controller to lose the Lease during the outage", logLost, 1)
	waitLog(t, ctrl, 3*outageRenew, "the controller to stop its leader-only work", logAgain, 1)
	end()
	ended := time.Now()

	took := l.serveOne(ended)
	t.Logf("a Service created after the outage had its address %v after the outage ended (Lease duration %v)", took.Round(time.Millisecond), outageLease)
	if !ctrl.alive() {
		t.Fatalf("the controller (pid %d) exited during the outage", pid)
	}
	if got := ctrl.cmd.Process.Pid; got != pid {
		t.Fatalf("controller pid %d, want %d", got, pid)
	}
	if took > outageLease+time.Second {
		t.Errorf("a Service created after the outage had its address %v after it ended, want within the Lease duration %v + 1s", took, outageLease)
	}
	if h := l.holder(); h != id {
		t.Errorf("Lease held by %q after the outage, want %q", h, id)
	}
	if n := countLog(t, ctrl, logElected); n != 2 {
		t.Errorf("the controller started its leader-only work %d times, want twice (once per term)", n)
	}
	// The metrics are served by the same server across terms, and say
	// it leads again.
	const leading = `leader_election_master_status{name="ironlb-controller"} 1`
	if m := scrape(t, "http://"+metrics+"/metrics"); !strings.Contains(m, leading) {
		t.Errorf("metrics lack %s", leading)
	}
}

// An API server that stops answering (SIGSTOP: connections open, nothing
// answers) for longer than the renew deadline costs the controller its
// Lease; it must stay up and lead again as soon as the API server answers.
func TestControllerSurvivesFrozenAPIServer(t *testing.T) {
	survive(t, func(l *leaderEnv) func() { return l.api.Freeze(t) })
}

// etcd killed: the API server answers, but cannot store the renewal.
// "Ended" is once the restarted etcd is healthy.
func TestControllerSurvivesEtcdKilled(t *testing.T) {
	survive(t, func(l *leaderEnv) func() { return l.api.KillEtcd(t) })
}

// Two replicas through an API server frozen longer than the Lease
// duration, three times: afterwards either may take the Lease (each sees it
// expired), and exactly one must act. The holder of the Lease is the one
// that assigns the new Services' addresses (its allocation counter moves,
// the other's does not), no address is given twice, and the two processes'
// leader terms (from "elected" to "stopped" in their logs) never overlap.
func TestOneLeaderActsAfterAFrozenAPIServer(t *testing.T) {
	l := newLeaderEnv(t)
	ids := []string{"ironlb-controller-a", "ironlb-controller-b"}
	metrics := map[string]string{}
	procs := map[string]*controllerProc{}
	for i, id := range ids {
		metrics[id] = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		procs[id] = l.startReplica(id, outageTiming(metrics[id])...)
		if i == 0 {
			l.serveOne(time.Now())
		}
	}
	waitCandidate(t, procs[ids[1]])

	const rounds, n = 3, 5
	for round := 1; round <= rounds; round++ {
		leader := procs[l.holder()]
		if leader == nil {
			t.Fatalf("round %d: Lease held by %q, want one of %v", round, l.holder(), ids)
		}
		lost := countLog(t, leader, logAgain)
		frozen := time.Now()
		resume := l.api.Freeze(t)
		waitLog(t, leader, 3*outageRenew, "the leader to stop its leader-only work", logAgain, lost+1)
		time.Sleep(time.Until(frozen.Add(outageLease + time.Second)))
		resume()

		before := map[string]int{}
		for _, id := range ids {
			before[id] = allocations(t, metrics[id])
		}
		for range n {
			l.serveOne(time.Now())
		}
		holder := l.holder()
		t.Logf("round %d: Lease held by %s after the outage", round, holder)
		for _, id := range ids {
			if !procs[id].alive() {
				t.Fatalf("round %d: %s exited", round, id)
			}
			want, status := 0, "0"
			if id == holder {
				want, status = n, "1"
			}
			if got := allocations(t, metrics[id]) - before[id]; got != want {
				t.Errorf("round %d: %s (Lease holder %s) assigned addresses to %d of the %d new Services, want %d", round, id, holder, got, n, want)
			}
			leading := `leader_election_master_status{name="ironlb-controller"} ` + status
			if !strings.Contains(scrape(t, "http://"+metrics[id]+"/metrics"), leading) {
				t.Errorf("round %d: %s: metrics lack %s", round, id, leading)
			}
		}
	}

	var list corev1.ServiceList
	if err := l.c.List(context.Background(), &list, client.InNamespace("apps")); err != nil {
		t.Fatal(err)
	}
	owner := map[netip.Addr]string{}
	for _, s := range list.Items {
		for _, ip := range ingressIPs(&s) {
			if other, dup := owner[ip]; dup {
				t.Errorf("%s and %s both hold %s", other, s.Name, ip)
			}
			owner[ip] = s.Name
		}
	}
	if want := rounds*n + 1; len(owner) != want {
		t.Errorf("%d addresses among the Services, want %d", len(owner), want)
	}

	ta, tb := terms(t, procs[ids[0]]), terms(t, procs[ids[1]])
	t.Logf("leader terms: %s %v, %s %v", ids[0], ta, ids[1], tb)
	for _, a := range ta {
		for _, b := range tb {
			if a.overlaps(b) {
				t.Errorf("leader terms overlap: %s %v and %s %v", ids[0], a, ids[1], b)
			}
		}
	}
}

// allocations is how many Services a replica has written addresses to.
func allocations(tb testing.TB, addr string) int {
	tb.Helper()
	m := regexp.MustCompile(`(?m)^ironlb_allocation_duration_seconds_count (\d+)$`).FindStringSubmatch(scrape(tb, "http://"+addr+"/metrics"))
	if m == nil {
		tb.Fatalf("no ironlb_allocation_duration_seconds_count in the metrics of %s", addr)
	}
	v, err := strconv.Atoi(m[1])
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// term is when a process ran leader-only work: from the log line saying it
// starts to the one saying it stopped (an end of zero: still running).
type term struct{ start, end time.Time }

func (a term) overlaps(b term) bool {
	endA, endB := a.end, b.end
	if endA.IsZero() {
		endA = time.Unix(1<<40, 0)
	}
	if endB.IsZero() {
		endB = time.Unix(1<<40, 0)
	}
	return a.start.Before(endB) && b.start.Before(endA)
}

func (a term) String() string {
	if a.end.IsZero() {
		return a.start.Format("15:04:05.000") + "-"
	}
	return a.start.Format("15:04:05.000") + "-" + a.end.Format("15:04:05.000")
}

var logTerm = regexp.MustCompile(`"time":"([^"]+)"[^\n]*"msg":"(elected: starting leader-only work|leader-only work stopped)"`)

// terms reads a controller's leader terms from its log.
func terms(tb testing.TB, p *controllerProc) []term {
	tb.Helper()
	b, err := os.ReadFile(p.log)
	if err != nil {
		tb.Fatal(err)
	}
	var out []term
	for _, m := range logTerm.FindAllSubmatch(b, -1) {
		at, err := time.Parse(time.RFC3339Nano, string(m[1]))
		if err != nil {
			tb.Fatalf("log time %q: %v", m[1], err)
		}
		if string(m[2]) == "leader-only work stopped" {
			if len(out) == 0 || !out[len(out)-1].end.IsZero() {
				tb.Fatalf("%s: work stopped at %v without a term", p.log, at)
			}
			out[len(out)-1].end = at
			continue
		}
		out = append(out, term{start: at})
	}
	return out
}
