package v1beta1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// BGPAdvertisement announces the addresses of some pools to BGP peers from
// every eligible node.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=bgpadv,categories=ironlb
// +kubebuilder:printcolumn:name="Pools",type=string,JSONPath=`.spec.ipAddressPools`
// +kubebuilder:printcolumn:name="Peers",type=string,JSONPath=`.spec.peers`
// +kubebuilder:printcolumn:name="Valid",type=string,JSONPath=`.status.conditions[?(@.type=="Valid")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:subresource:status
type BGPAdvertisement struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec BGPAdvertisementSpec `json:"spec,omitempty"`
	// +optional
	Status BGPAdvertisementStatus `json:"status,omitempty"`
}

// BGPAdvertisementSpec selects pools, nodes and peers, and the attributes of
// the routes. An empty pool selection means every pool.
type BGPAdvertisementSpec struct {
	// AggregationLength is the prefix length IPv4 addresses are announced
	// with; shorter than 32 aggregates neighbouring Service addresses.
	//
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=32
	// +kubebuilder:default=32
	// +optional
	AggregationLength *int32 `json:"aggregationLength,omitempty"`

	// AggregationLengthV6 is the same for IPv6.
	//
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=128
	// +kubebuilder:default=128
	// +optional
	AggregationLengthV6 *int32 `json:"aggregationLengthV6,omitempty"`

	// LocalPref is the LOCAL_PREF attribute, sent to iBGP peers only.
	// The bounds are those of the Go type: a value outside them would be
	// stored but could not be read back by the controller or the speakers.
	//
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4294967295
	// +optional
	LocalPref *uint32 `json:"localPref,omitempty"`

	// EndpointWeightedECMP attaches the BGP link bandwidth extended
	// community to the routes of externalTrafficPolicy: Local Services, in
	// proportion to the node's ready local endpoints (1 Mbit/s each), so a
	// router that weights ECMP by it (FRR, Juniper, Arista, Cisco) sends
	// each node its share of the pods' traffic. Needs host routes
	// (aggregationLength 32, aggregationLengthV6 128).
	//
	// +optional
	EndpointWeightedECMP bool `json:"endpointWeightedECMP,omitempty"`

	// Communities attached to the routes: standard ("65000:100"), large
	// ("large:65000:1:2") or the name of an alias defined in a Community.
	//
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=128
	// +listType=set
	// +optional
	Communities []string `json:"communities,omitempty"`

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

	// NodeSelectors limit the nodes that announce. Empty: every node.
	//
	// +listType=atomic
	// +optional
	NodeSelectors []metav1.LabelSelector `json:"nodeSelectors,omitempty"`

	// Peers names the BGPPeers to announce to. Empty: every peer.
	//
	// +kubebuilder:validation:MaxItems=256
	// +listType=set
	// +optional
	Peers []string `json:"peers,omitempty"`
}

// BGPAdvertisementList is a list of BGPAdvertisement.
//
// +kubebuilder:object:root=true
type BGPAdvertisementList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BGPAdvertisement `json:"items"`
}

// BGPAdvertisementStatus is the controller's report on the object.
type BGPAdvertisementStatus struct {
	ConfigStatus `json:",inline"`

	// LastValidSpec is the last spec that compiled; it stays in force while
	// the current spec is invalid.
	// +optional
	LastValidSpec *BGPAdvertisementSpec `json:"lastValidSpec,omitempty"`
}
