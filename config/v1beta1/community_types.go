package v1beta1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Community defines names for BGP community values, so advertisements can
// say "no-export-dc1" instead of "65535:65281".
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=ironlb
// +kubebuilder:printcolumn:name="Valid",type=string,JSONPath=`.status.conditions[?(@.type=="Valid")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:subresource:status
type Community struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec CommunitySpec `json:"spec,omitempty"`
	// +optional
	Status CommunityStatus `json:"status,omitempty"`
}

// CommunitySpec lists aliases.
type CommunitySpec struct {
	// +kubebuilder:validation:MaxItems=256
	// +listType=map
	// +listMapKey=name
	// +optional
	Communities []CommunityAlias `json:"communities,omitempty"`
}

// CommunityAlias names one community value.
type CommunityAlias struct {
	// Name used in BGPAdvertisement.spec.communities. Unique across every
	// Community object.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// Value is a standard ("65000:100") or large ("large:65000:1:2")
	// community.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Value string `json:"value"`
}

// CommunityList is a list of Community.
//
// +kubebuilder:object:root=true
type CommunityList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Community `json:"items"`
}

// CommunityStatus is the controller's report on the object.
type CommunityStatus struct {
	ConfigStatus `json:",inline"`

	// LastValidSpec is the last spec that compiled; it stays in force while
	// the current spec is invalid.
	// +optional
	LastValidSpec *CommunitySpec `json:"lastValidSpec,omitempty"`
}
