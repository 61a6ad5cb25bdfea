package soak

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/procstat"
)

// target is a process to sample: how to find its pid now and how to reach
// its /metrics.
type target struct {
	name    string
	pid     func() int
	proc    func() *cluster.Proc
	client  *http.Client
	metrics string // URL
	pprof   string // URL of /debug/pprof
}

// sampleProc reads a process's Measures from /proc and then its /metrics,
// every gcEvery right after a garbage collection it forces (keeping the
// heap profile in profiles, when set, every profileEvery); what cannot be
// read is NaN.
func sampleProc(ctx context.Context, tg target, profiles string, at time.Duration) ProcSample {
	ps := ProcSample{Pid: tg.pid(), Values: nans(len(Measures))}
	if ps.Pid == 0 {
		return ps
	}
	// Before the collection, which returns memory to the OS.
	mem, rssErr := procstat.ReadMemory(ps.Pid)
	fds, fdErr := os.ReadDir(filepath.Join("/proc", strconv.Itoa(ps.Pid), "fd"))
	gcErr := errNoGC
	if at%gcEvery == 0 {
		gcErr = forceGC(ctx, tg, profilePath(profiles, tg, ps.Pid, at))
	}
	m, scrapeErr := scrape(ctx, tg.client, tg.metrics)
	switch {
	case scrapeErr != nil:
	case m.leading == 1:
		ps.Role = Leading
	case m.leading == 0:
		ps.Role = Standby
	}
	for i, ms := range Measures {
		var v float64
		var err error
		switch ms.Source {
		case "VmRSS":
			v, err = float64(mem.RSS), rssErr
		case "RssAnon":
			v, err = float64(mem.Anon), rssErr
		case "RssFile":
			v, err = float64(mem.File), rssErr
		case "fd":
			v, err = float64(len(fds)), fdErr
		case "series":
			v, err = float64(m.series), scrapeErr
		default:
			var ok bool
			if v, ok = m.gauges[ms.Source]; !ok {
				err = fmt.Errorf("no %s", ms.Source)
			}
		}
		if ms.AfterGC && gcErr != nil {
			err = gcErr
		}
		if err != nil {
			continue
		}
		if ms.Unit == "MiB" {
			v /= 1 << 20
		}
		ps.Values[i] = v
	}
	// The process may have been replaced while it was read: a pid read
	// again after the values tells.
	if tg.pid() != ps.Pid {
		ps.Values = nans(len(Measures))
	}
	return ps
}

func nans(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = math.NaN()
	}
	return out
}

// scraped is one read of a Prometheus text endpoint: its unlabelled
// samples by name and how many samples it held in all.
type scraped struct {
	gauges map[string]float64
	series int
	// leading is leader_election_master_status (NaN: not exported).
	leading float64
}

// scrape reads a Prometheus text endpoint.
func scrape(ctx context.Context, cl *http.Client, url string) (scraped, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return scraped{}, err
	}
	resp, err := cl.Do(req)
	if err != nil {
		return scraped{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return scraped{}, fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return scraped{}, err
	}
	out := scraped{gauges: map[string]float64{}, leading: math.NaN()}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out.series++
		if rest, ok := strings.CutPrefix(line, "leader_election_master_status{"); ok {
			if _, val, ok := strings.Cut(rest, "} "); ok {
				if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
					out.leading = v
				}
			}
		}
		if name, val, ok := strings.Cut(line, " "); ok && !strings.Contains(name, "{") {
			if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
				out.gauges[name] = v
			}
		}
	}
	return out, sc.Err()
}

// countObjects lists the Events (fed to the ledger) and counts the
// Services; NaN for what the API server did not answer within 4 s.
func countObjects(ctx context.Context, c *cluster.Cluster, at time.Duration, ledger *EventLedger) (events, eventObjects, services float64) {
	events, eventObjects, services = math.NaN(), math.NaN(), math.NaN()
	ctx, cancel := context.WithTimeout(ctx, 4*time.Second)
	defer cancel()
	var el corev1.EventList
	if err := c.Client.List(ctx, &el); err == nil {
		eventObjects = float64(len(el.Items))
		obs := make([]EventObs, len(el.Items))
		for i, e := range el.Items {
			o := e.InvolvedObject
			obs[i] = EventObs{UID: string(e.UID), Count: int(e.Count), Object: o.Kind + "/" + o.Namespace + "/" + o.Name,
				Class: EventClass{Type: e.Type, Reason: e.Reason, Source: e.Source.Component, Kind: o.Kind}}
		}
		events = float64(ledger.Observe(at, obs))
	}
	var sl corev1.ServiceList
	if err := c.Client.List(ctx, &sl); err == nil {
		services = float64(len(sl.Items))
	}
	return events, eventObjects, services
}

// speakerTargets are the speakers to sample, one per node, scraped inside
// their node's namespace.
func speakerTargets(c *cluster.Cluster) []target {
	var out []target
	for _, n := range c.Lab.Nodes {
		out = append(out, target{
			name: "speaker_" + n.Name,
			proc: func() *cluster.Proc { return c.Speaker(n.Name) },
			pid: func() int {
				if p := c.Speaker(n.Name); p != nil && !p.Exited() {
					return p.Pid()
				}
				return 0
			},
			client:  cluster.NodeHTTPClient(n),
			metrics: "http://" + cluster.SpeakerMetricsAddr + "/metrics",
			pprof:   "http://" + speakerPprofAddr + "/debug/pprof",
		})
	}
	return out
}

// controllerTarget is the controller, scraped on the host's loopback
// (metrics on port, profiles on pprofPort).
func controllerTarget(c *cluster.Cluster, port, pprofPort int) target {
	return target{
		name: "controller",
		proc: c.Controller,
		pid: func() int {
			if p := c.Controller(); p != nil && !p.Exited() {
				return p.Pid()
			}
			return 0
		},
		client:  &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
		metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", port),
		pprof:   fmt.Sprintf("http://127.0.0.1:%d/debug/pprof", pprofPort),
	}
}

// unanswered lists the processes running at the end whose /metrics does
// not answer, and makes each dump its goroutines into its log (SIGQUIT):
// a hung scrape means a handler is stuck on a lock or a call, and the
// stacks say which.
func unanswered(ctx context.Context, targets []target, logf func(string, ...any)) []string {
	var out []string
	for _, tg := range targets {
		p := tg.proc()
		if p == nil || p.Exited() {
			continue
		}
		_, err := scrape(ctx, tg.client, tg.metrics)
		if err == nil {
			continue
		}
		out = append(out, fmt.Sprintf("at the end the %s's /metrics does not answer: %v (goroutines dumped into its log)", tg.name, err))
		if err := p.Signal(syscall.SIGQUIT); err != nil {
			logf("SIGQUIT %s: %v", tg.name, err)
		}
	}
	return out
}
