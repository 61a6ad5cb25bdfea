package migrate

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ironlb/ironlb/config"
)

// docsDir holds MetalLB's documentation examples (see each file's header).
const docsDir = "../../e2e/testdata/metallb"

// readDocs splits a file into the documents Convert takes.
func readDocs(t *testing.T, path string) []Doc {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := config.SplitDocuments(data)
	if err != nil {
		t.Fatal(err)
	}
	docs := make([]Doc, len(raw))
	for i, r := range raw {
		docs[i] = Doc{Where: fmt.Sprintf("%s document %d", filepath.Base(path), i+1), JSON: r}
	}
	return docs
}

// noteKeys lists "Kind/name field" for every note, sorted.
func noteKeys(r Result) []string {
	var out []string
	for _, o := range r.Objects {
		for _, n := range o.Notes {
			out = append(out, o.Kind+"/"+o.Name+" "+n.Field)
		}
	}
	slices.Sort(out)
	return out
}

// TestDocsExamplesConvertAndCompile converts every MetalLB documentation
// example and compiles the result with IronLB's own compiler (the one the
// controller, the speakers and the webhook run): no error, every object
// converted, and notes exactly on the fields that have no equivalent.
func TestDocsExamplesConvertAndCompile(t *testing.T) {
	for _, tc := range []struct {
		file    string
		each    bool // the documents are alternatives: convert them one by one
		objects []string
		notes   []string
		skipped int // non-MetalLB objects (Services) left out
	}{
		{file: "layer2.yaml", objects: []string{"IPAddressPool/first-pool", "L2Advertisement/example"}},
		{file: "bgp-bfd.yaml", objects: []string{"BFDProfile/testbfdprofile", "IPAddressPool/first-pool", "BGPPeer/sample", "BGPPeer/peersample", "BGPAdvertisement/example"}},
		{file: "bgp-communities.yaml",
			objects: []string{"Community/communities", "IPAddressPool/first-pool", "BGPAdvertisement/external", "BGPAdvertisement/local"},
			notes:   []string{"IPAddressPool/first-pool spec.addresses[0]"}},
		{file: "pool-selection.yaml", objects: []string{"IPAddressPool/cheap", "IPAddressPool/expensive", "IPAddressPool/ippool-ns-service-alloc-sample"}},
		{file: "sharing.yaml", objects: []string{"IPAddressPool/dns-pool"}, skipped: 2},
		{file: "peers-v1beta2.yaml", each: true,
			objects: []string{"BGPPeer/example-node-selectors", "BGPPeer/example-source-address", "BGPPeer/example-vrf", "BGPPeer/example-graceful-restart", "BGPPeer/example-local-asn"},
			notes:   []string{"BGPPeer/example-local-asn spec.localASN", "BGPPeer/example-vrf spec.vrf"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			docs := readDocs(t, filepath.Join(docsDir, tc.file))
			sets := [][]Doc{docs}
			if tc.each {
				sets = nil
				for _, d := range docs {
					sets = append(sets, []Doc{d})
				}
			}
			var objects, notes []string
			skipped := 0
			for _, set := range sets {
				res := Convert(set)
				if res.Errors() {
					t.Fatalf("conversion errors: %+v", res.Skipped)
				}
				skipped += len(res.Skipped)
				for _, o := range res.Objects {
					objects = append(objects, o.Kind+"/"+o.Name)
				}
				notes = append(notes, noteKeys(res)...)
				if _, errs := config.Compile(res.Resources()); len(errs) > 0 {
					var b strings.Builder
					_ = Render(&b, res)
					t.Fatalf("converted objects do not compile:\n%v\n%s", errs, b.String())
				}
			}
			slices.Sort(notes)
			if !reflect.DeepEqual(objects, tc.objects) {
				t.Errorf("objects %q, want %q", objects, tc.objects)
			}
			if !reflect.DeepEqual(notes, tc.notes) {
				t.Errorf("notes %q, want %q", notes, tc.notes)
			}
			if skipped != tc.skipped {
				t.Errorf("%d inputs left out, want %d", skipped, tc.skipped)
			}
		})
	}
}
