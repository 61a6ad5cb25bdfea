package speakerscale

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/kubeapi"
	"github.com/ironlb/ironlb/e2e/procstat"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// Sizes of the scenario: Services first created, then grown to.
const (
	smallSize = 1000
	largeSize = 10000
	simulated = 99 // the other nodes' speakers; 100 nodes in all
)

// BenchmarkSpeakerAtScale runs one real speaker (node1 of a virtual LAN)
// and the real controller against the real API server, with 100 Node
// objects whose other 99 speakers are simulated (liveness only, see
// sims), a layer 2 pool and a BGP pool (its peer an address where no
// router answers), and 1,000 then 10,000 LoadBalancer Services of 10
// endpoints each, half in each pool. At each size it reports the
// speaker's CPU time per change of each kind (NAME-1k-cpu-us,
// NAME-10k-cpu-us, and NAME-ratio, 10,000 / 1,000: flat is 1); at 10,000
// the speaker's and the controller's resident memory (now and peak); then
// it silences the simulated speaker that owns the most layer 2 IPs and
// reports what moved. Run with -benchtime=1x: one iteration is the whole
// scenario (18 to 24 minutes on 2 shared cores, most of it writing the
// Services).
func BenchmarkSpeakerAtScale(b *testing.B) {
	for range b.N {
		benchSpeakerAtScale(b)
	}
}

// heapProfileEnv names a file to write the speaker's heap profile to at
// 10,000 Services (go tool pprof -top -inuse_space FILE): the speaker then
// serves its profiles on its namespace's loopback, fetched from inside it.
const heapProfileEnv = "IRONLB_SPEAKER_HEAP_PROFILE"

// cpuProfileEnv names a directory to write the speaker's CPU profiles
// to, one per kind of change at 10,000 Services (KIND.pprof, covering the
// changes and profileSettle of the settling after them; go tool pprof -top
// FILE) and one as long of the speaker idle before them (idle.pprof).
// Profiling costs the speaker a little CPU itself, so figures from such a
// run are not the ones to report.
const cpuProfileEnv = "IRONLB_SPEAKER_CPU_PROFILE"

const pprofAddr = "127.0.0.1:6060"

// profileSettle is how much of the settling after the changes a CPU
// profile covers: the work a change causes may come after it, and the
// figure counts it until the speaker has settled.
const profileSettle = 30 * time.Second

