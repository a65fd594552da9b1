#!/usr/bin/env bash
# chopplan over SSH against OpenSSH floors and Spot, whole process, in one run (hyperfine medians).
#
# usage: scripts/bench-ssh.sh [FILTER]   FILTER: a regex over case ids (W4.chopplan, W3.spot, ...)
# env:   STATE     state folder: keys, sshd, generated plans, results (default /tmp/chopplan-ssh-bench)
#        PERF_DIR  the peer harness providing setup.sh, sshd-ctl.sh, floors.sh, gen.sh
#                  (default: ../shared/perf beside the repository, i.e. /work/shared/perf)
#        CHOPPLAN  the binary measured (default: dist/chopplan, built with `make build` when missing)
#        CHOPPLAN_BASE  a second chopplan binary measured in the same run as "chopplan-base"
#                  (before/after comparisons)
#        SPOT_BIN  a Spot binary (or SPOT_SRC, a checkout holding spot-bin); Spot cases are skipped
#                  without one. This script does not build Spot.
#        RUNS      multiplier for the number of runs (default 1)
#
# Everything listens and connects on loopback only: one private sshd on 127.0.0.1-127.0.0.11:2222
# (user bench). Host keys are checked strictly by every chopplan case and every OpenSSH floor,
# against a known_hosts file written from the sshd's host key. The sshd started here is stopped on exit.
#
# Workloads (see docs/performance.md):
#   W4  connect + one `true`, agent cached on the target      chopplan run --on ssh://... -- true
#   W1  50 x `true` on one host                               chopplan apply (plan of 50 exec tasks)
#   W2  10 hosts x 20 x `true`, hosts in parallel             chopplan apply (10 ssh tunnels)
#   W3  put 100 MiB; then the same put, unchanged             chopplan apply (one put task)
#   W0  first connect: W4 with no agent cached on the target (the compressed agent is uploaded)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PERF_DIR=${PERF_DIR:-$(cd "$ROOT/.." && pwd)/shared/perf}
export STATE=${STATE:-/tmp/chopplan-ssh-bench}
FILTER=${1:-.}
RUNS=${RUNS:-1}
[ -x "$PERF_DIR/setup.sh" ] || { echo "no peer harness at $PERF_DIR (set PERF_DIR)" >&2; exit 1; }

# ---------- prerequisites: sshd, ssh, hyperfine, python3 (Debian packages)
need=""
command -v hyperfine >/dev/null || need="$need hyperfine"
[ -x /usr/sbin/sshd ] || need="$need openssh-server"
command -v ssh >/dev/null || need="$need openssh-client"
command -v python3 >/dev/null || need="$need python3"
if [ -n "$need" ]; then
  [ "$(id -u)" = 0 ] || { echo "missing:$need (install them, or run as root)" >&2; exit 1; }
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need || exit 1
fi
# the harness' bench user, keys, sshd_config and 100 MiB payload; Spot's inputs
SKIP_APT=1 "$PERF_DIR/setup.sh" || exit 1
"$PERF_DIR/gen.sh" >/dev/null || exit 1

# ---------- binaries
if [ -z "${CHOPPLAN:-}" ]; then
  CHOPPLAN=$ROOT/dist/chopplan
  [ -x "$CHOPPLAN" ] || make -C "$ROOT" build || exit 1
fi
CHOPPLAN_BASE=${CHOPPLAN_BASE:-}
SPOT=${SPOT_BIN:-${SPOT_SRC:+$SPOT_SRC/spot-bin}}

# ---------- chopplan inputs: known_hosts, ssh_config, plans
G=$STATE/chopplan; mkdir -p "$G"/w1 "$G"/w2 "$G"/w3
rm -rf "$G"/w*/.chopplan
KEY=$STATE/id_ed25519
HOSTKEY=$(cut -d' ' -f1,2 "$STATE/ssh_host_ed25519_key.pub")
for i in $(seq 1 11); do echo "[127.0.0.$i]:2222 $HOSTKEY"; done > "$G/known_hosts"
cat > "$G/ssh_config" <<CFG
Host *
  User bench
  Port 2222
  IdentityFile $KEY
  IdentitiesOnly yes
  IdentityAgent none
  StrictHostKeyChecking yes
  UserKnownHostsFile $G/known_hosts
  GlobalKnownHostsFile /dev/null
  BatchMode yes
