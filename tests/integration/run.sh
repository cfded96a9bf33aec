#!/bin/bash
# Run every tests/integration/test_*.sh (or only those named on the command
# line, with or without the .sh) one after another; print PASS/FAIL/SKIP per
# test, the tail of a failing test's output, and a summary line:
#   integration: N passed, N failed, N skipped
# Exit 1 if any test failed. TEST_TIMEOUT (seconds, default 300) bounds each.
set -u

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
timeout_s=${TEST_TIMEOUT:-300}
tail_lines=${FAIL_TAIL_LINES:-40}
passed=0 failed=0 skipped=0

tests=()
if (($# > 0)); then
	for name in "$@"; do
		name=${name%.sh}
		name=${name##*/}
		if [[ ! -f "$dir/$name.sh" ]]; then
			echo "run.sh: no test $dir/$name.sh" >&2
			exit 1
		fi
		tests+=("$dir/$name.sh")
	done
else
	for t in "$dir"/test_*.sh; do
		[[ -f "$t" ]] && tests+=("$t")
	done
fi

out=$(mktemp /tmp/vigil-integration.XXXXXX) || exit 1
trap 'rm -f -- "$out"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	start=$SECONDS
	timeout -k 10 "$timeout_s" bash "$t" >"$out" 2>&1 </dev/null
	rc=$?
	secs=$((SECONDS - start))
	case $rc in
	0)
		echo "PASS $name (${secs}s)"
		passed=$((passed + 1))
		;;
	77)
		echo "SKIP $name: $(grep -m1 'SKIP' "$out" | sed 's/^.*SKIP: //')"
		skipped=$((skipped + 1))
		;;
	*)
		[[ $rc -eq 124 ]] && echo "  (killed after ${timeout_s}s)" >>"$out"
		echo "FAIL $name (exit $rc, ${secs}s); last $tail_lines lines:"
		tail -n "$tail_lines" "$out" | sed 's/^/    /'
		failed=$((failed + 1))
		;;
	esac
done

echo "integration: $passed passed, $failed failed, $skipped skipped"
((failed == 0))
