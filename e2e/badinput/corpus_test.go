package badinput

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config"
)

const corpusDir = "../testdata/bad-input"

// offlineVars stand in for the addresses the e2e test learns from its lab.
var offlineVars = map[string]string{
	"ROUTER_V4": "192.0.2.1", "ROUTER_V6": "2001:db8:100::1", "WEB_L2_IP": "203.0.113.1",
}

func TestCorpusIsWellFormedAndCoversEveryKind(t *testing.T) {
	cases, err := Load(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 100 {
		t.Errorf("%d cases, want at least 100", len(cases))
	}
	valid, err := Documents(filepath.Join(corpusDir, "valid", "cluster.yaml"), offlineVars)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, o := range valid {
		names[o.GetKind()+"/"+o.GetName()] = "the valid configuration"
	}
	kinds := map[string]int{}
	for _, c := range cases {
		o, err := c.Object(offlineVars)
		if err != nil {
			t.Error(err)
			continue
		}
		key := o.GetKind() + "/" + o.GetName()
		if prev, dup := names[key]; dup {
			t.Errorf("case %s: %s is also used by %s", c.Name, key, prev)
		}
		names[key] = "case " + c.Name
		kinds[o.GetKind()]++
	}
	for _, k := range []string{"IPAddressPool", "L2Advertisement", "BGPAdvertisement", "BGPPeer", "BFDProfile", "Community", "Service"} {
		if kinds[k] == 0 {
			t.Errorf("no case of kind %s", k)
		}
	}
	t.Logf("%d cases: %v", len(cases), kinds)
}

// TestCompilerNamesTheFieldOfEveryWebhookCase compiles each webhook case
// offline beside the valid configuration: the errors of the case's object
// must name its field, and the valid objects must stay valid. The e2e test
// checks the same through the webhook and the status; this catches a wrong
// corpus entry in milliseconds.
func TestCompilerNamesTheFieldOfEveryWebhookCase(t *testing.T) {
	cases, err := Load(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	base, err := Documents(filepath.Join(corpusDir, "valid", "cluster.yaml"), offlineVars)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if c.Layer != LayerWebhook {
			continue
		}
		o, err := c.Object(offlineVars)
		if err != nil {
			t.Fatal(err)
		}
		res := config.Resources{}
		for _, b := range append(base, o) {
			res = res.With(typed(t, b))
		}
		_, errs := config.Compile(res)
		mine := errs.For(o.GetKind(), o.GetName())
		if !strings.Contains(mine.Error(), c.Field) {
			t.Errorf("case %s: errors of %s %s do not name %s: %v", c.Name, o.GetKind(), o.GetName(), c.Field, mine)
		}
		for _, b := range base {
			if others := errs.For(b.GetKind(), b.GetName()); len(others) > 0 {
				t.Errorf("case %s made valid %s %s invalid: %v", c.Name, b.GetKind(), b.GetName(), others)
			}
		}
	}
}

func typed(t *testing.T, u *unstructured.Unstructured) client.Object {
	t.Helper()
	o, err := Typed(u)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestDocListsEveryCase keeps docs/bad-input.md in step with the corpus.
func TestDocListsEveryCase(t *testing.T) {
	cases, err := Load(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/bad-input.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		row := fmt.Sprintf("| `%s` | `%s` | %s", c.Name, c.Field, c.Layer)
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/bad-input.md has no row starting %q", row)
		}
	}
}
