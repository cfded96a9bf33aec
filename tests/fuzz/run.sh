#!/bin/bash
# make fuzz: afl++ on the config loader + validator (tests/fuzz/fuzz_config.c)
# for FUZZ_SECONDS (default 90), seeded with examples/*.yaml and the unit-test
# fixtures tests/unit/data/*.yaml; each case has FUZZ_TIMEOUT_MS (default
# 1000) before it counts as a hang. Prints the cases run; fails on any crash
# or hang (kept under $out/default/crashes and hangs: rerun the harness on
# one to see it), or if fewer than FUZZ_MIN_CASES (default 2000) ran.
# Usage: tests/fuzz/run.sh HARNESS [OUT_DIR]
set -u

harness=${1:?usage: tests/fuzz/run.sh HARNESS [OUT_DIR]}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${2:-$(dirname "$harness")/out}
seconds=${FUZZ_SECONDS:-90}
timeout_ms=${FUZZ_TIMEOUT_MS:-1000}
min_cases=${FUZZ_MIN_CASES:-2000}

command -v afl-fuzz >/dev/null || {
	echo "fuzz: afl-fuzz not installed: apt-get install afl++ (docs/dependencies.md)" >&2
	exit 2
}
seeds=$(mktemp -d /tmp/vigil-fuzz-seeds.XXXXXX) || exit 2
trap 'rm -rf -- "$seeds"' EXIT
cp "$root"/examples/*.yaml "$root"/tests/unit/data/*.yaml "$seeds"/
rm -rf -- "$out"
mkdir -p "$out"

# No UI, no CPU pinning (the machine is shared), no core-pattern or
# frequency-governor demands; ASan needs no memory limit.
AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
	AFL_QUIET=1 ASAN_OPTIONS=abort_on_error=1:symbolize=0:detect_leaks=0 \
	afl-fuzz -i "$seeds" -o "$out" -t "$timeout_ms" -m none -V "$seconds" -- "$harness" @@ \
	>"$out/afl.log" 2>&1
rc=$?
stats=$out/default/fuzzer_stats
if [[ ! -f $stats ]]; then
	echo "fuzz: afl-fuzz failed (exit $rc); the end of $out/afl.log:" >&2
	tail -n 20 "$out/afl.log" >&2
	exit 1
fi
stat() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
cases=$(stat execs_done) crashes=$(stat saved_crashes) hangs=$(stat saved_hangs)
echo "fuzz: $cases cases in ${seconds}s (timeout ${timeout_ms} ms each), $(stat corpus_count) in" \
	"the corpus, $crashes crashes, $hangs hangs"
if ((crashes > 0 || hangs > 0)); then
	echo "fuzz: FAILED: inputs in $out/default/crashes and $out/default/hangs;" \
		"reproduce with: $harness FILE" >&2
	exit 1
fi
if ((cases < min_cases)); then
	echo "fuzz: FAILED: only $cases cases ran (at least $min_cases expected)" >&2
	exit 1
fi
echo "fuzz: ok"
