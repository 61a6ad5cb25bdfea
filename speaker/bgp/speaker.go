package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/server"
)

// ErrStopped is returned by SetPeers and SetRoutes after Run has returned.
var ErrStopped = errors.New("bgp: speaker stopped")

type runState int

const (
	notStarted runState = iota
	running
	stopped
)

// Speaker announces routes to BGP peers through an embedded GoBGP server.
//
// SetPeers and SetRoutes may be called at any time, before Run too; each
// call states the complete desired set and is applied at once, touching
// only what differs. UpdateRoutes states the routes of some prefixes only,
// and costs what changed rather than the whole set. Sessions open only once both Run has started and
// SetRoutes has been called at least once, so a (re)started speaker never
// tells its peers End-of-RIB before it knows its routes.
type Speaker struct {
	opts    Options
	log     *slog.Logger
	secrets *secrets
	tracker *tracker
	// bfdStops: GoBGP's BFD server finishing stops (see bfdstop.go).
	bfdStops *bfdStops

	mu sync.Mutex
	// lockedAt is when mu was last taken, while it is held (unix ns; 0:
	// free): every call into GoBGP holds mu, so a call that never returns
	// shows here (see Stalled).
	lockedAt  atomic.Int64
	peers     []Peer                   // desired and valid
	routes    map[netip.Prefix][]Route // desired and valid, by prefix
	routesSet bool
	// inSync: the last reconcile applied every peer and route without an
	// error, so GoBGP holds what peers and routes say and a change of
	// some prefixes needs only those prefixes compared (UpdateRoutes).
	inSync  bool
	state   runState
	srv     *server.BgpServer
	applied map[string]*appliedPeer
	// firstPush: the next peers given to GoBGP are the first since the
	// start; graceful-restart peers among them are told this node
	// restarted (see apiPeer).
	firstPush bool
	warned    map[string]bool // BFD limitations already logged, by peer
	// lb counts the paths in GoBGP per link bandwidth value, and
	// lbInstalled holds the values whose export policy is in GoBGP
	// (linkbw.go).
	lb          lbRefs
	lbInstalled map[lbKey]bool
}

// appliedPeer is a peer as GoBGP has it.
type appliedPeer struct {
	peer   Peer
	vrf    string
	index  uint16
	routes table
	// addedAdminDown is how GoBGP got the peer (closed by the BFD gate);
	// updates must repeat it, or GoBGP rebuilds the session.
	addedAdminDown bool
	gate           gate
	// restarting: added with the Restart State bit (first push after
	// start); everUp: its session has been established since.
	restarting, everUp bool
}

