# shellcheck shell=bash
# The end of a test runner (tests/run.sh, tests/integration/run.sh), sourced:
# from the runner's counters passed, failed, skipped and its array flaky.
#   run_summary_exit LABEL FLAKY_WORD
# prints "FLAKY_WORD (passed only on retry): NAME..." when a test was flaky,
# then "LABEL: N passed (F flaky), N failed, N skipped", and exits: 1 on a
# failure, 1 on a skip ("INCOMPLETE: N skipped") unless VIGIL_ALLOW_SKIPS=1,
# else 0. tests/run.sh parses the integration runner's two lines.

# shellcheck disable=SC2154 # the counters are the runner's
run_summary_exit() {
	local label=$1 flaky_word=$2

	((${#flaky[@]})) && echo "$flaky_word (passed only on retry): ${flaky[*]}"
	echo "$label: $passed passed (${#flaky[@]} flaky), $failed failed, $skipped skipped"
	((failed == 0)) || exit 1
	if ((skipped > 0)); then
		if [[ ${VIGIL_ALLOW_SKIPS:-0} == 1 ]]; then
			echo "skips allowed (VIGIL_ALLOW_SKIPS=1): $skipped skipped"
		else
			echo "INCOMPLETE: $skipped skipped (a skipped test checked nothing; VIGIL_ALLOW_SKIPS=1 accepts skips)"
			exit 1
		fi
	fi
	exit 0
}
