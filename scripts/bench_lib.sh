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