func benchSpeakerAtScale(b *testing.B) {
	speakerArgs := []string{"-log-level", "info",
		"-members-interval", membersInterval.String(), "-members-timeout", membersTimeout.String(),
		// As the Helm chart runs it: its default resources.limits.memory,
		// of which the Go runtime's soft limit is 90%.
		"-memory-limit", chartSpeakerMemoryLimit(b),
		// Its metrics, for the work each change caused (readWork).
		"-metrics-bind-address", cluster.SpeakerMetricsAddr, "-metrics-secure=false"}
	heapFile, cpuDir := os.Getenv(heapProfileEnv), os.Getenv(cpuProfileEnv)
	if heapFile != "" || cpuDir != "" {
		speakerArgs = append(speakerArgs, "-pprof-bind-address", pprofAddr)
	}
	c := cluster.Start(b, cluster.Options{
		Nodes: 1, Clients: 1,
		// The controller's production Lease timing, not the harness's
		// 2 s: while 10,000 Services and their slices are written the API
		// server of a loaded machine answers a renewal late, and a
		// controller that lost its Lease exits (a kubelet would restart
		// it; here nothing does).
		ControllerArgs: []string{"-lease-duration", "15s", "-renew-deadline", "10s"},
		SpeakerArgs:    speakerArgs,
	})
	real := c.Lab.Nodes[0].Name
	speaker, controller := c.Speaker(real), c.Controller()
	c.Create(b,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}},
		cluster.Pool(l2Pool, "2001:db8:300::/112"), cluster.L2("l2", []string{l2Pool}),
		cluster.Pool(bgpPool, "2001:db8:300::1:0/112"),
		&v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: "bgp"}, Spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{bgpPool}}},
		// No router at this address: the speaker computes and hands over
		// its routes to GoBGP, which keeps trying to connect.
		&v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: "tor"}, Spec: v1beta1.BGPPeerSpec{MyASN: 64512, ASN: 64500, Address: "2001:db8:100::1"}},
	)
	s := startSims(b, c, c.Lab.Host("client1"), simulated, real)
	nodes := append([]string{real}, s.names...)
	w := &world{cl: c.Client, nodes: s.names, local: map[int]bool{}, notReady: map[int]bool{}}
	metrics := cluster.NodeHTTPClient(c.Lab.Host(real))
	m := meter{tb: b, pid: speaker.Pid(), work: func() work { return readWork(b, metrics) }}

	perChange := map[string][2]cost{}
	for k, size := range []int{smallSize, largeSize} {
		t0 := time.Now()
		createServices(b, c.Client, w.services, size, nodes)
		for i := w.services; i < size; i++ {
			w.local[i] = localAtStart(i)
		}
		w.services = size
		waitAddressed(b, c.Client, size, 10*time.Minute, func() error {
			if speaker.Exited() || controller.Exited() {
				return fmt.Errorf("a process exited: speaker %v, controller %v (logs in %s)", speaker.Exited(), controller.Exited(), c.API.Dir)
			}
			return nil
		})
		m.settle(settledCPU, 5*time.Minute)
		b.Logf("%d Services created, addressed and taken in by the speaker in %v (load %s)", size, time.Since(t0).Round(time.Second), loadavg())
		var idle, took []string
		if cpuDir != "" && size == largeSize {
			// The same length of idle, the base to diff the others
			// against (go tool pprof -diff_base idle.pprof KIND.pprof).
			cpuProfile(b, c.Lab.Host(real), filepath.Join(cpuDir, "idle.pprof"))()
		}
		for _, ch := range changes {
			v := perChange[ch.name]
			var profiled func()
			var startProfile func()
			if cpuDir != "" && size == largeSize {
				startProfile = func() { profiled = cpuProfile(b, c.Lab.Host(real), filepath.Join(cpuDir, ch.name+".pprof")) }
			}
			v[k] = m.perChange(w, ch, k*changes1, startProfile)
			if profiled != nil {
				profiled()
			}
			perChange[ch.name] = v
			idle = append(idle, fmt.Sprintf("%.1f/%.1f", v[k].idleMsPerS[0], v[k].idleMsPerS[1]))
			took = append(took, fmt.Sprintf("%s %v", ch.name, v[k].elapsed.Round(time.Second)))
		}
		b.Logf("%d Services: speaker idle before/after each kind of change %s ms/s; changes until settled: %s (load %s)", size, strings.Join(idle, ", "), strings.Join(took, ", "), loadavg())
		if speaker.Exited() || controller.Exited() {
			b.Fatalf("a process exited: speaker %v, controller %v", speaker.Exited(), controller.Exited())
		}
		if size == smallSize {
			// The speaker's memory at 1,000 too: the chart's sizing
			// advice reads both.
			mem, err := procstat.ReadMemory(speaker.Pid())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(procstat.MiB(mem.RSS), "speaker-1k-rss-MiB")
			b.ReportMetric(procstat.MiB(mem.Anon), "speaker-1k-rss-anon-MiB")
		}
	}
	for _, ch := range changes {
		v := perChange[ch.name]
		b.ReportMetric(v[0].us, ch.name+"-1k-cpu-us")
		b.ReportMetric(v[1].us, ch.name+"-10k-cpu-us")
		b.ReportMetric(v[1].us/max(v[0].us, 1), ch.name+"-ratio")
		// A figure within its noise says only that the change costs less
		// than the noise (hack/benchreport reads these).
		b.ReportMetric(v[0].noiseUS, ch.name+"-1k-noise-us")
		b.ReportMetric(v[1].noiseUS, ch.name+"-10k-noise-us")
		// The work beside the time: IPs decided again and passes, per
		// change. Their ratio is exact where the CPU's is noisy.
		b.ReportMetric(v[0].work.ips, ch.name+"-1k-ips-decided")
		b.ReportMetric(v[1].work.ips, ch.name+"-10k-ips-decided")
		if v[0].work.ips > 0 {
			b.ReportMetric(v[1].work.ips/v[0].work.ips, ch.name+"-ips-decided-ratio")
		}
		b.ReportMetric(v[0].work.passes, ch.name+"-1k-passes")
		b.ReportMetric(v[1].work.passes, ch.name+"-10k-passes")
	}
	for _, p := range []struct {
		name string
		pid  int
	}{{"speaker", speaker.Pid()}, {"controller", controller.Pid()}} {
		mem, err := procstat.ReadMemory(p.pid)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(procstat.MiB(mem.RSS), p.name+"-rss-MiB")
		b.ReportMetric(procstat.MiB(mem.Peak), p.name+"-peak-rss-MiB")
		b.ReportMetric(procstat.MiB(mem.Anon), p.name+"-rss-anon-MiB")
		b.ReportMetric(procstat.MiB(mem.File), p.name+"-rss-file-MiB")
	}
	if heapFile != "" {
		// The heap in use after a collection, as the profile reports it.
		out, err := c.Lab.Host(real).Exec(b.Context(), "curl", "-sSf", "-o", heapFile, "http://"+pprofAddr+"/debug/pprof/heap?gc=1")
		if err != nil {
			b.Fatalf("speaker heap profile: %v: %s", err, out)
		}
		// The runtime's own figures beside it, after a collection
		// (# HeapAlloc: the live heap; # HeapSys, # HeapReleased,
		// # NextGC ...): what of the RSS is live heap.
		if out, err := c.Lab.Host(real).Exec(b.Context(), "curl", "-sSf", "-o", heapFile+".txt", "http://"+pprofAddr+"/debug/pprof/heap?gc=1&debug=1"); err != nil {
			b.Fatalf("speaker heap statistics: %v: %s", err, out)
		}
		b.Logf("speaker heap profile at %d Services: %s (runtime statistics in %s.txt)", largeSize, heapFile, heapFile)
	}

	loss := loseNode(b, c.Client, s, real, speaker.Log)
	b.Logf("node loss: %s owned %d layer 2 IPs; %d moved, %d of them not its; the real speaker took over %d (load %s)",
		loss.victim, loss.owned, loss.moved, loss.unowned, loss.speakerGained, loadavg())
	b.ReportMetric(float64(loss.owned), "node-loss-owned-ips")
	b.ReportMetric(float64(loss.moved), "node-loss-moved-ips")
	b.ReportMetric(float64(loss.unowned), "node-loss-moved-not-owned")
	b.ReportMetric(float64(loss.speakerGained), "node-loss-speaker-gained-ips")
	b.ReportMetric(float64(loss.speakerBefore+loss.speakerAfter), "speaker-vs-reference-diff-ips")
	// Simulated speakers held dead for a moment (the test process starved
	// for longer than the liveness timeout) re-elect IPs: the CPU figures
	// then hold that work too.
	b.ReportMetric(float64(loss.falseDeaths), "false-deaths-before-loss")
	// Unmet targets are rows of docs/benchmarks.md (hack/benchreport),
	// not failures: a failed benchmark prints no figures at all.
	if loss.owned == 0 {
		b.Errorf("the lost node owned no IP: the node loss measured nothing")
	}
}

