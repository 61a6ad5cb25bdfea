// Package drain decides the progress of `ironlbctl drain NODE`: the node
// is labelled l2plan.LabelDrain=true, every speaker then treats it as not
// usable (layer 2 elections move its IPs, BGP withdraws its routes), and
// drain waits until the published state shows nothing left on it. Pure:
// functions of the ServiceL2Status and BGPSessionStatus lists.
package drain

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/speaker/l2plan"
)

// Label and Value mark a drained node.
const (
	Label = l2plan.LabelDrain
	Value = "true"
)

// Entry is one Service IP as a ServiceL2Status shows it.
type Entry struct {
	Service string // namespace/name
	IP      string
	Node    string // "" when no node announces it
	Reason  string // status.reason when Node is ""
}

// String names the IP and its Service.
func (e Entry) String() string { return fmt.Sprintf("%s (%s)", e.IP, e.Service) }

func entryOf(st v1beta1.ServiceL2Status) Entry {
	ip := st.Status.IP
	if a, err := netip.ParseAddr(ip); err == nil {
		ip = a.String()
	}
	return Entry{Service: st.Namespace + "/" + st.Status.ServiceName, IP: ip, Node: st.Status.Node, Reason: st.Status.Reason}
}

func (e Entry) key() string { return e.Service + " " + e.IP }

// OnNode lists the layer 2 IPs whose status names node, sorted.
func OnNode(statuses []v1beta1.ServiceL2Status, node string) []Entry {
	var out []Entry
	for _, st := range statuses {
		if st.Status.Node == node {
			out = append(out, entryOf(st))
		}
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.key(), b.key()) })
	return out
}

// Move is an IP that left the node: To is the new announcer ("" when
// none may announce it, Reason says why; Gone when its status was deleted,
// e.g. the Service went away).
type Move struct {
	Entry
	To     string
	Reason string
	Gone   bool
}

// String is the line drain prints.
func (m Move) String() string {
	switch {
	case m.Gone:
		return fmt.Sprintf("%s: no longer announced by %s (status removed)", m.Entry, m.Node)
	case m.To == "":
		return fmt.Sprintf("%s: %s -> nobody (%s)", m.Entry, m.Node, m.Reason)
	}
	return fmt.Sprintf("%s: %s -> %s", m.Entry, m.Node, m.To)
}

// Progress compares the IPs that were on node when the drain started with
// the current statuses: which moved (and where), which remain on node.
// IPs that arrive on the node after the start also count as remaining.
func Progress(initial []Entry, current []v1beta1.ServiceL2Status, node string) (moved []Move, remaining []Entry) {
	now := map[string]Entry{}
	for _, st := range current {
		e := entryOf(st)
		now[e.key()] = e
	}
	for _, e := range initial {
		cur, ok := now[e.key()]
		switch {
		case !ok:
			moved = append(moved, Move{Entry: e, Gone: true})
		case cur.Node != node:
			moved = append(moved, Move{Entry: e, To: cur.Node, Reason: cur.Reason})
		}
	}
	return moved, OnNode(current, node)
}

// Advertising lists the node's Established BGP sessions that still
// advertise prefixes, as "node.peer (N prefixes)".
func Advertising(sessions []v1beta1.BGPSessionStatus, node string) []string {
	var out []string
	for _, s := range sessions {
		st := s.Status
		if st.Node == node && st.State == "Established" && st.PrefixesAdvertised > 0 {
			out = append(out, fmt.Sprintf("BGPSessionStatus %s (%d prefixes)", s.Name, st.PrefixesAdvertised))
		}
	}
	slices.Sort(out)
	return out
}
