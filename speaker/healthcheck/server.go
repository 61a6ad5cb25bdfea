package healthcheck

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves the health check ports given to Set. Run owns every
// listener and goroutine; Set only records what is wanted.
type Server struct {
	o       Options
	m       *metrics
	kick    chan struct{} // cap 1: "want changed", coalesced
	started atomic.Bool

	mu    sync.Mutex
	want  map[uint16]Entry
	ports map[uint16]*port // bound ports; added and removed only by Run
}

// port is one bound health check port.
type port struct {
	num   uint16
	entry atomic.Pointer[Entry]
	srv   *http.Server
}

// New checks the options and registers the metrics.
func New(o Options) (*Server, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	return &Server{o: o, m: m, kick: make(chan struct{}, 1), want: map[uint16]Entry{}, ports: map[uint16]*port{}}, nil
}

// Set makes want the ports to serve. Counts and Services of ports already
// bound change at once (the next request sees them) without reopening the
// listener; Run opens new ports and closes removed ones shortly after. Set
// never blocks on I/O and may be called before Run.
func (s *Server) Set(want map[uint16]Entry) {
	want = maps.Clone(want)
	if want == nil {
		want = map[uint16]Entry{}
	}
	s.mu.Lock()
	s.want = want
	for n, p := range s.ports {
		if e, ok := want[n]; ok && *p.entry.Load() != e {
			p.entry.Store(&e)
		}
	}
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Update is Set for the given ports only (nil: no longer served), the rest
// as they are: what one Service's change touches.
func (s *Server) Update(changes map[uint16]*Entry) {
	if len(changes) == 0 {
		return
	}
	s.mu.Lock()
	for n, e := range changes {
		if e == nil {
			delete(s.want, n)
			continue
		}
		s.want[n] = *e
		if p := s.ports[n]; p != nil && *p.entry.Load() != *e {
			v := *e
			p.entry.Store(&v)
		}
	}
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run serves until ctx ends, then closes every port and waits for its
// goroutines. A port that cannot be bound is logged, counted in
// ironlb_healthcheck_ports_failed and retried every RetryInterval; it
// never stops Run. Run may be called once.
func (s *Server) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("healthcheck: Server.Run called twice")
	}
	r := &runState{died: make(chan *port), stop: make(chan struct{}), failing: map[uint16]string{}}
	retry := time.NewTimer(0)
	retry.Stop()
	defer func() {
		retry.Stop()
		close(r.stop)
		s.mu.Lock()
		all := slices.Collect(maps.Values(s.ports))
		clear(s.ports)
		s.mu.Unlock()
		for _, p := range all {
			_ = p.srv.Close()
		}
		r.wg.Wait()
		s.m.ports.Set(0)
		s.m.failed.Set(0)
	}()

	for {
		if s.reconcile(r) {
			retry.Reset(s.o.RetryInterval)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.kick:
		case <-retry.C:
		case p := <-r.died:
			// Serve failed by itself (we did not close it): forget the
			// port so this reconcile binds it afresh.
			s.mu.Lock()
			if s.ports[p.num] == p {
				delete(s.ports, p.num)
			}
			s.mu.Unlock()
		}
	}
}

// runState belongs to one Run call.
type runState struct {
	wg      sync.WaitGroup    // serving goroutines
	died    chan *port        // a serving goroutine whose Serve failed
	stop    chan struct{}     // closed when Run is returning
	failing map[uint16]string // unbound wanted port -> last error reported
}

// reconcile closes unwanted ports and binds missing ones. It reports
// whether some wanted port is still unbound.
func (s *Server) reconcile(r *runState) bool {
	// Everything read from want is taken under the lock: Update changes
	// the map in place.
	s.mu.Lock()
	var closing []*port
	for n, p := range s.ports {
		if _, ok := s.want[n]; !ok {
			closing = append(closing, p)
			delete(s.ports, n)
		}
	}
	var missing []uint16
	entries := map[uint16]Entry{}
	for n, e := range s.want {
		if s.ports[n] == nil {
			missing = append(missing, n)
			entries[n] = e
		}
	}
	for n := range r.failing {
		if _, ok := s.want[n]; !ok {
			delete(r.failing, n)
		}
	}
	s.mu.Unlock()

	for _, p := range closing {
		// Close, not Shutdown: like kube-proxy, a removed port stops
		// answering at once, kept-alive connections included.
		if err := p.srv.Close(); err != nil {
			s.o.Logger.Warn("closing health check port", "port", p.num, "error", err)
		}
		s.o.Logger.Info("closed health check port", "port", p.num)
	}

	slices.Sort(missing)
	for _, n := range missing {
		s.open(r, n, entries[n])
	}

	s.mu.Lock()
	s.m.ports.Set(float64(len(s.ports)))
	s.mu.Unlock()
	s.m.failed.Set(float64(len(r.failing)))
	return len(r.failing) > 0
}

// open binds port n and starts serving it.
func (s *Server) open(r *runState, n uint16, e Entry) {
	addr := s.o.address(n)
	ln, err := s.o.Listen("tcp", addr)
	if err != nil {
		if r.failing[n] != err.Error() {
			r.failing[n] = err.Error()
			s.o.Logger.Error("cannot bind health check port; will retry", "port", n, "service", e.Service, "address", addr, "error", err)
			if s.o.BindFailed != nil {
				s.o.BindFailed(n, e.Service, err)
			}
		}
		return
	}
	if _, was := r.failing[n]; was {
		delete(r.failing, n)
		s.o.Logger.Info("health check port bound after retry", "port", n)
	}

	p := &port{num: n}
	p.srv = &http.Server{
		Handler:           handler{entry: &p.entry, healthy: s.o.ProxyHealthy, m: s.m},
		ReadHeaderTimeout: 10 * time.Second, // a silent client must not pin a goroutine forever
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.o.Logger.Handler(), slog.LevelDebug),
	}
	// Set may have changed the entry since reconcile took its snapshot:
	// install under the lock from the current want so no update is lost.
	s.mu.Lock()
	cur, still := s.want[n]
	if still {
		p.entry.Store(&cur)
		s.ports[n] = p
	}
	s.mu.Unlock()
	if !still {
		_ = ln.Close() // removed meanwhile; the pending kick reconciles again
		return
	}
	s.o.Logger.Info("serving health check port", "port", n, "service", cur.Service, "address", ln.Addr().String())

	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		err := p.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			return
		}
		s.o.Logger.Error("health check port stopped serving; will reopen", "port", n, "error", err)
		_ = p.srv.Close()
		select {
		case r.died <- p:
		case <-r.stop:
		}
	}()
}
