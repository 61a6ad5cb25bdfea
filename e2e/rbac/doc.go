// Package rbac proves IronLB's least privilege against a real API server:
// with the RBAC generated from the code's +kubebuilder:rbac markers
// (manifests/rbac, which the Helm chart and manifests/ironlb.yaml carry
// unchanged) applied and bound to the controller's and the speaker's
// ServiceAccounts, requests made as those ServiceAccounts (impersonation)
// are allowed or denied exactly as a table says.
//
// The package has only tests; this file carries its documentation.
package rbac
