// Package allocation assigns external IPs to LoadBalancer Services.
//
// State holds the in-memory allocation (pkg/ipam) behind one mutex; the
// Service reconciler fetches a Service, asks State for a decision and writes
// the result to the Service's status. Nothing here scans every Service on an
// event: a Service event touches that Service, a configuration change
// touches only the Services it can affect (pending ones and those whose
// address left every pool), which State tracks.
//
// Restart safety: before anything new is allocated, Restore rebuilds the
// allocation from every Service's status, oldest Service first, so a
// restarted controller neither moves an address nor hands one out twice.
package allocation
