package v1beta1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ServiceBGPStatus reports the nodes where one Service IP advertised over
// BGP is announced but does not answer. Every node that advertises the IP
// checks it through its own datapath (the reachability check) and writes
// only its own entry, with server-side apply under its own field manager
// (ironlb-speaker/<node>): while every node answers there is no entry and
// no write, and the object is deleted once its last entry goes, so a
// healthy cluster of 10,000 Services on 100 nodes holds none of these
// objects and writes nothing. It lives in the Service's namespace, is
// owned by the Service (deleted with it), and is named like the
// ServiceL2Status: <service>.<ip>, an IPv6 address written out in full
// with '-' for ':'. It has no status subresource.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,shortName=bgpstatus,categories=ironlb
// +kubebuilder:printcolumn:name="Service",type=string,JSONPath=`.status.serviceName`
// +kubebuilder:printcolumn:name="IP",type=string,JSONPath=`.status.ip`
// +kubebuilder:printcolumn:name="Not-Answering-On",type=string,JSONPath=`.status.notAnswering[*].node`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ServiceBGPStatus struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Status ServiceBGPStatusStatus `json:"status,omitempty"`
}

// ServiceBGPStatusStatus is the reachability of one IP on the nodes that
// advertise it.
type ServiceBGPStatusStatus struct {
	// ServiceName is the Service (in this namespace) the IP belongs to.
	ServiceName string `json:"serviceName,omitempty"`
	// IP is the advertised address.
	IP string `json:"ip,omitempty"`
	// NotAnswering lists the nodes that advertise the IP but where it does
	// not answer on a TCP port of the Service through the node's datapath;
	// a node that answers (or stops advertising the IP) has no entry.
	// +listType=map
	// +listMapKey=node
	NotAnswering []NodeNotAnswering `json:"notAnswering,omitempty"`
}

// NodeNotAnswering is one node's failing reachability check.
type NodeNotAnswering struct {
	// Node advertises the IP.
	Node string `json:"node"`
	// Reason is NotAnswering (the check's condition reason).
	Reason string `json:"reason"`
	// Message names each failing port and why (connection refused, no
	// answer).
	Message string `json:"message"`
	// Since is when the node found the IP not answering.
	Since metav1.Time `json:"since"`
}

// ServiceBGPStatusList is a list of ServiceBGPStatus.
//
// +kubebuilder:object:root=true
type ServiceBGPStatusList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ServiceBGPStatus `json:"items"`
}
