// Package manifests_test applies IronLB's deployment manifests to a real API
// server with a server-side dry run, so schema, RBAC and webhook objects are
// checked by the same code a cluster runs. The Helm chart
// (manifests/helm/ironlb) is the source; manifests/ironlb.yaml is the chart
// rendered with its default values (`make manifests`). Both are tested here,
// the chart with several value sets, with the pinned helm in .tools/bin.
package manifests_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/ironlb/ironlb/e2e/kubeapi"
	"io"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// expectedKinds are in every complete installation.
var expectedKinds = []string{"CustomResourceDefinition", "ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding",
	"ServiceAccount", "Secret", "Deployment", "DaemonSet", "Service", "ValidatingWebhookConfiguration", "Namespace"}

// doc is one manifest and where it came from.
type doc struct {
	obj    *unstructured.Unstructured
	source string
}

// applyDryRun applies every object with a server-side dry run, after
// creating the Namespaces among them for real: namespaced objects need
// their namespace to exist, also in a dry run.
func applyDryRun(t *testing.T, c client.Client, docs []doc) {
	t.Helper()
	ctx := context.Background()
	for _, d := range docs {
		if o := d.obj; o.GetKind() == "Namespace" {
			if err := c.Patch(ctx, o.DeepCopy(), client.Apply, client.FieldOwner("ironlb-test"), client.ForceOwnership); err != nil {
				t.Fatalf("apply namespace %s (%s): %v", o.GetName(), d.source, err)
			}
		}
	}
	for _, d := range docs {
		o := d.obj
		err := c.Patch(ctx, o.DeepCopy(), client.Apply, client.FieldOwner("ironlb-test"), client.ForceOwnership, client.DryRunAll)
		if err != nil {
			t.Errorf("%s %s/%s (%s): %v", o.GetKind(), o.GetNamespace(), o.GetName(), d.source, err)
		}
	}
}

// kinds counts the objects of each kind.
func kinds(docs []doc) map[string]int {
	n := map[string]int{}
	for _, d := range docs {
		n[d.obj.GetKind()]++
	}
	return n
}

func decodeFile(t *testing.T, path string) []doc {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := decode(data, filepath.Base(path))
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// decode splits a multi-document YAML stream; empty documents (helm's
// "# Source:" comments before a file's own "---") are dropped.
func decode(data []byte, source string) ([]doc, error) {
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []doc
	for i := 1; ; i++ {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("%s document %d: %w", source, i, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetAPIVersion() == "" {
			return nil, fmt.Errorf("%s document %d: no kind or apiVersion", source, i)
		}
		out = append(out, doc{obj: u, source: fmt.Sprintf("%s#%d", source, i)})
	}
}

// find returns the object of kind and name, or nil.
func find(docs []doc, kind, name string) *unstructured.Unstructured {
	for _, d := range docs {
		if d.obj.GetKind() == kind && d.obj.GetName() == name {
			return d.obj
		}
	}
	return nil
}

func repoRoot(t testing.TB) string { return kubeapi.RepoRoot(t) }