// New checks the options and returns a speaker; Run starts it.
func New(opts Options) (*Speaker, error) {
	if !opts.RouterID.IsValid() || !opts.RouterID.Unmap().Is4() || opts.RouterID.IsUnspecified() {
		return nil, fmt.Errorf("bgp: Options.RouterID: %v is not an IPv4 address", opts.RouterID)
	}
	opts.RouterID = opts.RouterID.Unmap()
	if opts.ListenPort < 0 || opts.ListenPort > 65535 {
		return nil, fmt.Errorf("bgp: Options.ListenPort: %d is outside 0..65535", opts.ListenPort)
	}
	if opts.GracefulRestartTime == 0 {
		opts.GracefulRestartTime = defaultGracefulRestartTime
	}
	if t := opts.GracefulRestartTime; t < time.Second || t > 4095*time.Second || t%time.Second != 0 {
		// The capability carries 12 bits of seconds.
		return nil, fmt.Errorf("bgp: Options.GracefulRestartTime: %v is not a whole number of seconds in 1s..4095s", t)
	}
	if opts.GracefulRestartDeferral == 0 {
		opts.GracefulRestartDeferral = defaultGracefulRestartDeferral
	}
	if t := opts.GracefulRestartDeferral; t < time.Second || t > 65535*time.Second || t%time.Second != 0 {
		return nil, fmt.Errorf("bgp: Options.GracefulRestartDeferral: %v is not a whole number of seconds in 1s..65535s", t)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Speaker{
		opts:     opts,
		log:      log,
		secrets:  &secrets{},
		tracker:  newTracker(log),
		bfdStops: newBFDStops(),
		applied:  map[string]*appliedPeer{},
		warned:   map[string]bool{},
		routes:   map[netip.Prefix][]Route{},
		lb:       lbRefs{},
		// lbInstalled starts empty: a new GoBGP holds no policy.
		lbInstalled: map[lbKey]bool{},
	}, nil
}

// Run runs the GoBGP server until ctx ends, then stops it. Sessions with
// graceful restart negotiated are closed without a Cease notification, so
// their peers keep this node's routes (stale) until it is back; the
// others get a Cease and withdraw them at once. Run may be called once.
func (s *Speaker) Run(ctx context.Context) error {
	s.lock()
	if s.state != notStarted {
		s.unlock()
		return errors.New("bgp: Run called twice")
	}
	s.state = running
	s.firstPush = true
	s.unlock()

	gobgpLog := slog.New(newGoBGPHandler(s.log.Handler(), s.secrets, logHooks{
		connectFailed: s.tracker.connectFailed,
		bfdDown:       s.tracker.bfdDown,
		bfdStopped:    s.bfdStops.stopped,
	})).With("component", "gobgp")
	srv := server.NewBgpServer(server.LoggerOption(gobgpLog, nil))
	serveDone := make(chan struct{})
	go func() {
		defer close(serveDone)
		srv.Serve()
	}()
	stop := func() {
		// StopBgp decides per session whether to send a Cease; Stop then
		// also ends the BFD server (and logs that BGP is already
		// stopped, which the log handler drops).
		if err := srv.StopBgp(context.Background(), &api.StopBgpRequest{AllowGracefulRestart: true}); err != nil {
			s.log.Error("stopping GoBGP", "error", err)
		}
		srv.Stop()
		<-serveDone
	}

	listen := int32(-1)
	if s.opts.ListenPort > 0 {
		listen = int32(s.opts.ListenPort)
	}
	err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		// Every session sets its own local AS; GoBGP only requires a
		// global one to be non-zero.
		Asn:        placeholderASN,
		RouterId:   s.opts.RouterID.String(),
		ListenPort: listen,
		Families:   ribFamilies(),
	}})
	if err != nil {
		s.lock()
		s.state = stopped
		s.unlock()
		stop()
		if ctx.Err() != nil {
			return nil // stopped by its owner while starting
		}
		return fmt.Errorf("bgp: start GoBGP: %w", err)
	}

	watchCtx, cancelWatch := context.WithCancel(context.Background())
	defer cancelWatch()
	if err := srv.WatchEvent(watchCtx, server.WatchEventMessageCallbacks{
		OnPeerUpdate: func(ev *apiutil.WatchEventMessage_PeerEvent, _ time.Time) {
			if reason := s.tracker.peerEvent(ev); reason != "" {
				addr := ev.Peer.State.NeighborAddress.String()
				if err := srv.ResetPeer(context.Background(), &api.ResetPeerRequest{Address: addr, Communication: reason}); err != nil {
					s.log.Error("resetting BGP session", "address", addr, "error", err)
				}
			}
		},
	}, server.WatchPeer()); err != nil {
		s.log.Error("watching BGP sessions", "error", err)
	}

	var unregister func()
	if s.opts.Registerer != nil {
		c := newCollector(s)
		if err := s.opts.Registerer.Register(c); err != nil {
			s.log.Error("registering BGP metrics", "error", err)
		} else {
			unregister = func() { s.opts.Registerer.Unregister(c) }
		}
	}

	gateCtx, stopGate := context.WithCancel(context.Background())
	gateDone := make(chan struct{})
	go func() {
		defer close(gateDone)
		s.runBFDGate(gateCtx)
	}()

	s.lock()
	s.srv = srv
	if !s.routesSet {
		s.log.Info("BGP speaker started; sessions open after the first SetRoutes")
	}
	if err := s.reconcileLocked(); err != nil {
		s.log.Error("applying BGP configuration", "error", err)
	}
	s.unlock()

	<-ctx.Done()
	stopGate()
	<-gateDone

	s.lock()
	s.stopBFDLocked(context.Background())
	s.state = stopped
	s.srv = nil
	s.unlock()
	if unregister != nil {
		unregister()
	}
	stop()
	cancelWatch()
	s.log.Info("BGP speaker stopped")
	return nil
}

