package main

import (
	"context"
	"encoding/json"

	"github.com/ironlb/ironlb/ironlbctl/status"
)

func (e env) status(ctx context.Context) int {
	if len(e.args) != 0 {
		return e.fail(2, "status: takes no arguments")
	}
	snap, err := e.snapshot(ctx)
	if err != nil {
		return e.fail(2, "status: %v", err)
	}
	r := status.Build(snap, e.whyOptions().Handles)
	if e.output == "json" {
		err = writeJSON(e.stdout, r)
	} else {
		err = r.Write(e.stdout)
	}
	if err != nil {
		return e.fail(2, "status: %v", err)
	}
	return 0
}

func writeJSON(w interface{ Write([]byte) (int, error) }, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
