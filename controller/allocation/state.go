package allocation

import (
	"context"
	"net/netip"
	"sync"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/pkg/ipam"
)

// State is the controller's allocation state, shared by the Service and
// configuration reconcilers. Its methods are safe for concurrent use.
type State struct {
	mu      sync.Mutex
	ipam    *ipam.Allocator
	config  *config.Config
	pending map[ipam.ServiceKey]string // Service -> why it has no address (last event sent)
	dirty   map[string]struct{}        // pools whose counts changed since TakeDirtyPools
	ready   chan struct{}              // closed once Restore has run
	once    sync.Once
}

// NewState returns an empty State that is not ready: Reconcile waits until
// Restore has rebuilt the allocation.
func NewState() *State {
	return &State{
		ipam:    ipam.New(),
		pending: map[ipam.ServiceKey]string{},
		dirty:   map[string]struct{}{},
		ready:   make(chan struct{}),
	}
}

// WaitReady blocks until Restore has run or ctx ends.
func (s *State) WaitReady(ctx context.Context) error {
	select {
	case <-s.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Ready reports whether Restore has run.
func (s *State) Ready() bool {
	select {
	case <-s.ready:
		return true
	default:
		return false
	}
}

// Config returns the configuration in force (nil before the first valid one).
func (s *State) Config() *config.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.config
}

// Restored is one Service's addresses as found in its status.
type Restored struct {
	Request ipam.Request
	IPs     []netip.Addr
}

// Restore installs the first valid configuration and re-assigns every
// Service the addresses its status holds, in the order given (the caller
// sorts oldest first, so when two Services claim one address the older
// keeps it). It returns the Services whose addresses could not be kept;
// their reconcile allocates afresh and says why. Only the first call has an
// effect.
func (s *State) Restore(cfg *config.Config, services []Restored) (lost map[ipam.ServiceKey]error) {
	s.once.Do(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.config = cfg
		s.ipam.SetPools(IPAMPools(cfg))
		lost = map[ipam.ServiceKey]error{}
		for _, r := range services {
			if _, err := s.ipam.Assign(r.Request, r.IPs); err != nil {
				lost[r.Request.Service] = err
			}
		}
		for _, p := range s.ipam.Pools() {
			s.dirty[p] = struct{}{}
		}
		close(s.ready)
	})
	return lost
}

// SetConfig installs a new valid configuration and returns the Services to
// reconcile because of it: those waiting for an address, those whose
// address left every pool, and those whose address now counts against
// another pool. No other Service's address changes.
func (s *State) SetConfig(cfg *config.Config) []ipam.ServiceKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.config = cfg
	before := s.ipam.Pools()
	changes := s.ipam.SetPools(IPAMPools(cfg))
	for _, p := range before {
		s.dirty[p] = struct{}{}
	}
	for _, p := range s.ipam.Pools() {
		s.dirty[p] = struct{}{}
	}
	affected := append(s.waiting(), changes.Lost...)
	return append(affected, changes.Moved...)
}

// PendingIn returns the Services of a namespace that wait for an address
// (a namespace's labels can decide which pools they may use).
func (s *State) PendingIn(namespace string) []ipam.ServiceKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []ipam.ServiceKey
	for k := range s.pending {
		if k.Namespace == namespace {
			keys = append(keys, k)
		}
	}
	return keys
}

// PendingCount is the number of Services waiting for an address.
func (s *State) PendingCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// Stats returns a pool's address counts.
func (s *State) Stats(pool string) (map[ipam.Family]ipam.Stats, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.ipam.Pools() {
		if p == pool {
			return s.ipam.Stats(pool), true
		}
	}
	return nil, false
}

// TakeDirtyPools returns the pools whose counts changed since the last call.
func (s *State) TakeDirtyPools() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	pools := make([]string, 0, len(s.dirty))
	for p := range s.dirty {
		pools = append(pools, p)
	}
	clear(s.dirty)
	return pools
}
