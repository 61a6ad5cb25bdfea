//go:build unix

package cputime

import (
	"syscall"
	"time"
)

// Used is the CPU time the process has used: user and system, all
// threads, the garbage collector's and the kernel's work in its syscalls
// included. Zero if it cannot be read.
func Used() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
