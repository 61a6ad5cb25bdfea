package lbstate

import (
	"net/netip"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func TestIndex(t *testing.T) {
	a, b := netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("203.0.113.2")
	svc := func(name string, ips ...netip.Addr) Service {
		return Service{Key: types.NamespacedName{Namespace: "ns", Name: name}, IPs: ips, Pool: "p"}
	}
	names := func(ss []Service) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.Key.Name)
		}
		return out
	}
	dirty := func(x *Index) []netip.Addr {
		out := make([]netip.Addr, 0, len(x.Dirty))
		for ip := range x.Dirty {
			out = append(out, ip)
		}
		slices.SortFunc(out, netip.Addr.Compare)
		clear(x.Dirty)
		return out
	}
	x := NewIndex()
	for _, step := range []struct {
		name   string
		do     func()
		dirty  []netip.Addr
		usersA []string // the Services listing a, by key
		usersB []string
	}{
		{"two Services share a", func() { x.Set(svc("t", a)); x.Set(svc("s", a)) }, []netip.Addr{a}, []string{"s", "t"}, nil},
		{"the same again changes nothing", func() { x.Set(svc("s", a)) }, []netip.Addr{}, []string{"s", "t"}, nil},
		{"s moves to b: both IPs", func() { x.Set(svc("s", b)) }, []netip.Addr{a, b}, []string{"t"}, []string{"s"}},
		{"t goes", func() { x.Delete(types.NamespacedName{Namespace: "ns", Name: "t"}) }, []netip.Addr{a}, nil, []string{"s"}},
		{"an unknown Service goes: nothing", func() { x.Delete(types.NamespacedName{Namespace: "ns", Name: "u"}) }, []netip.Addr{}, nil, []string{"s"}},
		{"MarkAll: every listed IP", x.MarkAll, []netip.Addr{b}, nil, []string{"s"}},
	} {
		step.do()
		if got := dirty(x); !slices.Equal(got, step.dirty) {
			t.Errorf("%s: dirty %v, want %v", step.name, got, step.dirty)
		}
		if got := names(x.Users(a)); !slices.Equal(got, step.usersA) {
			t.Errorf("%s: users of a %v, want %v", step.name, got, step.usersA)
		}
		if got := names(x.Users(b)); !slices.Equal(got, step.usersB) {
			t.Errorf("%s: users of b %v, want %v", step.name, got, step.usersB)
		}
	}
	if s, ok := x.Get(types.NamespacedName{Namespace: "ns", Name: "s"}); !ok || !slices.Equal(s.IPs, []netip.Addr{b}) {
		t.Errorf("Get s: %+v %v", s, ok)
	}
}
