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
	believed := map[datapath.ServiceKey]*kService{k1: &rr, k2: &rr}
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := inLine()
			tc.drift(&o)
			got := planDrift(believed, wantVIPs, o)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("planDrift = %+v, want %+v", got, tc.want)
			}
			if got.empty() != (tc.name == "in line") {
				t.Fatalf("empty() = %v", got.empty())
			}
		})
	}
}
