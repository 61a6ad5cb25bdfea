// Package readiness is the one rule, shared by announcing (pkg/lbstate),
// forwarding (datapath) and health checks (speaker/healthcheck), for which
// endpoints of a Service can take traffic. It reads EndpointSlices as
// kube-proxy does (pkg/proxy/endpointslicecache.go, topology.go):
//
//   - an endpoint serves a Service port only through a slice port of the
//     same name and protocol (unset protocol is TCP, a nil name or a port
//     outside 1..65535 matches nothing); since a slice's ports apply to all
//     its endpoints, an endpoint serves the Service at all only when its
//     slice carries at least one of the Service's ports;
//   - only the first address counts; a missing ready or serving condition
//     is true, a missing terminating condition false;
//   - ready endpoints take new connections; serving-and-terminating ones
//     take them only when no endpoint in scope is ready (KEP-1669).
//
// Pure: values in, values out.
package readiness
