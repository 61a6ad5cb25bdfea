// Package metrics defines the controller's Prometheus metrics. The
// collectors are created by New and registered on the registry the caller
// passes, so tests can use a private registry.
package metrics

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the controller's collectors.
type Metrics struct {
	PoolAddresses      *prometheus.GaugeVec
	PoolAddressesInUse *prometheus.GaugeVec
	AllocationLatency  prometheus.Histogram
	AllocationFailures *prometheus.CounterVec
	PendingServices    prometheus.Gauge
	ConfigValid        prometheus.Gauge
}

// New creates the collectors and registers them on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		PoolAddresses: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "ironlb", Subsystem: "pool", Name: "addresses_total",
			Help: "Addresses in a pool, per family (saturates for huge IPv6 pools).",
		}, []string{"pool", "family"}),
		PoolAddressesInUse: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "ironlb", Subsystem: "pool", Name: "addresses_in_use",
			Help: "Addresses of a pool assigned to Services, per family.",
		}, []string{"pool", "family"}),
		AllocationLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "ironlb", Subsystem: "allocation", Name: "duration_seconds",
			Help:    "Time from the start of a Service's reconcile to its new addresses being written to its status.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		AllocationFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ironlb", Subsystem: "allocation", Name: "failures_total",
			Help: "Allocation attempts that left a Service without the addresses it asked for, by reason.",
		}, []string{"reason"}),
		PendingServices: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "ironlb", Subsystem: "allocation", Name: "pending_services",
			Help: "LoadBalancer Services waiting for an address.",
		}),
		ConfigValid: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "ironlb", Subsystem: "config", Name: "valid",
			Help: "1 when every ironlb.io configuration object is valid, 0 when one is invalid (it is set aside, or its last valid spec stays in force; see its Valid condition).",
		}),
	}
	reg.MustRegister(m.PoolAddresses, m.PoolAddressesInUse, m.AllocationLatency,
		m.AllocationFailures, m.PendingServices, m.ConfigValid)
	return m
}

// Reset sets the leader-only series to what a standby exports (no pool
// series, nothing pending, config_valid 0): a replica resets them when a
// leader term starts, so a pool deleted meanwhile leaves no stale series,
// and when it ends, so a former leader looks like the standby it is.
func (m *Metrics) Reset() {
	m.PoolAddresses.Reset()
	m.PoolAddressesInUse.Reset()
	m.PendingServices.Set(0)
	m.ConfigValid.Set(0)
}
