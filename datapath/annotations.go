package datapath

import (
	"fmt"
	"strings"
)

// Annotations on a Service that tune its datapath.
const (
	// AnnotationScheduler picks the scheduler: rr (default), wrr, lc, wlc,
	// sh or mh.
	AnnotationScheduler = "ironlb.io/scheduler"
	// AnnotationSchedulerFlags is a comma-separated list of sh-fallback,
	// sh-port (with sh) or mh-fallback, mh-port (with mh).
	AnnotationSchedulerFlags = "ironlb.io/scheduler-flags"
)

var knownSchedulers = map[Scheduler]bool{
	RoundRobin: true, WeightedRoundRobin: true, LeastConnection: true,
	WeightedLeastConnection: true, SourceHashing: true, MaglevHashing: true,
}

// parseScheduler reads the two annotations. Problems are returned as
// (field, message) pairs; bad values fall back to rr and no flags.
func parseScheduler(ann map[string]string) (Scheduler, SchedulerFlags, [][2]string) {
	var problems [][2]string
	field := "metadata.annotations[" + AnnotationScheduler + "]"
	sched := DefaultScheduler
	if v, ok := ann[AnnotationScheduler]; ok {
		s := Scheduler(strings.ToLower(strings.TrimSpace(v)))
		switch {
		case s == "":
			// Present but empty: the default, not worth a complaint.
		case knownSchedulers[s]:
			sched = s
		default:
			problems = append(problems, [2]string{field, fmt.Sprintf("unknown scheduler %q (want rr, wrr, lc, wlc, sh or mh); using rr", v)})
		}
	}
	var flags SchedulerFlags
	raw, ok := ann[AnnotationSchedulerFlags]
	if !ok {
		return sched, flags, problems
	}
	ffield := "metadata.annotations[" + AnnotationSchedulerFlags + "]"
	for _, f := range strings.Split(raw, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		prefix, name, found := strings.Cut(f, "-")
		if !found || (name != "fallback" && name != "port") || (prefix != "sh" && prefix != "mh") {
			problems = append(problems, [2]string{ffield, fmt.Sprintf("unknown flag %q (want sh-fallback, sh-port, mh-fallback or mh-port); ignored", f)})
			continue
		}
		if Scheduler(prefix) != sched {
			problems = append(problems, [2]string{ffield, fmt.Sprintf("flag %q does not apply to scheduler %s; ignored", f, sched)})
			continue
		}
		if name == "fallback" {
			flags.Fallback = true
		} else {
			flags.Port = true
		}
	}
	return sched, flags, problems
}