// placeholderASN is GoBGP's global AS (AS_TRANS): unused, since every
// session has its own local AS.
const placeholderASN = 23456

// SetPeers replaces the set of peers. Invalid peers are left out (as if
// absent) and named in the returned error; the valid ones are applied. A
// new peer gets a session, a removed one is closed with a Cease, and a
// changed one is updated in place when only BFD changed, otherwise its
// session alone is rebuilt. Other sessions are not touched.
func (s *Speaker) SetPeers(peers []Peer) error {
	valid, verr := normalizePeers(peers)
	s.lock()
	defer s.unlock()
	if s.state == stopped {
		return ErrStopped
	}
	s.peers = valid
	pw := make([]string, 0, len(valid))
	for _, p := range valid {
		if p.Password != "" {
			pw = append(pw, p.Password)
		}
		s.warnBFDLimits(p)
	}
	// Old passwords stay redacted: GoBGP may still log about the session.
	s.secrets.add(pw)
	s.tracker.setPeers(valid)
	return errors.Join(verr, s.reconcileLocked())
}

// warnBFDLimits logs, once per peer, the BFD settings GoBGP ignores.
func (s *Speaker) warnBFDLimits(p Peer) {
	if p.BFD == nil || s.warned[p.Name] || (!p.BFD.PassiveMode && p.BFD.MinimumTTL == 0) {
		return
	}
	s.warned[p.Name] = true
	s.log.Warn("GoBGP's BFD ignores passiveMode and minimumTtl: it always sends control packets and checks no TTL",
		"peer", p.Name, "bfdProfile", p.BFD.Name, "passiveMode", p.BFD.PassiveMode, "minimumTTL", p.BFD.MinimumTTL)
}

// SetRoutes replaces the set of routes. Invalid routes are left out and
// named in the returned error. Only the differences reach the peers: new
// and changed prefixes are announced, removed ones withdrawn, in the same
// call, with no delay.
func (s *Speaker) SetRoutes(routes []Route) error {
	valid, verr := normalizeRoutes(routes)
	s.lock()
	defer s.unlock()
	if s.state == stopped {
		return ErrStopped
	}
	clear(s.routes)
	for _, r := range valid {
		s.routes[r.Prefix] = append(s.routes[r.Prefix], r)
	}
	s.routesSet = true
	return errors.Join(verr, s.reconcileLocked())
}

// UpdateRoutes replaces the routes of the given prefixes by routes and
// leaves every other prefix alone: what SetRoutes does with the whole set
// so changed, at the cost of the change rather than of the whole set.
// Every route's prefix must be among prefixes; invalid routes, and routes
// of other prefixes, are left out and named in the returned error. The
// first routes must come through SetRoutes.
func (s *Speaker) UpdateRoutes(prefixes []netip.Prefix, routes []Route) error {
	valid, verr := normalizeRoutes(routes)
	s.lock()
	defer s.unlock()
	if s.state == stopped {
		return ErrStopped
	}
	if !s.routesSet {
		return errors.New("bgp: UpdateRoutes before the first SetRoutes")
	}
	in := make(map[netip.Prefix]bool, len(prefixes))
	for _, p := range prefixes {
		in[p] = true
		delete(s.routes, p)
	}
	var errs []error
	for _, r := range valid {
		if !in[r.Prefix] {
			errs = append(errs, fmt.Errorf("bgp: route %v: its prefix is not among the prefixes updated", r.Prefix))
			continue
		}
		s.routes[r.Prefix] = append(s.routes[r.Prefix], r)
	}
	if !s.inSync {
		// Something is off (a peer to add, an earlier error): compare
		// everything, as SetRoutes does.
		return errors.Join(verr, errors.Join(errs...), s.reconcileLocked())
	}
	return errors.Join(verr, errors.Join(errs...), s.reconcilePrefixesLocked(slices.Collect(maps.Keys(in))))
}

