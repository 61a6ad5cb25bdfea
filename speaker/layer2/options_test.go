package layer2

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestOptionsDefaults(t *testing.T) {
	o, err := Options{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if o.GratuitousCount != 3 || o.GratuitousInterval != 50*time.Millisecond || o.RefreshInterval != 30*time.Second ||
		o.ProbeCount != 3 || o.ProbeInterval != 15*time.Millisecond || o.ProbeWait != 5*time.Millisecond ||
		o.ConflictRetryInterval != 10*time.Second || o.InterfacePollInterval != time.Second || o.Logger == nil {
		t.Fatalf("defaults: %+v", o)
	}
	// The whole probe must fit the "assigned -> reachable in 100ms" target.
	if worst := o.ProbeWait + time.Duration(o.ProbeCount)*o.ProbeInterval; worst >= 100*time.Millisecond {
		t.Fatalf("default probe takes up to %v", worst)
	}

	o, err = Options{RefreshInterval: -1, ProbeCount: -1, ProbeWait: -1, ConflictRetryInterval: -1}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if o.RefreshInterval != 0 || o.ProbeCount != 0 || o.ProbeWait != 0 || o.ConflictRetryInterval != 0 {
		t.Fatalf("negative values must disable: %+v", o)
	}

	for _, bad := range []struct {
		o     Options
		field string
	}{
		{Options{GratuitousCount: -1}, "GratuitousCount"},
		{Options{GratuitousInterval: -time.Second}, "GratuitousInterval"},
		{Options{ProbeInterval: -time.Second}, "ProbeInterval"},
		{Options{InterfacePollInterval: -time.Second}, "InterfacePollInterval"},
		{Options{ConflictBuffer: -1}, "ConflictBuffer"},
	} {
		_, err := bad.o.withDefaults()
		if err == nil || !strings.Contains(err.Error(), "Options."+bad.field) {
			t.Errorf("%+v: error %v, want one naming Options.%s", bad.o, err, bad.field)
		}
		if _, err := New(bad.o); err == nil {
			t.Errorf("New(%+v) accepted it", bad.o)
		}
	}
}

func TestNewRegistersMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if _, err := New(Options{Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, mf := range mfs {
		got[mf.GetName()] = true
	}
	for _, n := range []string{"ironlb_l2_announced_ips", "ironlb_l2_requests_received_total", "ironlb_l2_replies_sent_total",
		"ironlb_l2_gratuitous_sent_total", "ironlb_l2_conflicts_total", "ironlb_l2_probes_sent_total"} {
		if !got[n] {
			t.Errorf("metric %s not registered (have %v)", n, got)
		}
	}
	// A second Announcer on the same registry fails cleanly and leaves
	// the first one's metrics alone.
	if _, err := New(Options{Registerer: reg}); err == nil || !strings.Contains(err.Error(), "register metrics") {
		t.Fatalf("second registration: %v", err)
	}
	if mfs2, _ := reg.Gather(); len(mfs2) != len(mfs) {
		t.Fatalf("failed registration changed the registry: %d families, was %d", len(mfs2), len(mfs))
	}
}

func TestNormalizeClaims(t *testing.T) {
	mapped := netip.AddrFrom16(vipA.As16()) // ::ffff:203.0.113.10
	got, err := normalizeClaims([]Claim{
		{IP: mapped, Interfaces: []string{"eth1", "eth0", "eth1"}, Probe: true},
		{IP: vip6A, Interfaces: []string{"eth0"}},
		{IP: vipA, Interfaces: []string{"eth2"}},                           // repeats the first
		{IP: netip.Addr{}, Interfaces: []string{"eth0"}},                   // no IP
		{IP: netip.MustParseAddr("ff02::1"), Interfaces: []string{"eth0"}}, // multicast
		{IP: vipP, Interfaces: nil},                                        // no interface
		{IP: vipC, Interfaces: []string{"eth0", "a/b", "waytoolonginterfacename"}},
	})
	if len(got) != 3 {
		t.Fatalf("kept %d claims, want 3: %v", len(got), got)
	}
	if c := got[vipA]; !c.Probe || strings.Join(c.Interfaces, ",") != "eth0,eth1" {
		t.Fatalf("claim for %s = %+v, want unmapped, deduplicated, sorted", vipA, c)
	}
	if c := got[vipC]; strings.Join(c.Interfaces, ",") != "eth0" {
		t.Fatalf("claim for %s = %+v, want only the valid interface", vipC, c)
	}
	for _, want := range []string{"Claim[2].IP", "Claim[3].IP", "Claim[4].IP", "Claim[5].Interfaces", "Claim[6].Interfaces[1]", "Claim[6].Interfaces[2]"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}

func TestFriendlySet(t *testing.T) {
	f := friendlySet(map[string]bool{ourMAC.String(): true}, func() map[string]bool {
		return map[string]bool{"02-00-00-00-00-0C": true, rogueMAC.String(): false}
	})
	for _, c := range []struct {
		mac  net.HardwareAddr
		want bool
	}{{ourMAC, true}, {friendMAC, true}, {rogueMAC, false}, {clientMAC, false}, {nil, false}} {
		if got := f(c.mac); got != c.want {
			t.Errorf("friendly(%v) = %v, want %v", c.mac, got, c.want)
		}
	}
	if friendlySet(nil, nil)(friendMAC) {
		t.Error("no friends configured, yet friendly")
	}
}
