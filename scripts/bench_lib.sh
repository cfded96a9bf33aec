# shellcheck shell=bash
# The start of scripts/bench.sh and scripts/bench-xdp.sh, sourced first thing
# with BENCH_NAME set (the prefix of their error messages): strict mode, the
# repository root as working directory, the settings both share (BUILD,
# DURATION: seconds per load, CONNS), die, and the checks they make before
# touching the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
DURATION=${DURATION:-5}

die() { echo "$BENCH_NAME: $*" >&2; exit 1; }

need_root() { # WHY
	[ "$(id -u)" -eq 0 ] || die "run as root ($1)"
}

need_tools() { # TOOL...
	local t
	for t; do
		command -v "$t" >/dev/null || die "$t missing: run 'make deps'"
	done
}

need_built() { # FILE...
	local f
	for f; do
		[ -x "$f" ] || die "$f not built: run 'make all'"
	done
}

# The cgroup v2 hierarchy's root (for lb.cgroup) into cg_root, or die.
find_cgroup2_root() {
	local d
	cg_root=""
	for d in /sys/fs/cgroup /sys/fs/cgroup/unified; do
		[ "$(stat -f -c %T "$d" 2>/dev/null)" = cgroup2fs ] && { cg_root=$d; return 0; }
	done
	die "no cgroup v2 hierarchy mounted"
}

# The commit the figures belong to, "-dirty" when the tree differs; read it
# before anything is written (the raw output lands in the tree).
bench_commit() {
	local c
	c=$(git rev-parse --short HEAD)
	[ -z "$(git status --porcelain)" ] || c=$c-dirty
	echo "$c"
}
