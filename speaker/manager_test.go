package main

import (
	"testing"

	ctrl "sigs.k8s.io/controller-runtime"

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
