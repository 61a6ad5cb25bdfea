// Package svcrequest turns a Kubernetes Service into an ipam.Request.
//
// It is the only place that knows the Service fields and annotations that
// influence IP allocation; the allocator itself never sees Kubernetes
// types. Errors name the Service and the field or annotation at fault, so
// the controller can put them in an event unchanged.
package svcrequest

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/ironlb/ironlb/pkg/ipam"
)

// FromService builds the allocation request for svc. namespaceLabels are
// the labels of svc's namespace (for pool namespace selectors). Warnings
// (deprecated MetalLB annotations) are returned even when err != nil.
func FromService(svc *corev1.Service, namespaceLabels map[string]string) (ipam.Request, []string, error) {
	if svc == nil {
		return ipam.Request{}, nil, errors.New("nil service")
	}
	key := ipam.ServiceKey{Namespace: svc.Namespace, Name: svc.Name}
	var warnings []string
	fail := func(err error) (ipam.Request, []string, error) {
		return ipam.Request{}, warnings, fmt.Errorf("service %s: %w", key, err)
	}
	ann := annotationReader{values: svc.Annotations, warnings: &warnings}

	req := ipam.Request{
		Service:         key,
		Labels:          svc.Labels,
		NamespaceLabels: namespaceLabels,
	}
	req.RequestedPool, _ = ann.get(AnnotationAddressPool)
	req.SharingKey, _ = ann.get(AnnotationAllowSharedIP)

	requested, err := requestedIPs(svc, &ann)
	if err != nil {
		return fail(err)
	}
	policy, families, err := familiesOf(svc, requested)
	if err != nil {
		return fail(err)
	}
	req.FamilyPolicy, req.Families = policy, families
	active := families
	if policy == ipam.SingleStack {
		active = families[:1]
	}
	for _, r := range requested {
		f := ipam.FamilyOf(r.ip)
		if !containsFamily(active, f) {
			return fail(fmt.Errorf("%s: %s is %s but the service has only %s", r.source, r.ip, f, familyList(active)))
		}
		req.RequestedIPs = append(req.RequestedIPs, r.ip)
	}

	for _, p := range svc.Spec.Ports {
		proto := string(p.Protocol)
		if proto == "" {
			proto = string(corev1.ProtocolTCP) // the API server's default
		}
		req.Ports = append(req.Ports, ipam.Port{Protocol: proto, Port: p.Port})
	}
	if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
		req.Local = true
		// Canonical form: sorted keys, so equal selectors compare equal.
		req.Backend = labels.SelectorFromSet(svc.Spec.Selector).String()
	}
	if err := req.Validate(); err != nil {
		return fail(err)
	}
	return req, warnings, nil
}

// annotationReader reads request annotations in every spelling (Lookup)
// and collects the warnings.
type annotationReader struct {
	values   map[string]string
	warnings *[]string
}

// get returns the value in force for ours and the annotation it came from.
func (r *annotationReader) get(ours string) (value, source string) {
	value, source, warnings := Lookup(r.values, ours)
	*r.warnings = append(*r.warnings, warnings...)
	return value, source
}

// requestedIP is one requested address and where it was written.
type requestedIP struct {
	ip     netip.Addr
	source string // "spec.loadBalancerIP" or "annotation ironlb.io/loadBalancerIPs" (or another spelling)
}

const fieldLoadBalancerIP = "spec.loadBalancerIP"

