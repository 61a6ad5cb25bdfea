// Package cluster runs IronLB end to end on a virtual LAN: a real etcd and
// kube-apiserver on the host (e2e/kubeapi), a LAN of node namespaces
// (e2e/vlan) with a Node object per node namespace, the controller as a
// process on the host and a speaker process inside every node namespace,
// each under its own least-privilege RBAC identity. Speakers reach the API
// server through a forwarder inside their namespace, so the node namespaces
// need no route to the host.
//
// Layer 2, BGP and datapath tests, and the lab, build on it.
package cluster
