#!/usr/bin/env bash
# Runs the benchmarks and writes docs/benchmarks.md. Micro-benchmarks run the
# usual way; scenario benchmarks (real API server, real processes) run once
# each (-benchtime=1x): one iteration is the whole scenario.
set -euo pipefail
cd "$(dirname "$0")/.."
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
# The machine is shared: the load average before each stage goes into the
# report beside the figures.
load() { echo "loadavg: $1 $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$raw"; }
load micro
go test -run='^$' -bench=. -benchmem -count=1 ./pkg/... ./config/... ./speaker/... ./datapath/ ./datapath/nftables/ 2>&1 | tee -a "$raw"
# The IPVS benchmarks run inside a Debian kernel under qemu (TCG).
load ipvs-vm
go test -run='^$' -bench=VM -benchtime=1x -timeout=30m ./datapath/ipvs/ 2>&1 | tee -a "$raw"
load e2e
go test -run='^$' -bench=. -benchtime=1x -timeout=40m ./e2e/... 2>&1 | tee -a "$raw"
load end
go run ./hack/benchreport <"$raw" >docs/benchmarks.md
echo "bench: wrote docs/benchmarks.md"
grep -q -- '-- FAIL\|^FAIL' "$raw" && { echo "bench: a benchmark failed" >&2; exit 1; }
exit 0
