package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/frr"
)

// The kinds of fault.
const (
	apiFreeze      = "api-freeze"
	etcdKill       = "etcd-kill"
	nodeLoss       = "node-loss"
	controllerKill = "controller-kill"
	speakerRestart = "speaker-restart"
	frrRestart     = "frr-restart"
)

var faultKinds = []string{apiFreeze, etcdKill, nodeLoss, controllerKill, speakerRestart, frrRestart}

// failureGrace is how long after a fault ends a failed request is still
// put down to it: a request waits a second before it counts as failed, and
// a session or announcement takes a moment to come back.
const failureGrace = failureGraceNote

// window is one fault: its kind, what it hit and when.
type window struct {
	kind, detail string
	from, to     time.Time // to is zero while it lasts
	// recovered is how long after it ended every VIP answered again.
	recovered time.Duration
}

// faultLog records the faults; the sampler reads which are under way.
type faultLog struct {
	mu      sync.Mutex
	windows []*window
}

func (l *faultLog) begin(kind, detail string) *window {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := &window{kind: kind, detail: detail, from: time.Now()}
	l.windows = append(l.windows, w)
	return w
}

func (l *faultLog) end(w *window) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w.to = time.Now()
}

// setRecovered records how long after its end every VIP answered again.
func (l *faultLog) setRecovered(w *window, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w.recovered = d
}

// active names the faults under way now.
func (l *faultLog) active() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, w := range l.windows {
		if w.to.IsZero() {
			out = append(out, w.kind+" "+w.detail)
		}
	}
	return strings.Join(out, ", ")
}

// kindAt is the kind of the fault under way when a request was in flight
// (sent up to requestTimeout before its start; its recovery, until every
// VIP answered again, and failureGrace after that included), "none"
// outside faults. A fault's effect can outlast it: FRR restarts in a
// fraction of a second, and its routes take seconds to come back.
func (l *faultLog) kindAt(at time.Time) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, w := range l.windows {
		if !at.Before(w.from.Add(-requestTimeout)) && (w.to.IsZero() || at.Before(w.to.Add(w.recovered+failureGrace))) {
			return w.kind
		}
	}
	return "none"
}

func (l *faultLog) counts() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := map[string]int{}
	for _, w := range l.windows {
		m[w.kind]++
	}
	return m
}

// injector injects faults into the system, one at a time, from the test's
// goroutine (the harness's Freeze, KillEtcd and frr.New fail the test on
// error). procs serialises process restarts with the supervisor.
type injector struct {
	t     *testing.T
	s     *cluster.System
	rng   *rand.Rand
	log   *faultLog
	procs *sync.Mutex
	// controllerArgs restart the controller as it was started.
	round []string
}

// next is the next kind: the kinds in a random order, each once per
// round, so a run of a few rounds sees every kind several times.
func (in *injector) next() string {
	if len(in.round) == 0 {
		in.round = append([]string(nil), faultKinds...)
		in.rng.Shuffle(len(in.round), func(i, j int) { in.round[i], in.round[j] = in.round[j], in.round[i] })
	}
	k := in.round[0]
	in.round = in.round[1:]
	return k
}

// between is a random duration in [lo, hi] seconds.
func (in *injector) between(lo, hi int) time.Duration {
	return time.Duration(lo+in.rng.IntN(hi-lo+1)) * time.Second
}

