// Command benchreport turns `go test -bench` output (stdin) into
// docs/benchmarks.md: the machine and date, each target next to what was
// measured, and the raw output.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// target is a goal for one metric of one benchmark.
type target struct {
	bench, metric, goal string
	max                 float64
}

var targets = []target{
	{"BenchmarkAllocate60kOf16/fragmented", "ns/op", "allocator < 5 µs/op with 60,000 of a /16 taken (fragmented: the worse case)", 5000},
	{"BenchmarkCreate5000Services", "p99-ms", "p99 create→IP < 100 ms at 100 Services/s", 100},
	{"BenchmarkCreate5000Services", "last-ms", "last Service has its IP < 2 s after creation", 2000},
	{"BenchmarkCreate5000Services", "restart-new-svc-ms", "after a restart, a new Service has its IP < 1 s after creation", 1000},
	{"BenchmarkCreate5000Services", "restart-rewrites", "no unchanged Service's status rewritten after a restart", 0},
	{"BenchmarkCreate5000Services", "peak-rss-MiB", "controller peak RSS < 100 MiB", 100},
	{"BenchmarkControllerRestartInPod", "restart-to-ip-max-ms", "controller restart -> new Service's IP (same pod: kill -9, restart with its identity) < 1 s", 1000},
	{"BenchmarkStandbyTakeover", "takeover-over-lease-max-ms", "controller restart -> new Service's IP (standby takeover: kill -9 the leader) < Lease duration (15 s) + 1 s", 1000},
	{"BenchmarkNodeLossAPIFrozen", "first-answer-p99-ms", "node loss (LAN link down) with the API server frozen -> first answer through the new path, p99 of 10 losses < 500 ms", 500},
	{"BenchmarkNodeLossFailedRequests", "failed-in-10s", "failed requests (one every 15 ms, 1 s timeout) in the 10 s after the announcing node is lost: at most those sent within the 500 ms failover budget", 33},
	{"BenchmarkRollingRestart", "failed-per-restart", "rolling restart of every speaker under traffic: failed requests per restart (worst VIP: layer 2 and BGP, IPv4 and IPv6) <= 1", 1},
	{"BenchmarkRollingRestart", "ips-changed", "rolling restart of every speaker: no Service's address changed", 0},
	{"BenchmarkRouterRestart", "recovery-ms", "FRR restarted -> every session and route back < 10 s, no speaker restarted", 10000},
	{"BenchmarkRouterRestartBFD", "recovery-ms", "FRR restarted with BFD on every session -> every session and route back < 10 s, no speaker restarted", 10000},
	{"BenchmarkLayer2Change", "service-10k-cpu-us", "speaker layer 2: CPU per Service change < 1 ms at 10,000 Services x 100 nodes (view + plan + election)", 1000},
	{"BenchmarkLayer2Change", "service-ratio", "speaker layer 2: CPU per Service change, 10,000 / 1,000 Services <= 1.5", 1.5},
	{"BenchmarkLayer2Change", "endpointslice-10k-cpu-us", "speaker layer 2: CPU per EndpointSlice change < 1 ms at 10,000 Services x 100 nodes", 1000},
	{"BenchmarkLayer2Change", "endpointslice-ratio", "speaker layer 2: CPU per EndpointSlice change, 10,000 / 1,000 Services <= 1.5", 1.5},
	{"BenchmarkLayer2Change", "node-heartbeat-10k-cpu-us", "speaker layer 2: CPU per Node status heartbeat < 1 ms at 10,000 Services x 100 nodes", 1000},
	{"BenchmarkLayer2Change", "node-heartbeat-ratio", "speaker layer 2: CPU per Node heartbeat, 10,000 / 1,000 Services <= 1.5", 1.5},
	{"BenchmarkLayer2Change", "node-label-10k-cpu-us", "speaker layer 2: CPU per Node label change no advertisement selects on < 1 ms at 10,000 Services", 1000},
	{"BenchmarkLayer2Change", "node-label-ratio", "speaker layer 2: CPU per Node label change, 10,000 / 1,000 Services <= 1.5", 1.5},
	{"BenchmarkLayer2Change", "node-ready-10k-cpu-us", "speaker layer 2: CPU per Node turning NotReady or Ready < 1 ms at 10,000 Services x 100 nodes", 1000},
	{"BenchmarkLayer2Change", "node-ready-ratio", "speaker layer 2: CPU per Node turning NotReady or Ready, 10,000 / 1,000 Services <= 1.5", 1.5},
	{"BenchmarkBGPChange", "service-10k-cpu-us", "speaker BGP: CPU per Service change < 1 ms at 10,000 Services x 100 nodes (view + plan + routes handed over, GoBGP not included)", 1000},
	{"BenchmarkBGPChange", "service-ratio", "speaker BGP: CPU per Service change, 10,000 / 1,000 Services <= 1.5", 1.5},
	{"BenchmarkBGPChange", "endpointslice-10k-cpu-us", "speaker BGP: CPU per EndpointSlice change < 1 ms at 10,000 Services x 100 nodes", 1000},
	{"BenchmarkBGPChange", "endpointslice-ratio", "speaker BGP: CPU per EndpointSlice change, 10,000 / 1,000 Services <= 1.5", 1.5},
	{"BenchmarkBGPChange", "node-heartbeat-10k-cpu-us", "speaker BGP: CPU per Node status heartbeat < 1 ms at 10,000 Services x 100 nodes", 1000},
	{"BenchmarkBGPChange", "node-heartbeat-ratio", "speaker BGP: CPU per Node status heartbeat, 10,000 / 1,000 Services <= 1.5", 1.5},
	{"BenchmarkBGPChange", "node-label-10k-cpu-us", "speaker BGP: CPU per Node label change no advertisement selects on < 1 ms at 10,000 Services x 100 nodes", 1000},
	{"BenchmarkBGPChange", "node-label-ratio", "speaker BGP: CPU per Node label change no advertisement selects on, 10,000 / 1,000 Services <= 1.5", 1.5},
	{"BenchmarkBGPChange", "node-ready-10k-cpu-us", "speaker BGP: CPU per other Node turning NotReady or Ready < 1 ms at 10,000 Services x 100 nodes", 1000},
	{"BenchmarkBGPChange", "node-ready-ratio", "speaker BGP: CPU per other Node turning NotReady or Ready, 10,000 / 1,000 Services <= 1.5", 1.5},
	{"BenchmarkBGPChange", "own-node-label-10k-cpu-us", "speaker BGP: CPU per label change of its own Node no advertisement or peer selects on < 1 ms at 10,000 Services x 100 nodes", 1000},
	{"BenchmarkBGPChange", "own-node-label-ratio", "speaker BGP: CPU per label change of its own Node no advertisement or peer selects on, 10,000 / 1,000 Services <= 1.5", 1.5},
	{"BenchmarkSpeakerAtScale", "service-10k-cpu-us", "speaker process (real API server, 100 nodes, layer 2 + BGP pools): CPU per Service change < 1 ms at 10,000 Services", 1000},
	{"BenchmarkSpeakerAtScale", "service-ratio", "speaker process: CPU per Service change, 10,000 / 1,000 Services <= 1.5", 1.5},
	{"BenchmarkSpeakerAtScale", "service-churn-10k-cpu-us", "speaker process: CPU per Service created or deleted (the controller rewrites its pool's counts each time) < 1 ms at 10,000 Services", 1000},
	{"BenchmarkSpeakerAtScale", "service-churn-ratio", "speaker process: CPU per Service created or deleted, 10,000 / 1,000 Services <= 1.5", 1.5},
	{"BenchmarkSpeakerAtScale", "endpointslice-10k-cpu-us", "speaker process: CPU per EndpointSlice change < 1 ms at 10,000 Services", 1000},
	{"BenchmarkSpeakerAtScale", "endpointslice-ratio", "speaker process: CPU per EndpointSlice change, 10,000 / 1,000 Services <= 1.5", 1.5},
	{"BenchmarkSpeakerAtScale", "node-label-10k-cpu-us", "speaker process: CPU per Node label change < 1 ms at 10,000 Services", 1000},
	{"BenchmarkSpeakerAtScale", "node-label-ratio", "speaker process: CPU per Node label change, 10,000 / 1,000 Services <= 1.5", 1.5},
	{"BenchmarkSpeakerAtScale", "node-ready-10k-cpu-us", "speaker process: CPU per Node turning NotReady or Ready < 1 ms at 10,000 Services", 1000},
	{"BenchmarkSpeakerAtScale", "node-ready-ratio", "speaker process: CPU per Node turning NotReady or Ready, 10,000 / 1,000 Services <= 1.5", 1.5},
	{"BenchmarkSpeakerAtScale", "service-ips-decided-ratio", "speaker process: IPs decided again per Service change (counted, exact), 10,000 / 1,000 Services <= 1.5", 1.5},
	{"BenchmarkSpeakerAtScale", "service-churn-ips-decided-ratio", "speaker process: IPs decided again per Service created or deleted, 10,000 / 1,000 Services <= 1.5", 1.5},
	{"BenchmarkSpeakerAtScale", "endpointslice-ips-decided-ratio", "speaker process: IPs decided again per EndpointSlice change, 10,000 / 1,000 Services <= 1.5", 1.5},
	{"BenchmarkSpeakerAtScale", "node-label-10k-ips-decided", "speaker process: IPs decided again per Node label change no advertisement selects on, at 10,000 Services: 0", 0},
	{"BenchmarkSpeakerAtScale", "speaker-peak-rss-MiB", "speaker process: peak RSS < 100 MiB at 10,000 Services x 100 nodes", 100},
	{"BenchmarkSpeakerAtScale", "controller-peak-rss-MiB", "controller process: peak RSS < 150 MiB at 10,000 Services", 150},
	{"BenchmarkSpeakerAtScale", "node-loss-moved-not-owned", "node loss at 100 nodes: IPs that moved = IPs that node owned (moved IPs it did not own: 0)", 0},
	{"BenchmarkSpeakerAtScale", "speaker-vs-reference-diff-ips", "node loss: the speaker process announces exactly the IPs the from-scratch election gives it, before and after", 0},
	{"BenchmarkRouteChange", "update-10k-cpu-us", "speaker BGP (GoBGP): CPU per route change handed over by prefix < 1 ms with 10,000 routes", 1000},
	{"BenchmarkRouteChange", "update-ratio", "speaker BGP (GoBGP): CPU per route change, 10,000 / 1,000 routes <= 1.5", 1.5},
	{"BenchmarkFailover", "failover-p99-ms", "layer 2 failover p99 < 500 ms (kill -> first client answer via the new node)", 500},
	{"BenchmarkAssignmentToFirstReply", "assign-to-reply-p99-ms", "layer 2 assignment -> first ARP reply p99 < 100 ms", 100},
	{"BenchmarkAssignmentToRoute", "assign-to-route-p99-ms", "BGP: Service IP assignment -> route in FRR p99 < 100 ms", 100},
	{"BenchmarkAssignmentToRoute", "bulk1000-to-all-routes-ms", "BGP: 1,000 Services advertised < 2 s", 2000},
	{"BenchmarkBFDFailover", "failover-p99-ms", "BGP: BFD-driven failover (link cut -> next hop dropped in FRR) < 1 s", 1000},
	{"BenchmarkFullSync/services=10000/endpoints=10", "ms/sync", "nftables: full sync of 10,000 Services x 10 endpoints < 3 s", 3000},
	{"BenchmarkEndpointChange/services=10000", "ms/change", "nftables: one endpoint change < 10 ms", 10},
	{"BenchmarkSourceRangesFullSync/services=10000/ranges=5", "ms/sync", "nftables: full sync of 10,000 Services x 10 endpoints x 5 source ranges < 3 s", 3000},
	{"BenchmarkSourceRangesChange/services=10000/ranges=5", "ms/change", "nftables: one Service's source ranges change (10,000 Services x 5 ranges) < 10 ms", 10},
	{"BenchmarkThroughputRatio", "vip/direct", "nftables: throughput via VIP / direct >= 0.9", -0.9},
	{"BenchmarkDriftRepair/services=10000/endpoints=10", "flush-to-rules-ms", "nftables: `nft flush ruleset` -> rules back < 5 s (10,000 Services x 10 endpoints)", 5000},
	{"BenchmarkDriftRepair/services=10000/endpoints=10", "flush-to-reply-ms", "nftables: `nft flush ruleset` -> first successful request < 5 s", 5000},
	{"BenchmarkHelmInstall", "cluster-start-ms", "kubelet cluster (e2e/kcluster): API server and 3 nodes Ready < 30 s", 30000},
	{"BenchmarkHelmInstall", "install-to-first-answer-ms", "helm install -> first answer through a layer 2 VIP (pool, app and Service created after the install) < 60 s", 60000},
	{"BenchmarkHelmInstall", "speaker-max-rss-MiB", "speaker RSS in the kubelet cluster < 100 MiB", 100},
	{"BenchmarkHelmInstall", "controller-max-rss-MiB", "controller RSS in the kubelet cluster < 100 MiB", 100},
	{"BenchmarkGuestFullSync/services=10000/endpoints=10", "ns/op", "IPVS (in qemu TCG): full sync of 10,000 Services x 10 endpoints < 3 s", 3e9},
	{"BenchmarkGuestEndpointChange", "ns/op", "IPVS (in qemu TCG): one endpoint change < 10 ms", 1e7},
	{"BenchmarkGuestThroughput", "vip/direct", "IPVS (in qemu TCG): throughput via VIP / direct >= 0.9", -0.9},
	{"BenchmarkGuestDriftRepair/services=1000/flush", "first-vip-reply-ms", "IPVS (in qemu TCG): `ipvsadm -C` and ironlb0 deleted -> first VIP answers again < 5 s (1,000 Services x 10 endpoints on 10 VIPs; see netlink-calls/repair)", 5000},
	{"BenchmarkGuestDriftRepair/services=1000/flush", "repaired-ms", "IPVS (in qemu TCG): `ipvsadm -C` and ironlb0 deleted -> every VIP back < 5 s", 5000},
	{"BenchmarkGuestDriftRepair/services=1000/one-vip", "first-vip-reply-ms", "IPVS (in qemu TCG): one VIP address deleted -> it answers again < 5 s", 5000},
	{"BenchmarkGuestDriftRepair/services=1000/one-vip", "writes/repair", "IPVS: one VIP address deleted is repaired with one write, not a rebuild", 1},
}

