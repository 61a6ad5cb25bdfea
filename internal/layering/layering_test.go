package layering

import (
	"os/exec"
	"strings"
	"testing"
)

// rules lists, per package, the import paths (prefixes) none of its
// dependencies may have.
var rules = []struct {
	pkg       string
	forbidden []string
	why       string
}{
	{"github.com/ironlb/ironlb/ironlbctl",
		[]string{"github.com/osrg/gobgp", "github.com/vishvananda/netlink"},
		"the CLI reads plans (speaker/bgpspec), it does not run BGP or touch the kernel"},
	{"github.com/ironlb/ironlb/speaker/bgpplan",
		[]string{"github.com/osrg/gobgp", "github.com/vishvananda/netlink"},
		"the plan is pure; speaker/bgp runs it"},
	{"github.com/ironlb/ironlb/pkg/readiness",
		[]string{"sigs.k8s.io/controller-runtime", "k8s.io/client-go", "github.com/ironlb/ironlb/speaker", "github.com/ironlb/ironlb/datapath"},
		"the readiness rule sits below everything that uses it (lbstate, datapath, health checks)"},
	{"github.com/ironlb/ironlb/config",
		[]string{"sigs.k8s.io/controller-runtime", "github.com/ironlb/ironlb/pkg/ipam", "github.com/ironlb/ironlb/controller", "github.com/ironlb/ironlb/speaker"},
		"the configuration compiler is pure; adapters to its users live with them"},
}

func TestForbiddenDependencies(t *testing.T) {
	for _, r := range rules {
		t.Run(r.pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", r.pkg).Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", r.pkg, err)
			}
			deps := strings.Fields(string(out))
			if len(deps) < 2 || deps[len(deps)-1] != r.pkg {
				t.Fatalf("go list -deps %s listed %d packages, not ending with the package itself", r.pkg, len(deps))
			}
			var bad []string
			for _, d := range deps {
				for _, f := range r.forbidden {
					if d == f || strings.HasPrefix(d, f+"/") {
						bad = append(bad, d)
					}
				}
			}
			if len(bad) > 0 {
				t.Errorf("%s depends on %d forbidden packages, first %s (%s)",
					r.pkg, len(bad), strings.Join(bad[:min(len(bad), 3)], ", "), r.why)
			}
		})
	}
}
