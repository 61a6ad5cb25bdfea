package install

import (
	"testing"

	"github.com/ironlb/ironlb/e2e/kcluster"
)

// TestMain removes the images the clusters of this package shared.
func TestMain(m *testing.M) { kcluster.TestMain(m) }
