package cluster

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/vlan"
)

// Counts is what one target of a Traffic saw.
type Counts struct {
	Sent, Failed int
	// LastError is the last failure, for the test's message.
	LastError error
	// LastFailure is when it happened (zero when none did).
	LastFailure time.Time
	// FailedSent are the times the failed requests were sent, to tell
	// requests sent before a fault was repaired from those sent after.
	FailedSent []time.Time
}

// Traffic is steady client traffic: from one client host, one TCP request
// (a new connection, one line out, the pod's answer back) to every target
// every interval, each failure counted. A failed request is one that got no
// answer within the timeout, the way a user's client sees an outage.
type Traffic struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	counts map[netip.AddrPort]*Counts
}

// StartTraffic starts the requests; they stop with Stop or at test end.
func StartTraffic(t testing.TB, client *vlan.Host, interval, timeout time.Duration, targets ...netip.AddrPort) *Traffic {
	return startTraffic(t, interval, false, func(ctx context.Context, target netip.AddrPort) error {
		return Request(ctx, client, target, timeout)
	}, targets...)
}

// StartSteadyTraffic is StartTraffic with another kind of request (an HTTP
// GET to a kubelet cluster's test server, say; request fails when no answer
// came within its own timeout), sent every interval to every target
// whether or not the earlier ones have been answered: an outage of d costs
// about d/interval requests, not the one request that waits out its
// timeout, and a slow machine does not lower the rate.
func StartSteadyTraffic(t testing.TB, interval time.Duration, request func(ctx context.Context, target netip.AddrPort) error, targets ...netip.AddrPort) *Traffic {
	return startTraffic(t, interval, true, request, targets...)
}

// startTraffic sends request to every target every interval; with overlap
// a request does not wait for the one before it.
func startTraffic(t testing.TB, interval time.Duration, overlap bool, request func(ctx context.Context, target netip.AddrPort) error, targets ...netip.AddrPort) *Traffic {
	ctx, cancel := context.WithCancel(context.Background())
	tr := &Traffic{cancel: cancel, counts: map[netip.AddrPort]*Counts{}}
	for _, target := range targets {
		tr.counts[target] = &Counts{}
	}
	send := func(target netip.AddrPort) {
		sent := time.Now()
		err := request(ctx, target)
		if ctx.Err() == nil {
			tr.record(target, sent, err)
		}
	}
	for _, target := range targets {
		tr.wg.Go(func() {
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				if overlap {
					tr.wg.Go(func() { send(target) })
				} else {
					send(target)
				}
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		})
	}
	t.Cleanup(tr.Stop)
	return tr
}

func (tr *Traffic) record(target netip.AddrPort, sent time.Time, err error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	c := tr.counts[target]
	c.Sent++
	if err != nil {
		c.Failed++
		c.LastError = fmt.Errorf("%s: %w", target, err)
		c.LastFailure = time.Now()
		c.FailedSent = append(c.FailedSent, sent)
	}
}

// Snapshot returns the counts so far.
func (tr *Traffic) Snapshot() map[netip.AddrPort]Counts {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := make(map[netip.AddrPort]Counts, len(tr.counts))
	for k, v := range tr.counts {
		c := *v
		c.FailedSent = slices.Clone(v.FailedSent)
		out[k] = c
	}
	return out
}

// Stop ends the requests and waits for them.
func (tr *Traffic) Stop() {
	tr.cancel()
	tr.wg.Wait()
}

// Since returns, per target, the requests sent and failed after before.
func Since(before, now map[netip.AddrPort]Counts) map[netip.AddrPort]Counts {
	out := make(map[netip.AddrPort]Counts, len(now))
	for k, v := range now {
		b := before[k]
		v.Sent -= b.Sent
		v.Failed -= b.Failed
		v.FailedSent = v.FailedSent[len(b.FailedSent):]
		out[k] = v
	}
	return out
}

// AnyFailed reports whether any target saw a failed request.
func AnyFailed(counts map[netip.AddrPort]Counts) bool {
	for _, n := range counts {
		if n.Failed > 0 {
			return true
		}
	}
	return false
}

// Offsets are the first ten times relative to since, rounded, for
// messages (FailedSent after a fault).
func Offsets(times []time.Time, since time.Time) []time.Duration {
	times = times[:min(len(times), 10)]
	out := make([]time.Duration, len(times))
	for i, at := range times {
		out[i] = at.Sub(since).Round(time.Millisecond)
	}
	return out
}

// Request is one connection to target: a line out, a line back (a pod
// started with StartPod answers it).
func Request(ctx context.Context, client *vlan.Host, target netip.AddrPort, timeout time.Duration) error {
	_, err := Ask(ctx, client, target, timeout)
	return err
}

// Ask is Request returning the name of the pod that answered.
func Ask(ctx context.Context, client *vlan.Host, target netip.AddrPort, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := client.DialContext(ctx, "tcp", target.String())
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := fmt.Fprintln(conn, "hello"); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "", err
	}
	pod, _, _ := strings.Cut(line, " ")
	return pod, nil
}
