#!/usr/bin/env bash
# Runs every fuzz target in the repository for a short while each
# (default 10s): `scripts/fuzz.sh 30s` for longer.
set -euo pipefail
time=${1:-10s}
for file in $(git ls-files '*_test.go'); do
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | cut -d' ' -f2); do
    echo "fuzz: $target in ./$(dirname "$file") for $time"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$time" "./$(dirname "$file")"
  done
done
