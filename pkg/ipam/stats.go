package ipam

// Stats counts addresses of one family in one pool. Counts saturate at
// math.MaxUint64 (an IPv6 /64 has 2^64 addresses, one more than fits).
type Stats struct {
	// Total allocatable addresses (AvoidBuggyIPs applied).
	Total uint64
	// Assigned: distinct addresses held by Services attributed to this
	// pool (a shared address counts once).
	Assigned uint64
	// Available: addresses of this pool nobody holds. Addresses held
	// through an overlapping pool are not available here either.
	Available uint64
}

// Stats returns per-family counts for the named pool; nil if it does not
// exist. Only families the pool has ranges for are present.
func (a *Allocator) Stats(pool string) map[Family]Stats {
	ps := a.pools[pool]
	if ps == nil {
		return nil
	}
	out := map[Family]Stats{}
	for fi := range ps.ranges {
		if len(ps.ranges[fi]) == 0 {
			continue
		}
		out[familyAt(fi)] = Stats{
			Total:     ps.total[fi].sat64(),
			Assigned:  ps.assigned[fi],
			Available: ps.total[fi].subSat(u128From64(ps.used[fi])).sat64(),
		}
	}
	return out
}
