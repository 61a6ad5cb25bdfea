package frr

import (
	"context"
	"fmt"
	"net/netip"
	"time"
)

// pollInterval is how often the Wait helpers ask the router. A query over
// the vty socket costs well under a millisecond.
const pollInterval = 2 * time.Millisecond

// poll calls check until it reports done, fails, or ctx ends.
func poll(ctx context.Context, what string, check func() (bool, error)) error {
	for {
		done, err := check()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("frr: waiting for %s: %w", what, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// WaitRoute polls the route for prefix until cond holds and returns what
// satisfied it. ok is false while FRR has no path for the prefix.
func (r *Router) WaitRoute(ctx context.Context, prefix netip.Prefix, cond func(route Route, ok bool) bool) (Route, error) {
	var got Route
	var gotOK bool
	err := poll(ctx, "route "+prefix.String(), func() (bool, error) {
		route, ok, err := r.Route(ctx, prefix)
		if err != nil {
			return false, err
		}
		got, gotOK = route, ok
		return cond(route, ok), nil
	})
	if err != nil {
		return got, fmt.Errorf("%w; last seen: present=%v %+v", err, gotOK, got)
	}
	return got, nil
}

// WaitRoutes polls a family's whole RIB until cond holds.
func (r *Router) WaitRoutes(ctx context.Context, f Family, cond func(map[netip.Prefix]Route) bool) (map[netip.Prefix]Route, error) {
	var got map[netip.Prefix]Route
	err := poll(ctx, string(f)+" routes", func() (bool, error) {
		routes, err := r.Routes(ctx, f)
		if err != nil {
			return false, err
		}
		got = routes
		return cond(routes), nil
	})
	if err != nil {
		return got, fmt.Errorf("%w; last seen %d routes", err, len(got))
	}
	return got, nil
}

// WaitNeighbors polls the BGP sessions until cond holds.
func (r *Router) WaitNeighbors(ctx context.Context, cond func(map[netip.Addr]NeighborStatus) bool) (map[netip.Addr]NeighborStatus, error) {
	var got map[netip.Addr]NeighborStatus
	err := poll(ctx, "neighbors", func() (bool, error) {
		n, err := r.Neighbors(ctx)
		if err != nil {
			return false, err
		}
		got = n
		return cond(n), nil
	})
	if err != nil {
		return got, fmt.Errorf("%w; last seen %+v", err, got)
	}
	return got, nil
}

// WaitEstablished waits until every listed neighbor's session is up.
func (r *Router) WaitEstablished(ctx context.Context, addrs ...netip.Addr) (map[netip.Addr]NeighborStatus, error) {
	return r.WaitNeighbors(ctx, func(n map[netip.Addr]NeighborStatus) bool {
		for _, a := range addrs {
			if !n[a].Established() {
				return false
			}
		}
		return true
	})
}
