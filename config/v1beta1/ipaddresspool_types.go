package v1beta1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// IPAddressPool is a set of addresses IronLB may hand out to LoadBalancer
// Services.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=ippool,categories=ironlb
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Auto Assign",type=boolean,JSONPath=`.spec.autoAssign`
// +kubebuilder:printcolumn:name="IPv4 Assigned",type=integer,JSONPath=`.status.ipv4.assigned`
// +kubebuilder:printcolumn:name="IPv4 Available",type=integer,JSONPath=`.status.ipv4.available`
// +kubebuilder:printcolumn:name="IPv6 Assigned",type=integer,JSONPath=`.status.ipv6.assigned`
// +kubebuilder:printcolumn:name="Valid",type=string,JSONPath=`.status.conditions[?(@.type=="Valid")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type IPAddressPool struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   IPAddressPoolSpec   `json:"spec"`
	Status IPAddressPoolStatus `json:"status,omitempty"`
}

// IPAddressPoolSpec describes the addresses of a pool and who may use them.
type IPAddressPoolSpec struct {
	// Addresses are CIDRs ("192.0.2.0/24", "2001:db8::/120") or inclusive
	// ranges ("192.0.2.10-192.0.2.20"), IPv4 and IPv6 in any mix. No two
	// pools may overlap.
	//
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=128
	// +kubebuilder:validation:items:MaxLength=100
	// +kubebuilder:validation:items:Pattern=`^[0-9a-fA-F.:/ -]+$`
	// +listType=atomic
	Addresses []string `json:"addresses"`

	// AutoAssign lets the controller hand out addresses from this pool to
	// Services that do not ask for it by name or address.
	//
	// +kubebuilder:default=true
	// +optional
	AutoAssign *bool `json:"autoAssign,omitempty"`

	// AvoidBuggyIPs skips IPv4 addresses ending in .0 and .255, which some
	// old network equipment drops as if they were broadcast addresses, and
	// the IPv6 subnet-router anycast address (the all-zeros host, which
	// routers on the link answer) of each IPv6 entry that is exactly one
	// prefix of /126 or shorter, written as CIDR or first-last: 2001:db8::
	// of 2001:db8::/120. Other first-last ranges name no prefix and keep
	// every address. Default false.
	//
	// +optional
	AvoidBuggyIPs bool `json:"avoidBuggyIPs,omitempty"`

	// ServiceAllocation restricts the pool to some Services and orders it
	// against other pools.
	//
	// +optional
	ServiceAllocation *ServiceAllocation `json:"serviceAllocation,omitempty"`
}

// ServiceAllocation selects the Services a pool serves.
type ServiceAllocation struct {
	// Priority orders pools that match the same Service: the lowest value
	// is tried first; ties are broken by pool name.
	//
	// +kubebuilder:validation:Minimum=0
	// +optional
	Priority int32 `json:"priority,omitempty"`

	// Namespaces whose Services may use the pool.
	//
	// +kubebuilder:validation:MaxItems=256
	// +listType=set
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`

	// NamespaceSelectors select namespaces whose Services may use the pool.
	// A Service qualifies if its namespace is listed in Namespaces or
	// matches any of these selectors.
	//
	// +listType=atomic
	// +optional
	NamespaceSelectors []metav1.LabelSelector `json:"namespaceSelectors,omitempty"`

	// ServiceSelectors select the Services that may use the pool, in
	// addition to the namespace condition.
	//
	// +listType=atomic
	// +optional
	ServiceSelectors []metav1.LabelSelector `json:"serviceSelectors,omitempty"`
}

// IPAddressPoolStatus reports how full the pool is and whether its
// configuration is in use.
type IPAddressPoolStatus struct {
	ConfigStatus `json:",inline"`

	// LastValidSpec is the last spec that compiled; it stays in force while
	// the current spec is invalid.
	// +optional
	LastValidSpec *IPAddressPoolSpec `json:"lastValidSpec,omitempty"`

	// IPv4 counts the pool's IPv4 addresses.
	// +optional
	IPv4 *PoolFamilyStatus `json:"ipv4,omitempty"`

	// IPv6 counts the pool's IPv6 addresses.
	// +optional
	IPv6 *PoolFamilyStatus `json:"ipv6,omitempty"`
}

// PoolFamilyStatus counts one address family of a pool. Counts saturate at
// the largest int64, which an IPv6 pool of a /64 or larger reaches.
type PoolFamilyStatus struct {
	Total     int64 `json:"total"`
	Assigned  int64 `json:"assigned"`
	Available int64 `json:"available"`
}

// IPAddressPoolList is a list of IPAddressPool.
//
// +kubebuilder:object:root=true
type IPAddressPoolList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []IPAddressPool `json:"items"`
}
