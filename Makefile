# IronLB. `make lab` runs the whole system on an embedded lab
# cluster; `make test` runs every test. Both install what they need.
SHELL := /bin/bash
export PATH := $(CURDIR)/.tools/bin:/usr/local/go/bin:$(PATH)
export IRONLB_TOOLS_BIN := $(CURDIR)/.tools/bin
GO ?= go
# Tests create network namespaces and run real servers; two packages at a
# time keeps a 2-core machine responsive.
TEST_PARALLEL ?= 2
FUZZCOUNT ?= 50000x

.PHONY: all build test unit fuzz lint manifests verify-generated tools bench clean

all: build

## tools: install Debian packages and build pinned tools into .tools/bin (cached)
tools:
	@hack/install-deps.sh
	@hack/build-tools.sh

## build: bin/controller, bin/speaker and bin/ironlbctl (static), and
## bin/kubectl-ironlb (the same CLI, as a kubectl plugin)
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o bin/ ./controller ./speaker ./ironlbctl
	cp bin/ironlbctl bin/kubectl-ironlb

## manifests: regenerate CRDs, deepcopy code and RBAC from the Go sources,
## then the Helm chart's CRDs and RBAC and manifests/ironlb.yaml from those
manifests: tools
	controller-gen object paths=./config/... \
		crd:crdVersions=v1 output:crd:artifacts:config=manifests/crds
	controller-gen rbac:roleName=ironlb-controller paths=./controller/... paths=./pkg/configsource/... paths=./pkg/metricsserving/... \
		output:rbac:artifacts:config=manifests/rbac/controller
	controller-gen rbac:roleName=ironlb-speaker paths=./speaker/... paths=./pkg/configsource/... paths=./pkg/metricsserving/... \
		output:rbac:artifacts:config=manifests/rbac/speaker
	hack/gen-manifests.sh

.PHONY: image

## image: container images bin/images/<name>.tar (docker-archive, built
## without a container engine), tagged ghcr.io/ironlb/<name>:$(VERSION) and
## :latest; load with `docker load -i`, `podman load -i` or `ctr image import`
image: VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
image: build
	$(GO) run ./hack/image -version "$(VERSION)" -bin bin -out bin/images

## verify-generated: fail if generated files are stale
verify-generated: manifests
	@git diff --exit-code -- manifests config || { echo "generated files are stale: run make manifests and commit"; exit 1; }

## lint: gofmt, go vet and staticcheck
lint: tools
	@unformatted=$$("$$($(GO) env GOROOT)/bin/gofmt" -l $$(git ls-files '*.go')) || exit 1; [ -z "$$unformatted" ] || { echo "not gofmt-ed (run gofmt -w):"; echo "$$unformatted"; exit 1; }
	$(GO) vet ./...
	staticcheck ./...

## unit: every Go test (unit, real API server, virtual LAN). The fault
## tests (e2e/faults) and the installs on a kubelet cluster (e2e/install)
## run one package at a time afterwards: they count failed requests under
## BFD's 300 ms detection and 1 s timeouts, which another package's load on
## a 2-core machine can trip on its own.
SERIAL_TESTS := e2e/faults e2e/install
unit: tools build
	$(GO) test -count=1 -p $(TEST_PARALLEL) -timeout 45m $$($(GO) list ./... | grep -v -x $(foreach p,$(SERIAL_TESTS),-e '.*/$(p)'))
	$(GO) test -count=1 -p 1 -timeout 45m $(foreach p,$(SERIAL_TESTS),./$(p)/)

## fuzz: run every fuzz target for FUZZCOUNT executions
fuzz:
	@hack/fuzz.sh $(FUZZCOUNT)

## test: everything this machine can run
test: tools build verify-generated lint unit fuzz

## bench: benchmarks; results go to docs/benchmarks.md
bench: tools build
	@hack/bench.sh

.PHONY: soak

SOAK_DURATION ?= 30m
SOAK_SEED ?= 0

## soak: the whole system for SOAK_DURATION (default 30m) under churn of
## Services, endpoints and pools with faults injected at random (seeded by
## SOAK_SEED, 0: from the clock); samples memory, goroutines, descriptors
## and Events every 10 s and writes docs/soak.md; every process's log is
## kept in .cache/soak, and a heap profile of every process every minute in
## .cache/soak/profiles. Not in CI.
soak: tools build
	rm -rf $(CURDIR)/.cache/soak
	IRONLB_SOAK=$(SOAK_DURATION) IRONLB_SOAK_SEED=$(SOAK_SEED) \
	IRONLB_SOAK_REPORT=$(CURDIR)/docs/soak.md IRONLB_SOAK_LOGS=$(CURDIR)/.cache/soak \
	IRONLB_SOAK_PROFILES=$(CURDIR)/.cache/soak/profiles \
	IRONLB_SOAK_COMMAND="make soak SOAK_DURATION=$(SOAK_DURATION) SOAK_SEED=$(SOAK_SEED)" \
		$(GO) test -count=1 -timeout 4h -v ./e2e/soak/ -run '^TestSoak$$'

.PHONY: lab lab-down

## lab: the whole system on a lab cluster of network namespaces, left running
## in the background (state in .cache/lab or $IRONLB_LAB_DIR); LAB=cluster:
## the same demo on kubelet nodes with IronLB installed by its Helm chart
lab: tools build
	@hack/lab.sh up

## lab-down: stop the lab and remove everything it made (idempotent)
lab-down:
	@hack/lab.sh down

clean:
	rm -rf bin .cache
