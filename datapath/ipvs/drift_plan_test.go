package ipvs

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/ironlb/ironlb/datapath"
)

func TestPlanDrift(t *testing.T) {
	vip := netip.MustParseAddr("203.0.113.10")
	vip2 := netip.MustParseAddr("203.0.113.11")
	k1 := datapath.ServiceKey{VIP: vip, Port: 80, Protocol: datapath.TCP}
	k2 := datapath.ServiceKey{VIP: vip2, Port: 53, Protocol: datapath.UDP}
	rr := kService{sched: "rr", netmask: 0xffffffff}
	be1, be2 := netip.MustParseAddrPort("192.0.2.1:8080"), netip.MustParseAddrPort("192.0.2.2:8080")
	withDests := kService{sched: "rr", netmask: 0xffffffff, dests: map[netip.AddrPort]kDest{be1: {weight: 1}, be2: {weight: 1}}}
	believed := map[datapath.ServiceKey]*kService{k1: &withDests, k2: &rr}
	wantVIPs := map[netip.Addr]bool{vip: true, vip2: true}
	inLine := func() observed {
		return observed{link: true, nft: true, vips: map[netip.Addr]bool{vip: true, vip2: true},
			services: map[datapath.ServiceKey]kService{k1: rr, k2: rr}}
	}
	for _, tc := range []struct {
		name  string
		drift func(*observed)
		want  driftRepair
	}{
		{"in line", func(*observed) {}, driftRepair{}},
		{"service deleted", func(o *observed) { delete(o.services, k2) }, driftRepair{services: []datapath.ServiceKey{k2}}},
		{"every service deleted (ipvsadm -C)", func(o *observed) { o.services = nil }, driftRepair{services: []datapath.ServiceKey{k1, k2}}},
		{"scheduler changed", func(o *observed) { o.services[k1] = kService{sched: "wlc", netmask: 0xffffffff} }, driftRepair{services: []datapath.ServiceKey{k1}}},
		{"owned service added by hand", func(o *observed) {
			o.services[datapath.ServiceKey{VIP: vip, Port: 8080, Protocol: datapath.TCP}] = rr
		}, driftRepair{services: []datapath.ServiceKey{{VIP: vip, Port: 8080, Protocol: datapath.TCP}}}},
		{"VIP address removed", func(o *observed) { delete(o.vips, vip2) }, driftRepair{vips: true}},
		{"interface deleted", func(o *observed) { o.link, o.vips = false, nil }, driftRepair{link: true, vips: true}},
		{"nftables flushed", func(o *observed) { o.nft = false }, driftRepair{nft: true}},
		{"audited destinations in line", func(o *observed) {
			o.dests = map[datapath.ServiceKey]map[netip.AddrPort]kDest{k1: withDests.dests}
		}, driftRepair{}},
		{"real server deleted (ipvsadm -d)", func(o *observed) {
			o.dests = map[datapath.ServiceKey]map[netip.AddrPort]kDest{k1: {be1: {weight: 1}}}
		}, driftRepair{services: []datapath.ServiceKey{k1}}},
		{"weight changed (ipvsadm -e -w)", func(o *observed) {
			o.dests = map[datapath.ServiceKey]map[netip.AddrPort]kDest{k1: {be1: {weight: 1}, be2: {weight: 5}}}
		}, driftRepair{services: []datapath.ServiceKey{k1}}},
		{"real server added by hand", func(o *observed) {
			o.dests = map[datapath.ServiceKey]map[netip.AddrPort]kDest{k2: {be1: {weight: 1}}}
		}, driftRepair{services: []datapath.ServiceKey{k2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := inLine()
			tc.drift(&o)
			got := planDrift(believed, wantVIPs, o)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("planDrift = %+v, want %+v", got, tc.want)
			}
			if got.empty() != reflect.DeepEqual(tc.want, driftRepair{}) {
				t.Fatalf("empty() = %v", got.empty())
			}
		})
	}
}

func TestAuditBatch(t *testing.T) {
	keys := func(n int) []datapath.ServiceKey {
		var out []datapath.ServiceKey
		for i := range n {
			out = append(out, datapath.ServiceKey{VIP: netip.MustParseAddr("203.0.113.1"), Port: uint16(i + 1), Protocol: datapath.TCP})
		}
		return out
	}
	for _, tc := range []struct {
		name            string
		n, next         int
		wantLen, wantAt int
	}{
		{"no services", 0, 0, 0, 0},
		{"small node: all at once", 10, 0, 10, 0},
		{"at least auditMin", 100, 0, auditMin, auditMin},
		{"a sixtieth of 10,000", 10000, 0, 167, 167},
		{"the pass ends with the rest", 10000, 9900, 100, 0},
		{"a cursor past a shrunk order starts over", 10, 40, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			order := keys(tc.n)
			got, at := auditBatch(order, tc.next)
			if len(got) != tc.wantLen || at != tc.wantAt {
				t.Fatalf("auditBatch(%d keys, %d) = %d keys, next %d; want %d, %d", tc.n, tc.next, len(got), at, tc.wantLen, tc.wantAt)
			}
			if len(got) > 0 && got[0] != order[tc.next] {
				t.Fatalf("batch starts at %v, want %v", got[0], order[tc.next])
			}
		})
	}
	// A whole pass covers every service once, in about auditRounds checks.
	order := keys(10000)
	seen := map[datapath.ServiceKey]int{}
	next, checks := 0, 0
	for {
		batch, at := auditBatch(order, next)
		checks++
		for _, k := range batch {
			seen[k]++
		}
		if next = at; next == 0 {
			break
		}
	}
	if len(seen) != len(order) || checks > auditRounds {
		t.Fatalf("a pass audited %d of %d services in %d checks", len(seen), len(order), checks)
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("%v audited %d times in a pass", k, n)
		}
	}
}
