package soak

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Measure is one quantity sampled per process.
type Measure struct {
	Name, Unit string
	// Floor is the Rule's Floor for it.
	Floor float64
	// Shown only: a series that swings with every GC cycle (a sawtooth
	// between the live heap and twice that) is shown to read beside the
	// others, not judged; the live heap is its steady measure.
	Shown bool
	// Source is where it is read: VmRSS (/proc/PID/status), fd (entries
	// of /proc/PID/fd), series (samples in /metrics) or the name of an
	// unlabelled gauge in /metrics.
	Source string
	// AfterGC: only read right after the garbage collection the sampler
	// forces (heap_test.go); not read when that failed.
	AfterGC bool
	// Warmup overrides the Rule's Warmup (the package's Warmup when zero).
	Warmup time.Duration
	// MinLife is the Rule's MinSpan: only process lives with this much of
	// the window after their warm-up are judged.
	MinLife time.Duration
}

// Measures sampled per process, in the table's column order.
//
// RSS alone cannot tell a leak from the Go runtime settling (heap grown
// to its GC goal, memory not yet returned to the OS): the live heap (what
// a GC forced at the sample found reachable) can, and a Prometheus series per deleted
// Service, pool or peer shows in the number of series.
var Measures = []Measure{
	{Name: "rss", Unit: "MiB", Shown: true, Source: "VmRSS"},
	{Name: "heap", Unit: "MiB", Shown: true, Source: "go_memstats_heap_inuse_bytes"},
	{Name: "live_heap", Unit: "MiB", Floor: 2, Source: "go_gc_heap_live_bytes", AfterGC: true},
	{Name: "heap_objects", Shown: true, Source: "go_memstats_heap_objects"},
	{Name: "goroutines", Floor: 10, Source: "go_goroutines"},
	{Name: "fds", Floor: 5, Source: "fd"},
	{Name: "series", Floor: 20, Source: "series"},
	// RSS in its two parts: anonymous memory (heap, stacks, the runtime's
	// own), where a leak shows, judged; and the pages of files mapped in
	// (mostly the binary's own, about 50 MiB for the speaker), which come
	// in as code paths are first run and are shared and reclaimable, shown.
	{Name: "rss_anon", Unit: "MiB", Floor: 4, Source: "RssAnon", Warmup: RSSWarmup, MinLife: RSSLife},
	{Name: "rss_file", Unit: "MiB", Shown: true, Source: "RssFile"},
}

// EventsFloor is the Rule's Floor for the number of Events.
const EventsFloor = 50

// failureGraceNote is how long after a fault a failed request is put down
// to it (for the report; the test uses the same value).
const failureGraceNote = 3 * time.Second

// requestTimeout is how long the soak's client waits for an answer: a
// request sent up to this long before a fault started was still in flight
// when it hit, so its failure is the fault's.
const requestTimeout = time.Second

// RelLimit is the Rule's Rel for every series.
const RelLimit = 0.10

// Warmup is the Rule's Warmup.
const Warmup = 60 * time.Second

// RSSWarmup is the longer warm-up of anonymous RSS. A restarted process's live heap is
// back at its level within a minute (its caches are filled by the first
// list), but its RSS keeps rising for minutes after that: the heap grows
// toward its GC goal as the pacer learns the allocation rate, and pages
// freed by one cycle are returned to the OS by the background scavenger
// only slowly, so the process settles at the level of the long-lived ones
// only after several cycles of churn (the 30-minute run of 2026-12-06:
// a speaker restarted at 1,230 s started at 74 MiB and reached the 77–87
// MiB band of the never-restarted speakers over its first minutes). A leak
// keeps growing past this; the live heap, judged after one minute, is
// the measure that sees one early.
const RSSWarmup = 5 * time.Minute

// RSSLife is how much of the window a process life must cover after its
// RSS warm-up for its anonymous RSS to be judged. The 30-minute run of
// 2026-12-07 00:49 failed on the anonymous RSS of two lives that began at
// 1,240 s (a speaker) and 1,290 s (the controller), judged over their last
// 4 to 5 minutes: +6.0 and +4.8 MiB. Over those lives the Go heap in use
// rose from 14.4 to 18.8 MiB and from 8.7 to 10.9 MiB while the live heap
// stayed within 0.7 MiB of its level: the heap fills out towards its GC
// goal (twice the live heap) as objects of different lifetimes spread over
// its spans. The speaker's first life (0 to 580 s) rose the same way and
// levelled off at 18.2 to 18.5 MiB from its eighth minute. A shorter life
// cannot tell this from a leak, so its RSS is shown, not judged; its live
// heap, goroutines and descriptors still are. At least one process's RSS
// must be judged (Run.Failures).
const RSSLife = 10 * time.Minute

