package soak

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/kubeapi"
)

// Environment of a soak run (make soak sets them).
const (
	envDuration = "IRONLB_SOAK"         // how long, e.g. 30m; unset: skip
	envSeed     = "IRONLB_SOAK_SEED"    // the random seed; unset or 0: from the clock
	envReport   = "IRONLB_SOAK_REPORT"  // where to write the markdown report
	envCommand  = "IRONLB_SOAK_COMMAND" // the command, for the report
	envLogs     = "IRONLB_SOAK_LOGS"    // a directory to keep every process's log in; unset: a temporary one
)

// sampleEvery is the sampling period.
const sampleEvery = 10 * time.Second

// TestSoak runs the whole system under churn and random faults for
// $IRONLB_SOAK, samples it every 10 s and fails if any Service's address
// was duplicated or changed, if a process's memory, goroutines or file
// descriptors or the number of Events trend upward, or if something is not
// back at the end.
func TestSoak(t *testing.T) {
	durFlag := os.Getenv(envDuration)
	if durFlag == "" {
		t.Skip("soak test (30 minutes of churn and faults): run by `make soak`, or with " + envDuration + "=<duration>; not part of make test")
	}
	dur, err := time.ParseDuration(durFlag)
	if err != nil || dur < 2*time.Minute {
		t.Fatalf("%s=%q: want a duration of at least 2m (%v)", envDuration, durFlag, err)
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(envSeed); v != "" && v != "0" {
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", envSeed, v, err)
		}
	}
	t.Logf("soak: %v, seed %d", dur, seed)
	command := os.Getenv(envCommand)
	if command == "" {
		command = fmt.Sprintf("%s=%s %s=%d go test -count=1 -timeout 2h ./e2e/soak/ -run TestSoak", envDuration, durFlag, envSeed, seed)
	}
	run := &Run{Started: time.Now(), Duration: dur, Seed: seed, Command: command, Machine: machine()}

	// Events expire after five minutes (unless etcd restarts: see
	// EventLedger), so the API server does not pile them up.
	logs := os.Getenv(envLogs)
	if logs != "" {
		if err := os.MkdirAll(logs, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Logf("logs of every process in %s", logs)
	}
	profiles := os.Getenv(envProfiles)
	if profiles != "" {
		if err := os.MkdirAll(profiles, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Logf("heap profiles every %v in %s", profileEvery, profiles)
	}
	api := kubeapi.Start(t, kubeapi.Options{ExtraFlags: []string{"--event-ttl=5m"}, LogDir: logs})
	port, pprofPort := cluster.FreePort(t), cluster.FreePort(t)
	s := cluster.StartSystem(t, cluster.SystemOptions{
		BFD: true, LocalBGP: true, API: api, LogDir: logs,
		// The controller restarts as a container in its pod would, with
		// the pod's identity; metrics over plain HTTP, so that sampling
		// them does not ask the API server (frozen at times) for token
		// reviews. Profiles on the loopback: the sampler forces a garbage
		// collection through them before it reads the live heap.
		// The program's default Lease timing (the harness shortens it for
		// quick takeovers; on a loaded machine a 2 s Lease is lost to a
		// slow API server even without a fault).
		ControllerArgs: []string{"-leader-election-identity", "ironlb-controller-0",
			"-lease-duration", "15s", "-renew-deadline", "10s", "-retry-period", "200ms",
			"-metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", port), "-metrics-secure=false",
			"-pprof-bind-address", fmt.Sprintf("127.0.0.1:%d", pprofPort)},
		SpeakerArgs: []string{"-metrics-bind-address", cluster.SpeakerMetricsAddr, "-metrics-secure=false",
			"-pprof-bind-address", speakerPprofAddr},
	})
	c := s.C
	s.WaitSessions(t)
	s.WaitBGPRoutes(t)
	c.Create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: churnNS}})
	addrs := cluster.WatchAddresses(t, api.Clientset(t), "")
	traffic := cluster.StartTraffic(t, c.Lab.Clients[0], 20*time.Millisecond, requestTimeout, s.AllVIPs()...)
	targets := append([]target{controllerTarget(c, port, pprofPort)}, speakerTargets(c)...)
	for _, tg := range targets {
		run.Processes = append(run.Processes, tg.name)
	}

	faults := &faultLog{}
	var procs, restartsMu sync.Mutex
	restarts := map[string]int{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	start := time.Now()
	end := start.Add(dur)

	// The sampler owns run.Samples and the ledger until it returns.
	ledger := &EventLedger{}
	samplerDone := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(samplerDone)
		for at := start; !at.After(end); at = at.Add(sampleEvery) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(at)):
			}
			run.Samples = append(run.Samples, sample(ctx, c, targets, faults, at.Sub(start), ledger, profiles))
		}
	}()
	churn := newChurner(c, rand.New(rand.NewPCG(seed, 1)), s.Pods, s.Services, t.Logf)
	if len(churn.blocks) <= maxPools {
		t.Fatalf("only %d free /28 blocks on the LAN for the churn's pools (%v), want more than %d", len(churn.blocks), churn.blocks, maxPools)
	}
	churnCtx, stopChurn := context.WithCancel(ctx)
	wg.Add(2)
	go func() { defer wg.Done(); churn.run(churnCtx) }()
	go func() { defer wg.Done(); supervise(ctx, t, c, &procs, restarts, &restartsMu) }()

	in := &injector{t: t, s: s, rng: rand.New(rand.NewPCG(seed, 2)), log: faults, procs: &procs}
	for {
		gap := in.between(20, 60)
		// The longest fault lasts a minute, its recovery up to another.
		if time.Now().Add(gap + 2*time.Minute).After(end) {
			break
		}
		time.Sleep(gap)
		kind := in.next()
		w := in.inject(kind)
		t.Logf("%v %s %s: %v, every VIP answering %v after its end",
			w.from.Sub(start).Round(time.Second), kind, w.detail, w.to.Sub(w.from).Round(10*time.Millisecond), w.recovered.Round(10*time.Millisecond))
	}
	<-samplerDone
	stopChurn()

	// Positive checks: everything is back and serving.
	var problems []string
	for _, vip := range s.AllVIPs() {
		if err := cluster.Request(context.Background(), c.Lab.Clients[0], vip, 2*time.Second); err != nil {
			problems = append(problems, fmt.Sprintf("at the end %s does not answer: %v", vip, err))
		}
	}
	problems = append(problems, churn.settle()...)
	problems = append(problems, unanswered(context.Background(), targets, t.Logf)...)
	traffic.Stop()
	cancel()
	wg.Wait()

	rep := addrs.Report()
	run.Addressed, run.Duplicates, run.Changed, run.WatchEnded = rep.Addressed, rep.Duplicates, rep.Changed, rep.Ended
	run.EventRows = ledger.Rows()
	run.Faults = faults.counts()
	run.Recovery = recoveries(faults)
	run.Restarts = restarts
	var lastChurnErr error
	run.Churn, run.ChurnErrors, lastChurnErr = churn.counts()
	counts := traffic.Snapshot()
	for _, n := range counts {
		run.Sent += n.Sent
		run.Failed += n.Failed
	}
	serviceOf := map[netip.AddrPort]string{}
	for name, vips := range s.VIPs {
		for _, v := range vips {
			serviceOf[v] = name
		}
	}
	run.FailedByFault, run.FailedUnexplained = failedByCause(faults, churn, counts, serviceOf)
	logged := 0
	for vip, n := range counts {
		for _, at := range n.FailedSent {
			if logged++; logged <= 300 {
				t.Logf("%s: request sent at %s (%v) failed, fault under way: %s, its Service's pods moved then: %v", vip, at.Format("15:04:05.000"), at.Sub(start).Round(time.Millisecond), faults.kindAt(at), churn.movedNear(serviceOf[vip], at))
			}
		}
		if n.LastError != nil {
			t.Logf("%s: last error %v", vip, n.LastError)
		}
	}
	if rep.Addressed < 10 {
		problems = append(problems, fmt.Sprintf("only %d Services ever got an address: the churn did not run", rep.Addressed))
	}
	if want := int(dur/sampleEvery) * 9 / 10; len(run.Samples) < want {
		problems = append(problems, fmt.Sprintf("only %d samples, want at least %d", len(run.Samples), want))
	}
	run.ProblemsAtEnd = problems
	run.Judge()
	run.Machine = append(run.Machine, "load average at the end "+loadavg())

	t.Logf("faults %v; recovery %s; processes restarted by the supervisor %v; churn %v (%d errors, last %v); requests %d sent, %d failed %v; %d Services addressed",
		run.Faults, run.Recovery, run.Restarts, run.Churn, run.ChurnErrors, lastChurnErr, run.Sent, run.Failed, run.FailedByFault, run.Addressed)
	var b bytes.Buffer
	if err := run.Write(&b); err != nil {
		t.Fatal(err)
	}
	if path := os.Getenv(envReport); path != "" {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("report written to %s", path)
	}
	for _, v := range run.Verdicts {
		t.Logf("%s: %d samples, mean %.1f, growth %+.2f over the second half (limit %.1f), up=%v err=%v", v.Series, v.N, v.Mean, v.Growth, v.Limit, v.Up, v.Err)
	}
	for _, f := range run.Failures() {
		t.Error(f)
	}
}

// sample reads every target at once (each bounded by a few seconds, so a
// frozen API server or a restarting process does not delay the next
// sample) and the API server's object counts.
func sample(ctx context.Context, c *cluster.Cluster, targets []target, faults *faultLog, at time.Duration, ledger *EventLedger, profiles string) Sample {
	s := Sample{At: at, Procs: map[string]ProcSample{}, Note: faults.active()}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, tg := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ps := sampleProc(ctx, tg, profiles, at)
			mu.Lock()
			s.Procs[tg.name] = ps
			mu.Unlock()
		}()
	}
	s.Events, s.EventObjects, s.Services = countObjects(ctx, c, at, ledger)
	wg.Wait()
	return s
}

// machine describes the machine for the report.
func machine() []string {
	host, _ := os.Hostname()
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		mem, _, _ = strings.Cut(strings.TrimPrefix(string(b), "MemTotal:"), "\n")
		mem = strings.TrimSpace(mem) + " memory"
	}
	return []string{
		fmt.Sprintf("%s, %d cores (%s), %s, Linux %s, %s", host, runtime.NumCPU(), cpu, mem, strings.TrimSpace(string(kernel)), runtime.Version()),
		"shared with other builds and tests while it ran",
		"load average at the start " + loadavg(),
	}
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