// reconcilePrefixesLocked brings the given prefixes in GoBGP in line with
// the desired routes, for every peer. Only while inSync: every peer is
// applied as desired, and holds the desired routes of every other prefix.
func (s *Speaker) reconcilePrefixesLocked(prefixes []netip.Prefix) error {
	if s.state != running || s.srv == nil {
		return nil
	}
	var routes []Route
	for _, p := range prefixes {
		routes = append(routes, s.routes[p]...)
	}
	for _, p := range s.peers {
		if s.applied[p.Name] == nil {
			return s.reconcileLocked() // not inSync after all
		}
	}
	tables := peerTables(s.peers, routes)
	var errs []error
	for _, p := range s.peers {
		ap := s.applied[p.Name]
		want := tables[p.Name]
		announce, withdraw := diffPrefixes(ap.routes, want, prefixes)
		if err := s.applyRoutes(context.Background(), ap, want, announce, withdraw); err != nil {
			errs = append(errs, err)
		}
	}
	err := errors.Join(errs...)
	s.inSync = err == nil
	return err
}

// allRoutes lists the desired routes.
func (s *Speaker) allRoutes() []Route {
	var out []Route
	for _, rs := range s.routes {
		out = append(out, rs...)
	}
	return out
}

// reconcileLocked makes GoBGP's peers and paths match the desired ones.
func (s *Speaker) reconcileLocked() (err error) {
	s.inSync = false
	if s.state != running || s.srv == nil || !s.routesSet {
		return nil
	}
	defer func() { s.inSync = err == nil }()
	ctx := context.Background()
	tables := peerTables(s.peers, s.allRoutes())
	var errs []error
	desired := make(map[string]bool, len(s.peers))
	for _, p := range s.peers {
		desired[p.Name] = true
	}
	// Removed peers first: a new peer may reuse a removed one's address.
	for _, name := range sortedKeys(s.applied) {
		if !desired[name] {
			if err := s.removePeer(ctx, s.applied[name]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// Recreated peers next, for the same reason.
	var rest []Peer
	for _, p := range s.peers {
		ap, ok := s.applied[p.Name]
		if ok && classifyPeerChange(ap.peer, p) == peerRecreate {
			if err := s.recreatePeer(ctx, ap, p, tables[p.Name]); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		rest = append(rest, p)
	}
	for _, p := range rest {
		ap, ok := s.applied[p.Name]
		if !ok {
			if err := s.addPeer(ctx, p, tables[p.Name]); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if classifyPeerChange(ap.peer, p) == peerUpdateBFD {
			if err := s.updateBFD(ctx, ap, p); err != nil {
				errs = append(errs, fmt.Errorf("bgp: peer %q: update BFD: %w", p.Name, err))
			} else {
				s.log.Info("BGP peer BFD settings updated", "peer", p)
				ap.peer = p
			}
		}
		if err := s.syncRoutes(ctx, ap, tables[p.Name]); err != nil {
			errs = append(errs, err)
		}
	}
	s.firstPush = false
	errs = append(errs, s.recountLinkBandwidth(ctx))
	return errors.Join(errs...)
}

func (s *Speaker) apiPeer(p Peer, vrf string, restarting bool) *api.Peer {
	return apiPeer(p, vrf, s.opts.GracefulRestartTime, s.opts.GracefulRestartDeferral, restarting && p.GracefulRestart)
}

// gatedAPIPeer builds the peer's configuration for AddPeer, closed by the
// BFD gate when the peer has BFD (see bfdgate.go), and records that.
func (s *Speaker) gatedAPIPeer(ap *appliedPeer, p Peer, restarting bool) *api.Peer {
	c := s.apiPeer(p, ap.vrf, restarting)
	closed := p.BFD != nil
	c.Conf.AdminDown = closed
	ap.addedAdminDown = closed
	ap.restarting = restarting && p.GracefulRestart
	downs, _, _ := s.tracker.bfdDownEvents(p.Address)
	ap.gate = gate{closed: closed, waitSince: time.Now(), bfdDowns: downs}
	return c
}

// addPeer creates the peer's VRF, fills it, then adds the session, so
// the session's first UPDATEs already carry every route.
func (s *Speaker) addPeer(ctx context.Context, p Peer, want table) error {
	index, ok := s.freeIndex()
	if !ok {
		return fmt.Errorf("bgp: peer %q: too many peers", p.Name)
	}
	vrfName := "peer/" + p.Name
	vrf, err := vrfFor(vrfName, s.opts.RouterID, index)
	if err != nil {
		return fmt.Errorf("bgp: peer %q: %w", p.Name, err)
	}
	if err := s.srv.AddVrf(ctx, &api.AddVrfRequest{Vrf: vrf}); err != nil {
		return fmt.Errorf("bgp: peer %q: add VRF: %w", p.Name, err)
	}
	ap := &appliedPeer{peer: p, vrf: vrfName, index: index, routes: table{}}
	syncErr := s.syncRoutes(ctx, ap, want)
	if err := s.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: s.gatedAPIPeer(ap, p, s.firstPush)}); err != nil {
		return errors.Join(syncErr, fmt.Errorf("bgp: peer %q: add: %w", p.Name, err), s.deleteVRF(ctx, ap))
	}
	s.applied[p.Name] = ap
	s.log.Info("BGP peer added", "peer", p, "routes", len(ap.routes))
	return syncErr
}

// recreatePeer rebuilds one session with its new configuration; its VRF
// and routes stay.
func (s *Speaker) recreatePeer(ctx context.Context, ap *appliedPeer, p Peer, want table) error {
	if err := s.deleteSession(ctx, ap.peer); err != nil {
		return fmt.Errorf("bgp: peer %q: delete for re-creation: %w", p.Name, err)
	}
	syncErr := s.syncRoutes(ctx, ap, want)
	if err := s.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: s.gatedAPIPeer(ap, p, false)}); err != nil {
		// The session is gone; forget the peer so the next call adds it.
		delete(s.applied, p.Name)
		return errors.Join(syncErr, fmt.Errorf("bgp: peer %q: re-create: %w", p.Name, err), s.deleteVRF(ctx, ap))
	}
	s.log.Info("BGP peer re-created (its session restarts)", "peer", p, "was", ap.peer)
	ap.peer = p
	return syncErr
}

// deleteVRF drops the peer's VRF and with it its paths, and the link
// bandwidth policies no other path needs.
func (s *Speaker) deleteVRF(ctx context.Context, ap *appliedPeer) error {
	if err := s.srv.DeleteVrf(ctx, &api.DeleteVrfRequest{Name: ap.vrf}); err != nil {
		return fmt.Errorf("bgp: peer %q: delete VRF: %w", ap.peer.Name, err)
	}
	var gone []lbKey
	for _, a := range ap.routes {
		if k, last := s.lb.drop(a); last {
			gone = append(gone, k)
		}
	}
	clear(ap.routes)
	return s.pruneLinkBandwidth(ctx, gone)
}

// removePeer closes the session (with a Cease) and drops its VRF.
func (s *Speaker) removePeer(ctx context.Context, ap *appliedPeer) error {
	if err := s.deleteSession(ctx, ap.peer); err != nil {
		return fmt.Errorf("bgp: peer %q: delete: %w", ap.peer.Name, err)
	}
	if err := s.deleteVRF(ctx, ap); err != nil {
		return err
	}
	delete(s.applied, ap.peer.Name)
	s.log.Info("BGP peer removed", "peer", ap.peer)
	return nil
}

// deleteSession deletes the peer applied as p from GoBGP. Every deletion
// goes through here: one that stops a BFD session waits for GoBGP's BFD
// server (bfdstop.go).
func (s *Speaker) deleteSession(ctx context.Context, p Peer) error {
	return s.stoppingBFD(p.Address, stopsBFDSession(gobgpBFD(p.BFD), nil, true), func() error {
		return s.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: p.Address.String()})
	})
}

