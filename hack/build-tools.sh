#!/usr/bin/env bash
# Builds the pinned tools the tests and developers use into <repo>/.tools/bin:
#   kube-apiserver, kubectl              (module hack/kube)
#   kubelet, kube-proxy, kube-scheduler,  (module hack/kube: the real
#   kube-controller-manager               cluster of e2e/kcluster)
#   controller-gen, staticcheck, benchstat (module hack/tools)
#   helm                                 (module hack/helm: its k8s.io/*
#                                         libraries are newer than
#                                         controller-tools')
#
# A tool is rebuilt only when its binary is missing or older than its module's
# go.mod/go.sum, so `make tools` is cached and idempotent. Binaries are built
# into a staging directory and moved into place, so an interrupted build never
# leaves a truncated binary that would later count as up to date.
set -euo pipefail

HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$HACK_DIR/.." && pwd)
BIN_DIR="$REPO_ROOT/.tools/bin"

# name|module dir (relative to hack/)|package
TOOLS=(
  "kube-apiserver|kube|k8s.io/kubernetes/cmd/kube-apiserver"
  "kubectl|kube|k8s.io/kubernetes/cmd/kubectl"
  "kube-controller-manager|kube|k8s.io/kubernetes/cmd/kube-controller-manager"
  "kube-scheduler|kube|k8s.io/kubernetes/cmd/kube-scheduler"
  "kube-proxy|kube|k8s.io/kubernetes/cmd/kube-proxy"
  "kubelet|kube|k8s.io/kubernetes/cmd/kubelet"
  "controller-gen|tools|sigs.k8s.io/controller-tools/cmd/controller-gen"
  "staticcheck|tools|honnef.co/go/tools/cmd/staticcheck"
  "benchstat|tools|golang.org/x/perf/cmd/benchstat"
  "helm|helm|helm.sh/helm/v3/cmd/helm"
)

mkdir -p "$BIN_DIR"

# A failed or interrupted build leaves no staging directory behind.
STAGE=
trap '[[ -z "$STAGE" ]] || rm -rf "$STAGE"' EXIT

# up_to_date NAME MODDIR: the binary exists and is newer than go.mod and go.sum.
up_to_date() {
  local bin="$BIN_DIR/$1" mod="$HACK_DIR/$2"
  [[ -x "$bin" && "$bin" -nt "$mod/go.mod" && "$bin" -nt "$mod/go.sum" ]]
}

# kube_version_ldflags stamps the pinned release into the Kubernetes
# binaries. Built from the module proxy they would report
# v0.0.0-master+$Format:%H$, which clients that parse the server version
# (/version, `kubectl version`) cannot compare.
kube_version_ldflags() {
  local v major minor pkg flags=""
  v=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
  major=${v#v}
  major=${major%%.*}
  minor=${v#v*.}
  minor=${minor%%.*}
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  echo "$flags"
}

# helm_version_ldflags does what helm's own Makefile does: stamp helm's
# version, and the Kubernetes version that `helm template` and `helm lint`
# assume (Capabilities.KubeVersion, deprecation checks), taken from the
# client-go helm is built with. Unstamped, helm reports v3.22 and assumes a
# Kubernetes 1.20 cluster.
helm_version_ldflags() {
  local v k major minor
  v=$(go list -m -f '{{.Version}}' helm.sh/helm/v3)
  k=$(go list -m -f '{{.Version}}' k8s.io/client-go)
  k=${k#v}
  major=$((${k%%.*} + 1))
  minor=${k#*.}
  minor=${minor%%.*}
  echo " -X helm.sh/helm/v3/internal/version.version=$v" \
    "-X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
    "-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$major" \
    "-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor" \
    "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$major" \
    "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor"
}

# build_module MODDIR NAME... builds the named tools of one module in a single
# `go build`, so shared dependencies compile once.
build_module() {
  local moddir=$1
  shift
  local names=("$@") pkgs=() entry name n dir pkg
  for name in "${names[@]}"; do
    for entry in "${TOOLS[@]}"; do
      IFS='|' read -r n dir pkg <<<"$entry"
      [[ "$n" == "$name" ]] && pkgs+=("$pkg")
    done
  done
  # Progress on stderr: a first build of the kube module takes minutes.
  echo "build-tools: building ${names[*]} (module hack/$moddir)..." >&2
  STAGE=$(mktemp -d "$BIN_DIR/.stage.XXXXXX")
  (
    cd "$HACK_DIR/$moddir"
    # GOWORK=off: a go.work at the repo root must not pull these modules in.
    export CGO_ENABLED=0 GOWORK=off
    ldflags="-s -w"
    case "$moddir" in
    kube) ldflags+=" $(kube_version_ldflags)" ;;
    helm) ldflags+=" $(helm_version_ldflags)" ;;
    esac
    go build -trimpath -ldflags="$ldflags" -o "$STAGE/" "${pkgs[@]}"
  )
  for name in "${names[@]}"; do
    mv -f "$STAGE/$name" "$BIN_DIR/$name"
    echo "build-tools: $name built"
  done
  rm -rf "$STAGE"
  STAGE=
}

for moddir in kube tools helm; do
  stale=()
  for entry in "${TOOLS[@]}"; do
    IFS='|' read -r name dir _ <<<"$entry"
    [[ "$dir" == "$moddir" ]] || continue
    if up_to_date "$name" "$dir"; then
      echo "build-tools: $name up to date"
    else
      stale+=("$name")
    fi
  done
  if ((${#stale[@]} > 0)); then
    build_module "$moddir" "${stale[@]}"
  fi
done
