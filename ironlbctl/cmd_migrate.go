package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/ironlbctl/migrate"
)

// migrateFieldManager owns the fields --apply writes.
const migrateFieldManager = "ironlbctl-migrate"

// migrate converts MetalLB objects into IronLB's and prints them; the
// conversion is migrate.Convert, and its result is compiled with the
// controller's compiler before anything is applied. With --apply the
// objects are applied server-side in migrate's order (referred-to kinds
// first), so a webhook sees every reference resolve.
func (e env) migrate(ctx context.Context) int {
	paths := append(slices.Clone(e.files), e.args...)
	if len(paths) == 0 {
		return e.fail(2, "migrate: no input given (-f FILE, or -f - for stdin)")
	}
	var docs []migrate.Doc
	for _, p := range paths {
		d, err := e.readMetalLB(p)
		if err != nil {
			return e.fail(2, "migrate: %v", err)
		}
		docs = append(docs, d...)
	}
	res := migrate.Convert(docs)
	if err := migrate.Render(e.stdout, res); err != nil {
		return e.fail(2, "migrate: %v", err)
	}
	_, errs := config.Compile(res.Resources())
	for _, ce := range errs {
		fmt.Fprintf(e.stdout, "# invalid in IronLB: %s\n", ce.Error())
	}
	notes := 0
	for _, o := range res.Objects {
		notes += len(o.Notes)
	}
	fmt.Fprintf(e.stderr, "migrate: %d objects converted, %d notes on fields without equivalent, %d inputs left out\n", len(res.Objects), notes, len(res.Skipped))
	if res.Errors() || len(errs) > 0 {
		return e.fail(1, "migrate: the input has errors (see the comments in the output); nothing applied")
	}
	if !e.apply {
		return 0
	}
	if err := e.applyConverted(ctx, res.Objects); err != nil {
		return e.fail(2, "migrate: %v", err)
	}
	return 0
}

// readMetalLB splits one input ("-" is stdin) into documents.
func (e env) readMetalLB(path string) ([]migrate.Doc, error) {
	var data []byte
	var err error
	name := path
	if path == "-" {
		name = "stdin"
		data, err = io.ReadAll(e.stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	raw, err := config.SplitDocuments(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	docs := make([]migrate.Doc, len(raw))
	for i, r := range raw {
		docs[i] = migrate.Doc{Where: fmt.Sprintf("%s document %d", name, i+1), JSON: r}
	}
	return docs, nil
}

// applyConverted applies the objects server-side, in order, taking over
// the fields it sets from any other manager.
func (e env) applyConverted(ctx context.Context, objs []migrate.Object) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, o := range objs {
		u, err := o.Unstructured()
		if err != nil {
			return err
		}
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(migrateFieldManager), client.ForceOwnership); err != nil {
			return fmt.Errorf("apply %s %s: %w", o.Kind, o.Name, err)
		}
		fmt.Fprintf(e.stderr, "applied %s %s\n", o.Kind, o.Name)
	}
	return nil
}
