package bgp

import (
	"context"
	"math"
	"net/netip"
	"slices"
	"testing"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
)

func TestLBRefs(t *testing.T) {
	one := attrs{bandwidth: 125000, bandwidthAS: 64512}
	two := attrs{bandwidth: 250000, bandwidthAS: 64512}
	otherAS := attrs{bandwidth: 125000, bandwidthAS: 23456}
	r := lbRefs{}
	steps := []struct {
		op        string
		a         attrs
		key       lbKey
		firstLast bool // add: new to GoBGP; drop: out of use
	}{
		{"add", attrs{}, lbKey{}, false}, // no bandwidth: nothing counted
		{"add", one, lbKey{64512, 125000}, true},
		{"add", one, lbKey{64512, 125000}, false},
		{"add", otherAS, lbKey{23456, 125000}, true},
		{"add", two, lbKey{64512, 250000}, true},
		{"drop", one, lbKey{64512, 125000}, false},
		{"drop", one, lbKey{64512, 125000}, true},
		{"drop", one, lbKey{64512, 125000}, false}, // already gone
		{"drop", attrs{}, lbKey{}, false},
	}
	for i, s := range steps {
		var (
			k  lbKey
			fl bool
		)
		if s.op == "add" {
			k, fl = r.add(s.a)
		} else {
			k, fl = r.drop(s.a)
		}
		if k != s.key || fl != s.firstLast {
			t.Fatalf("step %d %s %+v: (%+v, %v), want (%+v, %v)", i, s.op, s.a, k, fl, s.key, s.firstLast)
		}
	}
	if k, _ := lbKeyOf(attrs{bandwidth: 1e12, bandwidthAS: 1}); k.bw != math.MaxUint32 {
		t.Errorf("bandwidth 1e12 gives %d, want it capped at %d", k.bw, uint32(math.MaxUint32))
	}
	if want := (lbRefs{{23456, 125000}: 1, {64512, 250000}: 1}); len(r) != len(want) || r[lbKey{23456, 125000}] != 1 || r[lbKey{64512, 250000}] != 1 {
		t.Errorf("refs %v, want %v", r, want)
	}
}

func TestAPIPathLinkBandwidthMarker(t *testing.T) {
	a := attrs{large: [][3]uint32{{1, 2, 3}}, bandwidth: 375000, bandwidthAS: 64512}
	p, err := apiPath(mustPrefix("203.0.113.1/32"), a, false)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, attr := range p.Attrs {
		switch x := attr.(type) {
		case *bgp.PathAttributeLargeCommunities:
			for _, v := range x.Values {
				got = append(got, v.String())
			}
		case *bgp.PathAttributeExtendedCommunities:
			t.Errorf("extended communities %v on the VRF path: GoBGP would drop them", x)
		}
	}
	if want := []string{"1:2:3", "4294967295:64512:375000"}; !slices.Equal(got, want) {
		t.Errorf("large communities %v, want %v", got, want)
	}
}

// TestLinkBandwidthPolicyInGoBGP installs and removes the policies in a
// real GoBGP server (no sessions): GoBGP accepts them, chains them in the
// global export assignment with the default accept, and removing one
// leaves the other.
func TestLinkBandwidthPolicyInGoBGP(t *testing.T) {
	ctx := context.Background()
	srv := server.NewBgpServer()
	go srv.Serve()
	defer srv.Stop()
	if err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{Asn: placeholderASN, RouterId: "192.0.2.1", ListenPort: -1}}); err != nil {
		t.Fatal(err)
	}
	one, two := lbKey{64512, 125000}, lbKey{64512, 250000}
	for _, k := range []lbKey{one, two} {
		if err := addLinkBandwidthPolicy(ctx, srv, k); err != nil {
			t.Fatal(err)
		}
	}
	assigned := func() ([]string, api.RouteAction) {
		var (
			names []string
			def   api.RouteAction
		)
		err := srv.ListPolicyAssignment(ctx, &api.ListPolicyAssignmentRequest{Name: "global", Direction: api.PolicyDirection_POLICY_DIRECTION_EXPORT}, func(a *api.PolicyAssignment) {
			def = a.DefaultAction
			for _, p := range a.Policies {
				names = append(names, p.Name)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		return names, def
	}
	if names, def := assigned(); !slices.Equal(names, []string{one.name(), two.name()}) || def != api.RouteAction_ROUTE_ACTION_ACCEPT {
		t.Fatalf("export assignment %v (default %v), want both policies, default accept", names, def)
	}
	var actions []string
	if err := srv.ListPolicy(ctx, &api.ListPolicyRequest{Name: two.name()}, func(p *api.Policy) {
		for _, st := range p.Statements {
			actions = append(actions, st.Actions.ExtCommunity.Communities...)
			actions = append(actions, st.Actions.LargeCommunity.Communities...)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"lb:64512:250000", "^4294967295:64512:250000$"}; !slices.Equal(actions, want) {
		t.Errorf("policy %s actions %v, want %v", two.name(), actions, want)
	}

	if err := deleteLinkBandwidthPolicy(ctx, srv, one); err != nil {
		t.Fatal(err)
	}
	if names, _ := assigned(); !slices.Equal(names, []string{two.name()}) {
		t.Errorf("export assignment after deleting %s: %v", one.name(), names)
	}
	var sets []string
	if err := srv.ListDefinedSet(ctx, &api.ListDefinedSetRequest{DefinedType: api.DefinedType_DEFINED_TYPE_LARGE_COMMUNITY}, func(d *api.DefinedSet) {
		sets = append(sets, d.Name)
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sets, []string{two.name()}) {
		t.Errorf("large community sets %v, want only %s", sets, two.name())
	}
}

// TestRecountLinkBandwidth: a full reconcile counts the values again from
// the peers' tables, so a count left behind by a VRF dropped elsewhere no
// longer keeps its policy, and a value still in a table keeps its own.
func TestRecountLinkBandwidth(t *testing.T) {
	ctx := context.Background()
	s, err := New(Options{RouterID: netip.MustParseAddr("192.0.2.1")})
	if err != nil {
		t.Fatal(err)
	}
	s.srv = server.NewBgpServer()
	go s.srv.Serve()
	defer s.srv.Stop()
	if err := s.srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{Asn: placeholderASN, RouterId: "192.0.2.1", ListenPort: -1}}); err != nil {
		t.Fatal(err)
	}
	kept := attrs{bandwidth: 125000, bandwidthAS: 64512}
	stale := attrs{bandwidth: 250000, bandwidthAS: 64512}
	for _, a := range []attrs{kept, stale} {
		if err := s.ensureLinkBandwidth(ctx, a); err != nil {
			t.Fatal(err)
		}
		s.lb.add(a)
	}
	// Only kept is in a peer's table: stale's peer went without deleteVRF.
	s.applied["tor"] = &appliedPeer{routes: table{mustPrefix("203.0.113.1/32"): kept}}
	if err := s.recountLinkBandwidth(ctx); err != nil {
		t.Fatal(err)
	}
	k, _ := lbKeyOf(kept)
	if len(s.lbInstalled) != 1 || !s.lbInstalled[k] || len(s.lb) != 1 || s.lb[k] != 1 {
		t.Errorf("installed %v, counts %v: want only %s", s.lbInstalled, s.lb, k.name())
	}
	var names []string
	if err := s.srv.ListPolicy(ctx, &api.ListPolicyRequest{}, func(p *api.Policy) { names = append(names, p.Name) }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{k.name()}) {
		t.Errorf("GoBGP policies %v, want only %s", names, k.name())
	}
}
