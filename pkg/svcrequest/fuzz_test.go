package svcrequest

import (
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/pkg/ipam"
)

// FuzzFromService feeds arbitrary annotation and field values: FromService
// must never panic, and must return either an error naming the Service or
// a request the allocator accepts.
func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func FuzzFromService(f *testing.F) {
	f.Add("", "", "", "", "", "", "", "IPv4", "SingleStack")
	f.Add("192.0.2.1", "192.0.2.1,2001:db8::1", "", "pool", "", "key", "", "IPv4,IPv6", "RequireDualStack")
	f.Add("", "", "2001:db8::1", "", "old-pool", "", "old-key", "IPv6", "PreferDualStack")
	f.Add("192.0.2.300", "fe80::1%eth0", "::ffff:192.0.2.1", " ", " ", "", "", "", "")
	f.Add("", "192.0.2.1,,", "", "", "", "", "", "IPv4,IPv4", "Bogus")
	f.Fuzz(func(t *testing.T, lbAddr, ips, mlbIPs, pool, mlbPool, share, mlbShare, fams, policy string) {
		s := service(lbIP(lbAddr), annotate(
			AnnotationLoadBalancerIPs, ips, AnnotationMetalLBLoadBalancerIPs, mlbIPs,
			AnnotationAddressPool, pool, AnnotationMetalLBAddressPool, mlbPool,
			AnnotationAllowSharedIP, share, AnnotationMetalLBAllowSharedIP, mlbShare,
		))
		s.Spec.IPFamilies = nil
		if fams != "" {
			for _, f := range strings.Split(fams, ",") {
				s.Spec.IPFamilies = append(s.Spec.IPFamilies, corev1.IPFamily(f))
			}
		}
		if policy != "" {
			p := corev1.IPFamilyPolicy(policy)
			s.Spec.IPFamilyPolicy = &p
		} else {
			s.Spec.IPFamilyPolicy = nil
		}
		req, _, err := FromService(s, nil)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "service default/web: ") {
				t.Fatalf("error does not name the service: %v", err)
			}
			return
		}
		if err := req.Validate(); err != nil {
			t.Fatalf("FromService returned a request the allocator rejects: %v", err)
		}
		if len(req.RequestedIPs) > 2 {
			t.Fatalf("%d requested IPs", len(req.RequestedIPs))
		}
		// It must also allocate without panicking.
		a := ipam.New()
		a.SetPools([]ipam.Pool{{Name: "p", AutoAssign: true, Ranges: []ipam.Range{
			{First: mustAddr("192.0.2.0"), Last: mustAddr("192.0.2.255")},
			{First: mustAddr("2001:db8::"), Last: mustAddr("2001:db8::ff")},
		}}})
		_, _ = a.Allocate(req)
	})
}
