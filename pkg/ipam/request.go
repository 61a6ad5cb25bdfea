package ipam

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/ironlb/ironlb/pkg/iprange"
)

// ServiceKey names a Service.
type ServiceKey struct{ Namespace, Name string }

// String returns "namespace/name".
func (k ServiceKey) String() string { return k.Namespace + "/" + k.Name }

// Compare orders keys by namespace, then name.
func (k ServiceKey) Compare(o ServiceKey) int {
	if c := strings.Compare(k.Namespace, o.Namespace); c != 0 {
		return c
	}
	return strings.Compare(k.Name, o.Name)
}

// Port is one Service port as far as IP sharing is concerned.
type Port struct {
	Protocol string // "TCP", "UDP", "SCTP"; compared case-insensitively
	Port     int32
}

// String returns "TCP/80".
func (p Port) String() string { return fmt.Sprintf("%s/%d", p.Protocol, p.Port) }

// FamilyPolicy mirrors a Service's spec.ipFamilyPolicy.
type FamilyPolicy int

const (
	// SingleStack: one IP of Families[0].
	SingleStack FamilyPolicy = iota
	// PreferDualStack: one IP per family when one pool can give them all,
	// else one IP of the primary family.
	PreferDualStack
	// RequireDualStack: one IP per family from one pool, or fail.
	RequireDualStack
)

// String returns the Kubernetes spelling.
func (p FamilyPolicy) String() string {
	switch p {
	case SingleStack:
		return "SingleStack"
	case PreferDualStack:
		return "PreferDualStack"
	case RequireDualStack:
		return "RequireDualStack"
	}
	return fmt.Sprintf("FamilyPolicy(%d)", int(p))
}

// Request is what a Service asks of the allocator.
type Request struct {
	Service         ServiceKey
	Labels          map[string]string // Service labels, for ServiceSelectors
	NamespaceLabels map[string]string // for NamespaceSelectors
	Families        []Family          // spec.ipFamilies order, primary first
	FamilyPolicy    FamilyPolicy
	RequestedIPs    []netip.Addr // at most one per family
	RequestedPool   string
	SharingKey      string
	Ports           []Port
	Local           bool   // externalTrafficPolicy: Local
	Backend         string // canonical pod selector; compared only when Local
}

// Validate reports why the allocator would reject req as InvalidRequest.
func (req Request) Validate() error {
	_, err := newPlan(&req)
	if err != nil {
		return err
	}
	return nil
}

// Result is a Service's allocation.
type Result struct {
	Pool string
	IPs  []netip.Addr // primary family first
}

// IP returns the result's address of family f.
func (r Result) IP(f Family) (netip.Addr, bool) {
	for _, a := range r.IPs {
		if FamilyOf(a) == f {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// plan is a validated Request plus derived facts.
type plan struct {
	req       *Request
	families  []Family      // families to allocate, in result order
	requested [2]netip.Addr // requested IP per family index, zero if none
	share     shareInfo
}

func (p *plan) primary() Family { return p.families[0] }

func invalid(svc ServiceKey, format string, args ...any) *AllocationError {
	return &AllocationError{Reason: InvalidRequest, Service: svc, Detail: fmt.Sprintf(format, args...)}
}

// newPlan validates the parts of req that every operation needs, plus the
// requested IPs.
func newPlan(req *Request) (*plan, *AllocationError) {
	p, err := newBasePlan(req)
	if err != nil {
		return nil, err
	}
	for _, ip := range req.RequestedIPs {
		if why := iprange.CheckAddr(ip); why != "" {
			return nil, invalid(req.Service, "requested IP: %s", why)
		}
		f := FamilyOf(ip)
		if p.requested[familyIndex(f)].IsValid() {
			return nil, invalid(req.Service, "more than one requested %s address (%s, %s)", f, p.requested[familyIndex(f)], ip)
		}
		if !containsFamily(p.families, f) {
			return nil, invalid(req.Service, "requested IP %s is %s but the service gets only %s", ip, f, familyList(p.families))
		}
		p.requested[familyIndex(f)] = ip
	}
	return p, nil
}

// newBasePlan validates everything but the requested IPs (Assign ignores them).
func newBasePlan(req *Request) (*plan, *AllocationError) {
	svc := req.Service
	if svc.Namespace == "" || svc.Name == "" {
		return nil, invalid(svc, "service namespace and name must be set")
	}
	if len(req.Families) == 0 || len(req.Families) > 2 {
		return nil, invalid(svc, "need one or two IP families, got %d", len(req.Families))
	}
	for _, f := range req.Families {
		if !f.Valid() {
			return nil, invalid(svc, "unknown IP family %s", f)
		}
	}
	if len(req.Families) == 2 && req.Families[0] == req.Families[1] {
		return nil, invalid(svc, "IP family %s listed twice", req.Families[0])
	}
	p := &plan{req: req, share: shareInfoOf(req)}
	switch req.FamilyPolicy {
	case SingleStack:
		p.families = req.Families[:1]
	case PreferDualStack:
		p.families = req.Families
	case RequireDualStack:
		if len(req.Families) != 2 {
			return nil, invalid(svc, "RequireDualStack needs two IP families, got %s", familyList(req.Families))
		}
		p.families = req.Families
	default:
		return nil, invalid(svc, "unknown IP family policy %s", req.FamilyPolicy)
	}
	return p, nil
}

func containsFamily(fs []Family, f Family) bool {
	for _, g := range fs {
		if g == f {
			return true
		}
	}
	return false
}

func familyList(fs []Family) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = f.String()
	}
	return strings.Join(s, " and ")
}
