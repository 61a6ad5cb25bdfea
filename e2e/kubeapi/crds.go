package kubeapi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// loadCRDs reads every *.yaml/*.yml file in dir (not recursively) and returns
// the CustomResourceDefinitions in them. Anything else in those files is an
// error naming the file, so a broken manifest fails before any process starts.
func loadCRDs(dir string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	if dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading CRD dir: %w", err)
	}
	var files []string
	for _, e := range entries {
		if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	slices.Sort(files)
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, f := range files {
		got, err := decodeCRDs(f)
		if err != nil {
			return nil, err
		}
		crds = append(crds, got...)
	}
	return crds, nil
}

func decodeCRDs(path string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading CRD file: %w", err)
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var crds []*apiextensionsv1.CustomResourceDefinition
	for doc := 1; ; doc++ {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			return crds, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, doc, err)
		}
		if len(bytes.TrimSpace(stripComments(raw))) == 0 {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(raw, &tm); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, doc, err)
		}
		if tm.APIVersion != apiextensionsv1.SchemeGroupVersion.String() || tm.Kind != "CustomResourceDefinition" {
			return nil, fmt.Errorf("%s: document %d: apiVersion/kind is %q/%q, want %s/CustomResourceDefinition",
				path, doc, tm.APIVersion, tm.Kind, apiextensionsv1.SchemeGroupVersion)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(raw, crd); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, doc, err)
		}
		if crd.Name == "" {
			return nil, fmt.Errorf("%s: document %d: CustomResourceDefinition has no metadata.name", path, doc)
		}
		crds = append(crds, crd)
	}
}

// stripComments drops whole-line YAML comments, so a document holding only
// comments (a license header) counts as empty.
func stripComments(doc []byte) []byte {
	var out bytes.Buffer
	for line := range bytes.Lines(doc) {
		if !strings.HasPrefix(strings.TrimSpace(string(line)), "#") {
			out.Write(line)
		}
	}
	return out.Bytes()
}

// installCRDs creates the CRDs and waits until each is Established and its
// resource is listed by discovery, so clients (and RESTMappers) can use it
// as soon as Start returns.
func installCRDs(ctx context.Context, cfg *rest.Config, crds []*apiextensionsv1.CustomResourceDefinition) error {
	if len(crds) == 0 {
		return nil
	}
	cs, err := apiextensionsclient.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("apiextensions client: %w", err)
	}
	for _, crd := range crds {
		if _, err := cs.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating CRD %s: %w", crd.Name, err)
		}
	}
	var established time.Time
	for _, crd := range crds {
		t, err := waitEstablished(ctx, cs, crd)
		if err != nil {
			return err
		}
		if t.After(established) {
			established = t
		}
	}
	return waitCreatable(ctx, established)
}

// justCreatedDelay mirrors apiextensions-apiserver's crdHandler, which
// sleeps 2 s in every create of a custom resource whose CRD became
// Established less than 2 s ago (so that HA peers catch up). Waiting it out
// once here keeps it out of the tests' first creates and their timings.
const justCreatedDelay = 2 * time.Second

func waitCreatable(ctx context.Context, established time.Time) error {
	// The condition's time is stored with one-second precision, rounded
	// down, which only makes the server's check pass sooner; the margin
	// covers clock reads on the two sides.
	wait := time.Until(established.Add(justCreatedDelay + 50*time.Millisecond))
	if wait <= 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		return fmt.Errorf("waiting for new CRDs to accept creates at full speed: %w", ctx.Err())
	case <-time.After(wait):
		return nil
	}
}

// waitEstablished returns when the Established condition became true.
func waitEstablished(ctx context.Context, cs apiextensionsclient.Interface, crd *apiextensionsv1.CustomResourceDefinition) (time.Time, error) {
	var last string
	for {
		got, err := cs.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
		switch {
		case err != nil && !apierrors.IsNotFound(err):
			last = err.Error()
		case err == nil:
			if established, reason := crdEstablished(got); !established {
				last = reason
			} else if err := servedByDiscovery(cs, got); err != nil {
				last = err.Error()
			} else {
				return crdCondition(got, apiextensionsv1.Established).LastTransitionTime.Time, nil
			}
			if c := crdCondition(got, apiextensionsv1.NamesAccepted); c != nil && c.Status == apiextensionsv1.ConditionFalse {
				return time.Time{}, fmt.Errorf("CRD %s: names not accepted: %s", crd.Name, c.Message)
			}
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("waiting for CRD %s to be Established: %w (last: %s)", crd.Name, ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func crdEstablished(crd *apiextensionsv1.CustomResourceDefinition) (bool, string) {
	c := crdCondition(crd, apiextensionsv1.Established)
	if c == nil {
		return false, "no Established condition yet"
	}
	if c.Status != apiextensionsv1.ConditionTrue {
		return false, fmt.Sprintf("Established=%s: %s", c.Status, c.Message)
	}
	return true, ""
}

func crdCondition(crd *apiextensionsv1.CustomResourceDefinition, t apiextensionsv1.CustomResourceDefinitionConditionType) *apiextensionsv1.CustomResourceDefinitionCondition {
	for i := range crd.Status.Conditions {
		if crd.Status.Conditions[i].Type == t {
			return &crd.Status.Conditions[i]
		}
	}
	return nil
}

// servedByDiscovery checks that every served version lists the resource.
func servedByDiscovery(cs apiextensionsclient.Interface, crd *apiextensionsv1.CustomResourceDefinition) error {
	for _, v := range crd.Spec.Versions {
		if !v.Served {
			continue
		}
		gv := crd.Spec.Group + "/" + v.Name
		list, err := cs.Discovery().ServerResourcesForGroupVersion(gv)
		if err != nil {
			return fmt.Errorf("discovery of %s: %w", gv, err)
		}
		if !slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool { return r.Name == crd.Spec.Names.Plural }) {
			return fmt.Errorf("discovery of %s does not list %s yet", gv, crd.Spec.Names.Plural)
		}
	}
	return nil
}