// ProcSample is one process's values at a sample; NaN when unreadable
// (the process was restarting, its metrics endpoint did not answer).
type ProcSample struct {
	Pid    int
	Values []float64 // in Measures' order
	// Role is the process's part in a leader election, from its
	// leader_election_master_status (NoElection for the speakers).
	Role Role
}

// Role is a process's part in a leader election.
type Role int

const (
	NoElection Role = iota
	Standby
	Leading
)

// spell keys the samples fitted with one intercept: a process's life and,
// for the controller, whether it leads. Its leader work (reconcilers,
// caches, their goroutines) is built anew for every term and dropped when
// the Lease is lost, so a standby spell and a leading one sit at levels of
// their own; fitting them with one line reads the step between them as
// growth.
func spell(ps ProcSample) int { return ps.Pid*3 + int(ps.Role) }

// Sample is everything read at one moment.
type Sample struct {
	At    time.Duration // since the run started
	Procs map[string]ProcSample
	// Events: the Event emissions (new Event objects and growth of their
	// counts) seen in the EventWindow up to this sample; EventObjects: the
	// Event objects the API server holds. NaN when it did not answer.
	Events, EventObjects float64
	// Services is how many Services existed (NaN when unknown).
	Services float64
	// Note names the faults under way.
	Note string
}

// Run is a finished soak run, as the report shows it.
type Run struct {
	Started  time.Time
	Duration time.Duration
	Seed     uint64
	Command  string
	Machine  []string // lines describing the machine
	// Processes are the sampled processes' names in column order.
	Processes []string
	Samples   []Sample
	// Faults counts the injected faults by kind; Restarts the processes
	// found exited that the run did not stop itself, by process.
	Faults, Restarts map[string]int
	// Churn counts the churn operations by kind; ChurnErrors those the
	// API refused or did not answer (expected while it is frozen or
	// without etcd).
	Churn       map[string]int
	ChurnErrors int
	// Requests sent and failed, and failed by the fault under way when
	// they were sent, else "endpoints-moved" when their Service was given
	// other pods then, else "none"; FailedUnexplained counts the "none"
	// ones by Service and VIP.
	Sent, Failed      int
	FailedByFault     map[string]int
	FailedUnexplained map[string]int
	// Recovery says, per kind of fault, how long after its end every VIP
	// answered again.
	Recovery      string
	Addressed     int
	Duplicates    []string
	Changed       map[string][]string
	WatchEnded    error
	ProblemsAtEnd []string // positive checks that failed at the end
	Verdicts      []SeriesVerdict
	ExtraFailures []string
	// EventRows: every Event seen during the run, by class.
	EventRows []EventRow
}

// SeriesVerdict is the trend verdict of one series.
type SeriesVerdict struct {
	Series, Unit string
	// Measure is the Measures entry the series samples ("" for Events).
	Measure string
	Verdict
}

// Window is the part of the run that the trend rule judges: the second
// half.
func (r *Run) Window() Rule {
	return Rule{From: r.Duration.Seconds() / 2, To: r.Duration.Seconds(), Warmup: Warmup.Seconds(), Rel: RelLimit}
}

// Judge computes the verdict of every series.
func (r *Run) Judge() {
	r.Verdicts = nil
	for _, p := range r.Processes {
		for i, m := range Measures {
			if m.Shown {
				continue
			}
			var pts []Point
			for _, s := range r.Samples {
				ps, ok := s.Procs[p]
				if !ok || ps.Pid == 0 {
					continue
				}
				pts = append(pts, Point{T: s.At.Seconds(), Inc: spell(ps), V: ps.Values[i]})
			}
			rule := r.Window()
			rule.Floor = m.Floor
			if m.Warmup > 0 {
				rule.Warmup = m.Warmup.Seconds()
			}
			rule.MinSpan = m.MinLife.Seconds()
			r.Verdicts = append(r.Verdicts, SeriesVerdict{Series: p + " " + m.Name, Measure: m.Name, Unit: m.Unit, Verdict: rule.Judge(pts)})
		}
	}
	var pts []Point
	for _, s := range r.Samples {
		pts = append(pts, Point{T: s.At.Seconds(), V: s.Events})
	}
	rule := r.Window()
	rule.Floor = EventsFloor
	r.Verdicts = append(r.Verdicts, SeriesVerdict{Series: "events", Verdict: rule.Judge(pts)})
}

