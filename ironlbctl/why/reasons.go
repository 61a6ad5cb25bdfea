// Package why explains why a Service has no IronLB address or is not
// announced. Explain is pure: it reads a snapshot of the cluster and
// replays the project's own decisions on it (the configuration compiler,
// the address allocator, svcrequest, the speakers' node eligibility and
// BGP planner), so its answer is the one the controller and speakers reach.
package why

// Code is a short, stable identifier of a reason.
type Code string

// Reasons, roughly in the order Explain checks them.
const (
	ServiceNotFound   Code = "ServiceNotFound"
	NotLoadBalancer   Code = "NotLoadBalancer"
	OtherClass        Code = "OtherLoadBalancerClass"
	ClasslessIgnored  Code = "ClasslessIgnored"
	InvalidConfig     Code = "InvalidConfiguration"
	InvalidRequest    Code = "InvalidRequest"
	PoolNotFound      Code = "RequestedPoolNotFound"
	NoPoolMatches     Code = "NoPoolMatches"
	PoolExhausted     Code = "PoolExhausted"
	IPInUse           Code = "RequestedIPInUse"
	IPNotInAnyPool    Code = "RequestedIPNotInAnyPool"
	FamilyUnavailable Code = "FamilyUnavailable"
	AllocationFailed  Code = "AllocationFailed"
	AwaitingAddress   Code = "AwaitingController"
	NotOurAddress     Code = "NotAllocatedByIronLB"
	AddressLeftPools  Code = "AddressOutsidePools"
	NotAdvertised     Code = "NotAdvertised"
	NoReadyEndpoint   Code = "NoReadyEndpoint"
	NoLocalEndpoint   Code = "NoLocalEndpoint"
	NoEligibleNode    Code = "NoEligibleNode"
	AddressConflict   Code = "AddressConflict"
	NotAnnounced      Code = "NotAnnounced"
	NoL2Status        Code = "NoL2Status"
	NoEstablished     Code = "NoEstablishedSession"
	Announced         Code = "Announced"
	// NotAnswering: announced, but the announcing speaker's reachability
	// check finds the address does not answer (or another host answers
	// ARP/NDP for it).
	NotAnswering Code = "NotAnswering"
	// EndpointsSetAside: endpoints on nodes the speakers hold dead get no
	// new connections; the Service still works through the others.
	EndpointsSetAside Code = "EndpointsSetAside"
	// DeadNodesUnreadable: the speakers' Lease has a malformed
	// ironlb.io/dead-nodes annotation.
	DeadNodesUnreadable Code = "DeadNodesUnreadable"
	// ClientOutsideSourceRanges: the client asked about (why --client) is
	// not admitted by the Service's source ranges.
	ClientOutsideSourceRanges Code = "ClientOutsideSourceRanges"
)

// Reason is one finding.
type Reason struct {
	Code Code `json:"code"`
	// IP is the Service address concerned, "" for the whole Service.
	IP string `json:"ip,omitempty"`
	// Message is one sentence naming the object and field concerned.
	Message string `json:"message"`
	// Details break the message down (per pool, per node, per session).
	Details []string `json:"details,omitempty"`
}

// OK reports whether r says the address works (assigned and announced).
// Endpoints set aside on dead nodes are news, not a failure: the Service
// is served by the others.
func (r Reason) OK() bool { return r.Code == Announced || r.Code == EndpointsSetAside }
