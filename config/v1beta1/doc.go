// Package v1beta1 holds the ironlb.io/v1beta1 API: the custom resources an
// operator writes to configure IronLB.
//
// Every resource is cluster-scoped. Address pools, advertisements and peers
// describe the network the cluster sits on, which no single namespace owns;
// keeping them cluster-scoped also means RBAC for them is one ClusterRole.
//
// +kubebuilder:object:generate=true
// +groupName=ironlb.io
package v1beta1
