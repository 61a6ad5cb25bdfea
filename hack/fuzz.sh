#!/usr/bin/env bash
# Runs every fuzz target in the module for a fixed number of executions each
# ($1, e.g. 50000x). Targets are discovered, so a new Fuzz function is covered
# without editing this file.
#
# The budget is a count, not a duration: with a wall-clock -fuzztime the Go
# fuzz coordinator (before Go 1.27, golang/go#75804) can report "context
# deadline exceeded" as a failure when a starved worker misses the deadline,
# with no failing input behind it. A count has no deadline to race and only
# runs slower on a loaded machine.
set -euo pipefail
cd "$(dirname "$0")/.."
budget="${1:-50000x}"
n=0
while IFS=: read -r file fn; do
  pkg="./$(dirname "$file")"
  echo "fuzz: $fn ($pkg, $budget)"
  go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$budget" "$pkg"
  n=$((n + 1))
done < <(grep -rEo --include='*_test.go' '^func (Fuzz[A-Za-z0-9_]+)' --exclude-dir=.tools --exclude-dir=hack . \
          | sed -E 's#^\./##; s#func ##' | sort -u)
if [ "$n" -eq 0 ]; then
  echo "fuzz: no fuzz targets found" >&2
  exit 1
fi
echo "fuzz: $n targets passed"
