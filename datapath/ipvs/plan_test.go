package ipvs

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/datapath"
)

var (
	vip4  = netip.MustParseAddr("203.0.113.10")
	vip6  = netip.MustParseAddr("2001:db8:f::10")
	podA  = netip.MustParseAddrPort("198.51.100.11:8080")
	podB  = netip.MustParseAddrPort("198.51.100.12:8080")
	podC  = netip.MustParseAddrPort("198.51.100.13:8080")
	tcp80 = datapath.ServiceKey{VIP: vip4, Port: 80, Protocol: datapath.TCP}
	udp53 = datapath.ServiceKey{VIP: vip4, Port: 53, Protocol: datapath.UDP}
)

func ks(dests map[netip.AddrPort]int) *kService {
	s := kService{sched: "rr", dests: map[netip.AddrPort]kDest{}}
	for a, w := range dests {
		s.dests[a] = kDest{weight: w}
	}
	return &s
}

// render turns a plan into comparable text.
func render(p plan) string {
	var parts []string
	for _, o := range p.ops {
		s := o.kind.String()
		if o.dest.IsValid() {
			s += fmt.Sprintf(" %s w=%d", o.dest, o.d.weight)
		}
		if o.kind == opAddService || o.kind == opUpdateService {
			s += " " + o.svc.sched
		}
		parts = append(parts, s)
	}
	for _, a := range p.drain {
		parts = append(parts, "drain "+a.String())
	}
	for _, a := range p.undrain {
		parts = append(parts, "undrain "+a.String())
	}
	for _, a := range p.flush {
		if a.IsValid() {
			parts = append(parts, "flush "+a.String())
		} else {
			parts = append(parts, "flush all")
		}
	}
	return strings.Join(parts, "; ")
}

func TestPlanService(t *testing.T) {
	wlc := ks(map[netip.AddrPort]int{podA: 1})
	wlc.sched = "wlc"
	tests := []struct {
		name       string
		key        datapath.ServiceKey
		have, want *kService
		draining   []netip.AddrPort
		want_      string
	}{
		{name: "nothing", key: tcp80},
		{name: "in sync", key: tcp80, have: ks(map[netip.AddrPort]int{podA: 1}), want: ks(map[netip.AddrPort]int{podA: 1})},
		{
			name: "new service, destinations sorted", key: tcp80,
			want:  ks(map[netip.AddrPort]int{podB: 1, podA: 1}),
			want_: "add service rr; add destination 198.51.100.11:8080 w=1; add destination 198.51.100.12:8080 w=1",
		},
		{
			name: "new UDP service flushes stale flows", key: udp53,
			want:  ks(map[netip.AddrPort]int{podA: 1}),
			want_: "add service rr; add destination 198.51.100.11:8080 w=1; flush all",
		},
		{name: "new UDP service without endpoints: nothing to flush", key: udp53, want: ks(nil), want_: "add service rr"},
		{name: "service removed", key: tcp80, have: ks(map[netip.AddrPort]int{podA: 1}), want_: "delete service"},
		{name: "UDP service removed", key: udp53, have: ks(map[netip.AddrPort]int{podA: 1}), want_: "delete service; flush all"},
		{
			name: "scheduler change", key: tcp80,
			have: ks(map[netip.AddrPort]int{podA: 1}), want: wlc,
			want_: "update service wlc",
		},
		{
			name: "TCP endpoint leaves: drained, not deleted", key: tcp80,
			have:  ks(map[netip.AddrPort]int{podA: 1, podB: 1}),
			want:  ks(map[netip.AddrPort]int{podA: 1}),
			want_: "update destination 198.51.100.12:8080 w=0; drain 198.51.100.12:8080",
		},
		{
			name: "already draining: nothing more", key: tcp80,
			have: ks(map[netip.AddrPort]int{podA: 1, podB: 0}), want: ks(map[netip.AddrPort]int{podA: 1}),
			draining: []netip.AddrPort{podB},
		},
		{
			name: "weight 0 left by a previous instance: drain it", key: tcp80,
			have: ks(map[netip.AddrPort]int{podA: 1, podB: 0}), want: ks(map[netip.AddrPort]int{podA: 1}),
			want_: "drain 198.51.100.12:8080",
		},
		{
			name: "draining endpoint comes back", key: tcp80,
			have: ks(map[netip.AddrPort]int{podA: 1, podB: 0}), want: ks(map[netip.AddrPort]int{podA: 1, podB: 1}),
			draining: []netip.AddrPort{podB},
			want_:    "update destination 198.51.100.12:8080 w=1; undrain 198.51.100.12:8080",
		},
		{
			name: "terminating endpoint in the State: weight 0, not a drain", key: tcp80,
			have: ks(map[netip.AddrPort]int{podA: 1, podB: 1}), want: ks(map[netip.AddrPort]int{podA: 1, podB: 0}),
			want_: "update destination 198.51.100.12:8080 w=0",
		},
		{
			name: "UDP endpoint leaves: deleted at once, its flows flushed", key: udp53,
			have:  ks(map[netip.AddrPort]int{podA: 1, podB: 1}),
			want:  ks(map[netip.AddrPort]int{podA: 1}),
			want_: "delete destination 198.51.100.12:8080 w=0; flush 198.51.100.12:8080",
		},
		{
			name: "UDP service gets its first usable endpoint", key: udp53,
			have: ks(map[netip.AddrPort]int{podA: 0}), want: ks(map[netip.AddrPort]int{podA: 0, podC: 1}),
			want_: "add destination 198.51.100.13:8080 w=1; flush all",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := map[netip.AddrPort]time.Time{}
			for _, a := range tc.draining {
				d[a] = time.Unix(0, 0)
			}
			if got := render(planService(tc.key, tc.have, tc.want, d)); got != tc.want_ {
				t.Errorf("plan:\n got %q\nwant %q", got, tc.want_)
			}
		})
	}
}

