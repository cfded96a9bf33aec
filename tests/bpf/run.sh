#!/bin/bash
# Runs the BPF program tests ($BUILD/tests/bpf/test_*, built by `make all`)
# and prints their output. BPF_PROG_TEST_RUN needs root: as another user every
# test is skipped with a message and the exit status is 77.
# Last line:  bpf: N passed, N failed, N skipped   (one count per binary)
# Exit 0 when every binary passed, 1 when one failed, 2 when none is built.
set -u

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$dir/../.." && pwd)
build=${BUILD:-$root/build}
passed=0 failed=0 skipped=0

shopt -s nullglob
bins=()
# One binary per tests/bpf/test_*.c: a binary left in the build tree by a
# source that no longer exists is not run. A missing binary is a failure.
missing=0
for src in "$dir"/test_*.c; do
	f=$build/tests/bpf/$(basename "$src" .c)
	if [[ -x $f ]]; then
		bins+=("$f")
	else
		echo "FAIL $(basename "$f"): not built from $src (run make all)"
		missing=$((missing + 1))
	fi
done
if ((${#bins[@]} == 0)); then
	echo "bpf: no test binaries in $build/tests/bpf: run make all" >&2
	exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
	echo "SKIP bpf: not root; ${#bins[@]} test binaries skipped (BPF_PROG_TEST_RUN needs root: sudo $0)"
	echo "bpf: 0 passed, 0 failed, ${#bins[@]} skipped"
	exit 77
fi

for bin in "${bins[@]}"; do
	name=$(basename "$bin")
	echo "== $name"
	"$bin"
	rc=$?
	case $rc in
	0) passed=$((passed + 1)) ;;
	77) echo "SKIP $name"; skipped=$((skipped + 1)) ;;
	*) echo "FAIL $name (exit $rc)"; failed=$((failed + 1)) ;;
	esac
done

failed=$((failed + missing))
echo "bpf: $passed passed, $failed failed, $skipped skipped"
((failed == 0))
