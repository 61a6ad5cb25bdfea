#!/usr/bin/env bash
# Installs the Debian packages that IronLB's tests and lab run against
# (etcd for the real API server, FRR as the BGP peer, netns/nftables tools,
# qemu for the IPVS kernel, load generators, and containerd, runc and the CNI
# plugins for the kubelet nodes of e2e/kcluster).
#
# Idempotent and quiet: packages already installed are left alone, and
# `apt-get update` runs at most once, only when something is missing, so a
# machine that has everything needs no network at all.
set -euo pipefail

PACKAGES=(
  etcd-server
  frr
  iproute2
  nftables
  tcpdump
  arping
  ndisc6
  iperf3
  wrk
  curl
  qemu-system-x86
  busybox-static
  cpio
  kmod
  conntrack
  ipvsadm
  procps
  psmisc
  containerd
  runc
  containernetworking-plugins
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  # dpkg -s succeeds for half-removed packages too; require "install ok installed".
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  SUDO=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq >/dev/null
# --no-install-recommends keeps qemu and frr from pulling in desktop and doc
# packages; services that packages start (frr) are not used by the tests,
# which run their own daemons inside network namespaces.
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  "${missing[@]}" >/dev/null
echo "install-deps: done"
