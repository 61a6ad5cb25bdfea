package svcrequest

// Annotations IronLB reads from (and, for the allocated pool, writes to)
// Services.
const (
	// AnnotationLoadBalancerIPs requests specific IPs: comma separated, at
	// most one per family.
	AnnotationLoadBalancerIPs = "ironlb.io/loadBalancerIPs"
	// AnnotationAddressPool requests allocation from the named pool.
	AnnotationAddressPool = "ironlb.io/address-pool"
	// AnnotationAllowSharedIP is the sharing key: Services with the same
	// key may share an IP (ports disjoint, same backend).
	AnnotationAllowSharedIP = "ironlb.io/allow-shared-ip"
	// AnnotationIPAllocatedFromPool is written by the controller: the pool
	// the Service's IPs came from.
	AnnotationIPAllocatedFromPool = "ironlb.io/ip-allocated-from-pool"

	// MetalLB's spellings, accepted for migration with a warning.
	AnnotationMetalLBLoadBalancerIPs = "metallb.io/loadBalancerIPs"
	AnnotationMetalLBAddressPool     = "metallb.io/address-pool"
	AnnotationMetalLBAllowSharedIP   = "metallb.io/allow-shared-ip"
)
