// Package vlan builds a virtual LAN out of Linux network namespaces for
// end-to-end tests and the long-running lab.
//
// A Lab is a Linux bridge inside its own "lan" namespace plus one namespace
// per host (a router, nodes and clients). Each host has one interface, eth0,
// whose veth peer is a port of the bridge; hosts get fixed addresses from
// documentation ranges (see the constants in addr.go). Pods are namespaces
// behind a node, reached over a routed veth pair (AddPod).
//
// Nothing is created in the caller's own network namespace, so labs of
// parallel test binaries cannot collide and addresses repeat freely between
// labs. Namespace names carry a marker and the owning process's PID
// ("ilb-<pid>-<id>-<host>") so that Sweep can remove what a crashed run left
// behind.
//
// Everything here needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN): New fails the
// test when it runs without.
package vlan