// verdict says whether v meets t. noise is how far a CPU figure with the
// idle CPU subtracted can be off (0: not reported): a figure within it,
// negative or not, says only that the cost is below the noise, and a
// ratio of such a figure says nothing.
func verdict(t target, v, noise float64) string {
	switch {
	case noise > 0 && strings.HasSuffix(t.metric, "-ratio"):
		return fmt.Sprintf("n/a (a figure is below its idle noise, %.3g µs)", noise)
	case noise > 0 && v <= noise && v >= -noise:
		if noise <= t.max {
			return fmt.Sprintf("yes (below the idle noise, %.3g µs)", noise)
		}
		return fmt.Sprintf("**unknown** (below the idle noise, %.3g µs, which exceeds the target)", noise)
	case v < 0 && cpuCost(t.metric):
		// CPU with the idle CPU subtracted: a negative figure beyond its
		// noise means the idle measure was off, not that the change was
		// cheap.
		return "**invalid** (negative)"
	case t.max >= 0 && v > t.max || t.max < 0 && v < -t.max:
		// A negative max is a minimum: the measured value must reach -max.
		return "**no**"
	}
	return "yes"
}

// noiseOf is the noise that decides the verdict of metric (see verdict):
// for NAME-SIZE-cpu-us, NAME-SIZE-noise-us when the figure is within it;
// for a ratio NAME-ratio, the noise of whichever of NAME-1k-cpu-us and
// NAME-10k-cpu-us is within its own. 0 when none is.
func noiseOf(metric string, m map[string]float64) float64 {
	within := func(cpu string) float64 {
		v, ok := m[cpu]
		n := m[strings.TrimSuffix(cpu, "-cpu-us")+"-noise-us"]
		if ok && n > 0 && v <= n && v >= -n {
			return n
		}
		return 0
	}
	if name, ok := strings.CutSuffix(metric, "-ratio"); ok {
		return max(within(name+"-1k-cpu-us"), within(name+"-10k-cpu-us"))
	}
	if strings.HasSuffix(metric, "-cpu-us") {
		return within(metric)
	}
	return 0
}

