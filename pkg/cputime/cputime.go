// Package cputime reads the CPU time the process has used, for benchmarks
// on a shared machine, where wall time measures the neighbours more than
// the code.
package cputime
