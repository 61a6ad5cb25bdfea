package layer2

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// proto names the two protocols in metric labels and logs.
type proto uint8

const (
	protoARP proto = iota
	protoNDP
)

func (p proto) String() string {
	if p == protoNDP {
		return "ndp"
	}
	return "arp"
}

type metrics struct {
	announced  prometheus.Gauge
	requests   *prometheus.CounterVec
	replies    *prometheus.CounterVec
	gratuitous *prometheus.CounterVec
	probes     *prometheus.CounterVec
	conflicts  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		announced: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ironlb_l2_announced_ips",
			Help: "IPs this node answers ARP or NDP for on at least one interface.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ironlb_l2_requests_received_total",
			Help: "ARP requests and neighbour solicitations received for an IP claimed on the receiving interface.",
		}, []string{"proto"}),
		replies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ironlb_l2_replies_sent_total",
			Help: "ARP replies and solicited neighbour advertisements sent.",
		}, []string{"proto"}),
		gratuitous: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ironlb_l2_gratuitous_sent_total",
			Help: "Gratuitous ARP frames and unsolicited neighbour advertisements sent.",
		}, []string{"proto"}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ironlb_l2_probes_sent_total",
			Help: "ARP probes and duplicate address detection solicitations sent.",
		}, []string{"proto"}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ironlb_l2_conflicts_total",
			Help: "Conflicts found: another host claimed an IP this node claims.",
		}),
	}
	for _, p := range []proto{protoARP, protoNDP} {
		for _, v := range []*prometheus.CounterVec{m.requests, m.replies, m.gratuitous, m.probes} {
			v.WithLabelValues(p.String())
		}
	}
	if reg == nil {
		return m, nil
	}
	var done []prometheus.Collector
	for _, c := range []prometheus.Collector{m.announced, m.requests, m.replies, m.gratuitous, m.probes, m.conflicts} {
		if err := reg.Register(c); err != nil {
			// All or nothing, so that a retry with another registry or
			// after fixing a name clash starts clean.
			for _, d := range done {
				reg.Unregister(d)
			}
			return nil, fmt.Errorf("layer2: register metrics: %w", err)
		}
		done = append(done, c)
	}
	return m, nil
}
