package frr

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Route is one prefix of bgpd's RIB with every path FRR knows for it.
type Route struct {
	Prefix netip.Prefix
	Paths  []Path
}

// Path is one path of a route, as "show bgp <family> unicast json" shows
// it.
type Path struct {
	// Peer is the neighbor the path came from ("peerId").
	Peer netip.Addr
	// NextHop is the BGP next hop: the global address (IPv6 paths also
	// carry a link-local one, which LinkLocal holds).
	NextHop, LinkLocal netip.Addr
	// Valid, Best and Multipath: the path is usable, is the best path,
	// and is one of the equal-cost paths installed with the best one.
	Valid, Best, Multipath bool
	// Stale: kept during a peer's graceful restart.
	Stale bool
	// ASPath is the AS path as FRR prints it ("" for iBGP routes).
	ASPath string
	// LocalPref is the LOCAL_PREF attribute when HasLocalPref.
	LocalPref    uint32
	HasLocalPref bool
	// Communities ("64500:100", "no-export") and LargeCommunities
	// ("64500:1:2") as FRR prints them, sorted. Only Route fills them.
	Communities, LargeCommunities []string
}

// Selected reports whether FRR forwards over this path: valid and either
// the best path or one of its multipaths.
func (p Path) Selected() bool { return p.Valid && (p.Best || p.Multipath) }