// Failures lists why the run failed; empty: it passed.
func (r *Run) Failures() []string {
	var out []string
	for _, d := range r.Duplicates {
		out = append(out, "duplicate address: "+d)
	}
	for _, name := range slices.Sorted(maps.Keys(r.Changed)) {
		out = append(out, fmt.Sprintf("%s changed address: %v", name, r.Changed[name]))
	}
	if r.WatchEnded != nil {
		out = append(out, fmt.Sprintf("the address watch ended early, so it did not see everything: %v", r.WatchEnded))
	}
	judged := map[string]bool{} // measures with a MinLife: judged anywhere
	for _, m := range Measures {
		if m.MinLife > 0 {
			judged[m.Name] = false
		}
	}
	for _, v := range r.Verdicts {
		if _, ok := judged[v.Measure]; ok && v.Skipped == "" {
			judged[v.Measure] = true
		}
		switch {
		case v.Skipped != "":
		case v.Err != nil:
			out = append(out, fmt.Sprintf("%s: %v", v.Series, v.Err))
		case v.Up:
			out = append(out, fmt.Sprintf("%s trends upward: %+.3g%s over the second half, limit %.3g", v.Series, v.Growth, unit(v.Unit), v.Limit))
		}
	}
	for _, m := range slices.Sorted(maps.Keys(judged)) {
		if !judged[m] {
			out = append(out, fmt.Sprintf("no process's %s could be judged: no life was long enough", m))
		}
	}
	out = append(out, r.ProblemsAtEnd...)
	return append(out, r.ExtraFailures...)
}

func unit(u string) string {
	if u == "" {
		return ""
	}
	return " " + u
}

