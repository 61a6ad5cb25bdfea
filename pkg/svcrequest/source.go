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
		if name := setAnnotation(svc, AnnotationLoadBalancerIPs); name != "" {
			return "annotation " + name
		}
		if strings.TrimSpace(svc.Spec.LoadBalancerIP) != "" {
			return fieldLoadBalancerIP
		}
	case ipam.PoolNotFound, ipam.PoolInvalid, ipam.PoolNotAllowed:
		if name := setAnnotation(svc, AnnotationAddressPool); name != "" {
			return "annotation " + name
		}
	case ipam.SharingConflict:
		if name := setAnnotation(svc, AnnotationAllowSharedIP); name != "" {
			return "annotation " + name
		}
	}
	return ""
}

// setAnnotation is the spelling of ours FromService reads; "" when none is
// set.
func setAnnotation(svc *corev1.Service, ours string) string {
	_, name, _ := Lookup(svc.Annotations, ours)
	return name
}

func asAllocationError(err error) (*ipam.AllocationError, bool) {
	var ae *ipam.AllocationError
	return ae, errors.As(err, &ae)
}
