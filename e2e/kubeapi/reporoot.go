package kubeapi

import (
	"os"
	"testing"
)

// RepoRoot is the root of this module's repository, found from the test's
// working directory (the package directory under go test).
func RepoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := repoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	return root
}