// cpuProfile starts fetching the speaker's CPU profile over the time the
// changes of one kind take (changes1 × pace) and profileSettle more, from
// inside the speaker's network namespace; the function it returns waits
// for the file.
func cpuProfile(b *testing.B, h *vlan.Host, file string) func() {
	secs := int((changes1*pace+profileSettle)/time.Second) + 1
	done := make(chan error, 1)
	go func() {
		out, err := h.Exec(b.Context(), "curl", "-sSf", "-o", file, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, secs))
		if err != nil {
			err = fmt.Errorf("%w: %s", err, out)
		}
		done <- err
	}()
	return func() {
		if err := <-done; err != nil {
			b.Fatalf("speaker CPU profile %s: %v", file, err)
		}
		b.Logf("speaker CPU profile at %d Services: %s", largeSize, file)
	}
}

// loadavg is the machine's load average (1, 5, 15 min), reported beside
// the figures: the machine is shared.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return fmt.Sprint(err)
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// chartSpeakerMemoryLimit is the speaker's resources.limits.memory in the
// Helm chart's values.yaml.
func chartSpeakerMemoryLimit(tb testing.TB) string {
	data, err := os.ReadFile(filepath.Join(kubeapi.RepoRoot(tb), "manifests", "helm", "ironlb", "values.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	var v struct {
		Speaker struct {
			Resources corev1.ResourceRequirements `json:"resources"`
		} `json:"speaker"`
	}
	if err := yaml.Unmarshal(data, &v); err != nil {
		tb.Fatalf("chart values: %v", err)
	}
	limit, ok := v.Speaker.Resources.Limits[corev1.ResourceMemory]
	if !ok {
		tb.Fatal("chart values: speaker.resources.limits.memory is not set")
	}
	return limit.String()
}
