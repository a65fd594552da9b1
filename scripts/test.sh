#!/usr/bin/env bash
# Runs the whole test suite. Prints failures, skips and each package's
# result; with CHOPPLAN_INTEGRATION=require (as CI sets it) a skipped test
# fails the run, so an integration test can never be skipped unnoticed.
set -uo pipefail
log=$(mktemp "${TMPDIR:-/tmp}/chopplan-test.XXXXXX")
trap 'rm -f "$log"' EXIT

# PIPESTATUS is read at once: after "|| true" it would be true's.
go test -count=1 -timeout 20m -v "$@" 2>&1 | tee "$log" |
  grep -vE '^(=== (RUN|PAUSE|CONT|NAME)|[[:space:]]*--- PASS)'
status=${PIPESTATUS[0]}

passed=$(grep -cE '^[[:space:]]*--- PASS' "$log")
failed=$(grep -cE '^[[:space:]]*--- FAIL' "$log")
skipped=$(grep -cE '^[[:space:]]*--- SKIP' "$log")
echo "${passed} passed, ${failed} failed, ${skipped} skipped"

if [ "${CHOPPLAN_INTEGRATION:-}" = require ] && [ "$skipped" -gt 0 ]; then
  echo "FAIL: ${skipped} test(s) skipped while CHOPPLAN_INTEGRATION=require:"
  grep -E '^[[:space:]]*--- SKIP' -A2 "$log"
  exit 1
fi
if [ "$status" -eq 0 ] && [ "$failed" -gt 0 ]; then
  status=1 # a failure go test did not count in its status
fi
exit "$status"
