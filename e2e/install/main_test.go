package install

import (
	"fmt"
	"os"
	"testing"

	"github.com/ironlb/ironlb/e2e/kcluster"
)

// TestMain removes the images the clusters of this package shared.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := kcluster.RemoveImages(); err != nil {
		fmt.Fprintln(os.Stderr, "kcluster images:", err)
	}
	os.Exit(code)
}
