#!/bin/sh
# Installs the real components chopplan's integration tests run against
# (OpenSSH server and client, sudo, a static busybox for Docker test images,
# iproute2 for network namespaces, zstd and gzip for the agent's upload),
# and hyperfine for the benchmarks.
#
# Idempotent and silent when everything is present. When something is
# missing and cannot be installed (not root, no apt-get, apt-get fails) it
# prints one loud line and still exits 0: the tests that need the missing
# component then skip, saying why, or fail under CHOPPLAN_INTEGRATION=require.
set -u

required="openssh-server openssh-client sudo busybox-static iproute2 passwd zstd gzip dash bash"
optional="hyperfine"

missing() {
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || printf '%s ' "$p"
	done
}

loud() {
	echo "install-test-deps: INTEGRATION TESTS WILL SKIP: $*" >&2
}

command -v dpkg-query >/dev/null 2>&1 || { loud "this is not a Debian system; install $required by hand"; exit 0; }
need=$(missing $required)
want=$(missing $optional)
[ -z "$need$want" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
	[ -n "$need" ] && loud "missing ${need}and there is no apt-get"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	[ -n "$need" ] && loud "missing ${need}and installing it needs root (sudo $0)"
	exit 0
fi

# The Go test harness (internal/testenv) installs under the same lock, so
# this script and concurrently running test packages never run apt at once.
if command -v flock >/dev/null 2>&1; then
	exec 9>/tmp/chopplan-testenv-apt.lock
	flock 9
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# install PKG... refreshes the package lists once when the first attempt
# fails: a fresh image often has none.
install() {
	apt-get install -y -q --no-install-recommends "$@" >"$log" 2>&1 && return 0
	apt-get update -q >>"$log" 2>&1 &&
		apt-get install -y -q --no-install-recommends "$@" >>"$log" 2>&1
}

need=$(missing $required)
if [ -n "$need" ]; then
	if ! install $need; then
		loud "apt-get could not install ${need}($(tail -n 1 "$log"))"
		exit 0
	fi
fi
want=$(missing $optional)
if [ -n "$want" ] && ! install $want; then
	echo "install-test-deps: optional ${want}not installed; benchmarks that compare against it will skip" >&2
fi
exit 0
