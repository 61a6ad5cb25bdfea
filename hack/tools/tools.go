//go:build tools

// Package tools pins the developer tools built by `make tools`
// (hack/build-tools.sh). A separate module so that their dependencies never
// enter the project's own go.mod.
package tools

import (
	_ "golang.org/x/perf/cmd/benchstat"
	_ "honnef.co/go/tools/cmd/staticcheck"
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
