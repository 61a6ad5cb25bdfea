package bgp

import (
	"context"
	"errors"
	"fmt"
	"math"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
)

// Link bandwidth through the per-peer VRFs.
//
// GoBGP 4.8.0 turns a VRF's VPN path into the unicast path a VRF-bound
// peer gets with Path.ToLocal, which deletes the whole extended
// communities attribute (internal/pkg/table/path.go, the
// delPathAttr(BGP_ATTR_TYPE_EXTENDED_COMMUNITIES) in ToLocal), so a link
// bandwidth community put on the path never leaves the speaker. The
// global export policy runs after ToLocal (server.go, filterpath), and
// large communities survive it. So a route with link bandwidth carries a
// marker large community instead, lbMarkerASN:<AS>:<bytes/s>, and one
// export policy per distinct (AS, bandwidth) in use replaces the marker
// by the link bandwidth extended community "lb:<AS>:<bytes/s>".
//
// GoBGP encodes that community as non-transitive (type 0x40, subtype
// 0x04), the form of draft-ietf-idr-link-bandwidth; FRR's bgp bestpath
// bandwidth reads both 0x00 and 0x40, and GoBGP does not strip
// non-transitive communities towards eBGP peers.
//
// The policies are few (one per distinct endpoint count and local AS,
// whatever the number of Services and peers) and change only when a
// value comes into or goes out of use: a policy exists before the first
// path carrying its marker is added, and goes once no path does
// (reference counts, lbRefs).

// lbMarkerASN is the marker's global administrator: AS 4294967295 is
// reserved (RFC 7300) and so never stands for a real network.
const lbMarkerASN = 4294967295

// lbKey is one distinct link bandwidth value: the community's AS (the
// session's own, or AS_TRANS) and the bandwidth in bytes per second.
type lbKey struct {
	as uint16
	bw uint32
}

// lbKeyOf is the value a route's attributes carry, if any.
func lbKeyOf(a attrs) (lbKey, bool) {
	if a.bandwidth <= 0 {
		return lbKey{}, false
	}
	// The policy's "lb:<AS>:<value>" takes a 32-bit whole number: about
	// 34 Gbit/s, 34000 endpoints at 1 Mbit/s each; more is capped.
	return lbKey{as: a.bandwidthAS, bw: uint32(min(float64(a.bandwidth), math.MaxUint32))}, true
}

// marker is the large community that stands for k on the VRF path.
func (k lbKey) marker() *bgp.LargeCommunity {
	return bgp.NewLargeCommunity(lbMarkerASN, uint32(k.as), k.bw)
}

// name names the defined set, statement and policy of k.
func (k lbKey) name() string { return fmt.Sprintf("ironlb-lb-%d-%d", k.as, k.bw) }

// apiPolicy is k's export policy: a path carrying k's marker loses it and
// gets the link bandwidth community; the route is neither accepted nor
// rejected here, so the next policy and the default (accept) decide.
func (k lbKey) apiPolicy() (*api.DefinedSet, *api.Policy) {
	exact := fmt.Sprintf("^%d:%d:%d$", uint32(lbMarkerASN), k.as, k.bw)
	set := &api.DefinedSet{DefinedType: api.DefinedType_DEFINED_TYPE_LARGE_COMMUNITY, Name: k.name(), List: []string{exact}}
	st := &api.Statement{
		Name:       k.name(),
		Conditions: &api.Conditions{LargeCommunitySet: &api.MatchSet{Type: api.MatchSet_TYPE_ANY, Name: k.name()}},
		Actions: &api.Actions{
			ExtCommunity:   &api.CommunityAction{Type: api.CommunityAction_TYPE_ADD, Communities: []string{fmt.Sprintf("lb:%d:%d", k.as, k.bw)}},
			LargeCommunity: &api.CommunityAction{Type: api.CommunityAction_TYPE_REMOVE, Communities: []string{exact}},
		},
	}
	return set, &api.Policy{Name: k.name(), Statements: []*api.Statement{st}}
}

// lbRefs counts, per value, the paths in GoBGP that carry its marker.
type lbRefs map[lbKey]int

// add counts a path with attributes a; it reports a value new to GoBGP.
func (r lbRefs) add(a attrs) (lbKey, bool) {
	k, ok := lbKeyOf(a)
	if !ok {
		return k, false
	}
	r[k]++
	return k, r[k] == 1
}

