package election

import "testing"

// BenchmarkElect measures a large cluster: 10,000 Service IPs, each eligible
// on every one of 100 nodes (the worst case: 1,000,000 scores per call).
// "uniform" is the common case of equal weights; "weighted" takes the
// logarithm path of weighted rendezvous hashing.
func BenchmarkElect(b *testing.B) {
	names := nodeNames(100)
	items := allEligible(ips(10000), names)
	uniform := candidates(names)
	weighted := candidates(names)
	for i := range weighted {
		weighted[i].Weight = 1 + i%3
	}
	for _, bc := range []struct {
		name  string
		nodes []Candidate
	}{{"uniform", uniform}, {"weighted", weighted}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if got := Elect(items, bc.nodes); len(got) != len(items) {
					b.Fatalf("got %d owners, want %d", len(got), len(items))
				}
			}
		})
	}
}
