package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"testing"
	"time"
)

// The live heap is read right after a garbage collection that the sampler
// forces through the process's /debug/pprof/heap?gc=1 (the processes run
// with -pprof-bind-address on their loopback). The live heap that the
// runtime reports after one of its own collections is no steady measure
// under churn: the pacer starts a collection when allocation is at its
// busiest, and what a reconcile holds at that moment, and everything
// allocated while marking, counts as live. That swings by a quarter of the
// heap from one collection to the next and rises with the rate of work,
// not with what the process keeps; a collection forced at the sample's
// moment measures what the process keeps.

// envProfiles names a directory to keep the heap profiles in, one per
// process every profileEvery; unset: none are kept. A live heap that
// trends upward says that something grows, two of its profiles say what:
// go tool pprof -sample_index=inuse_space -base EARLY LATE.
const envProfiles = "IRONLB_SOAK_PROFILES"

// speakerPprofAddr is where the speakers serve /debug/pprof/ on their
// node's loopback.
const speakerPprofAddr = "127.0.0.1:6060"

// gcEvery is how often the sampler forces a collection and reads the live
// heap: every sample. Even a forced collection now and then catches a
// process in the middle of work (a resync after a fault holds a few MiB
// for a moment), and such a sample weighs in a fitted line inversely to
// how many samples there are (at one every 30 s, a few of them made a
// flat heap fit +4 MiB). profileEvery, how often the heap profiles are
// kept, is a multiple of it.
const (
	gcEvery      = sampleEvery
	profileEvery = time.Minute
)

// errNoGC: no collection is forced at this sample.
var errNoGC = errors.New("no forced collection at this sample")

// forceGC has tg collect its garbage (the heap profile's gc=1) and keeps
// the profile it answers with in the file keep (none when empty).
func forceGC(ctx context.Context, tg target, keep string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, tg.pprof+"/heap?gc=1", nil)
	if err != nil {
		return err
	}
	resp, err := tg.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: forced GC: %w", tg.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: forced GC: status %d", tg.name, resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s: forced GC: %w", tg.name, err)
	}
	if keep == "" {
		return nil
	}
	return os.WriteFile(keep, body, 0o644)
}

// profilePath is where the heap profile of tg (pid) taken at is kept in
// dir, or "" when none is kept then.
func profilePath(dir string, tg target, pid int, at time.Duration) string {
	if dir == "" || at%profileEvery != 0 {
		return ""
	}
	return filepath.Join(dir, fmt.Sprintf("%s-%05ds-pid%d.pb.gz", tg.name, int(at.Seconds()), pid))
}

// TestLiveHeapAfterForcedGC samples this test process as the run samples
// its processes: garbage that the runtime's last collection still found
// reachable must not count in the live heap, what the process holds must,
// and the profile is kept on the minute only.
func TestLiveHeapAfterForcedGC(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		metrics.Read(s)
		fmt.Fprintf(w, "# TYPE go_gc_heap_live_bytes gauge\ngo_gc_heap_live_bytes %d\n", s[0].Value.Uint64())
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tg := target{name: "self", pid: os.Getpid, client: srv.Client(), metrics: srv.URL + "/metrics", pprof: srv.URL + "/debug/pprof"}
	live := slices.IndexFunc(Measures, func(m Measure) bool { return m.Name == "live_heap" })

	// 64 MiB reachable at a collection, garbage right after it.
	const big = 64 << 20
	garbage := make([]byte, big)
	for i := range garbage {
		garbage[i] = 1
	}
	runtime.GC()
	runtime.KeepAlive(garbage)
	garbage = nil
	stale, err := scrape(context.Background(), tg.client, tg.metrics)
	if err != nil {
		t.Fatal(err)
	}
	if got := stale.gauges["go_gc_heap_live_bytes"]; got < big {
		t.Fatalf("the runtime's last collection found %.0f bytes live, want at least the %d still reachable then (the test does not hold what it means to)", got, big)
	}

	dir := t.TempDir()
	ps := sampleProc(context.Background(), tg, dir, 30*time.Second)
	if got := ps.Values[live] * (1 << 20); math.IsNaN(got) || got >= big {
		t.Errorf("sampled live heap %.0f bytes, want less than the %d bytes of garbage (read after a forced collection)", got, big)
	}
	// What the process still holds (a leak) counts in full.
	held := make([]byte, big)
	for i := range held {
		held[i] = 1
	}
	ps = sampleProc(context.Background(), tg, dir, 90*time.Second)
	runtime.KeepAlive(held)
	if got := ps.Values[live] * (1 << 20); math.IsNaN(got) || got < big {
		t.Errorf("sampled live heap %.0f bytes while %d bytes are held, want at least that", got, big)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("a profile was kept at 30s: %v", ents)
	}
	sampleProc(context.Background(), tg, dir, 2*time.Minute)
	want := filepath.Join(dir, fmt.Sprintf("self-00120s-pid%d.pb.gz", os.Getpid()))
	if b, err := os.ReadFile(want); err != nil || len(b) == 0 {
		t.Errorf("no heap profile kept at 2m in %s: %v", want, err)
	}

	// A process whose profiles cannot be read has no live heap to show.
	tg.pprof = srv.URL + "/nothing"
	if ps := sampleProc(context.Background(), tg, "", 30*time.Second); !math.IsNaN(ps.Values[live]) {
		t.Errorf("live heap %v without a forced collection, want none (NaN)", ps.Values[live])
	}
}