// Write renders the report as markdown.
func (r *Run) Write(w io.Writer) error {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# Soak run\n\n")
	p("Generated by `%s` (e2e/soak) on %s. Do not edit by hand: run it again.\n\n", r.Command, r.Started.UTC().Format("2006-01-02 15:04 MST"))
	p("Machine: %s.\n\n", strings.Join(r.Machine, "; "))
	fails := r.Failures()
	verdict := "**passed**"
	if len(fails) > 0 {
		verdict = "**failed**"
	}
	p("## Summary\n\n")
	p("| | |\n|---|---|\n")
	p("| result | %s |\n", verdict)
	p("| duration | %v |\n", r.Duration.Round(time.Second))
	p("| seed | %d (`SOAK_SEED=%d` repeats the same schedule of churn and faults) |\n", r.Seed, r.Seed)
	p("| faults injected | %s |\n", counts(r.Faults))
	p("| processes found exited and restarted (not by the run) | %s |\n", counts(r.Restarts))
	p("| churn operations | %s; %d refused or unanswered by the API |\n", counts(r.Churn), r.ChurnErrors)
	p("| requests | %d sent, %d failed (%.3f %%) |\n", r.Sent, r.Failed, pct(r.Failed, r.Sent))
	p("| failed requests by fault under way while in flight (sent up to %v before it started, or up to %v after every VIP answered again after it), else endpoints-moved (its Service given other pods while it was in flight or up to %v before it was sent), else none | %s |\n", requestTimeout, failureGraceNote, failureGraceNote, counts(r.FailedByFault))
	p("| failed requests with no cause (none), by Service and VIP | %s |\n", counts(r.FailedUnexplained))
	p("| every VIP answering again after each fault, by kind | %s |\n", r.Recovery)
	p("| Services that got an address | %d |\n", r.Addressed)
	p("| duplicate IPs seen | %d |\n", len(r.Duplicates))
	p("| changed IPs | %d |\n", len(r.Changed))
	p("\n")
	if len(fails) > 0 {
		p("Why it failed:\n\n")
		for _, f := range fails {
			p("- %s\n", f)
		}
		p("\n")
	}
	rule := r.Window()
	p("## Trends\n\n")
	var floors []string
	for _, m := range Measures {
		if !m.Shown {
			floors = append(floors, fmt.Sprintf("%s %v%s", m.Name, m.Floor, unit(m.Unit)))
		}
	}
	floors = append(floors, fmt.Sprintf("Events %d", EventsFloor))
	p("Rule: over the second half of the run (%v to %v), a least-squares line is fitted to each series with one intercept per process incarnation (a restart resets memory, so only growth within one process's life counts), skipping each incarnation's first %v (warm-up; %v for anonymous RSS, which keeps rising for minutes after a restart while the Go runtime sizes its heap and returns freed pages to the OS). Anonymous RSS is judged only on process lives that cover at least %v of the window after that warm-up: a restarted Go process's heap keeps filling out towards its GC goal for 8 to 10 minutes, which a shorter life cannot tell from a leak; a series with no such life is shown as not judged, and the run fails if no process's RSS could be judged. A series **trends upward** when its slope times the window's length exceeds both %.0f %% of the window's mean and an absolute floor (%s). A series with fewer than 3 usable samples cannot be judged and fails. Of RSS, the anonymous part (rss_anon) is judged, whatever the heap says; rss (VmRSS) and rss_file (pages of mapped files, mostly the binary's own, which come in as code paths are first run and are shared and reclaimable) are shown, not judged. heap and heap_objects swing with every GC cycle and are shown in the samples, not judged.\n\n",
		time.Duration(rule.From*float64(time.Second)).Round(time.Second), time.Duration(rule.To*float64(time.Second)).Round(time.Second),
		Warmup, RSSWarmup, RSSLife, RelLimit*100, strings.Join(floors, ", "))
	p("| series | samples | process lives, the controller's leading and standby spells apart (longest judged span) | mean | slope per minute | growth over the window | limit | verdict |\n|---|---|---|---|---|---|---|---|\n")
	for _, v := range r.Verdicts {
		verdict := "flat"
		switch {
		case v.Skipped != "":
			verdict = "not judged: " + v.Skipped
		case v.Err != nil:
			verdict = "not judged: " + v.Err.Error()
		case v.Up:
			verdict = "**upward**"
		case v.Growth < -v.Limit:
			verdict = "downward"
		}
		p("| %s%s | %d | %s | %.1f | %+.3f | %+.1f | %.1f | %s |\n", v.Series, paren(v.Unit), v.N, lives(v.Verdict), v.Mean, v.Slope*60, v.Growth, v.Limit, verdict)
	}
	p("\n## Samples\n\n")
	p("Every 10 s. rss, rss_anon, rss_file: VmRSS, RssAnon and RssFile from /proc/PID/status, MiB; heap: go_memstats_heap_inuse_bytes, MiB; live_heap: go_gc_heap_live_bytes right after a GC the sampler forces (GET /debug/pprof/heap?gc=1; the live heap after the runtime's own GCs swings with the work under way when the pacer starts them), MiB; heap_objects: go_memstats_heap_objects; goroutines: go_goroutines (these four from the process's /metrics); fds: entries of /proc/PID/fd; series: samples in the process's /metrics; pid (a change is a restart). events: Event emissions in the last %v (new Event objects and growth of their counts, followed across samples; the API server runs with --event-ttl=5m, but etcd renews every lease when it restarts, so after an etcd kill it holds older Events too); event_objects: Event objects the API server holds; services: Services in the API server. An empty cell: not readable at that moment (API server frozen or without etcd, process restarting). The note names the faults under way.\n\n", EventWindow)
	head := []string{"t_s"}
	for _, pr := range r.Processes {
		for _, m := range Measures {
			head = append(head, pr+"_"+m.Name)
		}
		head = append(head, pr+"_pid")
	}
	head = append(head, "events", "event_objects", "services", "note")
	p("| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
	for _, s := range r.Samples {
		row := []string{fmt.Sprintf("%.0f", s.At.Seconds())}
		for _, pr := range r.Processes {
			ps, ok := s.Procs[pr]
			for i, m := range Measures {
				if !ok || i >= len(ps.Values) {
					row = append(row, "")
					continue
				}
				row = append(row, num(ps.Values[i], m.Unit == "MiB"))
			}
			if ok && ps.Pid != 0 {
				row = append(row, fmt.Sprint(ps.Pid))
			} else {
				row = append(row, "")
			}
		}
		row = append(row, num(s.Events, false), num(s.EventObjects, false), num(s.Services, false), s.Note)
		p("| %s |\n", strings.Join(row, " | "))
	}
	writeEvents(p, r.EventRows)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeEvents renders the Events seen during the run by class: what emits
// more Events than the churn explains shows here.
func writeEvents(p func(string, ...any), rows []EventRow) {
	p("\n## Events by reason\n\n")
	p("Every Event object seen during the run (listed at every sample), by type, reason, source component and kind of involved object: Event objects, the emissions they add up to (their counts) and the distinct objects involved.\n\n")
	p("| type | reason | source | involved kind | Event objects | emissions | objects involved |\n|---|---|---|---|---|---|---|\n")
	for _, e := range rows {
		p("| %s | %s | %s | %s | %d | %d | %d |\n", e.Type, e.Reason, e.Source, e.Kind, e.Objects, e.Emissions, e.Involved)
	}
	if len(rows) == 0 {
		p("| | none seen | | | | | |\n")
	}
}

// lives renders the incarnations a verdict rests on.
func lives(v Verdict) string {
	if v.Incarnations == 0 {
		if v.Short > 0 {
			return fmt.Sprintf("0; %d shorter left out", v.Short)
		}
		return ""
	}
	out := fmt.Sprintf("%d (%v)", v.Incarnations, time.Duration(v.Longest*float64(time.Second)).Round(time.Second))
	if v.Short > 0 {
		out += fmt.Sprintf("; %d shorter left out", v.Short)
	}
	return out
}

func paren(u string) string {
	if u == "" {
		return ""
	}
	return " (" + u + ")"
}

func num(v float64, frac bool) string {
	switch {
	case math.IsNaN(v):
		return ""
	case frac:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

func pct(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// counts renders a map of counts as "a 2, b 1" sorted by key, "none" when
// empty.
func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	total := 0
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		total += m[k]
	}
	return fmt.Sprintf("%d: %s", total, strings.Join(parts, ", "))
}
