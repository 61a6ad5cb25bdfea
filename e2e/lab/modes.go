package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// mode is one way of announcing Service IPs that the lab shows. Each mode
// brings its own pool, its configuration objects, what the LAN needs for
// it (client routes, a router) and how to read who announces an IP. A new
// mode is one more entry here and its Services in demoServices.
func modes() []mode {
	return []mode{layer2{}, bgpMode{}}
}

type mode interface {
	// Name is the table's MODE column.
	Name() string
	// Pool is the mode's IPAddressPool; demo Services ask for it by name.
	Pool() *v1beta1.IPAddressPool
	// Objects are the rest of the mode's configuration.
	Objects() []client.Object
	// Prepare readies the virtual LAN for the mode's addresses (client
	// routes, a router); what it starts it registers in env.
	Prepare(ctx context.Context, lan *vlan.Lab, env *labEnv) error
	// Announcers reads which nodes announce ip of Service ns/svc; none
	// (and no error) while nobody does.
	Announcers(ctx context.Context, v view, ns, svc string, ip netip.Addr) ([]string, error)
	// Settled says whether announcers (sorted) are the final answer for
	// an IP of s on a cluster of these nodes, so the daemon declares the
	// lab ready only once every session is up and every node has spoken.
	Settled(s demoService, nodes, announcers []string) error
	// Ready says whether the mode's own state in the API has caught up
	// (sessions reported), so that kubectl agrees with the table at once.
	Ready(ctx context.Context, v view, nodes []string) error
}

// labEnv collects what modes start in the daemon, and what the launcher
// needs to read their state later.
type labEnv struct {
	// RouterDir is FRR's directory (vty sockets), once BGP runs.
	RouterDir string
	closers   []func() error
}

// close stops what the modes started, last first.
func (e *labEnv) close() error {
	var errs []error
	for i := len(e.closers) - 1; i >= 0; i-- {
		if err := e.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// view is where announcements are read from, by the daemon or by a
// launcher process that owns nothing of the lab.
type view struct {
	API       client.Client
	RouterDir string            // BGP: FRR's directory
	Names     map[string]string // address -> host, to name next hops
}

// Address plan of the lab's pools and router (documentation ranges only).
// The router is vlan's host .1 of the LAN.
const (
	l2PoolV4  = "203.0.113.0/25"
	l2PoolV6  = "2001:db8:300::/120"
	bgpPoolV4 = "203.0.113.128/25"
	bgpPoolV6 = "2001:db8:300:1::/120"
	routerV4  = "198.51.100.1"
	routerV6  = "2001:db8:100::1"
)

// layer2 answers ARP/NDP for each IP from one elected node.
type layer2 struct{}

func (layer2) Name() string { return "L2" }

func (layer2) Pool() *v1beta1.IPAddressPool {
	p := cluster.Pool("lab-l2", l2PoolV4, l2PoolV6)
	// .0 works but reads like a network address in the table.
	p.Spec.AvoidBuggyIPs = true
	return p
}

func (l layer2) Objects() []client.Object {
	return []client.Object{cluster.L2("lab-l2", []string{l.Pool().Name}, "eth0")}
}

// Prepare puts the pool on-link for the clients, as on a flat LAN: they
// ARP/NDP for the Service IPs and the elected node answers. The nodes get
// the same route, as a real node's default route covers the pool: the
// announcing node's reachability check connects to its own addresses.
func (layer2) Prepare(ctx context.Context, lan *vlan.Lab, _ *labEnv) error {
	for _, h := range append(slices.Clone(lan.Clients), lan.Nodes...) {
		for _, p := range []string{l2PoolV4, l2PoolV6} {
			if _, err := h.Exec(ctx, "ip", "route", "replace", p, "dev", h.Iface); err != nil {
				return fmt.Errorf("route %s on %s: %w", p, h.Name, err)
			}
		}
	}
	return nil
}

func (layer2) Announcers(ctx context.Context, v view, ns, svc string, ip netip.Addr) ([]string, error) {
	var list v1beta1.ServiceL2StatusList
	if err := v.API.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("list ServiceL2Status in %s: %w", ns, err)
	}
	for _, st := range list.Items {
		if st.Status.ServiceName == svc && st.Status.IP == ip.String() && st.Status.Node != "" {
			return []string{st.Status.Node}, nil
		}
	}
	return nil, nil
}

// One node announces; with policy Local, one with a pod of the Service.
func (layer2) Settled(s demoService, _, announcers []string) error {
	if len(announcers) != 1 {
		return fmt.Errorf("announced by %v, want one node", announcers)
	}
	if s.Local && !slices.Contains(s.podNodes(), announcers[0]) {
		return fmt.Errorf("announced by %s, want a node with a pod: %v", announcers[0], s.podNodes())
	}
	return nil
}

// Ready: the ServiceL2Statuses are what Announcers reads already.
func (layer2) Ready(context.Context, view, []string) error { return nil }

// modeOfPool finds the mode whose pool is named pool.
func modeOfPool(ms []mode, pool string) mode {
	for _, m := range ms {
		if m.Pool().Name == pool {
			return m
		}
	}
	return nil
}
