package main

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// newDecided is the count of IPs the layer 2 and BGP passes decide again,
// by mode: the speaker's work, which a change of one Service or node keeps
// to the IPs it reaches. Read beside the speaker's CPU time it tells a
// costly change from a busy cluster (e2e/speakerscale reports it per
// change).
func newDecided(reg prometheus.Registerer) (*prometheus.CounterVec, error) {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ironlb_speaker_ips_decided_total",
		Help: "IPs a layer 2 or BGP pass of the speaker decided again, changed or not.",
	}, []string{"mode"})
	for _, m := range []string{modeLayer2, modeBGP} {
		v.WithLabelValues(m)
	}
	if err := reg.Register(v); err != nil {
		return nil, fmt.Errorf("register ironlb_speaker_ips_decided_total: %w", err)
	}
	return v, nil
}

// The mode label's values.
const (
	modeLayer2 = "layer2"
	modeBGP    = "bgp"
)
