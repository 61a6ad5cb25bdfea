package soak

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// runWith is a run of 30 minutes whose controller goroutines follow f and
// every other value is flat.
func runWith(f func(t float64) float64) *Run {
	r := &Run{Duration: 30 * time.Minute, Seed: 7, Command: "make soak", Processes: []string{"controller"},
		Changed: map[string][]string{}}
	for at := time.Duration(0); at <= r.Duration; at += 10 * time.Second {
		s := at.Seconds()
		r.Samples = append(r.Samples, Sample{At: at, Events: 300, Services: 30,
			Procs: map[string]ProcSample{"controller": {Pid: 42, Values: []float64{60, 20, 8, 100000, f(s), 20, 400, 40, 20}}}})
	}
	return r
}

func TestRunFailsOnlyOnLeaksAndAddressFaults(t *testing.T) {
	flat := runWith(func(float64) float64 { return 150 })
	flat.Judge()
	if f := flat.Failures(); len(f) != 0 {
		t.Errorf("flat run fails: %v", f)
	}

	leak := runWith(func(s float64) float64 { return 150 + s/30 }) // 2 goroutines a minute
	leak.Judge()
	if f := leak.Failures(); len(f) != 1 || !strings.Contains(f[0], "controller goroutines trends upward") {
		t.Errorf("leaking run: failures %q, want one naming controller goroutines", f)
	}

	dup := runWith(func(float64) float64 { return 150 })
	dup.Duplicates = []string{"203.0.113.1 held by a and b"}
	dup.Changed = map[string][]string{"soak/s-1": {"[203.0.113.1]", "[203.0.113.2]"}}
	dup.Judge()
	if f := dup.Failures(); len(f) != 2 {
		t.Errorf("run with a duplicate and a change: failures %q, want both", f)
	}

	blind := runWith(func(float64) float64 { return math.NaN() })
	blind.Judge()
	if f := blind.Failures(); len(f) != 1 || !strings.Contains(f[0], "too few to judge") {
		t.Errorf("run without goroutine samples: failures %q, want the series not judged", f)
	}
}

func TestReportTable(t *testing.T) {
	r := runWith(func(float64) float64 { return 150 })
	r.Samples[1].Procs["controller"] = ProcSample{Pid: 43, Values: []float64{61.25, 20.5, 8.25, 100000, math.NaN(), 21, 400, 41.25, 20}}
	r.Samples[1].Note = "api-freeze 20s"
	r.Judge()
	var b strings.Builder
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"| t_s | controller_rss | controller_heap | controller_live_heap | controller_heap_objects | controller_goroutines | controller_fds | controller_series | controller_rss_anon | controller_rss_file | controller_pid | events | event_objects | services | note |",
		"| 10 | 61.2 | 20.5 | 8.2 | 100000 |  | 21 | 400 | 41.2 | 20.0 | 43 | 300 | 0 | 30 | api-freeze 20s |",
		"| result | **passed** |",
		"| seed | 7 ",
		"| controller goroutines | 91 | 1 (15m0s) | 150.0 |",
		"| controller live_heap (MiB) | 91 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "| controller heap (MiB) |") || strings.Contains(out, "| controller heap_objects |") {
		t.Errorf("the GC sawtooth series are judged:\n%s", out)
	}
}

// A controller that loses its Lease and leads again in the same process
// drops its leader work's goroutines while standby: standby spells early in
// the window and leading ones late are levels, not growth. A leak while
// leading still shows.
func TestLeadingAndStandbySpellsAreFittedApart(t *testing.T) {
	standbyAt := func(s float64) bool { return s > 950 && s < 1100 } // one outage early in the window
	withRoles := func(leading func(float64) float64) *Run {
		r := runWith(func(s float64) float64 {
			if standbyAt(s) {
				return 30
			}
			return leading(s)
		})
		for i := range r.Samples {
			ps := r.Samples[i].Procs["controller"]
			ps.Role = Leading
			if standbyAt(r.Samples[i].At.Seconds()) {
				ps.Role = Standby
			}
			r.Samples[i].Procs["controller"] = ps
		}
		return r
	}
	steps := withRoles(func(float64) float64 { return 183 })
	steps.Judge()
	if f := steps.Failures(); len(f) != 0 {
		t.Errorf("standby and leading levels: failures %q, want none", f)
	}
	leak := withRoles(func(s float64) float64 { return 183 + s/30 })
	leak.Judge()
	if f := leak.Failures(); len(f) != 1 || !strings.Contains(f[0], "controller goroutines trends upward") {
		t.Errorf("leak while leading: failures %q, want controller goroutines", f)
	}
}