CFG
tunnel() { # NAME HOST-EXPR [extra line]
  cat <<HCL
tunnel "ssh" "$1" {
  ${3:-}
  host              = $2
  port              = 2222
  user              = "bench"
  identity_file     = "$KEY"
  known_hosts       = "$G/known_hosts"
  host_key_checking = "strict"
}
HCL
}
tasks() { # NAME ON N
  echo "tasks \"$1\" {"; echo "  on = $2"
  for i in $(seq "$3"); do echo "  task \"exec\" \"t$i\" { command = [\"true\"] }"; done
  echo "}"
}
{ tunnel h1 '"127.0.0.1"'; tasks w1 tunnel.ssh.h1 50; } > "$G/w1/w1.chop.hcl"
W2HOSTS=$(for i in $(seq 2 11); do printf '"127.0.0.%s", ' "$i"; done)
{ tunnel h 'each.key' "for_each = toset([${W2HOSTS%, }])"; tasks w2 'values(tunnel.ssh.h)' 20; } > "$G/w2/w2.chop.hcl"
{ tunnel h1 '"127.0.0.1"'
  cat <<HCL
tasks "w3" {
  on = tunnel.ssh.h1
  task "put" "payload" {
    src  = "$STATE/payload-100M.bin"
    dest = "/home/bench/w3-chopplan.bin"
  }
}
HCL
} > "$G/w3/w3.chop.hcl"

# ---------- the sshd (stopped on exit unless it was already running)
cleanup() {
  "$PERF_DIR/floors.sh" mux-down >/dev/null 2>&1
  "$PERF_DIR/floors.sh" w3-rm >/dev/null 2>&1
  [ "${started:-0}" = 1 ] && "$PERF_DIR/sshd-ctl.sh" stop
}
trap cleanup EXIT
if [ -f "$STATE/sshd.pid" ] && kill -0 "$(cat "$STATE/sshd.pid")" 2>/dev/null; then started=0
else "$PERF_DIR/sshd-ctl.sh" start || exit 1; started=1; fi