// cpuCost says whether metric is a CPU cost or a ratio of CPU costs,
// which cannot be negative.
func cpuCost(metric string) bool {
	return strings.HasSuffix(metric, "-cpu-us") || strings.HasSuffix(metric, "-ratio")
}

func main() {
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	results := parse(string(raw))
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	fmt.Fprintf(w, "# Benchmarks\n\nGenerated by `make bench` on %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "Machine: %s, %d cores, %s, Linux %s, %s. The machine is shared, so absolute figures are noisy; ratios measured in one run are not.\n\n",
		cpuModel(), runtime.NumCPU(), memTotal(), kernel(), runtime.Version())
	if loads := loadLines(string(raw)); len(loads) > 0 {
		fmt.Fprintf(w, "Load average (1, 5, 15 min) when each stage started: %s.\n\n", strings.Join(loads, "; "))
	}
	fmt.Fprintln(w, "| Target | Benchmark | Metric | Measured | Met |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, t := range targets {
		v, ok := results[t.bench][t.metric]
		measured, met := "not run", "—"
		if ok {
			measured = strconv.FormatFloat(v, 'g', 4, 64)
			met = verdict(t, v, noiseOf(t.metric, results[t.bench]))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", t.goal, t.bench, t.metric, measured, met)
	}
	fmt.Fprintf(w, "\n## Raw output\n\n```\n%s```\n", keepBenchLines(string(raw)))
}

// loadLines are the "loadavg: STAGE L1 L5 L15" lines hack/bench.sh writes.
func loadLines(raw string) []string {
	var out []string
	for _, line := range strings.Split(raw, "\n") {
		if rest, ok := strings.CutPrefix(line, "loadavg: "); ok {
			if stage, avg, ok := strings.Cut(rest, " "); ok {
				out = append(out, stage+" "+avg)
			}
		}
	}
	return out
}

// parse reads "BenchmarkName-2  N  v1 unit1  v2 unit2 ..." lines.
func parse(raw string) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	for _, line := range strings.Split(raw, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndex(name, "-"); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		m := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				m[f[i+1]] = v
			}
		}
		out[name] = m
	}
	return out
}

func keepBenchLines(raw string) string {
	var b strings.Builder
	for _, line := range strings.Split(raw, "\n") {
		if strings.HasPrefix(line, "Benchmark") || strings.HasPrefix(line, "ok") ||
			strings.HasPrefix(line, "FAIL") || strings.HasPrefix(line, "pkg:") || strings.HasPrefix(line, "---") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return fmt.Sprintf("%d GiB", (kb+512*1024)/(1024*1024))
		}
	}
	return "unknown memory"
}

func kernel() string {
	out, err := exec.Command("uname", "-r").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}
