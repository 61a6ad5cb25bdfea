package bgp

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// collector computes the metrics from GoBGP's state at scrape time, so
// they are never stale and cost nothing between scrapes.
type collector struct {
	s                                   *Speaker
	sessionUp, prefixes, updates, bfdUp *prometheus.Desc

	mu sync.Mutex
	// GoBGP's UPDATE counter restarts with a re-created session; the
	// counter metric adds up what each incarnation sent.
	lastSeen map[string]uint64
	total    map[string]uint64
}

func newCollector(s *Speaker) *collector {
	peer := []string{"peer"}
	return &collector{
		s:         s,
		sessionUp: prometheus.NewDesc("ironlb_bgp_session_up", "1 if the BGP session with the peer is Established.", peer, nil),
		prefixes:  prometheus.NewDesc("ironlb_bgp_prefixes_advertised", "Prefixes advertised to the peer on the current session.", peer, nil),
		updates:   prometheus.NewDesc("ironlb_bgp_updates_sent_total", "BGP UPDATE messages sent to the peer.", peer, nil),
		bfdUp:     prometheus.NewDesc("ironlb_bgp_bfd_up", "1 if the BFD session with the peer is up (peers with BFD only).", peer, nil),
		lastSeen:  map[string]uint64{},
		total:     map[string]uint64{},
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.sessionUp
	ch <- c.prefixes
	ch <- c.updates
	ch <- c.bfdUp
}

// collectTimeout bounds a scrape's wait for GoBGP.
const collectTimeout = 5 * time.Second

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	snaps := c.s.snapshot(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, sn := range snaps {
		up := 0.0
		if sn.State == StateEstablished {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(c.sessionUp, prometheus.GaugeValue, up, sn.Name)
		ch <- prometheus.MustNewConstMetric(c.prefixes, prometheus.GaugeValue, float64(sn.PrefixesAdvertised), sn.Name)
		seen := c.lastSeen[sn.Name]
		if sn.updatesSent >= seen {
			c.total[sn.Name] += sn.updatesSent - seen
		} else {
			c.total[sn.Name] += sn.updatesSent
		}
		c.lastSeen[sn.Name] = sn.updatesSent
		ch <- prometheus.MustNewConstMetric(c.updates, prometheus.CounterValue, float64(c.total[sn.Name]), sn.Name)
		if sn.hasBFD {
			bfd := 0.0
			if sn.BFD == BFDUp {
				bfd = 1
			}
			ch <- prometheus.MustNewConstMetric(c.bfdUp, prometheus.GaugeValue, bfd, sn.Name)
		}
	}
}
