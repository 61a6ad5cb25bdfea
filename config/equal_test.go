package config

import (
	"testing"

	"github.com/ironlb/ironlb/config/v1beta1"
)

func TestEqual(t *testing.T) {
	base := Resources{
		Pools:            []v1beta1.IPAddressPool{pool("a", "192.0.2.0/25"), pool("bad", "192.0.2.200-192.0.2.100")},
		L2Advertisements: []v1beta1.L2Advertisement{l2("adv", "a")},
	}
	compiled := func(r Resources) *Config {
		cfg, _ := Compile(r)
		return cfg
	}
	// What a status write leaves: the same specs, other resource versions.
	rewritten := base.With(ptr(pool("a", "192.0.2.0/25")))
	rewritten.Pools[0].ResourceVersion = "99"
	for _, tc := range []struct {
		name string
		a, b *Config
		want bool
	}{
		{"compiled twice", compiled(base), compiled(base), true},
		{"a status write", compiled(base), compiled(rewritten), true},
		{"a pool grows", compiled(base), compiled(base.With(ptr(pool("a", "192.0.2.0/24")))), false},
		{"an advertisement goes", compiled(base), compiled(base.Without(KindL2Advertisement, "adv")), false},
		{"the invalid pool is fixed", compiled(base), compiled(base.With(ptr(pool("bad", "192.0.2.200-192.0.2.210")))), false},
		{"nil and not", nil, compiled(base), false},
		{"both nil", nil, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a.Equal(tc.b); got != tc.want {
				t.Fatalf("Equal = %v, want %v", got, tc.want)
			}
		})
	}
}
