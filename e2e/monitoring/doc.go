// Package monitoring checks IronLB's observability artefacts against the
// real programs: the Prometheus alert rules and the Grafana dashboard in
// manifests/monitoring parse and hold only valid PromQL, every series they
// select is exported by a running controller or speaker (scraped on a
// virtual LAN, see e2e/cluster), and every ironlb_ metric those programs
// export is documented in docs/metrics.md.
//
// The package has only tests; this file carries its documentation.
package monitoring
