#!/bin/bash
# `chopplan apply` and `plan` of N `exec /bin/true` tasks on the local machine
# against a shell loop running /bin/true N times, process start-up included.
# The commands run in turn, round after round, so that a machine whose speed
# drifts over minutes drifts for all of them alike; medians are printed.
#
# usage: scripts/bench-apply.sh [ROUNDS] [N]     (needs `make build`)
# env:   CHOPPLAN_BIN   the binary measured (default dist/chopplan)
#        CHOPPLAN_BASE  a second binary measured in the same rounds (before/after)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CHOPPLAN_BIN:-$ROOT/dist/chopplan}
ROUNDS=${1:-25}
N=${2:-50}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
{
	echo 'tunnel "local" "me" {}'
	echo 'tasks "t" {'
	echo '  on = tunnel.local.me'
	for i in $(seq "$N"); do echo "  task \"exec\" \"t$i\" { command = [\"/bin/true\"] }"; done
	echo '}'
} >"$dir/main.chop.hcl"

cmds=("sh -c 'for i in \$(seq $N); do /bin/true; done'" "$BIN apply $dir" "$BIN plan $dir")
names=(shell apply plan)
if [ -n "${CHOPPLAN_BASE:-}" ]; then
	cmds+=("$CHOPPLAN_BASE apply $dir")
	names+=(base)
fi
declare -A times
for ((r = 0; r < ROUNDS; r++)); do
	for k in "${!cmds[@]}"; do
		s=$(date +%s%N)
		eval "${cmds[$k]}" >/dev/null 2>&1
		e=$(date +%s%N)
		times[$k]+="$(((e - s) / 1000)) "
	done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'; }
declare -A med
for k in "${!cmds[@]}"; do
	med[$k]=$(echo "${times[$k]}" | median)
	printf '%-6s %8s ms  %s\n' "${names[$k]}" "${med[$k]}" "${cmds[$k]}"
done
awk -v s="${med[0]}" -v a="${med[1]}" -v p="${med[2]}" 'BEGIN {
	printf "apply = %.2f x the shell loop (goal <= 2); plan = %.2f x apply (goal: adds < 20 %%, <= 1.2)\n", a / s, p / a }'
if [ -n "${CHOPPLAN_BASE:-}" ]; then
	awk -v s="${med[0]}" -v b="${med[3]}" 'BEGIN { printf "base apply = %.2f x the shell loop\n", b / s }'
fi