// A process restarted late in the run (at 1,230 s) whose anonymous RSS
// climbs for four minutes to the level it then holds is warming up; the
// same climb in its live heap is growth. Its RSS is not judged at all (its
// lives cover 5.5 and 4.5 minutes of the window after the warm-up, less
// than RSSLife), beside a speaker that lived through the whole run, whose RSS is:
// flat passes, climbing on fails. With no life long enough anywhere, the run
// fails for want of an RSS verdict.
func TestRSSWarmupIsLonger(t *testing.T) {
	const restart = 1230
	climb := func(s float64) float64 { // 74 at the restart, 84 four minutes later
		if s < restart {
			return 84
		}
		return 74 + 10*math.Min(s-restart, 240)/240
	}
	flat := func(float64) float64 { return 84 }
	run := func(rss, live, speakerRSS func(float64) float64, speakerRestarts bool) *Run {
		r := runWith(func(float64) float64 { return 150 })
		r.Processes = append(r.Processes, "speaker")
		for i := range r.Samples {
			s := r.Samples[i].At.Seconds()
			ps := r.Samples[i].Procs["controller"]
			if s >= restart {
				ps.Pid = 43
			}
			sp := ps
			ps.Values = slices.Clone(ps.Values)
			ps.Values[7], ps.Values[2] = rss(s), live(s)
			r.Samples[i].Procs["controller"] = ps
			sp.Pid = 50
			if !speakerRestarts || s < restart {
				sp.Pid = 51
			}
			sp.Values = slices.Clone(sp.Values)
			sp.Values[7], sp.Values[2] = speakerRSS(s), 8
			r.Samples[i].Procs["speaker"] = sp
		}
		r.Judge()
		return r
	}
	flatLive := func(float64) float64 { return 8 }
	if f := run(climb, flatLive, flat, false).Failures(); len(f) != 0 {
		t.Errorf("RSS climbing for 4 minutes after a restart: failures %q, want none", f)
	}
	// The run of 2026-12-07 00:49: the life begun at 1,240 s climbed for
	// 9 minutes (its heap filling out towards the GC goal).
	climb9 := func(s float64) float64 {
		if s < 1240 {
			return 34
		}
		return 26 + 8*math.Min(s-1240, 540)/540
	}
	if f := run(climb9, flatLive, flat, false).Failures(); len(f) != 0 {
		t.Errorf("RSS climbing for 9 minutes after a restart: failures %q, want none", f)
	}
	if f := run(flat, func(s float64) float64 { return climb(s) / 4 }, flat, false).Failures(); len(f) != 1 || !strings.Contains(f[0], "controller live_heap trends upward") {
		t.Errorf("live heap climbing for 4 minutes after a restart: failures %q, want live_heap", f)
	}
	keeps := func(s float64) float64 { return 84 + s/600 } // 0.1 MiB a minute, 1.5 over the window
	if f := run(climb, flatLive, func(s float64) float64 { return 84 + 24*s/1800 }, false).Failures(); len(f) != 1 || !strings.Contains(f[0], "speaker rss_anon trends upward") {
		t.Errorf("a long life's RSS climbing: failures %q, want the speaker's rss_anon", f)
	}
	if f := run(keeps, flatLive, flat, false).Failures(); len(f) != 0 {
		t.Errorf("RSS within the floor: failures %q, want none", f)
	}
	r := run(climb, flatLive, flat, true)
	if f := r.Failures(); len(f) != 1 || !strings.Contains(f[0], "no process's rss_anon could be judged") {
		t.Errorf("every process restarted late: failures %q, want no RSS verdict", f)
	}
	for _, v := range r.Verdicts {
		// Each process's life before the restart covers 5.5 minutes of
		// the window, the one after it 4.5.
		if strings.HasSuffix(v.Series, "rss_anon") && (v.Skipped == "" || v.Short != 2) {
			t.Errorf("%s: %+v, want not judged, two short lives left out", v.Series, v.Verdict)
		}
	}
}
