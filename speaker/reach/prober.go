package reach

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
)

// Event reasons on Services.
const (
	EventNotAnswering = "VIPNotAnswering"
	EventAnswering    = "VIPAnswering"
)

// Defaults; see Options.
const (
	DefaultInterval    = 2 * time.Second
	DefaultTimeout     = time.Second
	DefaultThreshold   = 2
	DefaultConcurrency = 8
)

// Options configures a Prober. Zero values mean the defaults.
type Options struct {
	// Targets lists the addresses this node announces now.
	Targets func() []Target
	// Service returns a Service (from the manager's cache); false when
	// it is gone.
	Service func(types.NamespacedName) (*corev1.Service, bool)
	// Changed is called after a round in which a verdict changed (the
	// status writer then writes the condition).
	Changed func()
	// Recorder receives the VIPNotAnswering / VIPAnswering events.
	Recorder record.EventRecorder
	// Registerer receives ironlb_vip_answering; nil registers nothing.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Dial connects to one VIP:port and closes; default a TCP connection
	// from the host network namespace.
	Dial func(ctx context.Context, addr netip.AddrPort) error

	// Interval from one round's start to the next (plus up to a twentieth
	// at random; longer with many checks, see Period). Default 2s: with
	// Threshold 2, a VIP that stops answering is reported within about
	// 2×2.1s + Timeout, well inside 10s.
	Interval time.Duration
	// Timeout of one connection. Default 1s: the path is this node's own
	// datapath and the LAN to the endpoint, where an answer takes
	// milliseconds.
	Timeout time.Duration
	// Threshold is the number of failures in a row after which a port
	// does not answer. Default 2.
	Threshold int
	// Concurrency bounds the connections in flight. Default 8.
	Concurrency int
}

// Prober checks the addresses this node announces. Run owns its loop.
type Prober struct {
	o      Options
	log    *slog.Logger
	metric *prometheus.GaugeVec
	// wake asks Run for a round now; hurry asks the round under way to
	// open the rest of its connections at once, so the round Wake asked
	// for starts soon.
	wake, hurry chan struct{}
	mu          sync.Mutex
	results     map[netip.AddrPort]PortResult
	// verdicts by "namespace/name ip", what Verdict returns.
	verdicts map[verdictKey]Verdict
}

type verdictKey struct {
	svc types.NamespacedName
	ip  netip.Addr
}

// New checks the options and registers the metric.
func New(o Options) (*Prober, error) {
	if o.Targets == nil || o.Service == nil {
		return nil, errors.New("reach: Options.Targets and Options.Service are required")
	}
	if o.Interval < 0 || o.Timeout < 0 || o.Threshold < 0 || o.Concurrency < 0 {
		return nil, fmt.Errorf("reach: Options: negative interval %v, timeout %v, threshold %d or concurrency %d", o.Interval, o.Timeout, o.Threshold, o.Concurrency)
	}
	o.Interval = orDefault(o.Interval, DefaultInterval)
	o.Timeout = orDefault(o.Timeout, DefaultTimeout)
	o.Threshold = orDefault(o.Threshold, DefaultThreshold)
	o.Concurrency = orDefault(o.Concurrency, DefaultConcurrency)
	if o.Dial == nil {
		o.Dial = DialTCP
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Prober{o: o, log: o.Logger, wake: make(chan struct{}, 1), hurry: make(chan struct{}, 1),
		results: map[netip.AddrPort]PortResult{}, verdicts: map[verdictKey]Verdict{},
		metric: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ironlb_vip_answering",
			Help: "1 when an address this node announces (layer 2) or advertises (BGP) answers on a Service's TCP port through the datapath, 0 when it does not (or another host answers ARP/NDP for it); absent while unchecked.",
		}, []string{"namespace", "service", "ip", "port"}),
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(p.metric); err != nil {
			return nil, fmt.Errorf("reach: register metrics: %w", err)
		}
	}
	return p, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Wake starts a round now (a conflict was found or cleared), or as soon
// as the one under way has finished, unpaced.
func (p *Prober) Wake() {
	for _, c := range []chan struct{}{p.hurry, p.wake} {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// Verdict is the last verdict for svc on ip; false when there is none (the
// address is not announced here, or its ports have not all been judged
// yet: a status would say Unknown for one round, then change again).
func (p *Prober) Verdict(svc types.NamespacedName, ip netip.Addr) (Verdict, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.verdicts[verdictKey{svc, ip}]
	return v, ok && !v.Pending
}

// Run probes until ctx ends. A round starts a period after the one before
// started: with more checks than Interval holds at
// MaxConnectionsPerSecond, rounds follow one another and the check's work
// is even over time, where a paced round followed by a pause as long was
// bursts of work a few seconds' sample of the speaker's CPU saw as noise.
func (p *Prober) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-p.wake:
			timer.Stop()
		}
		select {
		case <-p.hurry: // asked of the round before, or of this one
		default:
		}
		start := time.Now()
		every := p.round(ctx)
		// A little jitter keeps nodes' rounds from falling into step on
		// endpoints they share.
		timer.Reset(time.Until(start.Add(every)) + rand.N(every/20+1))
	}
}

// MaxConnectionsPerSecond bounds the check's connections: a round opens
// them one every gap (10 ms), not in one burst, and with more VIP:ports
// than Interval allows at this rate the period grows with them (10,000
// ports: 100 s), so the check stays cheap for the node and its endpoints
// while small clusters keep the 2 s period.
const MaxConnectionsPerSecond = 100

