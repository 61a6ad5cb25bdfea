package allocation

import (
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/ipam"
)

func TestExplainInvalid(t *testing.T) {
	pool := func(name string, addrs ...string) v1beta1.IPAddressPool {
		return v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1beta1.IPAddressPoolSpec{Addresses: addrs}}
	}
	cfg, _ := config.Compile(config.Resources{Pools: []v1beta1.IPAddressPool{
		pool("good", "192.0.2.0/28"),
		pool("bad", "192.0.2.300/32"),
	}})
	svc := ipam.ServiceKey{Namespace: "demo", Name: "web"}
	for _, tc := range []struct {
		name       string
		in         error
		wantReason ipam.Reason
		wantText   []string // fragments of the message
	}{
		{"the requested pool is invalid",
			&ipam.AllocationError{Reason: ipam.PoolNotFound, Service: svc, Pools: []string{"bad"}},
			ipam.PoolInvalid, []string{`pool "bad" is invalid`, `IPAddressPool "bad": spec.addresses[0]`}},
		{"the requested pool does not exist at all",
			&ipam.AllocationError{Reason: ipam.PoolNotFound, Service: svc, Pools: []string{"nope"}},
			ipam.PoolNotFound, []string{`pool "nope" does not exist`}},
		{"no pool matches while one is invalid",
			&ipam.AllocationError{Reason: ipam.NoMatchingPool, Service: svc},
			ipam.NoMatchingPool, []string{"no pool matches", `IPAddressPool "bad": spec.addresses[0]`}},
		{"an exhausted pool says nothing of the invalid one",
			&ipam.AllocationError{Reason: ipam.PoolExhausted, Service: svc, Pools: []string{"good"}},
			ipam.PoolExhausted, []string{`pool "good" exhausted`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ExplainInvalid(tc.in, cfg)
			var ae *ipam.AllocationError
			if !errors.As(got, &ae) || ae.Reason != tc.wantReason {
				t.Fatalf("ExplainInvalid = %v, want reason %s", got, tc.wantReason)
			}
			for _, w := range tc.wantText {
				if !strings.Contains(got.Error(), w) {
					t.Errorf("message %q lacks %q", got.Error(), w)
				}
			}
			if tc.wantReason == ipam.PoolExhausted && strings.Contains(got.Error(), "bad") {
				t.Errorf("message %q blames an unrelated pool", got.Error())
			}
		})
	}
}
