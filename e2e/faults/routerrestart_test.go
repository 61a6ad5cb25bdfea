package faults_test

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/frr"
)

// TestRouterRestartRestoresEverySessionAndRoute restarts FRR (every daemon
// killed, then started again with the same configuration) under client
// traffic: every session and route is back within 10 s, for good, without
// restarting any speaker, with and without BFD on the sessions. It runs
// here, alone on the machine, because with BFD its margin is about a
// second of fixed protocol delays (see speaker/bgp/bfdgate.go).
func TestRouterRestartRestoresEverySessionAndRoute(t *testing.T) {
	for _, tc := range []struct {
		name string
		bfd  bool
	}{
		{"without BFD", false},
		{"with BFD", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			back := restartRouter(t, tc.bfd)
			t.Logf("router restarted: every session and route back with every next hop after %v", back.Round(time.Millisecond))
			if back > 10*time.Second {
				t.Errorf("sessions and routes back %v after the router restarted, want within 10 s", back)
			}
		})
	}
}

// BenchmarkRouterRestart measures the same recovery without BFD. Run with
// -benchtime=1x.
func BenchmarkRouterRestart(b *testing.B) {
	for range b.N {
		b.ReportMetric(ms(restartRouter(b, false)), "recovery-ms")
	}
}

// BenchmarkRouterRestartBFD measures it with BFD on every session. Run
// with -benchtime=1x.
func BenchmarkRouterRestartBFD(b *testing.B) {
	for range b.N {
		b.ReportMetric(ms(restartRouter(b, true)), "recovery-ms")
	}
}

// stableAfter is how long after the restart restartRouter watches the
// router: longer than the 10 s bound, so a session that comes up and drops
// again within it is seen.
const stableAfter = 12 * time.Second

// restartRouter starts the whole system (BFD on every session if bfd),
// restarts FRR and returns how long every session and route took to come
// back, with every next hop, for good. No speaker may restart meanwhile.
func restartRouter(t testing.TB, bfd bool) time.Duration {
	s := cluster.StartSystem(t, cluster.SystemOptions{BFD: bfd})
	s.WaitSessions(t)
	s.WaitBGPRoutes(t)
	before := s.Snapshot(t)
	sessions := slices.SortedFunc(maps.Keys(before.Sessions), netip.Addr.Compare)
	speakers := map[string]int{}
	for _, n := range s.C.Lab.Nodes {
		speakers[n.Name] = s.C.Speaker(n.Name).Pid()
	}
	var bgpVIPs []netip.AddrPort
	for _, name := range []string{"bgp", "bgp-local"} {
		bgpVIPs = append(bgpVIPs, s.VIPs[name]...)
	}
	traffic := cluster.StartTraffic(t, s.C.Lab.Clients[0], 20*time.Millisecond, time.Second, bgpVIPs...)

	r := s.Router
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	s.Router = frr.New(t, r.Host, r.Options)
	back := wholeAgain(t, s.Router, restarted, sessions, before.Routes)
	if ns, err := s.Router.Neighbors(context.Background()); err == nil {
		for _, a := range sessions {
			t.Logf("session %s: established %d time(s) since the restart", a, ns[a].ConnectionsEstablished)
		}
	}
	traffic.Stop()
	for vip, n := range traffic.Snapshot() {
		t.Logf("%s: %d of %d requests failed while the router restarted", vip, n.Failed, n.Sent)
	}
	for n, pid := range speakers {
		if p := s.C.Speaker(n); p.Pid() != pid || p.Exited() {
			t.Errorf("speaker %s was restarted", n)
		}
	}
	return back
}

// wholeAgain watches the router from since until stableAfter has passed
// and the network is whole (every session Established, every route with
// exactly its next hops), and returns when it last became whole. A session
// can come up and drop again (with BFD, FRR's BFD session flaps right after
// the first establishment), taking its routes with it for seconds: only
// the recovery that holds counts.
func wholeAgain(t testing.TB, r *frr.Router, since time.Time, sessions []netip.Addr, routes map[netip.Prefix][]netip.Addr) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var back time.Duration
	whole, why := false, "not read yet"
	for {
		missing := notWhole(ctx, r, sessions, routes)
		at := time.Since(since)
		switch {
		case missing != "":
			whole, why = false, missing
		case !whole:
			whole, back = true, at
		}
		if whole && at >= stableAfter {
			return back
		}
		if ctx.Err() != nil {
			t.Fatalf("a minute after the router restarted: %s", why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// notWhole names a session that is not Established or a route without
// exactly its next hops ("": none).
func notWhole(ctx context.Context, r *frr.Router, sessions []netip.Addr, routes map[netip.Prefix][]netip.Addr) string {
	ns, err := r.Neighbors(ctx)
	if err != nil {
		return err.Error()
	}
	for _, a := range sessions {
		if !ns[a].Established() {
			return fmt.Sprintf("session %s: %s", a, ns[a].State)
		}
	}
	for p, hops := range routes {
		got, ok, err := r.Route(ctx, p)
		switch {
		case err != nil:
			return err.Error()
		case !ok || !slices.Equal(got.NextHops(), hops):
			return fmt.Sprintf("route %s: next hops %v, want %v", p, got.NextHops(), hops)
		}
	}
	return ""
}
