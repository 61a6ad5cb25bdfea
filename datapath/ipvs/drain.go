package ipvs

import (
	"net/netip"
	"time"

	"github.com/ironlb/ironlb/datapath"
)

// drains are the destinations kept at weight 0 after they left the State,
// with when that started.
type drains map[datapath.ServiceKey]map[netip.AddrPort]time.Time

func (d drains) add(k datapath.ServiceKey, a netip.AddrPort, now time.Time) {
	m := d[k]
	if m == nil {
		m = map[netip.AddrPort]time.Time{}
		d[k] = m
	}
	if _, ok := m[a]; !ok {
		m[a] = now
	}
}

func (d drains) remove(k datapath.ServiceKey, a netip.AddrPort) {
	delete(d[k], a)
	if len(d[k]) == 0 {
		delete(d, k)
	}
}

func (d drains) count() int {
	n := 0
	for _, m := range d {
		n += len(m)
	}
	return n
}

// drainDone decides whether a draining destination can be removed: IPVS
// counts no connection to it any more (active, or inactive such as
// TIME_WAIT and unreplied UDP), or it has drained for the whole timeout.
func drainDone(since, now time.Time, timeout time.Duration, conns int) bool {
	return conns == 0 || now.Sub(since) >= timeout
}
