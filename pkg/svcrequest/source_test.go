package svcrequest

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/pkg/ipam"
)

func TestSourceNamesTheFieldAnAllocationErrorIsAbout(t *testing.T) {
	svc := func(lbIP string, ann ...string) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{}}, Spec: corev1.ServiceSpec{LoadBalancerIP: lbIP}}
		for i := 0; i+1 < len(ann); i += 2 {
			s.Annotations[ann[i]] = ann[i+1]
		}
		return s
	}
	fail := func(r ipam.Reason) error {
		return fmt.Errorf("service default/x: %w", &ipam.AllocationError{Reason: r})
	}
	for _, tc := range []struct {
		name string
		svc  *corev1.Service
		err  error
		want string
	}{
		{"IP in use, from our annotation", svc("", AnnotationLoadBalancerIPs, "203.0.113.1"), fail(ipam.IPInUse), "annotation ironlb.io/loadBalancerIPs"},
		{"IP outside pools, from MetalLB's annotation", svc("", AnnotationMetalLBLoadBalancerIPs, "203.0.113.1"), fail(ipam.IPNotInAnyPool), "annotation metallb.io/loadBalancerIPs"},
		{"both spellings: ours is read", svc("", AnnotationMetalLBLoadBalancerIPs, "203.0.113.2", AnnotationLoadBalancerIPs, "203.0.113.1"), fail(ipam.NoCommonPool), "annotation ironlb.io/loadBalancerIPs"},
		{"IP outside pools, from MetalLB's older annotation", svc("", "metallb.universe.tf/loadBalancerIPs", "203.0.113.1"), fail(ipam.IPNotInAnyPool), "annotation metallb.universe.tf/loadBalancerIPs"},
		{"sharing conflict, older MetalLB spelling", svc("", "metallb.universe.tf/allow-shared-ip", "k"), fail(ipam.SharingConflict), "annotation metallb.universe.tf/allow-shared-ip"},
		{"IP from spec.loadBalancerIP", svc("203.0.113.1"), fail(ipam.IPInUse), "spec.loadBalancerIP"},
		{"blank annotation counts as unset", svc("203.0.113.1", AnnotationLoadBalancerIPs, "  "), fail(ipam.IPInUse), "spec.loadBalancerIP"},
		{"unknown pool", svc("", AnnotationAddressPool, "nope"), fail(ipam.PoolNotFound), "annotation ironlb.io/address-pool"},
		{"invalid pool, MetalLB spelling", svc("", AnnotationMetalLBAddressPool, "bad"), fail(ipam.PoolInvalid), "annotation metallb.io/address-pool"},
		{"pool not allowed", svc("", AnnotationAddressPool, "web"), fail(ipam.PoolNotAllowed), "annotation ironlb.io/address-pool"},
		{"sharing conflict", svc("", AnnotationAllowSharedIP, "k"), fail(ipam.SharingConflict), "annotation ironlb.io/allow-shared-ip"},
		{"exhausted pool is about no field", svc("", AnnotationAddressPool, "web"), fail(ipam.PoolExhausted), ""},
		{"reason without the field set", svc(""), fail(ipam.IPInUse), ""},
		{"not an allocation error", svc("", AnnotationLoadBalancerIPs, "x"), fmt.Errorf("boom"), ""},
		{"nil service", nil, fail(ipam.IPInUse), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Source(tc.svc, tc.err); got != tc.want {
				t.Errorf("Source = %q, want %q", got, tc.want)
			}
		})
	}
}
