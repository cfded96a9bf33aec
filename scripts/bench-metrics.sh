#!/bin/bash
# make bench, the metrics endpoint: what a scrape of vigild's /metrics costs,
# and whether scraping delays vigild's main loop.
#
# vigild runs with SERVICES services of BACKENDS backends each (socket
# datapath, hooks on an empty cgroup of its own, backends on 127.1.S.B:9 so
# that one refused connect to each gives every backend its counters), at its
# default SCHED_RR priority, metrics on 127.0.0.1:PORT.
#
# Figures (nothing is asserted): the scrape's size and lines; its time
# (curl's time_total, median and max of SCRAPES sequential scrapes); and the
# main loop's wake-up delay, from vigild's own vigil_daemon_tick_lag_seconds
# histogram (p50, p99 and the top bucket), and vigild's CPU time, in
# DURATION seconds without scrapes, then in DURATION seconds of back-to-back
# scrapes from PARALLEL clients.
#
# Settings: SERVICES (64), BACKENDS (8), SCRAPES (50), PARALLEL (2),
# DURATION (s, bench_lib.sh's 5), PORT (19487), BUILD (build), OUT (raw output file; default
# docs/bench/metrics-<commit>.txt, empty: none). Under the project's lock:
# flock /tmp/vigil-net.lock scripts/bench-metrics.sh.
BENCH_NAME=bench-metrics
# shellcheck source=scripts/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"
SERVICES=${SERVICES:-64}
BACKENDS=${BACKENDS:-8}
SCRAPES=${SCRAPES:-50}
PARALLEL=${PARALLEL:-2}
PORT=${PORT:-19487}
URL="http://127.0.0.1:$PORT/metrics"

need_root "loads BPF programs, attaches cgroup hooks"
need_tools curl awk git
need_built "$BUILD/vigild"
find_cgroup2_root
commit=$(bench_commit)
OUT=${OUT-docs/bench/metrics-$commit.txt}

tmp=$(mktemp -d /tmp/vigil-bench-metrics.XXXXXX)
pin=/sys/fs/bpf/vigil-bench-metrics-$$
cg=$cg_root/vigil-bench-metrics-$$
vigild_pid="" loaders=()
cleanup() {
	local p
	for p in "${loaders[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -n "$vigild_pid" ] && kill "$vigild_pid" 2>/dev/null && wait "$vigild_pid" 2>/dev/null
	rm -rf -- "$pin" "$tmp"
	rmdir -- "$cg" 2>/dev/null || true
}
trap cleanup EXIT
mkdir "$cg"

{
	printf 'daemon: {pin_dir: %s}\nmetrics: {listen: "127.0.0.1:%s"}\n' "$pin" "$PORT"
	printf 'lb: {cgroup: %s}\ndetection: {consecutive_failures: 100}\nservices:\n' "$cg"
	for ((s = 1; s <= SERVICES; s++)); do
		printf '  - name: svc%d\n    vip: "10.213.%d.%d:80"\n    backends: [' "$s" $((s / 250)) $((s % 250 + 1))
		for ((b = 1; b <= BACKENDS; b++)); do
			printf '%s"127.1.%d.%d:9"' "$([ $b -gt 1 ] && echo ', ')" "$s" "$b"
		done
		printf ']\n'
	done
} >"$tmp/vigil.yaml"
"$BUILD/vigild" -c "$tmp/vigil.yaml" --ready-file "$tmp/ready" 2>"$tmp/vigild.log" &
vigild_pid=$!
for _ in $(seq 100); do [ -e "$tmp/ready" ] && break; sleep 0.1; done
[ -e "$tmp/ready" ] || die "vigild did not start: $(tail -n 5 "$tmp/vigild.log")"
for ((s = 1; s <= SERVICES; s++)); do
	for ((b = 1; b <= BACKENDS; b++)); do
		(exec 3<>"/dev/tcp/127.1.$s.$b/9") 2>/dev/null || true
	done
done
sleep 0.5

scrape() { curl -sf -o "$1" -w '%{time_total}\n' "$URL"; }
scrape "$tmp/m" >/dev/null || die "scraping $URL failed"
size=$(wc -c <"$tmp/m") lines=$(wc -l <"$tmp/m")
for ((i = 0; i < SCRAPES; i++)); do scrape /dev/null; done | sort -n >"$tmp/times"
median=$(awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] * 1000 }' "$tmp/times")
max=$(awk 'END { print $1 * 1000 }' "$tmp/times")

# Cumulative tick-lag buckets "le count" of a scrape.
lag_buckets() { awk -F'[" ]' '/^vigil_daemon_tick_lag_seconds_bucket/ { print $2, $NF }' "$1"; }
# The quantile Q of the delays between two scrapes' histograms, as the upper
# bound of the bucket holding it, in ms; and the top non-empty bucket.
lag_figures() { # BEFORE AFTER
	paste <(lag_buckets "$1") <(lag_buckets "$2") | awk '
		{ le[NR] = $1; d[NR] = $4 - $2 } END {
			n = d[NR]; top = "-"
			for (i = 1; i <= NR; i++) if (d[i] > (i > 1 ? d[i - 1] : 0)) top = le[i]
			for (q = 0; q < 2; q++) {
				want = (q ? 0.99 : 0.5) * n; v[q] = "-"
				for (i = 1; i <= NR && n; i++) if (d[i] >= want) { v[q] = le[i]; break }
			}
			printf "%d wake-ups, p50 <= %s s, p99 <= %s s, slowest <= %s s", n, v[0], v[1], top
		}'
}
# vigild's CPU time (user + system, all threads) in clock ticks, and its
# share of one CPU since TICKS were read.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$vigild_pid/stat"; }
cpu_of() { # TICKS
	echo "$(( ($(cpu_ticks) - $1) * 100 / ($(getconf CLK_TCK) * DURATION) ))%"
}
scrape "$tmp/idle0" >/dev/null
cpu0=$(cpu_ticks)
sleep "$DURATION"
idle_cpu=$(cpu_of "$cpu0")
scrape "$tmp/idle1" >/dev/null
cpu1=$(cpu_ticks)
for ((p = 0; p < PARALLEL; p++)); do
	(while :; do curl -sf -o /dev/null "$URL" || true; done) &
	loaders+=($!)
done
sleep "$DURATION"
scrape "$tmp/busy1" >/dev/null
busy_cpu=$(cpu_of "$cpu1")
for p in "${loaders[@]}"; do kill "$p" 2>/dev/null || true; done
wait "${loaders[@]}" 2>/dev/null || true
loaders=()
scraped=$(awk '/^vigil_daemon_tick_lag_seconds_count/ { print $2 }' "$tmp/busy1")

report() {
	echo "bench-metrics at commit $commit: vigild with $SERVICES services x $BACKENDS backends" \
		"($((SERVICES * BACKENDS)) backends, each with counters), $(nproc) CPUs"
	echo "scrape: $size bytes, $lines lines; time over $SCRAPES scrapes: median ${median} ms, max ${max} ms"
	echo "${DURATION} s without scrapes: vigild used $idle_cpu of a CPU; main loop wake-up" \
		"delay: $(lag_figures "$tmp/idle0" "$tmp/idle1")"
	echo "${DURATION} s of back-to-back scrapes from $PARALLEL clients: vigild used $busy_cpu of" \
		"a CPU; main loop wake-up delay: $(lag_figures "$tmp/idle1" "$tmp/busy1")"
	echo "($scraped timed wake-ups of the loop in all)"
}
if [ -n "$OUT" ]; then report | tee "$OUT"; else report; fi
