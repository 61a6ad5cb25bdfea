// Package manifests_test applies IronLB's deployment manifests to a real API
// server with a server-side dry run, so schema, RBAC and webhook objects are
// checked by the same code a cluster runs.
package manifests_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/e2e/kubeapi"
)

// manifestDirs are applied in this order.
var manifestDirs = []string{"crds", "rbac/controller", "rbac/speaker", "base"}

func TestManifestsApplyWithServerSideDryRun(t *testing.T) {
	root := repoRoot(t)
	api := kubeapi.Start(t, kubeapi.Options{}) // installs manifests/crds for real
	c := api.Client(t, nil)
	ctx := context.Background()

	objs := readAll(t, root)
	if len(objs) < 15 {
		t.Fatalf("found only %d objects under manifests/: expected CRDs, RBAC, namespace, workloads and webhook", len(objs))
	}
	// Namespaced objects need their namespace to exist, also in a dry run.
	for _, d := range objs {
		if o := d.obj; o.GetKind() == "Namespace" {
			if err := c.Patch(ctx, o.DeepCopy(), client.Apply, client.FieldOwner("ironlb-test"), client.ForceOwnership); err != nil {
				t.Fatalf("apply namespace %s: %v", o.GetName(), err)
			}
		}
	}
	kinds := map[string]int{}
	for _, d := range objs {
		o := d.obj
		kinds[o.GetKind()]++
		err := c.Patch(ctx, o.DeepCopy(), client.Apply, client.FieldOwner("ironlb-test"), client.ForceOwnership, client.DryRunAll)
		if err != nil {
			t.Errorf("%s %s/%s (%s): %v", o.GetKind(), o.GetNamespace(), o.GetName(), d.source, err)
		}
	}
	for _, k := range []string{"CustomResourceDefinition", "ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding",
		"ServiceAccount", "Deployment", "DaemonSet", "Service", "ValidatingWebhookConfiguration", "Namespace"} {
		if kinds[k] == 0 {
			t.Errorf("no %s among the manifests", k)
		}
	}
}

func readAll(t *testing.T, root string) []doc {
	t.Helper()
	var out []doc
	for _, d := range manifestDirs {
		files, err := filepath.Glob(filepath.Join(root, "manifests", d, "*.yaml"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no manifests in manifests/%s (%v)", d, err)
		}
		for _, f := range files {
			out = append(out, decodeFile(t, f)...)
		}
	}
	return out
}

// doc is one manifest and where it came from.
type doc struct {
	obj    *unstructured.Unstructured
	source string
}

func decodeFile(t *testing.T, path string) []doc {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewYAMLOrJSONDecoder(bufio.NewReader(f), 4096)
	var out []doc
	for i := 1; ; i++ {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("%s document %d: %v", path, i, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetAPIVersion() == "" {
			t.Fatalf("%s document %d: no kind or apiVersion", path, i)
		}
		out = append(out, doc{obj: u, source: fmt.Sprintf("%s#%d", filepath.Base(path), i)})
	}
}

func repoRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}