// requestedIPs merges spec.loadBalancerIP and the loadBalancerIPs
// annotation. When both are set, spec.loadBalancerIP must be one of the
// annotation's addresses.
func requestedIPs(svc *corev1.Service, ann *annotationReader) ([]requestedIP, error) {
	var fromField *requestedIP
	if s := strings.TrimSpace(svc.Spec.LoadBalancerIP); s != "" {
		ip, err := parseIP(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fieldLoadBalancerIP, err)
		}
		fromField = &requestedIP{ip: ip, source: fieldLoadBalancerIP}
	}
	value, name := ann.get(AnnotationLoadBalancerIPs)
	if value == "" {
		if fromField == nil {
			return nil, nil
		}
		return []requestedIP{*fromField}, nil
	}
	source := "annotation " + name
	var out []requestedIP
	for _, part := range strings.Split(value, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("%s: empty entry in %q", source, value)
		}
		ip, err := parseIP(part)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		for _, o := range out {
			if ipam.FamilyOf(o.ip) == ipam.FamilyOf(ip) {
				return nil, fmt.Errorf("%s: more than one %s address (%s, %s) in %q", source, ipam.FamilyOf(ip), o.ip, ip, value)
			}
		}
		out = append(out, requestedIP{ip: ip, source: source})
	}
	if fromField != nil {
		found := false
		for _, o := range out {
			found = found || o.ip == fromField.ip
		}
		if !found {
			return nil, fmt.Errorf("%s %s conflicts with %s %q", fieldLoadBalancerIP, fromField.ip, source, value)
		}
	}
	return out, nil
}

// parseIP accepts a plain IPv4 or IPv6 address.
func parseIP(s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	case ip.Zone() != "":
		return netip.Addr{}, fmt.Errorf("%q has an IPv6 zone, which is not allowed", s)
	case ip.Is4In6():
		return netip.Addr{}, fmt.Errorf("%q is an IPv4-mapped IPv6 address; write %s", s, ip.Unmap())
	}
	return ip, nil
}

// familiesOf reads spec.ipFamilyPolicy and spec.ipFamilies. Without
// ipFamilies (only seen before API-server defaulting, e.g. in tests) the
// families come from the requested IPs, else IPv4; a dual-stack policy
// then adds the other family.
func familiesOf(svc *corev1.Service, requested []requestedIP) (ipam.FamilyPolicy, []ipam.Family, error) {
	policy := ipam.SingleStack
	if p := svc.Spec.IPFamilyPolicy; p != nil {
		switch *p {
		case corev1.IPFamilyPolicySingleStack:
		case corev1.IPFamilyPolicyPreferDualStack:
			policy = ipam.PreferDualStack
		case corev1.IPFamilyPolicyRequireDualStack:
			policy = ipam.RequireDualStack
		default:
			return 0, nil, fmt.Errorf("spec.ipFamilyPolicy: unknown policy %q", string(*p))
		}
	}
	var families []ipam.Family
	for _, f := range svc.Spec.IPFamilies {
		var fam ipam.Family
		switch f {
		case corev1.IPv4Protocol:
			fam = ipam.IPv4
		case corev1.IPv6Protocol:
			fam = ipam.IPv6
		default:
			return 0, nil, fmt.Errorf("spec.ipFamilies: unknown family %q", string(f))
		}
		if containsFamily(families, fam) {
			return 0, nil, fmt.Errorf("spec.ipFamilies: %s listed twice", fam)
		}
		families = append(families, fam)
	}
	if len(families) > 2 {
		return 0, nil, fmt.Errorf("spec.ipFamilies: at most two families, got %d", len(families))
	}
	if len(families) == 0 {
		for _, r := range requested {
			if f := ipam.FamilyOf(r.ip); !containsFamily(families, f) {
				families = append(families, f)
			}
		}
		if len(families) == 0 {
			families = []ipam.Family{ipam.IPv4}
		}
		switch {
		case policy == ipam.SingleStack:
			families = families[:1]
		case len(families) == 1 && families[0] == ipam.IPv4:
			families = append(families, ipam.IPv6)
		case len(families) == 1:
			families = append(families, ipam.IPv4)
		}
	}
	if policy == ipam.SingleStack && len(families) == 2 {
		return 0, nil, fmt.Errorf("spec.ipFamilies lists two families but spec.ipFamilyPolicy is SingleStack")
	}
	if policy == ipam.RequireDualStack && len(families) != 2 {
		return 0, nil, fmt.Errorf("spec.ipFamilyPolicy RequireDualStack needs two spec.ipFamilies, got %s", familyList(families))
	}
	return policy, families, nil
}

func containsFamily(fs []ipam.Family, f ipam.Family) bool {
	for _, g := range fs {
		if g == f {
			return true
		}
	}
	return false
}

func familyList(fs []ipam.Family) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = f.String()
	}
	return strings.Join(s, " and ")
}
