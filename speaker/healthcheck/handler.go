package healthcheck

import (
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
)

// handler answers every request on one port from the port's current entry;
// Set swaps the entry atomically, so a count update never reopens the
// listener or drops a kept-alive connection.
type handler struct {
	entry   *atomic.Pointer[Entry]
	healthy func() bool
	m       *metrics
}

// ServeHTTP writes what kube-proxy v1.34.2's hcHandler.ServeHTTP writes
// (pkg/proxy/healthcheck/service_health.go), for any method and path.
func (h handler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	e := h.entry.Load()
	healthy := h.healthy()

	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Load-Balancing-Endpoint-Weight", strconv.Itoa(e.LocalEndpoints))
	if e.LocalEndpoints != 0 && healthy {
		w.WriteHeader(http.StatusOK)
		h.m.ok.Inc()
	} else {
		w.WriteHeader(http.StatusServiceUnavailable)
		h.m.unavailable.Inc()
	}
	_, _ = w.Write(body(*e, healthy))
}

// body is kube-proxy's dedented template rendered: tab indented, no
// trailing newline. Names are quoted with %q as kube-proxy does; Kubernetes
// names are DNS labels, for which Go and JSON quoting agree.
func body(e Entry, healthy bool) []byte {
	return fmt.Appendf(nil, "{\n\t\"service\": {\n\t\t\"namespace\": %q,\n\t\t\"name\": %q\n\t},\n\t\"localEndpoints\": %d,\n\t\"serviceProxyHealthy\": %v\n}",
		e.Service.Namespace, e.Service.Name, e.LocalEndpoints, healthy)
}
