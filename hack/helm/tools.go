//go:build tools

// Package tools pins helm, built into .tools/bin by hack/build-tools.sh. A
// module of its own: helm's Kubernetes libraries (k8s.io/* v0.37) are newer
// than the ones controller-tools in hack/tools is built with, and sharing a
// module would drag controller-gen onto them.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
