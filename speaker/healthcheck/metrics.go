package healthcheck

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	ports       prometheus.Gauge
	failed      prometheus.Gauge
	requests    *prometheus.CounterVec // code
	ok          prometheus.Counter     // requests{code="200"}, resolved once
	unavailable prometheus.Counter     // requests{code="503"}
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		ports: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ironlb_healthcheck_ports",
			Help: "Health check node ports this speaker is listening on.",
		}),
		failed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ironlb_healthcheck_ports_failed",
			Help: "Health check node ports wanted but not bound (port in use or not permitted); retried periodically.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ironlb_healthcheck_requests_total",
			Help: "Health check requests answered, by HTTP status code (200: local endpoints, 503: none).",
		}, []string{"code"}),
	}
	m.ok = m.requests.WithLabelValues("200")
	m.unavailable = m.requests.WithLabelValues("503")
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.ports, m.failed, m.requests} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("healthcheck: Options.Registerer: metrics already registered (one Server per registry): %w", err)
			}
			return nil, fmt.Errorf("healthcheck: Options.Registerer: %w", err)
		}
	}
	return m, nil
}
