#!/bin/sh
# Runs the unit-test binary given as $1. With valgrind installed the tests run
# in-process (CK_FORK=no) under valgrind, so a definite or indirect leak or a
# memory error fails the run (exit 3). Exits non-zero on any failure.
# VIGIL_NO_VALGRIND=1 skips valgrind.
set -u

bin=${1:?usage: tests/unit/run.sh BUILD/unit-tests}
dir=$(cd "$(dirname "$0")" && pwd)

if [ ! -x "$bin" ]; then
	echo "unit: $bin missing or not executable: run make $bin" >&2
	exit 2
fi
VIGIL_TEST_DATA=${VIGIL_TEST_DATA:-$dir/data}
VIGIL_EXAMPLES=${VIGIL_EXAMPLES:-$dir/../../examples}
export VIGIL_TEST_DATA VIGIL_EXAMPLES

if [ "${VIGIL_NO_VALGRIND:-0}" != 1 ] && command -v valgrind >/dev/null 2>&1; then
	CK_FORK=no valgrind --quiet --leak-check=full \
		--errors-for-leak-kinds=definite,indirect --error-exitcode=3 "$bin"
	rc=$?
else
	"$bin"
	rc=$?
fi
if [ "$rc" -ne 0 ]; then
	[ "$rc" -eq 3 ] && echo "unit: valgrind found leaks or memory errors" >&2
	echo "unit: FAILED (exit $rc)" >&2
fi
exit "$rc"
