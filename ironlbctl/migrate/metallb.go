package migrate

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The MetalLB objects migrate reads: the spec fields of metallb.io/v1beta1
// (IPAddressPool, L2Advertisement, BGPAdvertisement, BFDProfile, Community,
// BGPPeer) and metallb.io/v1beta2 (BGPPeer), as MetalLB's API reference
// documents them. Only what a conversion needs is declared: a field not
// declared here is reported by the strict decoder as having no equivalent.
// status is declared so that MetalLB's own status is dropped silently.

const metallbGroup = "metallb.io"

type mlbPool struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		Addresses         []string `json:"addresses"`
		AutoAssign        *bool    `json:"autoAssign,omitempty"`
		AvoidBuggyIPs     bool     `json:"avoidBuggyIPs,omitempty"`
		ServiceAllocation *struct {
			Priority           int                    `json:"priority,omitempty"`
			Namespaces         []string               `json:"namespaces,omitempty"`
			NamespaceSelectors []metav1.LabelSelector `json:"namespaceSelectors,omitempty"`
			ServiceSelectors   []metav1.LabelSelector `json:"serviceSelectors,omitempty"`
		} `json:"serviceAllocation,omitempty"`
	} `json:"spec"`
	Status any `json:"status,omitempty"`
}

// mlbPreferredNode is one entry of L2Advertisement.spec.preferredNodeSelectors.
type mlbPreferredNode struct {
	Weight     int32                `json:"weight"`
	Preference metav1.LabelSelector `json:"preference"`
}

type mlbL2 struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		IPAddressPools         []string               `json:"ipAddressPools,omitempty"`
		IPAddressPoolSelectors []metav1.LabelSelector `json:"ipAddressPoolSelectors,omitempty"`
		NodeSelectors          []metav1.LabelSelector `json:"nodeSelectors,omitempty"`
		Interfaces             []string               `json:"interfaces,omitempty"`
		ServiceSelectors       []metav1.LabelSelector `json:"serviceSelectors,omitempty"`
		PreferredNodeSelectors []mlbPreferredNode     `json:"preferredNodeSelectors,omitempty"`
	} `json:"spec,omitempty"`
	Status any `json:"status,omitempty"`
}

type mlbBGPAdv struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		AggregationLength      *int32                 `json:"aggregationLength,omitempty"`
		AggregationLengthV6    *int32                 `json:"aggregationLengthV6,omitempty"`
		LocalPref              uint32                 `json:"localPref,omitempty"`
		Communities            []string               `json:"communities,omitempty"`
		IPAddressPools         []string               `json:"ipAddressPools,omitempty"`
		IPAddressPoolSelectors []metav1.LabelSelector `json:"ipAddressPoolSelectors,omitempty"`
		NodeSelectors          []metav1.LabelSelector `json:"nodeSelectors,omitempty"`
		Peers                  []string               `json:"peers,omitempty"`
		ServiceSelectors       []metav1.LabelSelector `json:"serviceSelectors,omitempty"`
	} `json:"spec,omitempty"`
	Status any `json:"status,omitempty"`
}

type mlbBFD struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		ReceiveInterval  *uint32 `json:"receiveInterval,omitempty"`
		TransmitInterval *uint32 `json:"transmitInterval,omitempty"`
		DetectMultiplier *uint32 `json:"detectMultiplier,omitempty"`
		EchoInterval     *uint32 `json:"echoInterval,omitempty"`
		EchoMode         *bool   `json:"echoMode,omitempty"`
		PassiveMode      *bool   `json:"passiveMode,omitempty"`
		MinimumTTL       *uint32 `json:"minimumTtl,omitempty"`
	} `json:"spec,omitempty"`
	Status any `json:"status,omitempty"`
}

type mlbCommunity struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		Communities []struct {
			Name  string `json:"name,omitempty"`
			Value string `json:"value,omitempty"`
		} `json:"communities,omitempty"`
	} `json:"spec,omitempty"`
	Status any `json:"status,omitempty"`
}

// mlbPeer holds both versions of BGPPeer: v1beta1's fields are a subset of
// v1beta2's with the same names (its nodeSelectors have the shape of a
// label selector, and its durations are not pointers, which decodes the
// same). decodePeer rejects the v1beta2-only fields in a v1beta1 object.
type mlbPeer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		MyASN                  uint32                 `json:"myASN"`
		ASN                    uint32                 `json:"peerASN,omitempty"`
		LocalASN               uint32                 `json:"localASN,omitempty"`
		DynamicASN             string                 `json:"dynamicASN,omitempty"`
		Address                string                 `json:"peerAddress,omitempty"`
		Interface              string                 `json:"interface,omitempty"`
		SrcAddress             string                 `json:"sourceAddress,omitempty"`
		Port                   uint16                 `json:"peerPort,omitempty"`
		HoldTime               *metav1.Duration       `json:"holdTime,omitempty"`
		KeepaliveTime          *metav1.Duration       `json:"keepaliveTime,omitempty"`
		ConnectTime            *metav1.Duration       `json:"connectTime,omitempty"`
		RouterID               string                 `json:"routerID,omitempty"`
		NodeSelectors          []metav1.LabelSelector `json:"nodeSelectors,omitempty"`
		Password               string                 `json:"password,omitempty"`
		PasswordSecret         *mlbSecretRef          `json:"passwordSecret,omitempty"`
		BFDProfile             string                 `json:"bfdProfile,omitempty"`
		EnableGracefulRestart  bool                   `json:"enableGracefulRestart,omitempty"`
		EBGPMultiHop           bool                   `json:"ebgpMultiHop,omitempty"`
		VRFName                string                 `json:"vrf,omitempty"`
		DisableMP              bool                   `json:"disableMP,omitempty"`
		DualStackAddressFamily bool                   `json:"dualStackAddressFamily,omitempty"`
	} `json:"spec,omitempty"`
	Status any `json:"status,omitempty"`
}

// mlbSecretRef is a core/v1 SecretReference.
type mlbSecretRef struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}
