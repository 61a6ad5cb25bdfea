package members

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults; doc.go explains the choice.
const (
	DefaultPort     = 7946
	DefaultInterval = 50 * time.Millisecond
	DefaultTimeout  = 250 * time.Millisecond
	DefaultFanout   = 3
	// MinSecret is the shortest accepted shared secret.
	MinSecret = 16
)

// Options configure Members.
type Options struct {
	// Node is this node's name, as in SetPeers maps.
	Node string
	// Bind is the UDP address to listen on: the node IP (peers must use
	// the same address family) and usually DefaultPort.
	Bind netip.AddrPort
	// Interval is the ping period; 0 means DefaultInterval.
	Interval time.Duration
	// Timeout is the silence after which a pinged member is declared dead;
	// 0 means DefaultTimeout. At least 3 intervals.
	Timeout time.Duration
	// Fanout is how many ring successors each node pings (and so how many
	// monitors each node has); 0 means DefaultFanout.
	Fanout int
	// Secret is the cluster-wide key that signs every packet (HMAC-SHA256);
	// at least MinSecret bytes.
	Secret []byte
	// AcceptSecrets are further keys whose packets are accepted (not used
	// to sign): the next or the previous key during a rotation.
	AcceptSecrets [][]byte
	// Logger receives transitions and errors; nil discards them.
	Logger *slog.Logger
	// Registerer, if set, receives the ironlb_members_* metrics.
	Registerer prometheus.Registerer
	// ListenPacket opens the socket; nil means net.ListenConfig. Tests use
	// it to open the socket inside a network namespace, or to hand over an
	// already bound one.
	ListenPacket func(ctx context.Context, network, address string) (net.PacketConn, error)
}

func (o Options) withDefaults() (Options, error) {
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Fanout == 0 {
		o.Fanout = DefaultFanout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ListenPacket == nil {
		var lc net.ListenConfig
		o.ListenPacket = lc.ListenPacket
	}
	switch {
	case o.Node == "" || len(o.Node) > MaxName:
		return o, fmt.Errorf("members: Options.Node: %q must be 1 to %d bytes", o.Node, MaxName)
	case !o.Bind.IsValid():
		return o, fmt.Errorf("members: Options.Bind: %q is not an address and port", o.Bind)
	case o.Interval < time.Millisecond:
		return o, fmt.Errorf("members: Options.Interval: %v is below 1ms", o.Interval)
	case o.Timeout < 3*o.Interval:
		return o, fmt.Errorf("members: Options.Timeout: %v is below 3 intervals (%v)", o.Timeout, 3*o.Interval)
	case o.Fanout < 1 || o.Fanout > 16:
		return o, fmt.Errorf("members: Options.Fanout: %d is outside 1..16", o.Fanout)
	case len(o.Secret) < MinSecret:
		return o, fmt.Errorf("members: Options.Secret: %d bytes, need at least %d", len(o.Secret), MinSecret)
	}
	if _, err := newKeyring(o.secrets()); err != nil {
		return o, fmt.Errorf("members: Options.AcceptSecrets: %w", err)
	}
	return o, nil
}

// secrets is the key list: the signing key first.
func (o Options) secrets() [][]byte { return append([][]byte{o.Secret}, o.AcceptSecrets...) }

// network is the socket family: peers must use the bind address's.
func (o Options) network() string {
	if o.Bind.Addr().Unmap().Is4() {
		return "udp4"
	}
	return "udp6"
}
