package datapath

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// AnnotationSourceRanges is the older, comma-separated form of
// spec.loadBalancerSourceRanges. As in Kubernetes' own helper
// (pkg/api/service GetLoadBalancerSourceRanges, which the API server's
// validation uses), it counts only when the field is empty.
const AnnotationSourceRanges = corev1.AnnotationLoadBalancerSourceRangesKey

// SourceRanges says which clients may open connections to a virtual
// service. The zero value admits everyone.
type SourceRanges struct {
	// Restricted: only clients inside one of Allowed may open new
	// connections; the first packets of others are dropped (not refused),
	// as kube-proxy does. Restricted with no Allowed admits nobody.
	Restricted bool
	// Allowed prefixes, all of the VIP's family, masked, sorted, without
	// duplicates.
	Allowed []netip.Prefix
}

// Admits reports whether a client may open a connection.
func (s SourceRanges) Admits(client netip.Addr) bool {
	if !s.Restricted {
		return true
	}
	client = client.Unmap()
	for _, p := range s.Allowed {
		if p.Contains(client) {
			return true
		}
	}
	return false
}

// Equal reports whether two filters are the same.
func (s SourceRanges) Equal(o SourceRanges) bool {
	return s.Restricted == o.Restricted && slices.Equal(s.Allowed, o.Allowed)
}

func (s SourceRanges) String() string {
	if !s.Restricted {
		return "any"
	}
	if len(s.Allowed) == 0 {
		return "none"
	}
	out := make([]string, len(s.Allowed))
	for i, p := range s.Allowed {
		out[i] = p.String()
	}
	return strings.Join(out, ",")
}

// sourceEntry is one entry of the list, with the field it came from.
type sourceEntry struct {
	field, text string
}

// serviceSourceEntries returns the list in force: the field if it has
// entries, else the annotation's comma-separated entries. Empty: no
// restriction.
func serviceSourceEntries(svc *corev1.Service) []sourceEntry {
	var out []sourceEntry
	if len(svc.Spec.LoadBalancerSourceRanges) > 0 {
		for i, s := range svc.Spec.LoadBalancerSourceRanges {
			out = append(out, sourceEntry{fmt.Sprintf("spec.loadBalancerSourceRanges[%d]", i), s})
		}
		return out
	}
	field := "metadata.annotations[" + AnnotationSourceRanges + "]"
	for _, s := range strings.Split(svc.Annotations[AnnotationSourceRanges], ",") {
		if strings.TrimSpace(s) != "" {
			out = append(out, sourceEntry{field, s})
		}
	}
	return out
}

// parseSourceRanges computes the filter of svc's virtual services on VIPs
// of one family.
//
// Like kube-proxy, entries are trimmed of spaces, host bits are cleared,
// a prefix of length 0 (0.0.0.0/0, ::/0) of the family lifts the
// restriction, and entries of the other family do not concern this one.
// Unlike kube-proxy, the filter fails closed: this is an access control an
// operator wrote down, and a mistake in it must not open the Service to
// everyone. An entry that does not parse admits nobody (kube-proxy drops
// it, and if no entry is left lifts the restriction altogether), and a
// list with entries of the other family only admits nobody of this family
// (kube-proxy lets everyone in). Both are reported as problems; the second
// only once per Service, for its VIPs of the uncovered family.
func parseSourceRanges(svc *corev1.Service, v6 bool, problem func(field, msg string)) SourceRanges {
	entries := serviceSourceEntries(svc)
	if len(entries) == 0 {
		return SourceRanges{}
	}
	out := SourceRanges{Restricted: true}
	for _, e := range entries {
		p, err := netip.ParsePrefix(strings.TrimSpace(e.text))
		if err != nil {
			problem(e.field, fmt.Sprintf("%q is not a CIDR; it admits no client (the Service stays restricted to its valid ranges)", e.text))
			continue
		}
		if p.Addr().Is6() != v6 {
			continue
		}
		p = p.Masked()
		if p.Bits() == 0 {
			return SourceRanges{}
		}
		if !slices.Contains(out.Allowed, p) {
			out.Allowed = append(out.Allowed, p)
		}
	}
	slices.SortFunc(out.Allowed, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	if len(out.Allowed) == 0 {
		family := "IPv4"
		if v6 {
			family = "IPv6"
		}
		problem(entries[0].field, fmt.Sprintf("no valid %s range; %s clients of the Service's %s VIPs are all dropped", family, family, family))
	}
	return out
}

// ServiceSourceRanges is the filter Desired gives svc's VIPs of one family,
// with the problems it reports, for tools that explain the datapath.
func ServiceSourceRanges(svc *corev1.Service, v6 bool) (SourceRanges, []Problem) {
	var problems []Problem
	owner := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
	s := parseSourceRanges(svc, v6, func(field, msg string) {
		problems = append(problems, Problem{Kind: "Service", Object: owner, Field: field, Message: msg})
	})
	return s, problems
}
