package ipam

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Reason classifies an AllocationError. Values are CamelCase so the
// controller can use them directly as Kubernetes event reasons.
type Reason string

// Reasons an allocation can fail.
const (
	PoolExhausted     Reason = "PoolExhausted"     // candidate pools have no free address
	NoMatchingPool    Reason = "NoMatchingPool"    // no auto-assign pool admits the service
	IPInUse           Reason = "IPInUse"           // requested IP held by a service it may not share with
	IPNotInAnyPool    Reason = "IPNotInAnyPool"    // requested IP outside every pool (or outside the requested pool)
	PoolNotFound      Reason = "PoolNotFound"      // requested pool does not exist
	PoolInvalid       Reason = "PoolInvalid"       // requested pool exists but its configuration is invalid and not in force
	PoolNotAllowed    Reason = "PoolNotAllowed"    // pool's serviceAllocation does not admit the service
	FamilyUnavailable Reason = "FamilyUnavailable" // no candidate pool has a range of a needed family
	InvalidRequest    Reason = "InvalidRequest"    // the request itself is malformed
	SharingConflict   Reason = "SharingConflict"   // same sharing key, but ports or backend clash
	NoCommonPool      Reason = "NoCommonPool"      // requested IPs lie in different pools
)

// AllocationError explains why a Service got no (new) allocation. Error()
// is written to be shown as a Kubernetes event message.
type AllocationError struct {
	Reason   Reason
	Service  ServiceKey
	Pools    []string    // pools concerned (tried, exhausted, not allowed, ...)
	Holder   *ServiceKey // for IPInUse and SharingConflict: who holds IP
	IP       netip.Addr  // the requested IP concerned, if any
	Families []Family    // for FamilyUnavailable
	Detail   string
}

// Error implements error.
func (e *AllocationError) Error() string {
	var s string
	switch e.Reason {
	case PoolExhausted:
		s = fmt.Sprintf("%s exhausted", poolNoun(e.Pools))
		if e.Detail != "" {
			return s + " (" + e.Detail + ")"
		}
		return s
	case NoMatchingPool:
		s = fmt.Sprintf("no pool matches service %s", e.Service)
		if len(e.Pools) > 0 {
			s += " (pools tried: " + strings.Join(e.Pools, ", ") + ")"
		}
	case IPInUse:
		s = fmt.Sprintf("requested IP %s is in use by service %s", e.IP, holderName(e.Holder))
	case SharingConflict:
		s = fmt.Sprintf("requested IP %s cannot be shared with service %s", e.IP, holderName(e.Holder))
	case IPNotInAnyPool:
		if len(e.Pools) == 0 {
			s = fmt.Sprintf("requested IP %s is not in any pool", e.IP)
		} else {
			s = fmt.Sprintf("requested IP %s is not in %s", e.IP, poolNoun(e.Pools))
		}
	case PoolNotFound:
		s = fmt.Sprintf("%s does not exist", poolNoun(e.Pools))
	case PoolInvalid:
		s = fmt.Sprintf("%s is invalid and not in use", poolNoun(e.Pools))
	case PoolNotAllowed:
		verb := "does"
		if len(e.Pools) > 1 {
			verb = "do"
		}
		s = fmt.Sprintf("%s %s not serve service %s (serviceAllocation namespaces or selectors do not match)",
			poolNoun(e.Pools), verb, e.Service)
	case FamilyUnavailable:
		s = fmt.Sprintf("no pool offers %s for service %s", familyList(e.Families), e.Service)
		if len(e.Pools) > 0 {
			s += " (pools tried: " + strings.Join(e.Pools, ", ") + ")"
		}
	case InvalidRequest:
		s = fmt.Sprintf("invalid request for service %s", e.Service)
	case NoCommonPool:
		s = "requested IPs are not in one common pool"
	default:
		s = string(e.Reason)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func poolNoun(pools []string) string {
	q := make([]string, len(pools))
	for i, p := range pools {
		q[i] = fmt.Sprintf("%q", p)
	}
	if len(q) == 1 {
		return "pool " + q[0]
	}
	return "pools " + strings.Join(q, ", ")
}

func holderName(k *ServiceKey) string {
	if k == nil {
		return "(unknown)"
	}
	return k.String()
}

// ReasonOf returns the Reason of the AllocationError in err's chain, or "".
func ReasonOf(err error) Reason {
	var ae *AllocationError
	if errors.As(err, &ae) {
		return ae.Reason
	}
	return ""
}
