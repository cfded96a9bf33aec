#!/bin/bash
# make bench, XDP detection: how fast the packet datapath's request signals
# (bpf/xdp_requests.h, docs/xdp.md "Request signals") eject a backend that
# only kept-alive clients use, so no new connection tells vigild anything.
# One testbed of tests/lib_xdp.sh (client netns -> LB netns, XDP on both
# veths -> server netns), vigild with the default detection settings
# (eject_base_ms raised so an ejection lasts the run), a fresh vigild and
# pin directory per repeat. Cases (CASES), each REPEATS times:
#
#   slow       b1 answers every request after 500 ms, b2 and b3 after 1 ms;
#              LOAD_KA kept-alive clients (2 s timeout) start; the time from
#              their start to b1's ejection (rule stalled; target: under
#              1 s) and the failed requests (a stalled backend keeps its
#              flows: its requests complete) at the default stall_floor_ms
#              (400, below the server's latency; docs/detection.md);
#   slow500    the same with stall_floor_ms 500, a setting that tolerates
#              longer pauses: a request answered after 500 ms is then within
#              the limit, so this shows what that setting costs (no ejection).
#   blackhole  two backends answering after 1 ms, LOAD_KA kept-alive clients;
#              after STEADY_MS nft drops every packet to b1 (the instant is
#              taken when nft returned, as in bench-failover.sh); the time
#              from it to b1's ejection (rule stuck_request: unacknowledged
#              requests; target: under 150 ms) and the failed requests
#              started after the fault (loadgen's failed_after).
#
# Prints "xdp_detect" lines, per repeat and a summary (median [min-max]);
# asserts nothing. Output also to OUT (default
# docs/bench/xdp-detect-<commit>.txt; OUT= for none). Root; run under
# flock /tmp/vigil-net.lock. Everything it creates is removed on exit
# (tests/lib.sh's cleanup).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
REPEATS=${REPEATS:-5}
CASES=${CASES:-"slow slow500 blackhole"}
LOAD_KA=${LOAD_KA:-24}
STEADY_MS=${STEADY_MS:-1500}
SLOW_MS=500

# shellcheck source=scripts/bench_lib.sh
BENCH_NAME=bench-xdp-detect source scripts/bench_lib.sh
COMMIT=$(bench_commit)
OUT=${OUT-docs/bench/xdp-detect-$COMMIT.txt}
# shellcheck source=tests/lib.sh
source tests/lib.sh
# shellcheck source=tests/lib_failover.sh
source tests/lib_failover.sh
# shellcheck source=tests/lib_xdp.sh
source tests/lib_xdp.sh
set +e -uo pipefail # bench_lib.sh's -e is not this script's way: failures are figures
[[ $REPEATS =~ ^[1-9][0-9]*$ ]] || die "REPEATS: '$REPEATS' is not a positive number"
for c in $CASES; do [[ $c == slow || $c == slow500 || $c == blackhole ]] || die "CASES: unknown case '$c'"; done
xdp_require_env
command -v nft >/dev/null || die "nft missing: run 'make deps'"
if [[ -n "$OUT" ]]; then
	mkdir -p -- "$(dirname -- "$OUT")" || die "cannot create the directory of $OUT"
	exec > >(tee -- "$OUT") 2>&1
fi

alloc_net
PORT=$VGL_PORT
xdp_topology "$NET" 3 >/dev/null
SLOW_PORT=$PORT BH_PORT=$((PORT + 1))
# slow: b1 500 ms, b2 and b3 1 ms on SLOW_PORT; blackhole: b4/b5 1 ms on
# BH_PORT of the first two addresses.
for i in 1 2 3; do
	fo_server "$i" "${B4[i]}" "$SLOW_PORT" "b$i" -d $((i == 1 ? SLOW_MS : 1))
done
for i in 1 2; do fo_server $((i + 3)) "${B4[i]}" "$BH_PORT" "b$i" -d 1; done

# A fresh vigild with one service: VIP:80 -> the given backends; DETECT:
# more detection settings.
DETECT=()
vigil_start() { # EP...
	fo_conf --xdp --detect "eject_base_ms: 60000" "${DETECT[@]}" --service web "$VIP4:80" \
		--backends "$@"
	start_vigild "$VGL_CONFIG" >/dev/null
}
vigil_stop() {
	stop_pid "$VIGILD_PID"
	VIGILD_PID=""
	[[ "$VGL_PIN_DIR" == /sys/fs/bpf/vigil-test-"$VGL_ID"-* ]] && rm -rf -- "$VGL_PIN_DIR"
}

