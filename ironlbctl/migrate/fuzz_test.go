package migrate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ironlb/ironlb/config"
)

// FuzzConvert: any document converts without panicking, and what Render
// prints for it always loads back (the comments cannot break the YAML) as
// exactly the converted objects.
func FuzzConvert(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(docsDir, "*.yaml"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		docs, err := config.SplitDocuments(data)
		if err != nil {
			f.Fatal(err)
		}
		for _, d := range docs {
			f.Add(d)
		}
	}
	f.Add([]byte(`{"apiVersion":"metallb.io/v1beta2","kind":"BGPPeer","metadata":{"name":"r\n---\nkind: x"},"spec":{"vrf":"a\nb"}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		res := Convert([]Doc{{Where: "fuzz", JSON: doc}})
		var b strings.Builder
		if err := Render(&b, res); err != nil {
			return // an object the unstructured converter refuses is reported, not printed
		}
		back, err := config.Load(strings.NewReader(b.String()), "rendered")
		if err != nil {
			t.Fatalf("rendered output does not load: %v\n%s", err, b.String())
		}
		n := len(back.Pools) + len(back.L2Advertisements) + len(back.BGPAdvertisements) + len(back.BGPPeers) + len(back.BFDProfiles) + len(back.Communities)
		if n != len(res.Objects) {
			t.Fatalf("%d objects loaded back, %d converted:\n%s", n, len(res.Objects), b.String())
		}
	})
}
