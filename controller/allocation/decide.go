package allocation

import (
	"net/netip"
	"slices"

	"github.com/ironlb/ironlb/pkg/ipam"
)

// Decision is what a Service should hold after a reconcile.
type Decision struct {
	// Result is the allocation the Service holds now; empty when it holds
	// none.
	Result ipam.Result
	// Err says why the Service did not get what it asked for. When it held
	// addresses before, it keeps them (Result).
	Err error
	// Report is true when Err differs from the last failure reported for
	// this Service: send an event only then, so the same state is never
	// reported twice.
	Report bool
	// Dropped says why the addresses in the Service's status were not kept
	// (they left every pool, or another Service holds them).
	Dropped error
	// Retry lists the Services waiting for an address when this decision
	// freed one: they may get it now, and nothing else would wake them.
	Retry []ipam.ServiceKey
}

// Allocate decides the addresses of the Service that req describes; current
// is what its status holds now. Addresses in the status that this State does
// not hold yet are adopted when they are still valid, so a Service keeps its
// address through anything short of that address leaving every pool.
func (s *State) Allocate(req ipam.Request, current []netip.Addr) Decision {
	s.mu.Lock()
	defer s.mu.Unlock()

	var d Decision
	before, held := s.ipam.Get(req.Service)
	if !held && len(current) > 0 {
		if _, err := s.ipam.Assign(req, current); err != nil {
			d.Dropped = err
		}
	}
	adopted, _ := s.ipam.Get(req.Service)
	res, err := s.ipam.Allocate(req)
	if err != nil {
		err = ExplainInvalid(err, s.config)
		d.Err = err
		d.Result, _ = s.ipam.Get(req.Service)
		if s.pending[req.Service] != err.Error() {
			s.pending[req.Service] = err.Error()
			d.Report = true
		}
	} else {
		d.Result = res
		delete(s.pending, req.Service)
	}
	if !sameResult(before, d.Result) {
		s.markDirty(before.Pool, d.Result.Pool)
	}
	if freed(adopted.IPs, d.Result.IPs) {
		d.Retry = s.waiting()
	}
	return d
}

// Release drops a Service's allocation (Service deleted, no longer a
// LoadBalancer, or handled by another class). It returns what the Service
// held and, when that was anything, the Services waiting for an address.
func (s *State) Release(svc ipam.ServiceKey) (held ipam.Result, retry []ipam.ServiceKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pending, svc)
	res, ok := s.ipam.Get(svc)
	if !ok {
		return ipam.Result{}, nil
	}
	s.ipam.Release(svc)
	s.markDirty(res.Pool)
	if len(res.IPs) > 0 {
		retry = s.waiting()
	}
	return res, retry
}

// waiting lists the Services without the address they asked for. Any of
// them may take a freed address, whichever pool or request made it wait:
// telling which could would repeat the allocator's own rules. Called with
// mu held.
func (s *State) waiting() []ipam.ServiceKey {
	keys := make([]ipam.ServiceKey, 0, len(s.pending))
	for k := range s.pending {
		keys = append(keys, k)
	}
	return keys
}

// freed reports whether before holds an address that after does not.
func freed(before, after []netip.Addr) bool {
	for _, ip := range before {
		if !slices.Contains(after, ip) {
			return true
		}
	}
	return false
}

// RecordFailure records that a Service's request could not be served for a
// reason outside the allocator (a malformed annotation) and reports whether
// that differs from the last failure reported for it.
func (s *State) RecordFailure(svc ipam.ServiceKey, err error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending[svc] == err.Error() {
		return false
	}
	s.pending[svc] = err.Error()
	return true
}

func (s *State) markDirty(pools ...string) {
	for _, p := range pools {
		if p != "" {
			s.dirty[p] = struct{}{}
		}
	}
}

func sameResult(a, b ipam.Result) bool {
	return a.Pool == b.Pool && slices.Equal(a.IPs, b.IPs)
}
