package v1beta1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// BFDProfile holds the timers of BFD sessions that BGPPeers refer to.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=ironlb
// +kubebuilder:printcolumn:name="Rx ms",type=integer,JSONPath=`.spec.receiveInterval`
// +kubebuilder:printcolumn:name="Tx ms",type=integer,JSONPath=`.spec.transmitInterval`
// +kubebuilder:printcolumn:name="Multiplier",type=integer,JSONPath=`.spec.detectMultiplier`
// +kubebuilder:printcolumn:name="Valid",type=string,JSONPath=`.status.conditions[?(@.type=="Valid")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:subresource:status
type BFDProfile struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec BFDProfileSpec `json:"spec,omitempty"`
	// +optional
	Status BFDProfileStatus `json:"status,omitempty"`
}

// BFDProfileSpec: a session is declared down after DetectMultiplier
// intervals without a packet.
type BFDProfileSpec struct {
	// ReceiveInterval is the minimum interval, in milliseconds, at which we
	// can receive control packets.
	//
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=60000
	// +kubebuilder:default=300
	// +optional
	ReceiveInterval *uint32 `json:"receiveInterval,omitempty"`

	// TransmitInterval is the minimum interval, in milliseconds, at which
	// we send control packets.
	//
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=60000
	// +kubebuilder:default=300
	// +optional
	TransmitInterval *uint32 `json:"transmitInterval,omitempty"`

	// DetectMultiplier is how many intervals may pass without a packet.
	//
	// +kubebuilder:validation:Minimum=2
	// +kubebuilder:validation:Maximum=255
	// +kubebuilder:default=3
	// +optional
	DetectMultiplier *uint32 `json:"detectMultiplier,omitempty"`

	// PassiveMode waits for the peer to start the session.
	//
	// +optional
	PassiveMode bool `json:"passiveMode,omitempty"`

	// MinimumTTL accepted on incoming packets, for multi-hop sessions.
	//
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=254
	// +optional
	MinimumTTL *uint32 `json:"minimumTTL,omitempty"`
}

// BFDProfileList is a list of BFDProfile.
//
// +kubebuilder:object:root=true
type BFDProfileList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BFDProfile `json:"items"`
}

// BFDProfileStatus is the controller's report on the object.
type BFDProfileStatus struct {
	ConfigStatus `json:",inline"`

	// LastValidSpec is the last spec that compiled; it stays in force while
	// the current spec is invalid.
	// +optional
	LastValidSpec *BFDProfileSpec `json:"lastValidSpec,omitempty"`
}
