// Package monitoring checks IronLB's observability artefacts against the
// real programs: the Prometheus alert rules and the Grafana dashboard in
// manifests/monitoring parse and hold only valid PromQL, every series they
// select is exported by a running controller or speaker (scraped on a
// virtual LAN, see e2e/cluster), and every ironlb_ metric those programs
// export is documented in docs/metrics.md. The scrapes are made as
// Prometheus makes them with the chart: over HTTPS with the token of a
// ServiceAccount bound to ironlb-metrics-reader; auth_test.go proves that
// the metrics endpoints refuse a missing token (401) and a token without
// that role (403).
//
// The package has only tests; this file carries its documentation.
package monitoring