// drop uncounts a path with attributes a; it reports a value no path
// carries any more.
func (r lbRefs) drop(a attrs) (lbKey, bool) {
	k, ok := lbKeyOf(a)
	if !ok || r[k] == 0 {
		return k, false
	}
	r[k]--
	if r[k] > 0 {
		return k, false
	}
	delete(r, k)
	return k, true
}

// addLinkBandwidthPolicy installs k's policy in the global export chain.
func addLinkBandwidthPolicy(ctx context.Context, srv *server.BgpServer, k lbKey) error {
	set, pol := k.apiPolicy()
	if err := srv.AddDefinedSet(ctx, &api.AddDefinedSetRequest{DefinedSet: set, Replace: true}); err != nil {
		return fmt.Errorf("bgp: link bandwidth %s: add large community set: %w", k.name(), err)
	}
	if err := srv.AddPolicy(ctx, &api.AddPolicyRequest{Policy: pol}); err != nil {
		return fmt.Errorf("bgp: link bandwidth %s: add policy: %w", k.name(), err)
	}
	err := srv.AddPolicyAssignment(ctx, &api.AddPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
		Name:          "global",
		Direction:     api.PolicyDirection_POLICY_DIRECTION_EXPORT,
		Policies:      []*api.Policy{{Name: k.name()}},
		DefaultAction: api.RouteAction_ROUTE_ACTION_ACCEPT,
	}})
	if err != nil {
		return fmt.Errorf("bgp: link bandwidth %s: assign export policy: %w", k.name(), err)
	}
	return nil
}

// deleteLinkBandwidthPolicy removes k's policy once no path needs it.
func deleteLinkBandwidthPolicy(ctx context.Context, srv *server.BgpServer, k lbKey) error {
	set, _ := k.apiPolicy()
	err := srv.DeletePolicyAssignment(ctx, &api.DeletePolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
		Name:      "global",
		Direction: api.PolicyDirection_POLICY_DIRECTION_EXPORT,
		Policies:  []*api.Policy{{Name: k.name()}},
	}})
	return errors.Join(
		wrapErr(err, "bgp: link bandwidth %s: unassign export policy", k.name()),
		wrapErr(srv.DeletePolicy(ctx, &api.DeletePolicyRequest{Policy: &api.Policy{Name: k.name()}, All: true}),
			"bgp: link bandwidth %s: delete policy", k.name()),
		wrapErr(srv.DeleteDefinedSet(ctx, &api.DeleteDefinedSetRequest{DefinedSet: set, All: true}),
			"bgp: link bandwidth %s: delete large community set", k.name()),
	)
}

// wrapErr adds context to a non-nil error.
func wrapErr(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// ensureLinkBandwidth installs the export policy of a's link bandwidth
// value, if it has one and GoBGP lacks it.
func (s *Speaker) ensureLinkBandwidth(ctx context.Context, a attrs) error {
	k, ok := lbKeyOf(a)
	if !ok || s.lbInstalled[k] {
		return nil
	}
	if err := addLinkBandwidthPolicy(ctx, s.srv, k); err != nil {
		return err
	}
	s.lbInstalled[k] = true
	s.log.Debug("BGP link bandwidth policy added", "policy", k.name())
	return nil
}

// pruneLinkBandwidth removes the policies of the values among keys that
// no path in GoBGP carries any more.
func (s *Speaker) pruneLinkBandwidth(ctx context.Context, keys []lbKey) error {
	var errs []error
	for _, k := range keys {
		if s.lb[k] > 0 || !s.lbInstalled[k] {
			continue
		}
		if err := deleteLinkBandwidthPolicy(ctx, s.srv, k); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(s.lbInstalled, k)
		s.log.Debug("BGP link bandwidth policy deleted", "policy", k.name())
	}
	return errors.Join(errs...)
}

// recountLinkBandwidth counts the values again from the peers' tables
// and removes the policies no path needs: a full reconcile already costs
// every route, and this repairs counts left behind by any failure on the
// way (every VRF is dropped through deleteVRF).
func (s *Speaker) recountLinkBandwidth(ctx context.Context) error {
	clear(s.lb)
	for _, ap := range s.applied {
		for _, a := range ap.routes {
			s.lb.add(a)
		}
	}
	unused := make([]lbKey, 0, len(s.lbInstalled))
	for k := range s.lbInstalled {
		unused = append(unused, k)
	}
	return s.pruneLinkBandwidth(ctx, unused)
}
