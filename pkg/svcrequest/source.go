package svcrequest

import (
	"errors"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/pkg/ipam"
)

// Source names the part of svc an allocation error is about, as
// "annotation ironlb.io/loadBalancerIPs" or "spec.loadBalancerIP", so the
// event tells the user what to fix; "" when the error is about no field
// (a pool exhausted, no pool matching). It reads the same fields, with the
// same precedence, as FromService.
func Source(svc *corev1.Service, err error) string {
	ae, ok := asAllocationError(err)
	if !ok || svc == nil {
		return ""
	}
	switch ae.Reason {
	case ipam.IPInUse, ipam.IPNotInAnyPool, ipam.NoCommonPool:
		if name := setAnnotation(svc, AnnotationLoadBalancerIPs, AnnotationMetalLBLoadBalancerIPs); name != "" {
			return "annotation " + name
		}
		if strings.TrimSpace(svc.Spec.LoadBalancerIP) != "" {
			return fieldLoadBalancerIP
		}
	case ipam.PoolNotFound, ipam.PoolInvalid, ipam.PoolNotAllowed:
		if name := setAnnotation(svc, AnnotationAddressPool, AnnotationMetalLBAddressPool); name != "" {
			return "annotation " + name
		}
	case ipam.SharingConflict:
		if name := setAnnotation(svc, AnnotationAllowSharedIP, AnnotationMetalLBAllowSharedIP); name != "" {
			return "annotation " + name
		}
	}
	return ""
}

// setAnnotation is the annotation FromService reads: ours when set, else
// MetalLB's; "" when neither is.
func setAnnotation(svc *corev1.Service, ours, metallb string) string {
	var warnings []string
	_, source := (&annotationReader{values: svc.Annotations, warnings: &warnings}).get(ours, metallb)
	return source
}

func asAllocationError(err error) (*ipam.AllocationError, bool) {
	var ae *ipam.AllocationError
	return ae, errors.As(err, &ae)
}
