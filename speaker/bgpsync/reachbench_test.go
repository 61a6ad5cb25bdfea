package bgpsync

import (
	"net/netip"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/speaker/reach"
)

// BenchmarkReachWrites is one node's comparison after a round of its
// check, with 10,000 advertised Service IPs: every one answering (the
// healthy cluster: no object, no write) and 1 % not answering with their
// entries already written (no write either). It reports the writes, which
// is what the API server sees from each of the nodes per round: 0, where a
// status per Service and node would be 10,000.
func BenchmarkReachWrites(b *testing.B) {
	const n = 10000
	targets := make([]reach.Target, n)
	for i := range targets {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		targets[i] = reach.Target{IP: ip, Services: []types.NamespacedName{{Namespace: "ns", Name: "svc"}}}
	}
	now := time.Now()
	for _, tc := range []struct {
		name    string
		failing int
	}{{"all-answering", 0}, {"1pct-failing", n / 100}} {
		verdicts := map[netip.Addr]reach.Verdict{}
		var existing []*v1beta1.ServiceBGPStatus
		for i, t := range targets {
			v := answers
			if i < tc.failing {
				v = refused
				e := EntryFor("node1", v, true, nil, now)
				existing = append(existing, &v1beta1.ServiceBGPStatus{Status: v1beta1.ServiceBGPStatusStatus{ServiceName: "svc", IP: t.IP.String(), NotAnswering: []v1beta1.NodeNotAnswering{*e}}})
				existing[len(existing)-1].Namespace, existing[len(existing)-1].Name = "ns", "svc."+t.IP.String()
			}
			verdicts[t.IP] = v
		}
		verdict := func(_ types.NamespacedName, ip netip.Addr) (reach.Verdict, bool) { v, ok := verdicts[ip]; return v, ok }
		b.Run(tc.name, func(b *testing.B) {
			writes := 0
			for b.Loop() {
				writes = len(ReachWrites("node1", targets, verdict, existing, now))
			}
			if writes != 0 {
				b.Fatalf("%d writes, want 0", writes)
			}
			b.ReportMetric(float64(writes), "writes/round")
		})
	}
}
