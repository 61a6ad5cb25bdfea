package cachetrim

import (
	"runtime"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// wire is a built-in object as the API server sends it to the speaker
// (protobuf).
type wire interface {
	Marshal() ([]byte, error)
	Unmarshal([]byte) error
}

// BenchmarkRetained reports the heap one cached object keeps, as the API
// server sends it (full-B) and as the transform leaves it (trimmed-B):
// n objects are decoded and kept, and the heap is measured after a
// collection before and after.
func BenchmarkRetained(b *testing.B) {
	const n = 2000
	for _, k := range []struct {
		name string
		obj  wire
		new  func() wire
		trim func(any) (any, error)
	}{
		{"service", services()[0], func() wire { return &corev1.Service{} }, NewServices().Transform},
		{"endpointslice", endpointSlices()[0], func() wire { return &discoveryv1.EndpointSlice{} }, NewSlices().Transform},
		{"endpointslice10", largeSlice(), func() wire { return &discoveryv1.EndpointSlice{} }, NewSlices().Transform},
		{"node", nodes()[0], func() wire { return &corev1.Node{} }, Node},
	} {
		data, err := k.obj.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		for _, trimmed := range []bool{false, true} {
			var per float64
			for range b.N {
				per = retained(b, n, func() any {
					o := k.new()
					if err := o.Unmarshal(data); err != nil {
						b.Fatal(err)
					}
					if !trimmed {
						return o
					}
					t, err := k.trim(o)
					if err != nil {
						b.Fatal(err)
					}
					return t
				})
			}
			name := k.name + "-full-B"
			if trimmed {
				name = k.name + "-trimmed-B"
			}
			b.ReportMetric(per, name)
		}
	}
}

// retained is the heap per object that n results of decode keep.
func retained(b *testing.B, n int, decode func() any) float64 {
	keep := make([]any, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range keep {
		keep[i] = decode()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	if after.HeapAlloc < before.HeapAlloc {
		b.Fatalf("heap shrank while keeping %d objects", n)
	}
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}
