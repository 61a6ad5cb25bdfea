package svcrequest

import (
	"fmt"
	"strings"
)

// The prefixes a Service's request annotations are read under, highest
// precedence first: IronLB's own, MetalLB's current one, and MetalLB's older
// one (before 0.13), so Services move from MetalLB unchanged. This list is the
// one rule that decides which annotation names IronLB reads; everything that
// reads a request annotation goes through Lookup.
const (
	prefixIronLB        = "ironlb.io/"
	prefixMetalLB       = "metallb.io/"
	prefixMetalLBLegacy = "metallb.universe.tf/"
)

var requestPrefixes = [...]string{prefixIronLB, prefixMetalLB, prefixMetalLBLegacy}

// Annotations IronLB reads from (and, for the allocated pool, writes to)
// Services.
const (
	// AnnotationLoadBalancerIPs requests specific IPs: comma separated, at
	// most one per family.
	AnnotationLoadBalancerIPs = prefixIronLB + "loadBalancerIPs"
	// AnnotationAddressPool requests allocation from the named pool.
	AnnotationAddressPool = prefixIronLB + "address-pool"
	// AnnotationAllowSharedIP is the sharing key: Services with the same
	// key may share an IP (ports disjoint, same backend).
	AnnotationAllowSharedIP = prefixIronLB + "allow-shared-ip"
	// AnnotationIPAllocatedFromPool is written by the controller: the pool
	// the Service's IPs came from. It is IronLB's alone: MetalLB's
	// spellings of it are never read.
	AnnotationIPAllocatedFromPool = prefixIronLB + "ip-allocated-from-pool"

	// MetalLB's spellings, accepted for migration with a warning.
	AnnotationMetalLBLoadBalancerIPs = prefixMetalLB + "loadBalancerIPs"
	AnnotationMetalLBAddressPool     = prefixMetalLB + "address-pool"
	AnnotationMetalLBAllowSharedIP   = prefixMetalLB + "allow-shared-ip"
)

// Spellings returns the names the request annotation ours (one of the
// ironlb.io Annotation constants) is read under, highest precedence first:
// "ironlb.io/address-pool", "metallb.io/address-pool",
// "metallb.universe.tf/address-pool".
func Spellings(ours string) []string {
	key, ok := strings.CutPrefix(ours, prefixIronLB)
	if !ok {
		return []string{ours}
	}
	out := make([]string, len(requestPrefixes))
	for i, p := range requestPrefixes {
		out[i] = p + key
	}
	return out
}

// Lookup returns the value of the request annotation ours as IronLB reads
// it, trimmed, and the name it was read from ("" and "" when no spelling is
// set; white space only counts as unset). The first spelling set wins (see
// Spellings). Every other spelling that is set gives a warning: that it is
// deprecated when it says the same, that it is ignored (naming the one that
// wins) when it differs.
func Lookup(annotations map[string]string, ours string) (value, name string, warnings []string) {
	for _, n := range Spellings(ours) {
		v := strings.TrimSpace(annotations[n])
		switch {
		case v == "":
			continue
		case name == "":
			value, name = v, n
			if n != ours {
				warnings = append(warnings, fmt.Sprintf("annotation %s is deprecated here, use %s", n, ours))
			}
		case v != value:
			warnings = append(warnings, fmt.Sprintf("annotation %s (%q) is ignored because %s (%q) is set", n, v, name, value))
		default:
			warnings = append(warnings, fmt.Sprintf("annotation %s is deprecated here, use %s", n, ours))
		}
	}
	return value, name, warnings
}
