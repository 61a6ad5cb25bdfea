package manifests_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ironlb/ironlb/e2e/kubeapi"
)

// TestPlainManifestsApplyWithServerSideDryRun: `kubectl apply -f
// manifests/ironlb.yaml` is a complete installation the API server accepts.
func TestPlainManifestsApplyWithServerSideDryRun(t *testing.T) {
	root := repoRoot(t)
	api := kubeapi.Start(t, kubeapi.Options{}) // installs manifests/crds for real
	docs := decodeFile(t, filepath.Join(root, "manifests", "ironlb.yaml"))
	applyDryRun(t, api.Client(t, nil), docs)

	n := kinds(docs)
	for _, k := range expectedKinds {
		if n[k] == 0 {
			t.Errorf("no %s in manifests/ironlb.yaml", k)
		}
	}
	crds, err := filepath.Glob(filepath.Join(root, "manifests", "crds", "*.yaml"))
	if err != nil || len(crds) == 0 {
		t.Fatalf("no CRDs in manifests/crds (%v)", err)
	}
	if n["CustomResourceDefinition"] != len(crds) {
		t.Errorf("manifests/ironlb.yaml has %d CRDs, manifests/crds %d: run make manifests", n["CustomResourceDefinition"], len(crds))
	}
	for _, d := range docs {
		if ns := d.obj.GetNamespace(); ns != "" && ns != "ironlb-system" {
			t.Errorf("%s %s in namespace %q, want ironlb-system", d.obj.GetKind(), d.obj.GetName(), ns)
		}
	}
}

// TestChartFollowsGeneratedFiles: the chart's CRDs are exact copies of
// controller-gen's, and its roles carry exactly the rules of the
// +kubebuilder:rbac markers (manifests/rbac), so a new marker reaches the
// chart and manifests/ironlb.yaml with `make manifests`.
func TestChartFollowsGeneratedFiles(t *testing.T) {
	root := repoRoot(t)
	chartCRDs, err := filepath.Glob(filepath.Join(root, "manifests", "helm", "ironlb", "crds", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	crds, err := filepath.Glob(filepath.Join(root, "manifests", "crds", "*.yaml"))
	if err != nil || len(crds) == 0 {
		t.Fatalf("no CRDs in manifests/crds (%v)", err)
	}
	if len(chartCRDs) != len(crds) {
		t.Errorf("chart has %d CRD files, manifests/crds %d: run make manifests", len(chartCRDs), len(crds))
	}
	for _, src := range crds {
		want, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(root, "manifests", "helm", "ironlb", "crds", filepath.Base(src)))
		if err != nil || string(got) != string(want) {
			t.Errorf("chart crds/%s differs from manifests/crds (%v): run make manifests", filepath.Base(src), err)
		}
	}

	plain := decodeFile(t, filepath.Join(root, "manifests", "ironlb.yaml"))
	for _, component := range []string{"controller", "speaker", "metrics-reader"} {
		for _, d := range decodeFile(t, filepath.Join(root, "manifests", "rbac", component, "role.yaml")) {
			want := d.obj
			got := find(plain, want.GetKind(), want.GetName())
			if got == nil {
				t.Errorf("%s %s of manifests/rbac/%s is not in manifests/ironlb.yaml", want.GetKind(), want.GetName(), component)
				continue
			}
			if !reflect.DeepEqual(got.Object["rules"], want.Object["rules"]) {
				t.Errorf("%s %s: rules differ from manifests/rbac/%s/role.yaml: run make manifests", want.GetKind(), want.GetName(), component)
			}
		}
	}
}

// TestPlainManifestsAreTheChart: manifests/ironlb.yaml is what the chart
// renders now (the check `make verify-generated` makes, inside go test).
func TestPlainManifestsAreTheChart(t *testing.T) {
	root := repoRoot(t)
	rendered := helmTemplate(t, root, "ironlb-system", "namespace:\n  create: true\n")
	data, err := os.ReadFile(filepath.Join(root, "manifests", "ironlb.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The file is a comment header, then helm's output.
	if !strings.HasSuffix(string(data), string(rendered)) {
		t.Errorf("manifests/ironlb.yaml is not the chart's current output: run make manifests")
	}
}
