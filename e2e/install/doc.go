// Package install installs IronLB into a real kubelet cluster (e2e/kcluster)
// exactly as a user would, with `helm install` of manifests/helm/ironlb and
// the images `make image` builds, and checks that Services get addresses
// that carry the client's traffic to real pods beside kube-proxy.
package install
