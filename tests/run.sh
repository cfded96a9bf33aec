#!/bin/bash
# What `make test` runs: the unit suite (one suite, judged by its exit code),
# the BPF program tests, then the integration tests (both as root only). Last line:
#   tests: N passed, N failed, N skipped
set -u

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$dir/.." && pwd)
build=${BUILD:-$root/build}
passed=0 failed=0 skipped=0

echo "== unit tests"
if [[ ! -x "$dir/unit/run.sh" ]]; then
	echo "FAIL unit: $dir/unit/run.sh missing or not executable"
	failed=$((failed + 1))
elif "$dir/unit/run.sh" "$build/unit-tests"; then
	echo "PASS unit"
	passed=$((passed + 1))
else
	echo "FAIL unit (exit $?)"
	failed=$((failed + 1))
fi

echo "== BPF program tests (BPF_PROG_TEST_RUN)"
if [[ $(id -u) -ne 0 ]]; then
	echo "SKIP bpf: not root"
	skipped=$((skipped + 1))
else
	bpf_out=$("$dir/bpf/run.sh" 2>&1)
	rc=$?
	printf '%s\n' "$bpf_out"
	summary=$(grep -E '^bpf: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' <<<"$bpf_out" | tail -n 1)
	if [[ $summary =~ ^bpf:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]]; then
		passed=$((passed + BASH_REMATCH[1]))
		failed=$((failed + BASH_REMATCH[2]))
		skipped=$((skipped + BASH_REMATCH[3]))
		((rc != 0 && BASH_REMATCH[2] == 0)) && failed=$((failed + 1))
	else
		echo "FAIL bpf: run.sh exited $rc without a summary line"
		failed=$((failed + 1))
	fi
fi

echo "== integration tests"
shopt -s nullglob
itests=("$dir"/integration/test_*.sh)
if [[ $(id -u) -ne 0 ]]; then
	echo "SKIP integration: not root; ${#itests[@]} tests skipped (run as root: sudo make test)"
	skipped=$((skipped + ${#itests[@]}))
else
	log=$(mktemp /tmp/vigil-tests.XXXXXX) || exit 1
	trap 'rm -f -- "$log"' EXIT
	"$dir/integration/run.sh" | tee "$log"
	rc=${PIPESTATUS[0]}
	summary=$(grep -E '^integration: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n 1)
	if [[ $summary =~ ^integration:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]]; then
		passed=$((passed + BASH_REMATCH[1]))
		failed=$((failed + BASH_REMATCH[2]))
		skipped=$((skipped + BASH_REMATCH[3]))
		if ((rc != 0 && BASH_REMATCH[2] == 0)); then
			failed=$((failed + 1))
		fi
	else
		echo "FAIL integration: run.sh exited $rc without a summary line"
		failed=$((failed + 1))
	fi
fi

echo "tests: $passed passed, $failed failed, $skipped skipped"
((failed == 0))
