package ipam

import (
	"fmt"
	"net/netip"
	"testing"
)

func TestErrorMessages(t *testing.T) {
	foo := ServiceKey{"default", "foo"}
	svc := ServiceKey{"default", "bar"}
	ip := netip.MustParseAddr("192.0.2.10")
	tests := []struct {
		err  *AllocationError
		want string
	}{
		{&AllocationError{Reason: PoolExhausted, Pools: []string{"web"}, Detail: "IPv4: 254 of 254 in use"}, `pool "web" exhausted (IPv4: 254 of 254 in use)`},
		{&AllocationError{Reason: PoolExhausted, Pools: []string{"a", "b"}}, `pools "a", "b" exhausted`},
		{&AllocationError{Reason: IPInUse, IP: ip, Holder: &foo}, "requested IP 192.0.2.10 is in use by service default/foo"},
		{&AllocationError{Reason: IPInUse, IP: ip}, "requested IP 192.0.2.10 is in use by service (unknown)"},
		{&AllocationError{Reason: NoMatchingPool, Service: svc, Pools: []string{"a", "b"}}, "no pool matches service default/bar (pools tried: a, b)"},
		{&AllocationError{Reason: PoolNotAllowed, Service: svc, Pools: []string{"a", "b"}},
			`pools "a", "b" do not serve service default/bar (serviceAllocation namespaces or selectors do not match)`},
		{&AllocationError{Reason: FamilyUnavailable, Service: svc, Families: []Family{IPv4, IPv6}},
			"no pool offers IPv4 and IPv6 for service default/bar"},
		{&AllocationError{Reason: PoolNotFound, Pools: []string{"x"}}, `pool "x" does not exist`},
		{&AllocationError{Reason: Reason("Other"), Detail: "d"}, "Other: d"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	wrapped := fmt.Errorf("reconcile: %w", tests[0].err)
	if ReasonOf(wrapped) != PoolExhausted || ReasonOf(fmt.Errorf("plain")) != "" {
		t.Errorf("ReasonOf does not unwrap")
	}
}

func TestFamilyAndPolicyStrings(t *testing.T) {
	for got, want := range map[string]string{
		IPv4.String(): "IPv4", IPv6.String(): "IPv6", Family(0).String(): "Family(0)",
		SingleStack.String(): "SingleStack", PreferDualStack.String(): "PreferDualStack",
		RequireDualStack.String(): "RequireDualStack", FamilyPolicy(9).String(): "FamilyPolicy(9)",
		(ServiceKey{"ns", "n"}).String(): "ns/n", (Port{"UDP", 53}).String(): "UDP/53",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
