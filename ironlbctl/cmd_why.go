package main

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/ironlb/ironlb/ironlbctl/why"
)

func (e env) why(ctx context.Context) int {
	if len(e.args) != 1 || strings.Count(e.args[0], "/") != 1 {
		return e.fail(2, "why: want exactly one NAMESPACE/NAME")
	}
	ns, name, _ := strings.Cut(e.args[0], "/")
	if ns == "" || name == "" {
		return e.fail(2, "why: want NAMESPACE/NAME, got %q", e.args[0])
	}
	opts := e.whyOptions()
	if e.clientAddr != "" {
		c, err := netip.ParseAddr(e.clientAddr)
		if err != nil || c.Zone() != "" {
			return e.fail(2, "why: --client %q is not an IP address", e.clientAddr)
		}
		opts.Client = c
	}
	snap, err := e.snapshot(ctx)
	if err != nil {
		return e.fail(2, "why: %v", err)
	}
	reasons := why.Explain(snap, ns, name, opts)
	if e.output == "json" {
		if err := writeJSON(e.stdout, map[string]any{"service": ns + "/" + name, "reasons": reasons}); err != nil {
			return e.fail(2, "why: %v", err)
		}
	} else {
		for _, r := range reasons {
			fmt.Fprintf(e.stdout, "%s: %s\n", r.Code, r.Message)
			for _, d := range r.Details {
				fmt.Fprintf(e.stdout, "    %s\n", d)
			}
		}
	}
	for _, r := range reasons {
		if !r.OK() {
			return 1
		}
	}
	return 0
}
