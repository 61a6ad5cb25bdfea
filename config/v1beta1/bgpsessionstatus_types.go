package v1beta1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// BGPSessionStatus reports one node's BGP session with one BGPPeer. The
// node's speaker writes it; it is named <node>.<peer>.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=bgpsession,categories=ironlb
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.status.node`
// +kubebuilder:printcolumn:name="Peer",type=string,JSONPath=`.status.peer`
// +kubebuilder:printcolumn:name="Address",type=string,JSONPath=`.status.peerAddress`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Prefixes",type=integer,JSONPath=`.status.prefixesAdvertised`
// +kubebuilder:printcolumn:name="BFD",type=string,JSONPath=`.status.bfd`
// +kubebuilder:printcolumn:name="Last Error",type=string,JSONPath=`.status.lastError`,priority=1
type BGPSessionStatus struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Status BGPSessionStatusStatus `json:"status,omitempty"`
}

// BGPSessionStatusStatus is the state of one session.
type BGPSessionStatusStatus struct {
	Node        string `json:"node,omitempty"`
	Peer        string `json:"peer,omitempty"`
	PeerAddress string `json:"peerAddress,omitempty"`
	// State is the BGP finite state machine state (Idle, Connect, Active,
	// OpenSent, OpenConfirm, Established).
	State string `json:"state,omitempty"`
	// EstablishedSince is when the session last became Established.
	EstablishedSince *metav1.Time `json:"establishedSince,omitempty"`
	// PrefixesAdvertised counts the prefixes sent to the peer.
	PrefixesAdvertised int32 `json:"prefixesAdvertised,omitempty"`
	// LastError is the most recent failure (notification, hold timer, BFD
	// down, a failing connect with a hint such as a TCP-MD5 mismatch).
	LastError     string       `json:"lastError,omitempty"`
	LastErrorTime *metav1.Time `json:"lastErrorTime,omitempty"`
	// BFD is the BFD session state when the peer uses a BFD profile.
	BFD string `json:"bfd,omitempty"`
}

// BGPSessionStatusList is a list of BGPSessionStatus.
//
// +kubebuilder:object:root=true
type BGPSessionStatusList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BGPSessionStatus `json:"items"`
}
