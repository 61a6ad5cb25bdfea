package layer2

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configures an Announcer. Zero values mean the defaults below.
type Options struct {
	// Logger receives state changes and errors; nil discards them.
	Logger *slog.Logger
	// Registerer receives the Announcer's metrics; nil registers nothing.
	Registerer prometheus.Registerer

	// GratuitousCount is how many gratuitous ARP / unsolicited NA rounds
	// announce an IP when it starts being answered (takeover, first
	// announcement, interface back). Default 3.
	GratuitousCount int
	// GratuitousInterval separates those rounds; the first goes out at once.
	// Default 50ms: the first frame alone moves every client that receives
	// it; the later ones only matter when it was lost, and 50ms keeps a
	// single lost frame well inside the 500ms failover budget while three
	// frames spread over 100ms ride out a short burst of loss.
	GratuitousInterval time.Duration
	// RefreshInterval repeats one gratuitous round per announced IP for as
	// long as it is announced; negative disables it. Default 30s: it bounds
	// how long a client that missed every takeover frame keeps the previous
	// owner's MAC (Linux keeps a confirmed entry 15-45s before it re-checks),
	// keeps switch MAC tables (300s ageing) warm for IPs that only receive
	// traffic, and costs two ARP frames (or one NA) per IP per 30s.
	RefreshInterval time.Duration

	// ProbeCount is how many probes (ARP probes with sender 0.0.0.0, DAD
	// neighbour solicitations from ::) go out before the first announcement
	// of a Claim with Probe set. Negative disables probing. Default 3.
	ProbeCount int
	// ProbeInterval separates probes, and is also how long the Announcer
	// waits for an answer after the last one. Default 15ms.
	ProbeInterval time.Duration
	// ProbeWait is the upper bound of a random delay before the first
	// probe, which keeps speakers that claim at the same moment from
	// probing in lockstep. Default 5ms.
	//
	// RFC 5227 uses seconds here (PROBE_WAIT 1s, PROBE_MIN 1s, ANNOUNCE_WAIT
	// 2s) because it was written for hosts on slow or lossy links where a
	// defender may take a while to answer. Here the defender is a host on the
	// same LAN whose kernel answers in well under a millisecond, and the
	// target is "assigned -> reachable in under 100ms", so the defaults keep
	// the whole probe under 5+3×15 = 50ms, which leaves half of the budget
	// for scheduling delays on a busy node (measured: p50 52ms, see
	// BenchmarkClaimToFirstReply). Three probes still cover the loss of one
	// or two frames; a defender that needs longer than 45ms to answer the
	// first probe is missed, which is the price of the latency target.
	ProbeWait time.Duration

	// ConflictRetryInterval is how long an IP in conflict stays silent
	// before it is probed again; when the probe finds nobody (the other
	// host went quiet), the IP is announced and a Conflict with Cleared set
	// is reported. Negative: never, the claim must be withdrawn and made
	// again. Default 10s, RFC 5227's DEFEND_INTERVAL: often enough that a
	// fixed misconfiguration heals by itself, rarely enough that probing a
	// still-conflicting address costs nothing.
	ConflictRetryInterval time.Duration

	// AnswerCheckInterval is how often an announced IP is probed (one ARP
	// probe from 0.0.0.0, or one DAD solicitation from ::) to find another
	// host that answers for it too: such a host answers the probe, and is
	// then handled as any conflict (the IP goes silent here and is reported
	// until the other host gives it up). Negative disables it. Default 4s,
	// plus up to a quarter of it at random per check, so that a host that
	// starts answering is found within 5s; it costs one broadcast frame per
	// announced IP and interface per interval, at most 200 frames/s per
	// speaker: beyond 800 announced IPs the interval stretches (10,000: 50s).
	AnswerCheckInterval time.Duration

	// InterfacePollInterval is how often claimed interfaces are looked up
	// while some of them are missing or broken, and how often present ones
	// are checked for having been replaced, renamed or brought back up.
	// Default 1s.
	InterfacePollInterval time.Duration

	// FriendlyMACs returns the MACs (net.HardwareAddr.String form, any case)
	// of other IronLB speakers: a claim on an IP from one of them is a
	// hand-over, not a conflict. The MACs of this node's own interfaces are
	// always friendly. It is called only when a frame claims one of our IPs
	// for another MAC, from the goroutine that read the frame; nil means
	// none.
	FriendlyMACs func() map[string]bool

	// ConflictBuffer is the capacity of the Conflicts channel. When it is
	// full, further events are dropped (and logged); State still shows
	// every conflict. Default 64.
	ConflictBuffer int
}

// Defaults; see the fields of Options for why.
const (
	DefaultGratuitousCount       = 3
	DefaultGratuitousInterval    = 50 * time.Millisecond
	DefaultRefreshInterval       = 30 * time.Second
	DefaultProbeCount            = 3
	DefaultProbeInterval         = 15 * time.Millisecond
	DefaultProbeWait             = 5 * time.Millisecond
	DefaultConflictRetryInterval = 10 * time.Second
	DefaultInterfacePollInterval = time.Second
	DefaultAnswerCheckInterval   = 4 * time.Second
	DefaultConflictBuffer        = 64
)

// withDefaults fills in defaults; negative values that mean "disabled"
// become 0. Errors name the field.
func (o Options) withDefaults() (Options, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.GratuitousCount < 0 {
		return o, fmt.Errorf("layer2: Options.GratuitousCount: %d is negative", o.GratuitousCount)
	}
	if o.GratuitousCount == 0 {
		o.GratuitousCount = DefaultGratuitousCount
	}
	if o.ConflictBuffer < 0 {
		return o, fmt.Errorf("layer2: Options.ConflictBuffer: %d is negative", o.ConflictBuffer)
	}
	if o.ConflictBuffer == 0 {
		o.ConflictBuffer = DefaultConflictBuffer
	}
	switch {
	case o.ProbeCount < 0:
		o.ProbeCount = 0
	case o.ProbeCount == 0:
		o.ProbeCount = DefaultProbeCount
	}
	durations := []struct {
		name       string
		v          *time.Duration
		def        time.Duration
		canDisable bool
	}{
		{"GratuitousInterval", &o.GratuitousInterval, DefaultGratuitousInterval, false},
		{"RefreshInterval", &o.RefreshInterval, DefaultRefreshInterval, true},
		{"ProbeInterval", &o.ProbeInterval, DefaultProbeInterval, false},
		{"ProbeWait", &o.ProbeWait, DefaultProbeWait, true},
		{"ConflictRetryInterval", &o.ConflictRetryInterval, DefaultConflictRetryInterval, true},
		{"InterfacePollInterval", &o.InterfacePollInterval, DefaultInterfacePollInterval, false},
		{"AnswerCheckInterval", &o.AnswerCheckInterval, DefaultAnswerCheckInterval, true},
	}
	for _, d := range durations {
		switch {
		case *d.v < 0 && d.canDisable:
			*d.v = 0
		case *d.v < 0:
			return o, fmt.Errorf("layer2: Options.%s: %v is negative", d.name, *d.v)
		case *d.v == 0:
			*d.v = d.def
		}
	}
	return o, nil
}
