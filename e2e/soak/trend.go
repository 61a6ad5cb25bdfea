package soak

import (
	"fmt"
	"math"
	"time"
)

// Point is one sample of a series: seconds since the run started, the
// incarnation of the process it was read from (its pid; 0 for a series
// that belongs to no process) and the value.
type Point struct {
	T   float64
	Inc int
	V   float64
}

// Rule decides whether a series trends upward.
type Rule struct {
	// From and To bound the window judged, in seconds since the start
	// (the second half of the run).
	From, To float64
	// Warmup skips the samples of each incarnation taken less than this
	// many seconds after its first sample: a process that was just
	// (re)started grows its heap and caches for a while, which is not a
	// leak.
	Warmup float64
	// MinSpan, when set, leaves out the incarnations whose samples after
	// their warm-up span less than this many seconds of the window; when
	// none is left the series is not judged (Verdict.Skipped), which is no
	// failure. A young process's RSS settles over many minutes (see
	// RSSLife), and only a long life tells that from a leak.
	MinSpan float64
	// Rel and Floor: the series trends upward when the growth its slope
	// projects over the window exceeds both Rel times the window's mean
	// and Floor (in the series' unit), so noise on a small value does not
	// count.
	Rel, Floor float64
}

// Verdict is a Rule applied to a series.
type Verdict struct {
	N int // samples used
	// Incarnations is how many process lives the samples come from and
	// Longest the longest span of samples one of them covers, in seconds:
	// a slope fitted over many short lives is the shape of a warm-up as
	// much as of a leak, so the report shows them beside it.
	Incarnations int
	Longest      float64
	Slope        float64 // per second, within incarnations
	Mean         float64
	Growth       float64 // Slope times the window's length
	Limit        float64 // max(Rel*Mean, Floor)
	Up           bool
	// Err says why no verdict could be reached (too few samples): a
	// series that cannot be judged fails.
	Err error
	// Skipped says why the series was not judged under Rule.MinSpan (no
	// life long enough); Short counts the lives left out for it.
	Skipped string
	Short   int
}

// Judge fits a least-squares line to the window's samples with one
// intercept per incarnation (each incarnation's samples are centred on
// their own means), so a restart, which drops a process's memory back to
// its start, neither hides nor fakes growth; only growth within a process's
// life counts.
func (r Rule) Judge(points []Point) Verdict {
	first := map[int]float64{}
	for _, p := range points {
		if t, ok := first[p.Inc]; !ok || p.T < t {
			first[p.Inc] = p.T
		}
	}
	var inWindow []Point
	for _, p := range points {
		if p.T < r.From || p.T > r.To || math.IsNaN(p.V) || p.T-first[p.Inc] < r.Warmup {
			continue
		}
		inWindow = append(inWindow, p)
	}
	spans := spanOf(inWindow)
	short := 0
	for _, sp := range spans {
		if sp[1]-sp[0] < r.MinSpan {
			short++
		}
	}
	if r.MinSpan > 0 && short == len(spans) {
		return Verdict{Short: short, Skipped: fmt.Sprintf("no process life with %v of samples after its warm-up in the window (%d shorter)", time.Duration(r.MinSpan*float64(time.Second)), short)}
	}
	type acc struct{ n, sx, sy float64 }
	groups := map[int]*acc{}
	var used []Point
	for _, p := range inWindow {
		if sp := spans[p.Inc]; sp[1]-sp[0] < r.MinSpan {
			continue
		}
		used = append(used, p)
		g := groups[p.Inc]
		if g == nil {
			g = &acc{}
			groups[p.Inc] = g
		}
		g.n++
		g.sx += p.T
		g.sy += p.V
	}
	v := Verdict{N: len(used), Incarnations: len(groups), Short: short}
	for _, sp := range spans {
		if sp[1]-sp[0] >= r.MinSpan {
			v.Longest = math.Max(v.Longest, sp[1]-sp[0])
		}
	}
	var sxx, sxy, sum float64
	for _, p := range used {
		g := groups[p.Inc]
		dx, dy := p.T-g.sx/g.n, p.V-g.sy/g.n
		sxx += dx * dx
		sxy += dx * dy
		sum += p.V
	}
	if v.N < 3 || sxx == 0 {
		v.Err = fmt.Errorf("%d usable samples in [%gs, %gs]: too few to judge", v.N, r.From, r.To)
		return v
	}
	v.Slope = sxy / sxx
	v.Mean = sum / float64(v.N)
	v.Growth = v.Slope * (r.To - r.From)
	v.Limit = math.Max(r.Rel*v.Mean, r.Floor)
	v.Up = v.Growth > v.Limit
	return v
}

// spanOf is the first and last time of each incarnation's points.
func spanOf(points []Point) map[int][2]float64 {
	span := map[int][2]float64{}
	for _, p := range points {
		sp, ok := span[p.Inc]
		if !ok {
			sp = [2]float64{p.T, p.T}
		}
		span[p.Inc] = [2]float64{math.Min(sp[0], p.T), math.Max(sp[1], p.T)}
	}
	return span
}
