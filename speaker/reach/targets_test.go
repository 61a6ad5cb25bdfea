package reach

import (
	"net/netip"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func TestMerge(t *testing.T) {
	a := types.NamespacedName{Namespace: "default", Name: "a"}
	b := types.NamespacedName{Namespace: "default", Name: "b"}
	ip1, ip2 := netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("203.0.113.2")
	for _, tc := range []struct {
		name  string
		lists [][]Target
		want  []Target
	}{
		{name: "nothing", want: []Target{}},
		{name: "layer 2 only", lists: [][]Target{{{IP: ip1, Services: []types.NamespacedName{a}, Conflict: "02:00:00:00:00:01"}}, nil},
			want: []Target{{IP: ip1, Services: []types.NamespacedName{a}, Conflict: "02:00:00:00:00:01"}}},
		{name: "BGP only, sorted by address", lists: [][]Target{nil, {{IP: ip2, Services: []types.NamespacedName{b}}, {IP: ip1, Services: []types.NamespacedName{a}}}},
			want: []Target{{IP: ip1, Services: []types.NamespacedName{a}}, {IP: ip2, Services: []types.NamespacedName{b}}}},
		{name: "one address both ways: checked once, Services joined, conflict kept",
			lists: [][]Target{
				{{IP: ip1, Services: []types.NamespacedName{b}, Conflict: "02:00:00:00:00:01"}},
				{{IP: ip1, Services: []types.NamespacedName{a, b}}},
			},
			want: []Target{{IP: ip1, Services: []types.NamespacedName{a, b}, Conflict: "02:00:00:00:00:01"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Merge(tc.lists...); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Merge = %+v, want %+v", got, tc.want)
			}
		})
	}
}