// updateBFD gives the applied peer ap the BFD settings of p in place,
// without touching its session. A change of BFD timers makes GoBGP stop
// the BFD session and start a new one, so this too waits for the stop.
func (s *Speaker) updateBFD(ctx context.Context, ap *appliedPeer, p Peer) error {
	upd := s.apiPeer(p, ap.vrf, ap.restarting)
	upd.Conf.AdminDown = ap.addedAdminDown
	return s.stoppingBFD(p.Address, stopsBFDSession(gobgpBFD(ap.peer.BFD), upd.Bfd, false), func() error {
		_, err := s.srv.UpdatePeer(ctx, &api.UpdatePeerRequest{Peer: upd})
		return err
	})
}

// stopBFDLocked turns BFD off for every peer, one at a time, before the
// speaker stops GoBGP: StopBgp deletes every peer in one call, which with
// BFD peers is the deadlock bfdstop.go describes. BFD stops a moment
// earlier than it would have; the sessions are not touched, so graceful
// restart still applies.
func (s *Speaker) stopBFDLocked(ctx context.Context) {
	if s.srv == nil {
		return
	}
	for _, name := range sortedKeys(s.applied) {
		ap := s.applied[name]
		if ap.peer.BFD == nil {
			continue
		}
		p := ap.peer
		p.BFD = nil
		if err := s.updateBFD(ctx, ap, p); err != nil {
			s.log.Error("turning BFD off before stopping", "peer", name, "error", err)
			continue
		}
		ap.peer = p
	}
}

