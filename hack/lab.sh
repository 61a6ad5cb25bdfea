#!/usr/bin/env bash
# Runs IronLB's lab (e2e/lab) in the background, or stops it.
#   hack/lab.sh up     start a lab, or print the table of the running one
#   hack/lab.sh show   print the table of the running lab
#   hack/lab.sh down   stop the lab and remove everything it made (idempotent)
#
# `make lab` runs `make tools build` first, then `up`. State (pid, logs,
# admin kubeconfig) lives in $IRONLB_LAB_DIR, default <repo>/.cache/lab, so
# a test can run its own lab beside a developer's. $IRONLB_LAB_TTL (e.g.
# 20m) makes the lab stop by itself after that long. LAB=cluster (`make lab
# LAB=cluster`) runs the same demo on a cluster of kubelets with IronLB
# installed from its Helm chart instead of the process lab (LAB=process).
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"
cmd=${1:-up}
KIND=${LAB:-process}
case "$cmd" in
  up | show | down) ;;
  *) echo "usage: $0 up|show|down" >&2; exit 2 ;;
esac
if [[ $(id -u) -ne 0 ]]; then
  echo "lab: needs root (network namespaces, nftables): run as root" >&2
  exit 1
fi

STATE=$(realpath -m "${IRONLB_LAB_DIR:-$REPO_ROOT/.cache/lab}")
export IRONLB_TOOLS_BIN=${IRONLB_TOOLS_BIN:-$REPO_ROOT/.tools/bin}
export PATH="$IRONLB_TOOLS_BIN:/usr/local/go/bin:$PATH"
mkdir -p "$STATE/bin"

# The lab program is built for every command (with -trimpath, like `make
# build`, so the two share compiled packages), so a lab is always driven by
# the current code; a build into a new file then a rename never touches the
# binary of a running daemon. `down` falls back to the last good binary when
# the tree does not build, so a lab can always be stopped.
PROG="$STATE/bin/lab"
[[ "$cmd" == up ]] && echo "lab: building the lab program (cached after the first time)..."
if ! CGO_ENABLED=0 go build -trimpath -o "$PROG.new" ./e2e/lab; then
  rm -f "$PROG.new"
  if [[ "$cmd" == down && -x "$PROG" ]]; then
    echo "lab: build failed; using the previous $PROG" >&2
  else
    exit 1
  fi
else
  mv -f "$PROG.new" "$PROG"
fi

exec "$PROG" "$cmd" -state="$STATE" -kind="$KIND" -bin="$REPO_ROOT/bin" -repo="$REPO_ROOT" -ttl="${IRONLB_LAB_TTL:-0}"