// NextHops returns the sorted, distinct next hops of the selected paths:
// the ECMP set FRR forwards the prefix to.
func (r Route) NextHops() []netip.Addr {
	var out []netip.Addr
	for _, p := range r.Paths {
		if p.Selected() && !slices.Contains(out, p.NextHop) {
			out = append(out, p.NextHop)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// PathVia returns the path whose next hop is nh.
func (r Route) PathVia(nh netip.Addr) (Path, bool) {
	for _, p := range r.Paths {
		if p.NextHop == nh {
			return p, true
		}
	}
	return Path{}, false
}

// jsonPath is one path in FRR's JSON.
type jsonPath struct {
	Valid     bool    `json:"valid"`
	Bestpath  bool    `json:"bestpath"`
	Multipath bool    `json:"multipath"`
	Stale     bool    `json:"stale"`
	PeerID    string  `json:"peerId"`
	Path      string  `json:"path"`
	LocPrf    *uint32 `json:"locPrf"`
	Community *struct {
		String string `json:"string"`
	} `json:"community"`
	LargeCommunity *struct {
		String string `json:"string"`
	} `json:"largeCommunity"`
	Nexthops []struct {
		IP    string `json:"ip"`
		Scope string `json:"scope"`
	} `json:"nexthops"`
}

func (j jsonPath) path() (Path, error) {
	p := Path{Valid: j.Valid, Best: j.Bestpath, Multipath: j.Multipath, Stale: j.Stale, ASPath: j.Path}
	if j.PeerID != "" {
		a, err := netip.ParseAddr(j.PeerID)
		if err != nil {
			return Path{}, fmt.Errorf("peerId: %w", err)
		}
		p.Peer = a
	}
	for _, nh := range j.Nexthops {
		a, err := netip.ParseAddr(nh.IP)
		if err != nil {
			return Path{}, fmt.Errorf("nexthop: %w", err)
		}
		if nh.Scope == "link-local" || a.IsLinkLocalUnicast() {
			p.LinkLocal = a
		} else if !p.NextHop.IsValid() {
			p.NextHop = a
		}
	}
	if j.LocPrf != nil {
		p.LocalPref, p.HasLocalPref = *j.LocPrf, true
	}
	if j.Community != nil {
		p.Communities = sortedFields(j.Community.String)
	}
	if j.LargeCommunity != nil {
		p.LargeCommunities = sortedFields(j.LargeCommunity.String)
	}
	return p, nil
}

func sortedFields(s string) []string {
	f := strings.Fields(s)
	slices.Sort(f)
	return f
}

// parseRoutes decodes the "routes" object of "show bgp <family> unicast
// json": prefix -> paths.
func parseRoutes(routes map[string][]jsonPath) (map[netip.Prefix]Route, error) {
	out := make(map[netip.Prefix]Route, len(routes))
	for k, paths := range routes {
		pfx, err := netip.ParsePrefix(k)
		if err != nil {
			return nil, fmt.Errorf("route %q: %w", k, err)
		}
		r := Route{Prefix: pfx}
		for i, jp := range paths {
			p, err := jp.path()
			if err != nil {
				return nil, fmt.Errorf("route %s path %d: %w", pfx, i, err)
			}
			r.Paths = append(r.Paths, p)
		}
		out[pfx] = r
	}
	return out, nil
}

// parseTable decodes the table form of "show bgp <family> unicast json".
func parseTable(data []byte) (map[netip.Prefix]Route, error) {
	var v struct {
		Routes map[string][]jsonPath `json:"routes"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("decode: %w: %.300s", err, data)
	}
	return parseRoutes(v.Routes)
}

// Routes returns bgpd's RIB for a family, keyed by prefix. FRR's table
// form carries no communities: use Route for those.
func (r *Router) Routes(ctx context.Context, f Family) (map[netip.Prefix]Route, error) {
	if !f.valid() {
		return nil, fmt.Errorf("frr: Routes: family %q is not %q or %q", f, IPv4, IPv6)
	}
	command := fmt.Sprintf("show bgp %s unicast json", f)
	out, err := r.Exec(ctx, BGPD, command)
	if err != nil {
		return nil, err
	}
	routes, err := parseTable(out)
	if err != nil {
		return nil, fmt.Errorf("frr %s: %s: %w", r.Host.Name, command, err)
	}
	return routes, nil
}

// jsonDetailPath is one path in the single-prefix form ("show bgp ipv4
// unicast 203.0.113.1/32 json"), which nests what the table form keeps
// flat.
type jsonDetailPath struct {
	Valid     bool `json:"valid"`
	Multipath bool `json:"multipath"`
	Stale     bool `json:"stale"`
	Bestpath  struct {
		Overall bool `json:"overall"`
	} `json:"bestpath"`
	Aspath struct {
		String string `json:"string"`
		Length int    `json:"length"`
	} `json:"aspath"`
	Peer struct {
		PeerID string `json:"peerId"`
	} `json:"peer"`
	LocPrf         *uint32                      `json:"locPrf"`
	Community      *struct{ String string }     `json:"community"`
	LargeCommunity *struct{ String string }     `json:"largeCommunity"`
	Nexthops       []struct{ IP, Scope string } `json:"nexthops"`
}

func (d jsonDetailPath) flat() jsonPath {
	j := jsonPath{
		Valid: d.Valid, Bestpath: d.Bestpath.Overall, Multipath: d.Multipath, Stale: d.Stale,
		PeerID: d.Peer.PeerID, Path: d.Aspath.String, LocPrf: d.LocPrf,
	}
	// The table form prints an empty AS path as "", this one as "Local".
	if d.Aspath.Length == 0 {
		j.Path = ""
	}
	if d.Community != nil {
		j.Community = &struct {
			String string `json:"string"`
		}{d.Community.String}
	}
	if d.LargeCommunity != nil {
		j.LargeCommunity = &struct {
			String string `json:"string"`
		}{d.LargeCommunity.String}
	}
	for _, nh := range d.Nexthops {
		j.Nexthops = append(j.Nexthops, struct {
			IP    string `json:"ip"`
			Scope string `json:"scope"`
		}{nh.IP, nh.Scope})
	}
	return j
}

// Route returns bgpd's entry for exactly this prefix; ok is false when FRR
// has no path for it. It asks for the one prefix only, which stays cheap
// however large the table is, and unlike Routes it shows communities.
func (r *Router) Route(ctx context.Context, prefix netip.Prefix) (route Route, ok bool, err error) {
	if !prefix.IsValid() {
		return Route{}, false, fmt.Errorf("frr: Route: invalid prefix")
	}
	prefix = prefix.Masked()
	command := fmt.Sprintf("show bgp %s unicast %s json", familyOf(prefix.Addr()), prefix)
	out, err := r.Exec(ctx, BGPD, command)
	if err != nil {
		return Route{}, false, err
	}
	route, ok, err = parseRoute(out, prefix)
	if err != nil {
		return Route{}, false, fmt.Errorf("frr %s: %s: %w", r.Host.Name, command, err)
	}
	return route, ok, nil
}

// parseRoute decodes the single-prefix form.
func parseRoute(data []byte, prefix netip.Prefix) (Route, bool, error) {
	var v struct {
		Prefix string           `json:"prefix"`
		Paths  []jsonDetailPath `json:"paths"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return Route{}, false, fmt.Errorf("decode: %w: %.300s", err, data)
	}
	if v.Prefix == "" || len(v.Paths) == 0 {
		return Route{}, false, nil
	}
	flat := make([]jsonPath, len(v.Paths))
	for i, p := range v.Paths {
		flat[i] = p.flat()
	}
	routes, err := parseRoutes(map[string][]jsonPath{prefix.String(): flat})
	if err != nil {
		return Route{}, false, err
	}
	return routes[prefix], true, nil
}
