//go:build !vmguest

package ipvs

import (
	"os"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/vm"
)

const thisPackage = "github.com/ironlb/ironlb/datapath/ipvs"

// TestVM runs the TestGuest* tests (files with the vmguest build tag) in
// Debian's kernel under qemu: the host kernel has no IPVS.
func TestVM(t *testing.T) {
	vm.RunTests(t, vm.Options{Package: thisPackage, Run: "^TestGuest|^TestAvailable", Timeout: 6 * time.Minute})
}

// BenchmarkVM runs the BenchmarkGuest* benchmarks in the VM and copies their
// result lines to stdout, so `go test -bench VM` output can be read (and fed
// to benchstat) like any other. The VM boots once whatever b.N is.
func BenchmarkVM(b *testing.B) {
	vm.RunTests(b, vm.Options{Package: thisPackage, Run: "^$", Bench: "^BenchmarkGuest", Timeout: 20 * time.Minute, Output: os.Stdout})
	for range b.N {
		// The guest's figures are the result; this loop only satisfies
		// the benchmark protocol.
	}
}
