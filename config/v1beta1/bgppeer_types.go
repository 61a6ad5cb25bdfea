package v1beta1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// BGPPeer is a router the speakers open BGP sessions with.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=bgppeer,categories=ironlb
// +kubebuilder:printcolumn:name="Address",type=string,JSONPath=`.spec.peerAddress`
// +kubebuilder:printcolumn:name="My ASN",type=integer,JSONPath=`.spec.myASN`
// +kubebuilder:printcolumn:name="Peer ASN",type=integer,JSONPath=`.spec.peerASN`
// +kubebuilder:printcolumn:name="BFD",type=string,JSONPath=`.spec.bfdProfile`
// +kubebuilder:printcolumn:name="Valid",type=string,JSONPath=`.status.conditions[?(@.type=="Valid")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:subresource:status
// +kubebuilder:validation:XValidation:rule="has(self.spec.peerASN) != has(self.spec.dynamicASN)",message="exactly one of spec.peerASN and spec.dynamicASN must be set"
// +kubebuilder:validation:XValidation:rule="!(has(self.spec.password) && has(self.spec.passwordSecret))",message="spec.password and spec.passwordSecret are mutually exclusive"
type BGPPeer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec BGPPeerSpec `json:"spec"`
	// +optional
	Status BGPPeerStatus `json:"status,omitempty"`
}

// DynamicASNMode lets a peer's ASN be learned from its OPEN message.
//
// +kubebuilder:validation:Enum=internal;external
type DynamicASNMode string

const (
	// DynamicASNInternal expects the peer to use our own ASN (iBGP).
	DynamicASNInternal DynamicASNMode = "internal"
	// DynamicASNExternal accepts any ASN other than ours (eBGP).
	DynamicASNExternal DynamicASNMode = "external"
)

// BGPPeerSpec describes one BGP session per selected node.
type BGPPeerSpec struct {
	// MyASN is the speakers' own AS number.
	//
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4294967295
	MyASN uint32 `json:"myASN"`

	// ASN is the peer's AS number. Exactly one of peerASN and dynamicASN.
	//
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4294967295
	// +optional
	ASN uint32 `json:"peerASN,omitempty"`

	// DynamicASN accepts the peer's AS number from its OPEN message.
	//
	// +optional
	DynamicASN DynamicASNMode `json:"dynamicASN,omitempty"`

	// Address is the peer's IPv4 or IPv6 address.
	//
	// +kubebuilder:validation:MaxLength=45
	Address string `json:"peerAddress"`

	// Port is the peer's TCP port.
	//
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +kubebuilder:default=179
	// +optional
	Port int32 `json:"peerPort,omitempty"`

	// SourceAddress is the local address sessions are opened from. Empty:
	// the kernel's choice for the route to the peer.
	//
	// +kubebuilder:validation:MaxLength=45
	// +optional
	SourceAddress string `json:"sourceAddress,omitempty"`

	// RouterID overrides the BGP router ID (an IPv4 address). Empty: the
	// node's first IPv4 address.
	//
	// +kubebuilder:validation:MaxLength=15
	// +optional
	RouterID string `json:"routerID,omitempty"`

	// HoldTime of the session; 0 or at least 3s.
	// The pattern is Go's duration syntax ("90s", "1m30s"): anything else
	// would be stored but could not be read back.
	//
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$`
	// +optional
	HoldTime *metav1.Duration `json:"holdTime,omitempty"`

	// KeepaliveTime of the session; at most a third of HoldTime.
	// The pattern is Go's duration syntax ("90s", "1m30s"): anything else
	// would be stored but could not be read back.
	//
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$`
	// +optional
	KeepaliveTime *metav1.Duration `json:"keepaliveTime,omitempty"`

	// ConnectTime is the wait between connection attempts (default 5s).
	// The pattern is Go's duration syntax ("90s", "1m30s"): anything else
	// would be stored but could not be read back.
	//
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$`
	// +optional
	ConnectTime *metav1.Duration `json:"connectTime,omitempty"`

	// EBGPMultiHop allows an eBGP peer that is not directly connected.
	//
	// +optional
	EBGPMultiHop bool `json:"ebgpMultiHop,omitempty"`

	// Password for TCP-MD5 authentication. Prefer PasswordSecret, which
	// keeps it out of the object.
	//
	// +kubebuilder:validation:MaxLength=80
	// +optional
	Password string `json:"password,omitempty"`

	// PasswordSecret references a Secret of type kubernetes.io/basic-auth
	// whose "password" key holds the TCP-MD5 password.
	//
	// +optional
	PasswordSecret *SecretReference `json:"passwordSecret,omitempty"`

	// BFDProfile names a BFDProfile; when set, the session is tied to a BFD
	// session and goes down as soon as BFD does.
	//
	// +optional
	BFDProfile string `json:"bfdProfile,omitempty"`

	// EnableGracefulRestart asks the peer to keep our routes while a speaker
	// restarts (RFC 4724).
	//
	// +optional
	EnableGracefulRestart bool `json:"enableGracefulRestart,omitempty"`

	// NodeSelectors limit the nodes that peer. Empty: every node.
	//
	// +listType=atomic
	// +optional
	NodeSelectors []metav1.LabelSelector `json:"nodeSelectors,omitempty"`
}

// SecretReference names a Secret in a namespace.
type SecretReference struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// +kubebuilder:validation:MinLength=1
	Namespace string `json:"namespace"`
}

// BGPPeerList is a list of BGPPeer.
//
// +kubebuilder:object:root=true
type BGPPeerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BGPPeer `json:"items"`
}

// BGPPeerStatus is the controller's report on the object.
type BGPPeerStatus struct {
	ConfigStatus `json:",inline"`

	// LastValidSpec is the last spec that compiled; it stays in force while
	// the current spec is invalid.
	// +optional
	LastValidSpec *BGPPeerSpec `json:"lastValidSpec,omitempty"`
}