// gap is the time between two connections of a round.
const gap = time.Second / MaxConnectionsPerSecond

// Period is the time from the start of a round of n checks to the start
// of the next.
func Period(every time.Duration, n int) time.Duration {
	return max(every, time.Duration(n)*gap)
}

// minBatch is the shortest sleep between two batches of a round's
// connections: at 100 a second the round wakes every 20 ms to open the two
// that are due, rather than every 10 ms for one.
const minBatch = 20 * time.Millisecond

// round probes every check once, publishes the verdicts and returns the
// period.
func (p *Prober) round(ctx context.Context) time.Duration {
	targets := p.o.Targets()
	ports := map[types.NamespacedName][]corev1.ServicePort{}
	svcs := map[types.NamespacedName]*corev1.Service{}
	for _, t := range targets {
		for _, k := range t.Services {
			if _, done := svcs[k]; done {
				continue
			}
			if s, ok := p.o.Service(k); ok {
				svcs[k], ports[k] = s, s.Spec.Ports
			}
		}
	}
	for i := range targets {
		for _, k := range targets[i].Services {
			if s := svcs[k]; s != nil {
				if why := SkipReason(s, targets[i].IP); why != "" {
					if targets[i].Skip == nil {
						targets[i].Skip = map[types.NamespacedName]string{}
					}
					targets[i].Skip[k] = why
				}
			}
		}
	}
	checks := Checks(targets, ports)
	period := Period(p.o.Interval, len(checks))
	outcomes := p.probe(ctx, checks, gap)
	if ctx.Err() != nil {
		return period
	}

	p.mu.Lock()
	results := make(map[netip.AddrPort]PortResult, len(checks))
	for i, c := range checks {
		results[c] = p.results[c].Record(outcomes[i])
	}
	p.results = results
	verdicts := map[verdictKey]Verdict{}
	for _, t := range targets {
		for _, k := range t.Services {
			if s := svcs[k]; s != nil {
				verdicts[verdictKey{k, t.IP}] = Judge(t.IP, t.Conflict, s.Spec.Ports, t.Skip[k], results, p.o.Threshold)
			}
		}
	}
	old := p.verdicts
	p.verdicts = verdicts
	p.mu.Unlock()

	changed := false
	for k, v := range verdicts {
		before, had := old[k]
		if had && before.Status == v.Status && before.Message == v.Message {
			continue
		}
		changed = true
		p.report(k, svcs[k.svc], before, had, v)
	}
	for k, before := range old {
		if _, ok := verdicts[k]; !ok {
			changed = true
			p.forget(k, before)
		}
	}
	if changed && p.o.Changed != nil {
		p.o.Changed()
	}
	return period
}

// probe connects to every check, the i-th at i×every after the start
// (all that are left at once when a Wake hurries it), with Concurrency
// workers, and returns each one's error (nil: it answered). The workers
// live for the round: a goroutine per connection grew a fresh stack for
// each of them.
func (p *Prober) probe(ctx context.Context, checks []netip.AddrPort, every time.Duration) []error {
	out := make([]error, len(checks))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(p.o.Concurrency, len(checks)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				cctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
				out[i] = p.o.Dial(cctx, checks[i])
				cancel()
			}
		}()
	}
	defer func() {
		close(next)
		wg.Wait()
	}()
	start, hurried := time.Now(), false
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for i := range checks {
		if wait := time.Until(start.Add(time.Duration(i) * every)); wait > 0 && !hurried {
			timer.Reset(max(wait, minBatch))
			select {
			case <-ctx.Done():
			case <-timer.C:
			case <-p.hurry:
				hurried = true
			}
		}
		select {
		case <-ctx.Done():
			return out // the round's results are dropped
		case next <- i:
		}
	}
	return out
}

// report updates the metric, logs and sends an event when a verdict
// changes between answering and not.
func (p *Prober) report(k verdictKey, svc *corev1.Service, before Verdict, had bool, v Verdict) {
	p.setMetric(k, before, v)
	switch {
	case v.Status == "False":
		p.log.Warn("address does not answer", "service", k.svc.String(), "ip", k.ip, "reason", v.Reason, "message", v.Message)
		p.event(svc, corev1.EventTypeWarning, EventNotAnswering, v.Message)
	case v.Status == "True" && had && before.Status == "False":
		p.log.Info("address answers again", "service", k.svc.String(), "ip", k.ip)
		p.event(svc, corev1.EventTypeNormal, EventAnswering, v.Message)
	}
}

func (p *Prober) event(svc *corev1.Service, typ, reason, msg string) {
	if p.o.Recorder != nil && svc != nil {
		p.o.Recorder.Event(svc, typ, reason, msg)
	}
}

func (p *Prober) setMetric(k verdictKey, before, v Verdict) {
	for port := range before.Ports {
		if _, ok := v.Ports[port]; !ok {
			p.metric.DeleteLabelValues(k.svc.Namespace, k.svc.Name, k.ip.String(), port)
		}
	}
	for port, val := range v.Ports {
		p.metric.WithLabelValues(k.svc.Namespace, k.svc.Name, k.ip.String(), port).Set(val)
	}
}

// forget drops what was reported about an address no longer announced here.
func (p *Prober) forget(k verdictKey, before Verdict) {
	for port := range before.Ports {
		p.metric.DeleteLabelValues(k.svc.Namespace, k.svc.Name, k.ip.String(), port)
	}
}

// DialTCP opens and closes one TCP connection: the default Dial.
func DialTCP(ctx context.Context, addr netip.AddrPort) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return err
	}
	return c.Close()
}
