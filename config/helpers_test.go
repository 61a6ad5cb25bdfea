package config

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/config/v1beta1"
)

// with applies f to a copy of v: the table tests build objects as
// "a valid base, changed here".
func with[T any](v T, f func(*T)) T {
	f(&v)
	return v
}

func ptr[T any](v T) *T { return &v }

func dur(s string) *metav1.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return &metav1.Duration{Duration: d}
}

func meta(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name} }

func pool(name string, addrs ...string) v1beta1.IPAddressPool {
	return v1beta1.IPAddressPool{ObjectMeta: meta(name), Spec: v1beta1.IPAddressPoolSpec{Addresses: addrs}}
}

func labeledPool(name string, lbls map[string]string, addrs ...string) v1beta1.IPAddressPool {
	p := pool(name, addrs...)
	p.Labels = lbls
	return p
}

func l2(name string, pools ...string) v1beta1.L2Advertisement {
	return v1beta1.L2Advertisement{ObjectMeta: meta(name), Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: pools}}
}

func bgpAdv(name string, pools ...string) v1beta1.BGPAdvertisement {
	return v1beta1.BGPAdvertisement{ObjectMeta: meta(name), Spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: pools}}
}

func peer(name, addr string, myASN, peerASN uint32) v1beta1.BGPPeer {
	return v1beta1.BGPPeer{ObjectMeta: meta(name), Spec: v1beta1.BGPPeerSpec{MyASN: myASN, ASN: peerASN, Address: addr}}
}

func bfd(name string) v1beta1.BFDProfile { return v1beta1.BFDProfile{ObjectMeta: meta(name)} }

func communityObj(name string, kv ...string) v1beta1.Community {
	c := v1beta1.Community{ObjectMeta: meta(name)}
	for i := 0; i+1 < len(kv); i += 2 {
		c.Spec.Communities = append(c.Spec.Communities, v1beta1.CommunityAlias{Name: kv[i], Value: kv[i+1]})
	}
	return c
}

func sel(kv ...string) metav1.LabelSelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return metav1.LabelSelector{MatchLabels: m}
}

// badSelector fails metav1.LabelSelectorAsSelector.
var badSelector = metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "k", Operator: "Sometimes"}}}

// wantErr is one expected error: kind, name and field exactly, and a
// fragment of the detail.
type wantErr struct{ kind, name, field, detail string }

func (w wantErr) String() string {
	return fmt.Sprintf("%s %q %s: ...%s...", w.kind, w.name, w.field, w.detail)
}

// compileErrs compiles r and returns the Config (always there) and its
// Errors (nil when every object is valid).
func compileErrs(t *testing.T, r Resources) (*Config, Errors) {
	t.Helper()
	cfg, es := Compile(r)
	if cfg == nil {
		t.Fatal("Compile returned no Config")
	}
	if es != nil && len(es) == 0 {
		t.Fatal("Compile returned an empty, non-nil Errors")
	}
	return cfg, es
}

// checkErrs asserts that r yields exactly want, in order.
func checkErrs(t *testing.T, r Resources, want ...wantErr) *Config {
	t.Helper()
	cfg, got := compileErrs(t, r)
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		g, w := got[i], want[i]
		ok = g.Kind == w.kind && g.Name == w.name && g.Field == w.field && strings.Contains(g.Detail, w.detail)
	}
	if !ok {
		var b strings.Builder
		b.WriteString("got errors:\n")
		for _, g := range got {
			fmt.Fprintf(&b, "  %s %q %s: %s\n", g.Kind, g.Name, g.Field, g.Detail)
		}
		b.WriteString("want:\n")
		for _, w := range want {
			fmt.Fprintf(&b, "  %s\n", w)
		}
		t.Fatal(b.String())
	}
	return cfg
}

type ruleCase struct {
	name string
	res  Resources
	want []wantErr
}

func runRules(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkErrs(t, tc.res, tc.want...)
		})
	}
}
