#!/usr/bin/env bash
# Runs every fuzz target in the repository for a short while each
# (default 10s): `scripts/fuzz.sh 30s` for longer.
#
# Go's fuzzing coordinator can end a run that found nothing with a bare
# "context deadline exceeded" (a race at the -fuzztime boundary, worse on
# a loaded machine); such a run wrote no failing input. A target that
# ends that way is run once more; any other failure, or an input written
# to testdata/fuzz, fails at once.
set -euo pipefail
time=${1:-10s}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# run_target DIR TARGET: 0 passed, 1 failed, 2 bare deadline with no input written
run_target() {
  local dir=$1 target=$2 before after
  before=$(ls "$dir/testdata/fuzz/$target" 2>/dev/null | wc -l)
  if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$time" "./$dir" 2>&1 | tee "$out"; then
    return 0
  fi
  after=$(ls "$dir/testdata/fuzz/$target" 2>/dev/null | wc -l)
  if [ "$after" = "$before" ] && grep -q '^    context deadline exceeded$' "$out" &&
    [ "$(grep -c -- '^--- FAIL' "$out")" = 1 ]; then
    return 2
  fi
  return 1
}

for file in $(git ls-files '*_test.go'); do
  dir=$(dirname "$file")
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | cut -d' ' -f2); do
    echo "fuzz: $target in ./$dir for $time"
    rc=0
    run_target "$dir" "$target" || rc=$?
    if [ "$rc" = 2 ]; then
      echo "fuzz: $target ended on Go's fuzztime deadline race with no failing input; running it again"
      rc=0
      run_target "$dir" "$target" || rc=$?
    fi
    [ "$rc" = 0 ] || { echo "fuzz: $target FAILED" >&2; exit 1; }
  done
done
