#!/bin/bash
# What `make test` runs: the unit suite (one suite, judged by its exit code),
# the BPF program tests, then the integration tests (both as root only). Last line:
#   tests: N passed (F flaky), N failed, N skipped
# The F flaky tests (integration tests that passed only on retry) are among
# the N passed and are named on the line before. Exit 1 on any failure, and
# also on any skip ("INCOMPLETE: N skipped": a skipped test checked nothing)
# unless VIGIL_ALLOW_SKIPS=1.
set -u

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$dir/.." && pwd)
build=${BUILD:-$root/build}
passed=0 failed=0 skipped=0
flaky=()
# shellcheck source=tests/lib_summary.sh
source "$dir/lib_summary.sh"

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
	# Skips are judged below, over all suites, so integration/run.sh must
	# not fail on them itself.
	VIGIL_ALLOW_SKIPS=1 "$dir/integration/run.sh" | tee "$log"
	rc=${PIPESTATUS[0]}
	summary=$(grep -E '^integration: [0-9]+ passed \([0-9]+ flaky\), [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n 1)
	if [[ $summary =~ ^integration:\ ([0-9]+)\ passed\ \(([0-9]+)\ flaky\),\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]]; then
		passed=$((passed + BASH_REMATCH[1]))
		failed=$((failed + BASH_REMATCH[3]))
		skipped=$((skipped + BASH_REMATCH[4]))
		nflaky=${BASH_REMATCH[2]}
		if ((rc != 0 && BASH_REMATCH[3] == 0)); then
			failed=$((failed + 1))
		fi
		read -r -a names <<<"$(sed -n 's/^FLAKY (passed only on retry): //p' "$log" | tail -n 1)"
		flaky+=("${names[@]}")
		if ((${#names[@]} != nflaky)); then
			echo "FAIL integration: summary says $nflaky flaky but ${#names[@]} are named"
			failed=$((failed + 1))
		fi
	else
		echo "FAIL integration: run.sh exited $rc without a summary line"
		failed=$((failed + 1))
	fi
fi

run_summary_exit tests flaky
