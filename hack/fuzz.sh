#!/usr/bin/env bash
# Runs every fuzz target in the module for a short time each ($1, e.g. 10s).
# Targets are discovered, so a new Fuzz function is covered without editing
# this file.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-10s}"
n=0
while IFS=: read -r file fn; do
  pkg="./$(dirname "$file")"
  echo "fuzz: $fn ($pkg, $fuzztime)"
  go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$fuzztime" "$pkg"
  n=$((n + 1))
done < <(grep -rEo --include='*_test.go' '^func (Fuzz[A-Za-z0-9_]+)' --exclude-dir=.tools --exclude-dir=hack . \
          | sed -E 's#^\./##; s#func ##' | sort -u)
if [ "$n" -eq 0 ]; then
  echo "fuzz: no fuzz targets found" >&2
  exit 1
fi
echo "fuzz: $n targets passed"
