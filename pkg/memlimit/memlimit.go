// Package memlimit derives the Go runtime's soft memory limit from the
// container's memory limit. Without one the collector lets the heap grow
// to twice what is live (GOGC=100) whatever the container allows, and a
// burst of garbage (10,000 Services listed at start) can take the process
// over its limit and get it killed; with one the collector works harder
// only as the process nears the limit, so nothing is paid while memory is
// plentiful.
package memlimit

import (
	"fmt"
	"math"
	"runtime/debug"

	"k8s.io/apimachinery/pkg/api/resource"
)

// EnvContainerLimit is the environment variable the Helm chart fills with
// the container's memory limit (downward API, limits.memory, in bytes).
const EnvContainerLimit = "IRONLB_MEMORY_LIMIT"

// EnvGoMemLimit is the Go runtime's own setting: when the operator sets
// it, it wins and the container limit is not looked at.
const EnvGoMemLimit = "GOMEMLIMIT"

// Percent of the container limit the Go runtime may use: the rest is room
// for what the kernel charges to the container beyond the Go runtime's
// memory (socket buffers, page cache of the files it reads) and for the
// collector to catch up before the kernel's limit is reached.
const Percent = 90

// Parse reads a container memory limit: bytes, as the downward API writes
// them, or a Kubernetes quantity ("256Mi"). Empty or "0" is no limit (0).
func Parse(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0, fmt.Errorf("memory limit %q: %w", s, err)
	}
	v, ok := q.AsInt64()
	if !ok || v < 0 {
		return 0, fmt.Errorf("memory limit %q: not a byte count", s)
	}
	return v, nil
}

// Decision is what Soft chose, for the startup log.
type Decision struct {
	Limit int64  // the soft limit set, in bytes; 0: none set
	Why   string // why that one
}

// Soft decides the soft limit for a container limit of container bytes
// (0: none) when GOMEMLIMIT is goMemLimit ("" when unset).
func Soft(container int64, goMemLimit string) Decision {
	switch {
	case goMemLimit != "":
		return Decision{Why: EnvGoMemLimit + "=" + goMemLimit + " set by the operator"}
	case container <= 0:
		return Decision{Why: "no container memory limit"}
	case container > math.MaxInt64/100:
		return Decision{Why: "container memory limit too large to matter"}
	}
	return Decision{Limit: container * Percent / 100, Why: fmt.Sprintf("%d%% of the container memory limit %d", Percent, container)}
}

// Apply sets the runtime's soft limit as Soft decides.
func Apply(container int64, goMemLimit string) Decision {
	d := Soft(container, goMemLimit)
	if d.Limit > 0 {
		debug.SetMemoryLimit(d.Limit)
	}
	return d
}
