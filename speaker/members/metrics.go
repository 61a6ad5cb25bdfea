package members

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	alive       prometheus.Gauge
	sent        *prometheus.CounterVec // type
	sendErrors  prometheus.Counter
	received    *prometheus.CounterVec // type
	rejected    *prometheus.CounterVec // reason
	transitions *prometheus.CounterVec // to
	refutations prometheus.Counter
	detection   prometheus.Histogram
	rtt         prometheus.Histogram
	keys        prometheus.Gauge
	signingKey  *prometheus.GaugeVec // fingerprint
}

// setKeys publishes the keyring in force: how many keys are accepted, and
// a fingerprint of the signing key (a truncated hash of a key derived for
// this purpose alone), so an operator can check that every speaker took a
// rotation step before the next one.
func (m *metrics) setKeys(k *keyring) {
	m.keys.Set(float64(len(k.derived)))
	m.signingKey.Reset()
	m.signingKey.WithLabelValues(k.fingerprint).Set(1)
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		alive: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ironlb_members_alive",
			Help: "Members this node sees alive, itself included (0 before the first view).",
		}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ironlb_members_heartbeats_sent_total",
			Help: "Liveness packets sent, by type (ping, ack, gossip).",
		}, []string{"type"}),
		sendErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ironlb_members_send_errors_total",
			Help: "Liveness packets the socket refused to send.",
		}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ironlb_members_heartbeats_received_total",
			Help: "Authenticated liveness packets received, by type.",
		}, []string{"type"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ironlb_members_heartbeats_rejected_total",
			Help: "Packets dropped, by reason: auth (bad HMAC: wrong secret or forged), malformed, replay (old or duplicate), self (our own name).",
		}, []string{"reason"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ironlb_members_transitions_total",
			Help: "Changes of a peer's state in this node's view, by new state.",
		}, []string{"to"}),
		refutations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ironlb_members_refutations_total",
			Help: "Times this node was declared dead (or cut off) while alive and had to refute.",
		}),
		detection: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ironlb_members_detection_seconds",
			Help:    "When this node declares a peer dead: time since it last heard from it (an upper bound of the detection latency).",
			Buckets: []float64{.1, .15, .2, .25, .275, .3, .35, .4, .5, .75, 1, 2, 5},
		}),
		rtt: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ironlb_members_rtt_seconds",
			Help:    "Round trip of pings to ring neighbours.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14),
		}),
		keys: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ironlb_members_keys",
			Help: "Liveness keys accepted (2 during a key rotation).",
		}),
		signingKey: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ironlb_members_signing_key_info",
			Help: "1 for the fingerprint of the key this node signs liveness packets with.",
		}, []string{"fingerprint"}),
	}
	// Fixed label values exist from the start, so rate() works at once.
	for _, t := range []msgType{typePing, typeAck, typeGossip} {
		m.sent.WithLabelValues(t.String())
		m.received.WithLabelValues(t.String())
	}
	for _, r := range []string{"auth", "malformed", "replay", "self"} {
		m.rejected.WithLabelValues(r)
	}
	for _, s := range []status{statusAlive, statusDead, statusLeft} {
		m.transitions.WithLabelValues(s.String())
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.alive, m.sent, m.sendErrors, m.received, m.rejected, m.transitions, m.refutations, m.detection, m.rtt, m.keys, m.signingKey} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("members: Options.Registerer: metrics already registered (one Members per registry): %w", err)
			}
			return nil, fmt.Errorf("members: Options.Registerer: %w", err)
		}
	}
	return m, nil
}