// TestPlanConverges applies a plan to the kernel view and plans again: the
// second plan must be empty (what a restart relies on).
func TestPlanConverges(t *testing.T) {
	have := ks(map[netip.AddrPort]int{podA: 1, podB: 1})
	want := ks(map[netip.AddrPort]int{podB: 1, podC: 1})
	want.sched = "mh"
	want.flags = flagSched1
	view := map[datapath.ServiceKey]*kService{tcp80: have}
	p := planService(tcp80, have, want, nil)
	for _, o := range p.ops {
		o.apply(view)
	}
	d := map[netip.AddrPort]time.Time{}
	for _, a := range p.drain {
		d[a] = time.Now()
	}
	if again := planService(tcp80, view[tcp80], want, d); len(again.ops) != 0 || len(again.drain) != 0 {
		t.Errorf("second plan not empty: %s", render(again))
	}
	got := sortedDests(view[tcp80].dests)
	if !slices.Equal(got, []netip.AddrPort{podA, podB, podC}) || view[tcp80].dests[podA].weight != 0 {
		t.Errorf("view after plan: %v", view[tcp80].dests)
	}
	delPlan := planService(tcp80, view[tcp80], nil, d)
	for _, o := range delPlan.ops {
		o.apply(view)
	}
	if _, ok := view[tcp80]; ok {
		t.Error("service still in the view after delete")
	}
}

func TestDrainDone(t *testing.T) {
	start := time.Unix(1000, 0)
	tests := []struct {
		name    string
		elapsed time.Duration
		conns   int
		want    bool
	}{
		{"idle at once", 0, 0, true},
		{"connections left", 10 * time.Second, 3, false},
		{"timeout reached", 30 * time.Second, 3, true},
		{"timeout passed", time.Hour, 1, true},
	}
	for _, tc := range tests {
		if got := drainDone(start, start.Add(tc.elapsed), 30*time.Second, tc.conns); got != tc.want {
			t.Errorf("%s: drainDone = %v, want %v", tc.name, got, tc.want)
		}
	}
	d := drains{}
	d.add(tcp80, podA, start)
	d.add(tcp80, podA, start.Add(time.Hour)) // the first start stays
	d.add(udp53, podB, start)
	if d.count() != 2 || !d[tcp80][podA].Equal(start) {
		t.Fatalf("drains = %v", d)
	}
	d.remove(tcp80, podA)
	if _, ok := d[tcp80]; ok || d.count() != 1 {
		t.Errorf("empty service not forgotten: %v", d)
	}
}