// inject runs one fault to its end and waits until every VIP answers
// again (up to a minute: longer is a problem the run reports).
func (in *injector) inject(kind string) *window {
	t, c := in.t, in.s.C
	var w *window
	switch kind {
	case apiFreeze:
		d := in.between(10, 60)
		w = in.log.begin(kind, d.String())
		resume := c.API.Freeze(t)
		time.Sleep(d)
		resume()
	case etcdKill:
		d := in.between(5, 30)
		w = in.log.begin(kind, d.String())
		restart := c.API.KillEtcd(t)
		time.Sleep(d)
		restart()
	case nodeLoss:
		n := c.Lab.Nodes[in.rng.IntN(len(c.Lab.Nodes))]
		d := in.between(5, 30)
		w = in.log.begin(kind, n.Name+" "+d.String())
		if err := n.SetLink(false); err != nil {
			t.Fatal(err)
		}
		time.Sleep(d)
		if err := n.SetLink(true); err != nil {
			t.Fatal(err)
		}
	case controllerKill:
		w = in.log.begin(kind, "")
		in.procs.Lock()
		c.Controller().Kill()
		err := c.StartController()
		in.procs.Unlock()
		if err != nil {
			t.Fatal(err)
		}
	case speakerRestart:
		n := c.Lab.Nodes[in.rng.IntN(len(c.Lab.Nodes))].Name
		w = in.log.begin(kind, n)
		in.procs.Lock()
		p := c.Speaker(n)
		if err := p.Signal(syscall.SIGTERM); err != nil && !p.Exited() {
			in.procs.Unlock()
			t.Fatalf("SIGTERM speaker %s: %v", n, err)
		}
		if !p.Wait(15 * time.Second) {
			t.Errorf("speaker %s did not stop within 15 s of SIGTERM; killed", n)
			p.Kill()
		}
		err := c.StartSpeaker(n)
		in.procs.Unlock()
		if err != nil {
			t.Fatal(err)
		}
	case frrRestart:
		w = in.log.begin(kind, "")
		r := in.s.Router
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		in.s.Router = frr.New(t, r.Host, r.Options)
	default:
		panic("unknown fault " + kind)
	}
	in.log.end(w)
	in.log.setRecovered(w, in.recovery())
	return w
}

// recovery is how long until every VIP answers a request (each given a
// second), at most a minute.
func (in *injector) recovery() time.Duration {
	start := time.Now()
	cl := in.s.C.Lab.Clients[0]
	for _, vip := range in.s.AllVIPs() {
		for time.Since(start) < time.Minute {
			if cluster.Request(context.Background(), cl, vip, time.Second) == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return time.Since(start)
}

// supervise restarts the controller and speakers that exited without the
// run stopping them, as the kubelet restarts a crashed container, every
// second until ctx is done, and counts them.
func supervise(ctx context.Context, t *testing.T, c *cluster.Cluster, procs *sync.Mutex, restarts map[string]int, mu *sync.Mutex) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		procs.Lock()
		if p := c.Controller(); p.Exited() {
			t.Logf("%v: the controller exited on its own (%s); restarted (log %s)", time.Now().Format(time.TimeOnly), p.ExitStatus(), p.Log)
			mu.Lock()
			restarts["controller"]++
			mu.Unlock()
			if err := c.StartController(); err != nil {
				t.Errorf("restart controller: %v", err)
			}
		}
		for _, n := range c.Lab.Nodes {
			if p := c.Speaker(n.Name); p.Exited() {
				t.Logf("%v: speaker %s exited on its own (%s); restarted (log %s)", time.Now().Format(time.TimeOnly), n.Name, p.ExitStatus(), p.Log)
				mu.Lock()
				restarts["speaker_"+n.Name]++
				mu.Unlock()
				if err := c.StartSpeaker(n.Name); err != nil {
					t.Errorf("restart speaker %s: %v", n.Name, err)
				}
			}
		}
		procs.Unlock()
	}
}

// failedByCause puts every failed request down to its cause: the fault
// under way when it was sent, else an endpoint change of its own Service
// ("endpoints-moved"), else "none". unexplained counts the "none" ones by
// VIP, named with its Service.
func failedByCause(l *faultLog, ch *churner, counts map[netip.AddrPort]cluster.Counts, serviceOf map[netip.AddrPort]string) (byCause, unexplained map[string]int) {
	byCause, unexplained = map[string]int{}, map[string]int{}
	for vip, n := range counts {
		for _, at := range n.FailedSent {
			cause := l.kindAt(at)
			if cause == "none" && ch.movedNear(serviceOf[vip], at) {
				cause = "endpoints-moved"
			}
			byCause[cause]++
			if cause == "none" {
				unexplained[serviceOf[vip]+" "+vip.String()]++
			}
		}
	}
	return byCause, unexplained
}

// recoveries summarises the recovery times by kind, for the log.
func recoveries(l *faultLog) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	by := map[string][]time.Duration{}
	for _, w := range l.windows {
		by[w.kind] = append(by[w.kind], w.recovered.Round(10*time.Millisecond))
	}
	var kinds []string
	for k := range by {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var out []string
	for _, k := range kinds {
		out = append(out, fmt.Sprintf("%s %v", k, by[k]))
	}
	return strings.Join(out, "; ")
}
