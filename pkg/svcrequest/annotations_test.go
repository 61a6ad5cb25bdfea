package svcrequest

import (
	"reflect"
	"strings"
	"testing"
)

func TestSpellings(t *testing.T) {
	for _, tc := range []struct {
		ours string
		want []string
	}{
		{AnnotationAddressPool, []string{"ironlb.io/address-pool", "metallb.io/address-pool", "metallb.universe.tf/address-pool"}},
		{AnnotationLoadBalancerIPs, []string{"ironlb.io/loadBalancerIPs", "metallb.io/loadBalancerIPs", "metallb.universe.tf/loadBalancerIPs"}},
		{AnnotationAllowSharedIP, []string{"ironlb.io/allow-shared-ip", "metallb.io/allow-shared-ip", "metallb.universe.tf/allow-shared-ip"}},
		{"example.com/other", []string{"example.com/other"}},
	} {
		if got := Spellings(tc.ours); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Spellings(%q) = %q, want %q", tc.ours, got, tc.want)
		}
	}
}

func TestLookupPrecedenceAndWarnings(t *testing.T) {
	const (
		ours   = "ironlb.io/address-pool"
		mlb    = "metallb.io/address-pool"
		legacy = "metallb.universe.tf/address-pool"
	)
	for _, tc := range []struct {
		name     string
		ann      map[string]string
		value    string
		from     string
		warnings []string
	}{
		{name: "none", ann: map[string]string{"other": "x"}},
		{name: "ours", ann: map[string]string{ours: "a"}, value: "a", from: ours},
		{name: "metallb.io alone", ann: map[string]string{mlb: "a"}, value: "a", from: mlb,
			warnings: []string{"annotation metallb.io/address-pool is deprecated here, use ironlb.io/address-pool"}},
		{name: "metallb.universe.tf alone", ann: map[string]string{legacy: " a "}, value: "a", from: legacy,
			warnings: []string{"annotation metallb.universe.tf/address-pool is deprecated here, use ironlb.io/address-pool"}},
		{name: "both MetalLB spellings agree: metallb.io is read, both are deprecated",
			ann: map[string]string{mlb: "a", legacy: "a"}, value: "a", from: mlb,
			warnings: []string{
				"annotation metallb.io/address-pool is deprecated here, use ironlb.io/address-pool",
				"annotation metallb.universe.tf/address-pool is deprecated here, use ironlb.io/address-pool",
			}},
		{name: "MetalLB spellings differ: metallb.io wins, as in MetalLB, and the loser is named",
			ann: map[string]string{mlb: "new", legacy: "old"}, value: "new", from: mlb,
			warnings: []string{
				"annotation metallb.io/address-pool is deprecated here, use ironlb.io/address-pool",
				`annotation metallb.universe.tf/address-pool ("old") is ignored because metallb.io/address-pool ("new") is set`,
			}},
		{name: "all three differ: ours wins",
			ann: map[string]string{ours: "o", mlb: "m", legacy: "l"}, value: "o", from: ours,
			warnings: []string{
				`annotation metallb.io/address-pool ("m") is ignored because ironlb.io/address-pool ("o") is set`,
				`annotation metallb.universe.tf/address-pool ("l") is ignored because ironlb.io/address-pool ("o") is set`,
			}},
		{name: "blank spellings count as unset",
			ann: map[string]string{ours: " ", mlb: "", legacy: "l"}, value: "l", from: legacy,
			warnings: []string{"annotation metallb.universe.tf/address-pool is deprecated here, use ironlb.io/address-pool"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			value, from, warnings := Lookup(tc.ann, ours)
			if value != tc.value || from != tc.from {
				t.Errorf("Lookup = %q from %q, want %q from %q", value, from, tc.value, tc.from)
			}
			if !reflect.DeepEqual(warnings, tc.warnings) {
				t.Errorf("warnings:\n got %q\nwant %q", warnings, tc.warnings)
			}
		})
	}
}

// FuzzLookup: whatever the three spellings hold, the value read is the
// first spelling set (white space trimmed), and every other spelling set
// gives exactly one warning naming it.
func FuzzLookup(f *testing.F) {
	f.Add("", "", "")
	f.Add("a", "b", "c")
	f.Add(" ", "x", "x")
	f.Add("", "", " old ")
	f.Fuzz(func(t *testing.T, ours, current, legacy string) {
		names := Spellings(AnnotationAddressPool)
		ann := map[string]string{names[0]: ours, names[1]: current, names[2]: legacy}
		value, from, warnings := Lookup(ann, AnnotationAddressPool)
		set := 0
		first := ""
		for _, n := range names {
			if strings.TrimSpace(ann[n]) != "" {
				set++
				if first == "" {
					first = n
				}
			}
		}
		if from != first {
			t.Fatalf("read %q, want the first spelling set %q", from, first)
		}
		if from != "" && value != strings.TrimSpace(ann[from]) {
			t.Fatalf("value %q, want %q", value, strings.TrimSpace(ann[from]))
		}
		want := set
		if from == names[0] {
			want-- // ours alone is no warning
		}
		if len(warnings) != want {
			t.Fatalf("%d warnings %q, want %d", len(warnings), warnings, want)
		}
		for _, n := range names[1:] {
			if strings.TrimSpace(ann[n]) == "" {
				continue
			}
			named := 0
			for _, w := range warnings {
				if strings.HasPrefix(w, "annotation "+n+" ") {
					named++
				}
			}
			if named != 1 {
				t.Fatalf("%d warnings name %s: %q", named, n, warnings)
			}
		}
	})
}
