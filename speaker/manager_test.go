package main

import (
	"testing"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/e2e/kubeapi"
)

// newTestManager is a manager for one watch under test against a real
// API server, with the speaker's scheme.
func newTestManager(t *testing.T, api *kubeapi.Server) ctrl.Manager {
	t.Helper()
	scheme, err := newScheme()
	if err != nil {
		t.Fatal(err)
	}
	return api.Manager(t, scheme)
}

// startAPI starts a real API server with IronLB's CRDs and returns it with
// a client of the speaker's scheme.
func startAPI(t *testing.T) (*kubeapi.Server, client.Client) {
	t.Helper()
	api := kubeapi.Start(t, kubeapi.Options{})
	scheme, err := newScheme()
	if err != nil {
		t.Fatal(err)
	}
	return api, api.Client(t, scheme)
}
