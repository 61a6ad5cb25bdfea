package controller_test

import (
	"slices"
	"testing"
	"time"
)

// defaultLease is the controller's default -lease-duration.
const defaultLease = 15 * time.Second

// BenchmarkControllerRestartInPod kills the leader (SIGKILL) and starts it
// again with the same identity, as kubelet restarts a container in its pod,
// ten times, with the default leader election timing; a Service created at
// each restart is measured from the new process's start to its address.
// Run with -benchtime=1x: one iteration is the whole scenario.
func BenchmarkControllerRestartInPod(b *testing.B) {
	for range b.N {
		l := newLeaderEnv(b)
		leader := l.startReplica("ironlb-controller-0", "-log-level", "info")
		l.serveOne(time.Now())
		var took []time.Duration
		for range 10 {
			var d time.Duration
			leader, d = l.restartSamePod(leader, "ironlb-controller-0", "-log-level", "info")
			took = append(took, d)
		}
		b.ReportMetric(ms(percentile(took, 0.5)), "restart-to-ip-p50-ms")
		b.ReportMetric(ms(slices.Max(took)), "restart-to-ip-max-ms")
	}
}

// BenchmarkStandbyTakeover runs two replicas with the default leader
// election timing (Lease 15 s) and kills the leader three times, restarting
// it each time as the new standby; a Service created at each kill is
// measured from the kill to its address.
func BenchmarkStandbyTakeover(b *testing.B) {
	for range b.N {
		l := newLeaderEnv(b)
		ids := [2]string{"ironlb-controller-a", "ironlb-controller-b"}
		leader := l.startReplica(ids[0], "-log-level", "info")
		l.serveOne(time.Now())
		standby := l.startReplica(ids[1], "-log-level", "info")
		var took []time.Duration
		for round := range 3 {
			waitCandidate(b, standby)
			took = append(took, l.takeover(leader))
			// The killed leader's pod restarts it; it is the standby now.
			leader, standby = standby, l.startReplica(ids[round%2], "-log-level", "info")
		}
		worst := slices.Max(took)
		b.ReportMetric(worst.Seconds(), "takeover-max-s")
		b.ReportMetric(ms(worst-defaultLease), "takeover-over-lease-max-ms")
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
