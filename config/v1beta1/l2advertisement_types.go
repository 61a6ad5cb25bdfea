package v1beta1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// L2Advertisement announces the addresses of some pools with ARP (IPv4) and
// NDP (IPv6) from one elected node per address.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=l2adv,categories=ironlb
// +kubebuilder:printcolumn:name="Pools",type=string,JSONPath=`.spec.ipAddressPools`
// +kubebuilder:printcolumn:name="Interfaces",type=string,JSONPath=`.spec.interfaces`
// +kubebuilder:printcolumn:name="Valid",type=string,JSONPath=`.status.conditions[?(@.type=="Valid")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:subresource:status
type L2Advertisement struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec L2AdvertisementSpec `json:"spec,omitempty"`
	// +optional
	Status L2AdvertisementStatus `json:"status,omitempty"`
}

// L2AdvertisementSpec selects pools, nodes and interfaces. An empty pool
// selection means every pool.
type L2AdvertisementSpec struct {
	// IPAddressPools names the pools to announce.
	//
	// +kubebuilder:validation:MaxItems=256
	// +listType=set
	// +optional
	IPAddressPools []string `json:"ipAddressPools,omitempty"`

	// IPAddressPoolSelectors select pools by label, in addition to
	// IPAddressPools.
	//
	// +listType=atomic
	// +optional
	IPAddressPoolSelectors []metav1.LabelSelector `json:"ipAddressPoolSelectors,omitempty"`

	// ServiceSelectors limit the Services announced to those whose labels
	// match one of them, alongside the pool selection. Empty: every
	// Service of the selected pools. Services sharing an address are
	// announced together when one of them is selected.
	//
	// +listType=atomic
	// +optional
	ServiceSelectors []metav1.LabelSelector `json:"serviceSelectors,omitempty"`

	// NodeSelectors limit the nodes that may announce. Empty: every node.
	//
	// +listType=atomic
	// +optional
	NodeSelectors []metav1.LabelSelector `json:"nodeSelectors,omitempty"`

	// Interfaces the announcements are made on: names or shell patterns
	// ("eth0", "bond*"). Empty: every interface with a route to the address's
	// subnet, or else the interface of the default route.
	//
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=64
	// +listType=set
	// +optional
	Interfaces []string `json:"interfaces,omitempty"`
}

// L2AdvertisementList is a list of L2Advertisement.
//
// +kubebuilder:object:root=true
type L2AdvertisementList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []L2Advertisement `json:"items"`
}

// L2AdvertisementStatus is the controller's report on the object.
type L2AdvertisementStatus struct {
	ConfigStatus `json:",inline"`

	// LastValidSpec is the last spec that compiled; it stays in force while
	// the current spec is invalid.
	// +optional
	LastValidSpec *L2AdvertisementSpec `json:"lastValidSpec,omitempty"`
}
