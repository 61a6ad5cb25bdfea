package allocation

import (
	"errors"
	"strings"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/pkg/ipam"
)

// ExplainInvalid names, in an allocation failure, the invalid pools that
// cause it, with the field at fault: the pool the Service asked for when
// its configuration is not in force, or, when no pool could serve the
// Service, every pool that is not in force. Other failures are returned
// unchanged.
func ExplainInvalid(err error, cfg *config.Config) error {
	var ae *ipam.AllocationError
	if cfg == nil || !errors.As(err, &ae) {
		return err
	}
	out := *ae
	var suspects []config.ObjectState
	switch ae.Reason {
	case ipam.PoolNotFound:
		for _, p := range ae.Pools {
			if st, ok := cfg.State(config.KindIPAddressPool, p); ok && st.InForce == config.InForceNone {
				suspects = append(suspects, st)
			}
		}
		if len(suspects) == len(ae.Pools) {
			out.Reason = ipam.PoolInvalid
		}
	case ipam.NoMatchingPool, ipam.IPNotInAnyPool, ipam.FamilyUnavailable:
		for _, st := range cfg.Invalid() {
			if st.Kind == config.KindIPAddressPool && st.InForce == config.InForceNone {
				suspects = append(suspects, st)
			}
		}
	}
	if len(suspects) == 0 {
		return err
	}
	parts := make([]string, 0, len(suspects)+1)
	if out.Detail != "" {
		parts = append(parts, out.Detail)
	}
	for _, st := range suspects {
		parts = append(parts, "not in use: "+st.Errors.Error())
	}
	out.Detail = strings.Join(parts, "; ")
	return &out
}
