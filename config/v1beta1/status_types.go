package v1beta1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ConditionValid is the condition every configuration object carries: True
// when its spec compiled and is in force, False with the offending field and
// the reason when not.
const ConditionValid = "Valid"

// ConfigStatus is what the controller reports on every configuration object
// (IPAddressPool, L2Advertisement, BGPAdvertisement, BGPPeer, BFDProfile,
// Community). Each kind's status adds LastValidSpec: the last spec that
// compiled, which stays in force while the current spec is invalid. Keeping
// it in the API, not in memory, is what lets a restarted controller or
// speaker run exactly what was running before.
type ConfigStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: "Valid" tells whether the spec passed validation (with the
	// offending field in its message when not, and what is in force
	// instead).
	//
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// LastValidGeneration is the generation LastValidSpec was taken from.
	// +optional
	LastValidGeneration int64 `json:"lastValidGeneration,omitempty"`
}
