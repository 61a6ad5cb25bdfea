// Package healthcheck serves the per-Service health check node ports that
// kube-proxy normally serves, for clusters where IronLB's datapath replaces
// kube-proxy.
//
// Kubernetes allocates spec.healthCheckNodePort for every LoadBalancer
// Service with externalTrafficPolicy Local. External load balancers (and
// routers with BGP health checks) probe that port on every node and send
// traffic only to nodes that answer 200, that is, to nodes with a local
// ready endpoint: with policy Local a node without one would drop the
// traffic.
//
// The behaviour copies kube-proxy v1.34.2 (pkg/proxy/healthcheck/
// service_health.go and the endpoint tracking in pkg/proxy), so load
// balancers configured for kube-proxy work unchanged:
//
//   - every path and method gets the same answer;
//   - 200 when the node has at least one local ready endpoint and the proxy
//     is healthy, 503 otherwise;
//   - headers Content-Type: application/json, X-Content-Type-Options:
//     nosniff, and X-Load-Balancing-Endpoint-Weight: <local endpoints>;
//   - the body byte for byte as kube-proxy writes it: indented with tabs
//     (spaces here), no trailing newline.
//
// For example:
//
//	{
//	    "service": {
//	        "namespace": "ns",
//	        "name": "name"
//	    },
//	    "localEndpoints": 2,
//	    "serviceProxyHealthy": true
//	}
//
// Desired (pure) turns Services and EndpointSlices into the ports to serve;
// Server (I/O) opens, updates and closes the listeners to match.
package healthcheck
