package ipvs

import (
	"os"
	"testing"
)

// TestAvailableMatchesKernel runs on the host (no IPVS there: Available
// must see through moby/ipvs's silent success) and in the VM (IPVS
// loaded: it must succeed).
func TestAvailableMatchesKernel(t *testing.T) {
	_, statErr := os.Stat("/proc/net/ip_vs")
	err := Available()
	switch {
	case statErr != nil && err == nil:
		t.Fatal("Available() = nil on a kernel without IPVS (/proc/net/ip_vs is missing)")
	case statErr == nil && err != nil:
		t.Fatalf("Available() = %v on a kernel with IPVS", err)
	}
	t.Logf("/proc/net/ip_vs: %v; Available: %v", statErr, err)
}
