package v1beta1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ServiceL2Status reports which node announces one Service IP with ARP/NDP
// and on which interfaces. The announcing speaker writes it; it lives in the
// Service's namespace, is owned by the Service (deleted with it), and is
// named <service>.<ip>, an IPv6 address written out in full with '-'
// for ':'. It has no status
// subresource: the speaker writes the whole object in one request.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,shortName=l2status,categories=ironlb
// +kubebuilder:printcolumn:name="Service",type=string,JSONPath=`.status.serviceName`
// +kubebuilder:printcolumn:name="IP",type=string,JSONPath=`.status.ip`
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.status.node`
// +kubebuilder:printcolumn:name="Interfaces",type=string,JSONPath=`.status.interfaces`
// +kubebuilder:printcolumn:name="Conflict",type=string,JSONPath=`.status.conflict.mac`
// +kubebuilder:printcolumn:name="Answering",type=string,JSONPath=`.status.conditions[?(@.type=="Answering")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ServiceL2Status struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Status ServiceL2StatusStatus `json:"status,omitempty"`
}

// ServiceL2StatusStatus is the announcement of one IP.
type ServiceL2StatusStatus struct {
	// ServiceName is the Service (in this namespace) the IP belongs to.
	ServiceName string `json:"serviceName,omitempty"`
	// IP is the announced address.
	IP string `json:"ip,omitempty"`
	// Node announces the IP; empty while no node may (see Reason).
	Node string `json:"node,omitempty"`
	// Interfaces the node answers ARP/NDP on.
	// +listType=atomic
	Interfaces []string `json:"interfaces,omitempty"`
	// Since is when Node started announcing.
	Since *metav1.Time `json:"since,omitempty"`
	// Conflict is set when another host already answered for the IP: the
	// node does not announce it until the conflict is gone.
	Conflict *AddressConflict `json:"conflict,omitempty"`
	// Reason explains why no node announces the IP.
	Reason string `json:"reason,omitempty"`
	// Conditions: "Answering" is the announcing node's reachability
	// check. True: the IP answers on every TCP port of the Service
	// through the node's datapath. False: it does not (reason
	// NotAnswering, the message names each port and why) or another host
	// answers ARP/NDP for it (reason AddressConflict). Unknown: nothing
	// could be checked (reason NotChecked: no TCP port, or not checked
	// yet). UDP ports are never checked (a UDP server need not answer).
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// AddressConflict describes a foreign host answering for a Service IP.
type AddressConflict struct {
	MAC        string      `json:"mac"`
	Interface  string      `json:"interface,omitempty"`
	DetectedAt metav1.Time `json:"detectedAt"`
}

// ServiceL2StatusList is a list of ServiceL2Status.
//
// +kubebuilder:object:root=true
type ServiceL2StatusList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ServiceL2Status `json:"items"`
}
