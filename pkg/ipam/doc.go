// Package ipam decides which LoadBalancer IP addresses a Service gets.
//
// It is pure: no Kubernetes types, no I/O, no goroutines. The controller
// translates Services into Requests (see pkg/svcrequest) and pool objects
// into Pools, holds a mutex around the Allocator, and writes results back.
//
// Model:
//   - A Pool is a named set of address Ranges with policy flags.
//   - Every Service holds zero or one allocation: one pool and one IP per
//     family. An IP may be held by several Services only if they all pass the
//     sharing rules (same non-empty sharing key, disjoint ports, same backend).
//   - All held IPs, whatever pool they are attributed to, live in one ordered
//     set of used intervals. Pools may overlap; an address held through one
//     pool is never handed out again through another.
//
// Free addresses are found with an O(log n) lookup in that interval set, so
// allocation cost does not depend on pool size or on how full the pool is
// (IPv6 /64 pools never materialise per-address state).
package ipam
