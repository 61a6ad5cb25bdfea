package datapath

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

func TestDiff(t *testing.T) {
	k1 := key(vip4, 80, TCP)
	k2 := key(vip4, 53, UDP)
	k3 := key(vip6, 80, TCP)
	a := netip.MustParseAddrPort("192.0.2.18:8080")
	bb := netip.MustParseAddrPort("192.0.2.19:8080")
	c := netip.MustParseAddrPort("192.0.2.20:8080")
	base := vsCluster(bs(b("192.0.2.18:8080", 1, false, true), b("192.0.2.19:8080", 1, false, false)))
	state := func(m map[ServiceKey]VirtualService) State { return State{Services: m} }

	tests := []struct {
		name       string
		have, want State
		out        Changes
	}{
		{"both empty", State{}, State{}, Changes{}},
		{"identical", state(map[ServiceKey]VirtualService{k1: base}), state(map[ServiceKey]VirtualService{k1: vsCluster(bs(b("192.0.2.18:8080", 1, false, true), b("192.0.2.19:8080", 1, false, false)))}), Changes{}},
		{
			"added and removed, sorted",
			state(map[ServiceKey]VirtualService{k3: base}),
			state(map[ServiceKey]VirtualService{k1: base, k2: base}),
			Changes{Added: []ServiceKey{k1, k2}, Removed: []ServiceKey{k3}},
		},
		{
			"backends added, removed, drained",
			state(map[ServiceKey]VirtualService{k1: base}),
			state(map[ServiceKey]VirtualService{k1: vsCluster(bs(b("192.0.2.18:8080", 0, true, true), b("192.0.2.20:8080", 1, false, false)))}),
			Changes{Updated: []ServiceUpdate{{Key: k1, AddedBackends: []netip.AddrPort{c}, RemovedBackends: []netip.AddrPort{bb}, ChangedBackends: []netip.AddrPort{a}}}},
		},
		{
			"attributes only",
			state(map[ServiceKey]VirtualService{k1: base}),
			state(map[ServiceKey]VirtualService{k1: withPersistence(base, time.Hour)}),
			Changes{Updated: []ServiceUpdate{{Key: k1, Attributes: true}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Diff(tc.have, tc.want)
			if !reflect.DeepEqual(got, tc.out) {
				t.Fatalf("Diff:\n got %+v\nwant %+v", got, tc.out)
			}
			if got.Empty() != (len(tc.out.Added)+len(tc.out.Removed)+len(tc.out.Updated) == 0) {
				t.Fatal("Empty disagrees")
			}
			// DiffKeys over every key of both States (some twice) agrees.
			var keys []ServiceKey
			for k := range tc.have.Services {
				keys = append(keys, k, k)
			}
			for k := range tc.want.Services {
				keys = append(keys, k)
			}
			if byKeys := DiffKeys(tc.have, tc.want, keys); !reflect.DeepEqual(byKeys, got) {
				t.Fatalf("DiffKeys:\n got %+v\nwant %+v", byKeys, got)
			}
			// Applying the changes turns a copy of have into want.
			applied := State{Services: map[ServiceKey]VirtualService{}}
			for k, v := range tc.have.Services {
				applied.Services[k] = v
			}
			got.ApplyTo(&applied, tc.want)
			if !Diff(applied, tc.want).Empty() || len(applied.Services) != len(tc.want.Services) {
				t.Fatalf("ApplyTo left %+v, want %+v", applied.Services, tc.want.Services)
			}
		})
	}
}

func TestDiffKeysLooksOnlyAtKeys(t *testing.T) {
	k1, k2, k3 := key(vip4, 80, TCP), key(vip4, 53, UDP), key(vip6, 80, TCP)
	base := vsCluster(bs(b("192.0.2.18:8080", 1, false, true)))
	other := vsCluster(bs(b("192.0.2.19:8080", 1, false, true)))
	have := State{Services: map[ServiceKey]VirtualService{k1: base, k2: base}}
	want := State{Services: map[ServiceKey]VirtualService{k1: other, k3: base}}
	tests := []struct {
		name string
		keys []ServiceKey
		out  Changes
	}{
		{"none", nil, Changes{}},
		{"updated only", []ServiceKey{k1}, Changes{Updated: []ServiceUpdate{{Key: k1,
			AddedBackends:   []netip.AddrPort{netip.MustParseAddrPort("192.0.2.19:8080")},
			RemovedBackends: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.18:8080")}}}}},
		{"removed and added", []ServiceKey{k3, k2}, Changes{Added: []ServiceKey{k3}, Removed: []ServiceKey{k2}}},
		{"unknown key", []ServiceKey{key(vip6, 443, TCP)}, Changes{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := DiffKeys(have, want, tc.keys); !reflect.DeepEqual(got, tc.out) {
				t.Fatalf("got %+v\nwant %+v", got, tc.out)
			}
		})
	}
}

func BenchmarkDiff10k(b *testing.B) {
	st := State{Services: map[ServiceKey]VirtualService{}}
	for i := 0; i < 10000; i++ {
		k := ServiceKey{VIP: netip.AddrFrom4([4]byte{203, 0, 113, byte(i % 250)}), Port: uint16(1000 + i/250), Protocol: TCP}
		bk := map[netip.AddrPort]Backend{}
		for j := 0; j < 10; j++ {
			bk[netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(j)}), uint16(i))] = Backend{Weight: 1}
		}
		st.Services[k] = VirtualService{Scheduler: RoundRobin, Backends: bk}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !Diff(st, st).Empty() {
			b.Fatal("not empty")
		}
	}
}