// freeIndex finds an unused route distinguisher index.
func (s *Speaker) freeIndex() (uint16, bool) {
	used := make(map[uint16]bool, len(s.applied))
	for _, ap := range s.applied {
		used[ap.index] = true
	}
	for i := uint16(1); i != 0; i++ {
		if !used[i] {
			return i, true
		}
	}
	return 0, false
}

// syncRoutes withdraws and announces the differences between what the
// peer's VRF holds and want.
func (s *Speaker) syncRoutes(ctx context.Context, ap *appliedPeer, want table) error {
	announce, withdraw := diffTables(ap.routes, want)
	return s.applyRoutes(ctx, ap, want, announce, withdraw)
}

// applyRoutes withdraws and announces prefixes in the peer's VRF (the
// announced ones with their attributes in want).
func (s *Speaker) applyRoutes(ctx context.Context, ap *appliedPeer, want table, announce, withdraw []netip.Prefix) error {
	var (
		errs []error
		gone []lbKey // link bandwidth values that may have gone out of use
	)
	if len(withdraw) > 0 {
		paths := make([]*apiutil.Path, 0, len(withdraw))
		for _, p := range withdraw {
			path, err := apiPath(p, ap.routes[p], true)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			paths = append(paths, path)
		}
		if err := s.srv.DeletePath(apiutil.DeletePathRequest{VRFID: ap.vrf, Paths: paths}); err != nil {
			errs = append(errs, fmt.Errorf("bgp: peer %q: withdraw %d routes: %w", ap.peer.Name, len(paths), err))
		} else {
			for _, p := range withdraw {
				if k, last := s.lb.drop(ap.routes[p]); last {
					gone = append(gone, k)
				}
				delete(ap.routes, p)
			}
		}
	}
	if len(announce) > 0 {
		paths := make([]*apiutil.Path, 0, len(announce))
		prefixes := make([]netip.Prefix, 0, len(announce))
		for _, p := range announce {
			path, err := apiPath(p, want[p], false)
			if err == nil {
				// The policy that turns the marker into the community
				// comes first, or the path would leave without it.
				err = s.ensureLinkBandwidth(ctx, want[p])
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			paths = append(paths, path)
			prefixes = append(prefixes, p)
		}
		// On an error GoBGP does not say which paths it took; none is
		// recorded, so the next call announces them all again (adding a
		// path again replaces it, which is harmless).
		if _, err := s.srv.AddPath(apiutil.AddPathRequest{VRFID: ap.vrf, Paths: paths}); err != nil {
			errs = append(errs, fmt.Errorf("bgp: peer %q: announce %d routes: %w", ap.peer.Name, len(paths), err))
		} else {
			for _, p := range prefixes {
				if old, ok := ap.routes[p]; ok {
					if k, last := s.lb.drop(old); last {
						gone = append(gone, k)
					}
				}
				s.lb.add(want[p])
				ap.routes[p] = want[p]
			}
		}
	}
	if len(announce)+len(withdraw) > 0 {
		s.log.Debug("BGP routes updated", "peer", ap.peer.Name, "announced", len(announce), "withdrawn", len(withdraw), "total", len(ap.routes))
	}
	errs = append(errs, s.pruneLinkBandwidth(ctx, gone))
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
