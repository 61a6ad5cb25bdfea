package config

import (
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadMultiDocument(t *testing.T) {
	r, err := LoadFiles("testdata/multi.yaml", "testdata/pools.json")
	if err != nil {
		t.Fatal(err)
	}
	names := func(n int, get func(int) string) (out []string) {
		for i := range n {
			out = append(out, get(i))
		}
		return out
	}
	for _, tc := range []struct {
		kind string
		got  []string
		want []string
	}{
		{"pools", names(len(r.Pools), func(i int) string { return r.Pools[i].Name }), []string{"web", "internal", "json-a", "json-b"}},
		{"l2", names(len(r.L2Advertisements), func(i int) string { return r.L2Advertisements[i].Name }), []string{"l2"}},
		{"bgp", names(len(r.BGPAdvertisements), func(i int) string { return r.BGPAdvertisements[i].Name }), []string{"internal"}},
		{"peers", names(len(r.BGPPeers), func(i int) string { return r.BGPPeers[i].Name }), []string{"tor"}},
		{"bfd", names(len(r.BFDProfiles), func(i int) string { return r.BFDProfiles[i].Name }), []string{"fast"}},
		{"communities", names(len(r.Communities), func(i int) string { return r.Communities[i].Name }), []string{"aliases"}},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s = %v, want %v", tc.kind, tc.got, tc.want)
		}
	}
	wantIgnored := []IgnoredObject{
		{Source: "testdata/multi.yaml", Document: 3, APIVersion: "v1", Kind: "Service", Name: "shop"},
		{Source: "testdata/multi.yaml", Document: 4, APIVersion: "v1", Kind: "ConfigMap", Name: "unrelated"},
	}
	if !reflect.DeepEqual(r.Ignored, wantIgnored) {
		t.Errorf("Ignored = %+v, want %+v", r.Ignored, wantIgnored)
	}

	cfg := checkErrs(t, r)
	p, _ := cfg.BGPPeer("tor")
	if p.HoldTime != 9*time.Second || p.BFD == nil || p.BFD.ReceiveInterval != 100*time.Millisecond {
		t.Errorf("peer tor = %+v", p)
	}
	if w, _ := cfg.Pool("web"); !w.AvoidBuggyIPs || w.Allocation == nil || w.Allocation.Priority != 10 || w.Labels["tier"] != "front" {
		t.Errorf("pool web = %+v", w)
	}
	if in, _ := cfg.Pool("internal"); in.AutoAssign {
		t.Error("autoAssign: false lost")
	}
	if a := cfg.L2For("web"); len(a) != 1 || a[0].Interfaces[0] != "eth*" {
		t.Errorf("L2For(web) = %+v", a)
	}
	b := cfg.BGPFor("internal")
	if len(b) != 1 || b[0].AggregationLength != 30 || len(b[0].Communities) != 1 || b[0].Communities[0] != 0xFFFFFF02 {
		t.Errorf("BGPFor(internal) = %+v", b)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string // fragments, each must appear in the error
	}{
		{"unknown field", "apiVersion: ironlb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: a}\nspec:\n  adresses: [192.0.2.0/24]\n",
			[]string{`src.yaml: document 1 (IPAddressPool "a"): unknown field "spec.adresses"`}},
		{"unknown field in second document", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\napiVersion: ironlb.io/v1beta1\nkind: BGPPeer\nmetadata: {name: p}\nspec: {myASN: 1, peerASN: 2, peerAddress: 192.0.2.1, holdtime: 3s}\n",
			[]string{`src.yaml: document 2 (BGPPeer "p"): unknown field "spec.holdtime"`}},
		{"duplicate field", "apiVersion: ironlb.io/v1beta1\nkind: BFDProfile\nmetadata: {name: b}\nspec: {receiveInterval: 10, receiveInterval: 20}\n",
			[]string{"src.yaml: document 1", "receiveInterval"}},
		{"wrong type", "apiVersion: ironlb.io/v1beta1\nkind: BGPPeer\nmetadata: {name: p}\nspec: {myASN: many}\n",
			[]string{`src.yaml: document 1 (BGPPeer "p")`, "myASN"}},
		{"unknown kind", "apiVersion: ironlb.io/v1beta1\nkind: Pool\nmetadata: {name: p}\n",
			[]string{`unknown kind "Pool" in ironlb.io/v1beta1`}},
		{"other version", "apiVersion: ironlb.io/v1\nkind: IPAddressPool\nmetadata: {name: p}\n",
			[]string{`unsupported version "ironlb.io/v1"`}},
		{"no kind", "metadata: {name: p}\n", []string{"src.yaml: document 1: apiVersion and kind are required"}},
		{"not an object", "- a\n- b\n", []string{"src.yaml: document 1: not a Kubernetes object"}},
		{"list item", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: ironlb.io/v1beta1\n  kind: Community\n  metadata: {name: c}\n  spec: {bogus: 1}\n",
			[]string{`src.yaml: document 1 items[0] (Community "c"): unknown field "spec.bogus"`}},
		{"typed list item", "apiVersion: ironlb.io/v1beta1\nkind: BFDProfileList\nitems:\n- metadata: {name: b}\n  spec: {bogus: 1}\n",
			[]string{`unknown field "items[0].spec.bogus"`}},
		{"YAML syntax", "apiVersion: [\n", []string{"src.yaml: document 1: invalid YAML"}},
		{"YAML duplicate key", "apiVersion: v1\napiVersion: v1\nkind: List\n", []string{"src.yaml: document 1: invalid YAML"}},
		{"JSON syntax", `{"apiVersion": "v1"} {"kind": `, []string{"src.yaml: document 2: invalid JSON"}},
		{"several errors", "apiVersion: ironlb.io/v1beta1\nkind: X\n---\napiVersion: ironlb.io/v1beta1\nkind: Z\n",
			[]string{`document 1: unknown kind "X"`, `document 2: unknown kind "Z"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(strings.NewReader(tc.in), "src.yaml")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadFilesErrors(t *testing.T) {
	r, err := LoadFiles("testdata/bad.yaml", "testdata/missing.yaml")
	if err == nil {
		t.Fatal("no error")
	}
	if !strings.Contains(err.Error(), `testdata/bad.yaml: document 2 (IPAddressPool "typo"): unknown field "spec.adresses"`) {
		t.Errorf("error %q does not name file and document", err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file error lost: %v", err)
	}
	if len(r.Pools) != 1 || r.Pools[0].Name != "ok" {
		t.Errorf("objects that did load: %+v", r.Pools)
	}
}

func TestLoadEmpty(t *testing.T) {
	for _, in := range []string{"", "\n", "# nothing\n", "---\n---\n"} {
		r, err := Load(strings.NewReader(in), "empty")
		if err != nil || !reflect.DeepEqual(r, Resources{}) {
			t.Errorf("Load(%q) = %+v, %v", in, r, err)
		}
	}
}
