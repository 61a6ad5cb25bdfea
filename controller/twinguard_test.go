package main

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

func TestForeignWrite(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 6, 0, 0, 123456789, time.UTC)
	t1 := t0.Add(200 * time.Millisecond)
	record := func(holder string, renew time.Time) *resourcelock.LeaderElectionRecord {
		// Read back from a Lease: microseconds.
		return &resourcelock.LeaderElectionRecord{HolderIdentity: holder, RenewTime: metav1.NewTime(renew.Truncate(time.Microsecond))}
	}
	for _, tc := range []struct {
		name    string
		written []time.Time
		got     *resourcelock.LeaderElectionRecord
		want    bool
	}{
		{"before the first write the holder is a dead predecessor", nil, record("pod-a", t0), false},
		{"own last write read back", []time.Time{microTime(t0), microTime(t1)}, record("pod-a", t1), false},
		{"an own write that timed out on the client but was applied", []time.Time{microTime(t0), microTime(t1)}, record("pod-a", t0), false},
		{"a write this process never made", []time.Time{microTime(t0)}, record("pod-a", t1), true},
		{"another identity holds it: ordinary leader election", []time.Time{microTime(t0)}, record("pod-b", t1), false},
		{"released (no holder)", []time.Time{microTime(t0)}, record("", t1), false},
	} {
		if got := foreignWrite("pod-a", tc.written, tc.got); got != tc.want {
			t.Errorf("%s: foreignWrite = %v, want %v", tc.name, got, tc.want)
		}
	}
}