# The first ejection of EP: sets EJ_NS (wall ns), EJ_RULE, EJ_LAT_MS (the
# evidence's oldest wait); empty when none came within 10 s.
ejection_of() { # EP
	local ev
	wait_backend_field web "$1" state ejected 10 2>/dev/null
	ev=$(events_of "$1" ejected | head -n1)
	EJ_NS=$(jq -r '.wall_ns // empty' <<<"$ev" 2>/dev/null)
	EJ_RULE=$(jq -r '.rule // "none"' <<<"$ev" 2>/dev/null)
	EJ_LAT_MS=$(jq -r '(.evidence.latency_us // 0) / 1000 | floor' <<<"$ev" 2>/dev/null)
}

# Record one repeat of CASE: detection ms from T0_NS, and the load's line.
record() { # CASE REPEAT
	local ms=none
	[[ -n "$EJ_NS" ]] && ms=$(((EJ_NS - T0_NS) / 1000000))
	echo "$ms" >>"$VGL_TMP/ms.$1"
	lg_get "$FAILED_KEY" >>"$VGL_TMP/failed.$1"
	printf 'xdp_detect %s repeat %d: ejected after %s ms, rule %s (oldest request waited %s ms);' \
		"$1" "$2" "$ms" "$EJ_RULE" "$EJ_LAT_MS"
	printf ' load: %s\n' "$LG_OUT"
}

run_slow() { # REPEAT [CASE]
	vigil_start "${B4[1]}:$SLOW_PORT" "${B4[2]}:$SLOW_PORT" "${B4[3]}:$SLOW_PORT"
	T0_NS=$(now_wall_ns)
	xlg_bg -a "$VIP4" -p 80 -c "$LOAD_KA" -k -d 3000 -t 2000 -s 1
	ejection_of "${B4[1]}:$SLOW_PORT"
	fo_loadgen_wait "$LG_PID" "$LG_LOG" 20 || LG_OUT="(no loadgen result)"
	FAILED_KEY=failed
	record "${2:-slow}" "$1"
	vigil_stop
}

run_slow500() { # REPEAT
	DETECT=(--detect "stall_floor_ms: 500")
	run_slow "$1" slow500
	DETECT=()
}

run_blackhole() { # REPEAT
	local table="vigil_bh_$VGL_ID"
	vigil_start "${B4[1]}:$BH_PORT" "${B4[2]}:$BH_PORT"
	xlg_bg -a "$VIP4" -p 80 -c "$LOAD_KA" -k -d $((STEADY_MS + 3000)) -t 2000 -s 1
	wait_until 5 _catches_usr1 "$LG_PID" || die "loadgen did not start"
	sleep "$(awk -v ms="$STEADY_MS" 'BEGIN { printf "%.3f", ms / 1000 }')"
	fo_blackhole "$table" "${B4[1]}" "$BH_PORT" || die "nft failed"
	T0_NS=$(now_wall_ns)
	kill -USR1 "$LG_PID"
	ejection_of "${B4[1]}:$BH_PORT"
	fo_loadgen_wait "$LG_PID" "$LG_LOG" 20 || LG_OUT="(no loadgen result)"
	fo_unblackhole "$table"
	FAILED_KEY=failed_after
	record blackhole "$1"
	vigil_stop
}

# median [min-max] of the numbers in FILE ("none" entries counted apart).
summary() { # FILE
	grep -E '^[0-9]+$' "$1" | sort -n | awk -v none="$(grep -cv '^[0-9]*$' "$1")" '
		{ a[NR] = $1 }
		END {
			if (NR == 0) { printf "none"; exit }
			m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
			printf "%g [%d-%d]", m, a[1], a[NR]
			if (none) printf ", %d without ejection", none
		}'
}

echo "xdp_detect setup: client -> LB (XDP on both veths) -> servers; $LOAD_KA kept-alive" \
	"clients (2 s timeout), default detection (slow500: stall_floor_ms 500); $REPEATS repeats per case; commit $COMMIT"
for ((r = 1; r <= REPEATS; r++)); do
	for c in $CASES; do "run_$c" "$r"; done
done
declare -A TARGET=([slow]="under 1000 ms" [slow500]="none (the setting trades it away)" [blackhole]="under 150 ms")
declare -A WHAT=([slow]="500 ms backend among 1 ms peers, from the load's start"
	[slow500]="the same, stall_floor_ms 500"
	[blackhole]="black-holed backend, kept-alive clients only, from the fault")
for c in $CASES; do
	echo "xdp_detect $c (${WHAT[$c]}): ejected after $(summary "$VGL_TMP/ms.$c") ms" \
		"(target ${TARGET[$c]}); failed requests $(summary "$VGL_TMP/failed.$c")"
done