R=$STATE/results; mkdir -p "$R"
[ "$FILTER" = "." ] && rm -f "$R"/*.json "$R"/*.failed
{
  echo "nproc=$(nproc) $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
  echo "kernel $(uname -r), Debian $(cat /etc/debian_version)"
  grep -qw aes /proc/cpuinfo && echo "AES-NI: yes" || echo "AES-NI: no"
  ssh -V 2>&1; hyperfine --version; go version 2>/dev/null
  echo "chopplan $("$CHOPPLAN" version 2>/dev/null | head -1) ($CHOPPLAN)"
  [ -n "$CHOPPLAN_BASE" ] && echo "chopplan-base $("$CHOPPLAN_BASE" version 2>/dev/null | head -1) ($CHOPPLAN_BASE)"
  [ -n "$SPOT" ] && [ -x "$SPOT" ] && echo "spot $("$SPOT" --version 2>&1 | head -1) ($SPOT)"
} > "$R/versions.txt"

# ---------- cases
FL=$PERF_DIR/floors.sh
STRICT="-oStrictHostKeyChecking=yes -oUserKnownHostsFile=$G/known_hosts"
C25="SSH_EXTRA='-oKexAlgorithms=curve25519-sha256 $STRICT'"
AES="SSH_EXTRA='-c aes128-gcm@openssh.com $STRICT'"
SSHF="ssh -F $STATE/ssh_config $STRICT -oKexAlgorithms=curve25519-sha256 -c aes128-gcm@openssh.com"
RM="$FL w3-rm; sync"                              # a put starts from no destination file
NOAGENT="$SSHF 127.0.0.1 'rm -rf .cache/chopplan'; sync"   # first connect: no agent cached
hf() { # ID RUNS WARMUP PREPARE CMD
  local id=$1 runs=$(( $2 * RUNS )) warm=$3 prep=$4 cmd=$5
  [[ "$id" =~ $FILTER ]] || return 0
  case "$id" in
    *.spot*) [ -n "$SPOT" ] && [ -x "$SPOT" ] || { echo "SKIP $id (no Spot binary: set SPOT_BIN)"; return 0; } ;;
    *.chopplan-base*) [ -n "$CHOPPLAN_BASE" ] || return 0 ;;
  esac
  echo "=== $id"
  local pa=(); [ -n "$prep" ] && pa=(--prepare "$prep")
  timeout 900 hyperfine --style basic --runs "$runs" --warmup "$warm" "${pa[@]}" \
    --export-json "$R/$id.json" -n "$id" "$cmd" 2>&1 | grep -E 'Time|Range|Warning|Error|error' \
    || { echo "FAILED: $id"; touch "$R/$id.failed"; }
}
chop() { # ID-SUFFIX ARGS... -> both binaries
  local suffix=$1; shift
  CASES=()
  [ -n "$CHOPPLAN_BASE" ] && CASES+=("chopplan-base$suffix|$CHOPPLAN_BASE $*")
  CASES+=("chopplan$suffix|$CHOPPLAN $*")
}
RUN4="run --ssh-config $G/ssh_config --on ssh://bench@127.0.0.1:2222 -- true"

# W4 connect + one `true`
hf W4.ssh-c25519 20 2 "" "env $C25 $FL w4"
hf W4.spot       20 2 "" "$SPOT -p $STATE/gen/spot-w4.yml -t t >/dev/null 2>&1"
chop "" "$RUN4"; for c in "${CASES[@]}"; do hf "W4.${c%%|*}" 20 2 "" "${c#*|} >/dev/null"; done
# W1 50 x `true`, one host
"$FL" mux-up >/dev/null 2>&1
hf W1.ssh-mux-warm 10 1 "" "$FL w1-mux-warm"
hf W2.ssh-mux-warm 5  1 "" "$FL w2-mux-warm"
"$FL" mux-down >/dev/null 2>&1
hf W1.spot 10 1 "" "$SPOT -p $STATE/gen/spot-w1.yml -t t >/dev/null 2>&1"
chop "" "apply $G/w1"; for c in "${CASES[@]}"; do hf "W1.${c%%|*}" 10 1 "" "${c#*|} >/dev/null"; done
# W2 10 hosts x 20 x `true`
hf W2.spot 10 1 "" "$SPOT -p $STATE/gen/spot-w2.yml -t t -c 10 >/dev/null 2>&1"
chop "" "apply $G/w2"; for c in "${CASES[@]}"; do hf "W2.${c%%|*}" 10 1 "" "${c#*|} >/dev/null"; done
# W3 put 100 MiB, then unchanged
hf W3.cat-ssh-aesgcm 5 1 "$RM" "env $AES $FL w3-cat"
hf W3.spot           5 1 "$RM" "$SPOT -p $STATE/gen/spot-w3.yml -t t >/dev/null 2>&1"
hf W3.spot-unchanged 5 1 "sync" "$SPOT -p $STATE/gen/spot-w3.yml -t t >/dev/null 2>&1"
chop "" "apply $G/w3"; for c in "${CASES[@]}"; do hf "W3.${c%%|*}" 5 1 "$RM" "${c#*|} >/dev/null"; done
chop "-unchanged" "apply $G/w3"; for c in "${CASES[@]}"; do hf "W3.${c%%|*}" 5 1 "sync" "${c#*|} >/dev/null"; done
# W0 first connect: the agent is uploaded (compressed) and cached
hf W0.ssh-true-c25519-aesgcm 10 1 "" "$SSHF 127.0.0.1 true"
# the agent exactly as the bootstrap sends it (zstd where the host has it, as this one does):
# the controller's cached copy, made by one first connect
if [[ "W0.cat-agent" =~ $FILTER ]]; then
  eval "$NOAGENT"; "$CHOPPLAN" $RUN4 >/dev/null 2>&1
  cp "${XDG_CACHE_HOME:-$HOME/.cache}/chopplan/agent-$(sha256sum "$CHOPPLAN" | cut -d' ' -f1).zst" "$G/agent.zst"
fi
hf W0.cat-agent-c25519-aesgcm 10 1 "" "cat $G/agent.zst | $SSHF 127.0.0.1 'cat > /home/bench/w3-agent.bin'"
chop "" "$RUN4"; for c in "${CASES[@]}"; do hf "W0.${c%%|*}" 10 1 "$NOAGENT" "${c#*|} >/dev/null"; done
"$FL" w3-rm >/dev/null 2>&1

# ---------- table
python3 - "$R" <<'PY' | tee "$R/table.md"
import glob, json, os, statistics, sys
R = sys.argv[1]
med, mn = {}, {}
for f in glob.glob(os.path.join(R, "*.json")):
    try:
        r = json.load(open(f))["results"][0]
    except Exception:
        continue
    med[r["command"]] = statistics.median(r["times"]); mn[r["command"]] = min(r["times"])
def g(k): return med.get(k)
rows = []  # workload, case, median, ratio text
goals = {
    "W4": [("W4.spot", 1.0), ("W4.ssh-c25519", 0.7)],
    "W1": [("W1.spot", 0.6), ("W1.ssh-mux-warm", None)],
    "W2": [("W2.spot", 0.6), ("W2.ssh-mux-warm", None)],
    "W3": [("W3.cat-ssh-aesgcm", 1.0), ("W3.spot", None)],
}
print("| case | median s | min s | chopplan ÷ this | goal |")
print("|---|---:|---:|---:|---|")
order = ["W4", "W1", "W2", "W3", "W0"]
for w in order:
    names = sorted((k for k in med if k.split(".")[0] == w), key=lambda k: med[k])
    for k in names:
        ratio, goal = "", ""
        if not k.split(".", 1)[1].startswith("chopplan"):
            c = "W3.chopplan-unchanged" if k.endswith("-unchanged") else w + ".chopplan"
            if g(c):
                ratio = f"{g(c)/med[k]:.2f}"
            for ref, lim in goals.get(w, []):
                if ref == k and lim is not None and not k.endswith("-unchanged"):
                    goal = f"≤ {lim}×" + (" ✓" if g(c) and g(c)/med[k] <= lim else " ✗")
        elif k == "W3.chopplan-unchanged":
            goal = "≤ 0.15 s" + (" ✓" if med[k] <= 0.15 else " ✗")
        elif k == "W0.chopplan" and g("W4.chopplan") and g("W0.cat-agent-c25519-aesgcm") and g("W0.ssh-true-c25519-aesgcm"):
            # the agent's time through cat|ssh: that command less the same ssh running `true`
            up = g("W0.cat-agent-c25519-aesgcm") - g("W0.ssh-true-c25519-aesgcm")
            lim, loose = g("W4.chopplan") + up, g("W4.chopplan") + g("W0.cat-agent-c25519-aesgcm")
            goal = (f"≤ W4 + agent's transfer = {lim:.3f} s" + (" ✓" if med[k] <= lim else " ✗")
                    + f"; ≤ W4 + whole cat\\|ssh = {loose:.3f} s" + (" ✓" if med[k] <= loose else " ✗"))
        print(f"| {k} | {med[k]:.3f} | {mn[k]:.3f} | {ratio} | {goal} |")
for f in sorted(glob.glob(os.path.join(R, "*.failed"))):
    print(f"| {os.path.basename(f)[:-7]} | FAILED | | | |")
PY
cat "$R/versions.txt"
