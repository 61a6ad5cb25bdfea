package nftables

import (
	"context"

	"net/netip"
	"testing"
	"time"

	"github.com/ironlb/ironlb/datapath"
	"github.com/ironlb/ironlb/e2e/vlan"
	"github.com/ironlb/ironlb/pkg/cputime"
)

// benchRangesState is benchState with every service restricted to nRanges
// /29 prefixes of 198.51.100.0/24, different per service.
func benchRangesState(n, eps, nRanges int) datapath.State {
	st := benchState(n, eps)
	i := 0
	for k, vs := range st.Services {
		vs.Sources = benchRanges(i, nRanges)
		st.Services[k] = vs
		i++
	}
	return st
}

func benchRanges(seed, n int) datapath.SourceRanges {
	s := datapath.SourceRanges{Restricted: true}
	for j := range n {
		s.Allowed = append(s.Allowed, netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(8 * ((seed + j) % 32))}), 29))
	}
	return s
}

// BenchmarkSourceRangesFullSync: a full sync of 10,000 services of 10
// endpoints, each restricted to 5 source ranges (metrics as BenchmarkFullSync).
func BenchmarkSourceRangesFullSync(b *testing.B) {
	b.Run("services=10000/ranges=5", func(b *testing.B) {
		lab := vlan.New(b, vlan.Options{Nodes: 1})
		be := backendFor(b, lab.Nodes[0])
		st := benchRangesState(10000, 10, 5)
		b.ResetTimer()
		start, cpu := time.Now(), cputime.Used()
		for range b.N {
			if err := be.fullSync(st); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "ms/sync")
		b.ReportMetric(float64((cputime.Used()-cpu).Milliseconds())/float64(b.N), "cpu-ms/sync")
	})
}

// BenchmarkSourceRangesChange: one service's source ranges change (one of
// its 5 ranges replaced) among 10,000 restricted services; ms/change is
// the speaker's Update told which service changed, kernel-ms/change the
// nf_tables transaction alone.
func BenchmarkSourceRangesChange(b *testing.B) {
	b.Run("services=10000/ranges=5", func(b *testing.B) {
		lab := vlan.New(b, vlan.Options{Nodes: 1})
		be := backendFor(b, lab.Nodes[0])
		st := benchRangesState(10000, 10, 5)
		if err := be.Apply(context.Background(), st); err != nil {
			b.Fatal(err)
		}
		keys := st.SortedKeys()
		var applying, kernel time.Duration
		b.ResetTimer()
		for i := range b.N {
			b.StopTimer()
			k := keys[(i*7919)%len(keys)]
			vs := st.Services[k]
			vs.Sources = benchRanges(i+1+int(vs.Sources.Allowed[0].Addr().As4()[3]/8), 5)
			st.Services[k] = vs // the backend keeps its own map
			b.StartTimer()
			t0 := time.Now()
			if err := be.Update(context.Background(), st, []datapath.ServiceKey{k}); err != nil {
				b.Fatal(err)
			}
			applying += time.Since(t0)
			kernel += be.lastCommit
		}
		b.ReportMetric(float64(applying.Microseconds())/1000/float64(b.N), "ms/change")
		b.ReportMetric(float64(kernel.Microseconds())/1000/float64(b.N), "kernel-ms/change")
	})
}
