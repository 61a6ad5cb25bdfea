//go:build unix

package ipam

import (
	"syscall"
	"time"
)

// processCPU returns user+system CPU time of the whole process. Benchmarks
// report it per op next to wall time: on a shared, loaded machine wall time
// measures the neighbours, CPU time measures the code.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
