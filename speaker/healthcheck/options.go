package healthcheck

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
)

// DefaultRetryInterval is how often a port that could not be bound is
// tried again. kube-proxy retries on every sync; a few seconds keeps a
// freed port from staying dark long without spinning on a taken one.
const DefaultRetryInterval = 5 * time.Second

// Options configure a Server.
type Options struct {
	// ListenAddr is the address to serve on. The zero value means every
	// address of the node, IPv4 and IPv6: one dual-stack socket on
	// ":port", as kube-proxy does with its default nodePortAddresses.
	ListenAddr netip.Addr
	// Logger receives port changes and bind errors; nil discards them.
	Logger *slog.Logger
	// Registerer, if set, receives the ironlb_healthcheck_* metrics.
	Registerer prometheus.Registerer
	// Listen opens a TCP listener (network is always "tcp"); nil means
	// net.Listen. Tests use it to open listeners inside a network
	// namespace or to count opens.
	Listen func(network, addr string) (net.Listener, error)
	// RetryInterval is how often unbound ports are retried; 0 means
	// DefaultRetryInterval.
	RetryInterval time.Duration
	// ProxyHealthy reports whether IronLB's datapath is programmed and
	// current. When it returns false every port answers 503 with
	// "serviceProxyHealthy": false, as kube-proxy does while its own
	// healthz fails. nil means always healthy.
	ProxyHealthy func() bool
	// BindFailed, if set, is called from Run when a port cannot be bound
	// (once per port and distinct error, not on every retry), e.g. to
	// record an event on the Service as kube-proxy does
	// ("FailedToStartServiceHealthcheck").
	BindFailed func(port uint16, svc types.NamespacedName, err error)
}

func (o Options) withDefaults() (Options, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Listen == nil {
		o.Listen = net.Listen
	}
	if o.RetryInterval == 0 {
		o.RetryInterval = DefaultRetryInterval
	}
	if o.RetryInterval < 0 {
		return o, fmt.Errorf("healthcheck: Options.RetryInterval: %v is negative", o.RetryInterval)
	}
	if o.ProxyHealthy == nil {
		o.ProxyHealthy = func() bool { return true }
	}
	return o, nil
}

// address is the listen address for port.
func (o Options) address(port uint16) string {
	if !o.ListenAddr.IsValid() {
		return fmt.Sprintf(":%d", port)
	}
	return netip.AddrPortFrom(o.ListenAddr, port).String()
}
