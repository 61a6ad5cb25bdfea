// Package frr runs FRRouting as the top-of-rack router of end-to-end tests:
// zebra, bfdd and bgpd inside the Router namespace of a vlan.Lab, with a
// configuration generated from Go (Options), and typed read-back of what
// the router really holds, through vtysh's JSON output:
//
//	lab := vlan.New(t, vlan.Options{Nodes: 3, Router: true})
//	tor := frr.New(t, lab.Router, frr.Options{ASN: 64500, Neighbors: ...})
//	route, ok, err := tor.Route(ctx, netip.MustParsePrefix("203.0.113.10/32"))
//	// route.NextHops() is the ECMP set FRR would forward to.
//
// The daemons run in the foreground as children of the test (vlan's
// Host.Start), so they die with the lab, with the test binary, or at
// t.Cleanup. Each router has a private directory (config, sockets, pid
// files, logs) owned by the "frr" user, which the daemons switch to; the
// directory is removed after a passing test and kept (and its logs'
// tails printed) after a failing one.
//
// FRR (Debian's frr package: /usr/lib/frr and vtysh) is required; without
// it New fails the test.
package frr
