package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/ironlbctl/preview"
)

// validate compiles the files with the controller's compiler. Without
// --offline it also reads the cluster when one is reachable: the files are
// then checked merged into the cluster's objects (as the webhook sees
// them: a file object replaces the cluster object of its kind and name),
// and the preview shows what would happen to the Service addresses. An
// unreachable cluster only skips the preview, unless --preview demands it.
func (e env) validate(ctx context.Context) int {
	paths := append(slices.Clone(e.files), e.args...)
	if len(paths) == 0 {
		return e.fail(2, "validate: no files given (-f FILE|DIR)")
	}
	files, err := expand(paths)
	if err != nil {
		return e.fail(2, "validate: %v", err)
	}
	fileRes, err := config.LoadFiles(files...)
	if err != nil {
		fmt.Fprintln(e.stdout, err)
		fmt.Fprintln(e.stdout, "invalid: the files do not decode")
		return 1
	}
	if e.output == "text" {
		for _, ig := range fileRes.Ignored {
			hint := ""
			if strings.HasPrefix(ig.APIVersion, "metallb.io/") {
				hint = "; a MetalLB object: convert it with ironlbctl migrate -f"
			}
			fmt.Fprintf(e.stdout, "skipped %s %s/%s (%s document %d): not an ironlb.io kind%s\n", ig.APIVersion, ig.Kind, ig.Name, ig.Source, ig.Document, hint)
		}
	}

	var in *preview.Input
	skipped := ""
	if e.offline {
		skipped = "--offline"
	} else if in, err = e.previewInput(ctx, fileRes); err != nil {
		if e.preview {
			return e.fail(2, "validate: preview: %v", err)
		}
		skipped = "cluster not reachable: " + err.Error()
	}

	out := validateOutput{Files: files}
	var errs config.Errors
	if in == nil {
		_, errs = config.Compile(fileRes)
	} else {
		var res preview.Result
		res, err = preview.Compute(*in)
		out.Preview = &res
		if errors.As(err, &errs) {
			err = nil
		}
	}
	if len(errs) > 0 {
		for _, ce := range errs {
			out.Errors = append(out.Errors, ce.Error())
		}
	} else if err != nil {
		return e.fail(2, "validate: %v", err)
	}
	out.PreviewSkipped = skipped
	if e.output == "json" {
		if err := writeJSON(e.stdout, out); err != nil {
			return e.fail(2, "validate: %v", err)
		}
	} else {
		out.print(e)
	}
	if len(out.Errors) > 0 {
		return 1
	}
	return 0
}

type validateOutput struct {
	Files          []string        `json:"files"`
	Errors         []string        `json:"errors,omitempty"`
	Preview        *preview.Result `json:"preview,omitempty"`
	PreviewSkipped string          `json:"previewSkipped,omitempty"`
}

func (o validateOutput) print(e env) {
	w := e.stdout
	for _, s := range o.Errors {
		fmt.Fprintln(w, s)
	}
	if len(o.Errors) > 0 {
		scope := "files"
		if o.Preview != nil {
			scope = "files merged into the cluster's configuration"
		}
		fmt.Fprintf(w, "invalid: %d errors (%s)\n", len(o.Errors), scope)
		return
	}
	if o.Preview == nil {
		fmt.Fprintf(w, "valid (files alone; no preview: %s)\n", o.PreviewSkipped)
		return
	}
	fmt.Fprintln(w, "valid (files merged into the cluster's configuration)")
	p := o.Preview
	if p.CurrentInvalid {
		fmt.Fprintln(w, "note: the cluster's current configuration does not compile; addresses were replayed into the new one")
	}
	if len(p.Changes) == 0 {
		fmt.Fprintf(w, "preview: no Service address changes (%d Services keep theirs)\n", p.Unchanged)
		return
	}
	fmt.Fprintf(w, "preview: %d changes, %d Services keep their addresses\n", len(p.Changes), p.Unchanged)
	for _, c := range p.Changes {
		fmt.Fprintf(w, "  %-4s  %s\n", c.Kind, c)
	}
}

// previewInput reads the cluster for the preview.
func (e env) previewInput(ctx context.Context, files config.Resources) (*preview.Input, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	snap, err := e.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	cur := snap.Resources
	// Status is the controller's; the preview compiles specs only.
	return &preview.Input{
		Current: cur, Files: files, Services: snap.Services,
		NamespaceLabels: snap.NamespaceLabels(), Handles: e.whyOptions().Handles,
	}, nil
}

// expand replaces directories by their *.yaml, *.yml and *.json files
// (recursively, sorted).
func expand(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			ext := strings.ToLower(filepath.Ext(path))
			if !d.IsDir() && (ext == ".yaml" || ext == ".yml" || ext == ".json") {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading directory %s: %w", p, err)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no *.yaml, *.yml or *.json file in %s", strings.Join(paths, ", "))
	}
	return out, nil
}
