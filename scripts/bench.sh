#!/bin/bash
# make bench: the monitor's data-path overhead, measured in one run.
#  1. requests/s of wrk against a local nginx over loopback, alternating rounds
#     without and with vigild attached (watching that endpoint and port), median.
#  2. average cost per program run from kernel.bpf_stats_enabled.
# Prints figures only; targets are in the issue tracker, not asserted here.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-4}
CONNS=${CONNS:-32}
PORT=${PORT:-18481}
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root (loads BPF programs)" >&2; exit 1; }
for t in nginx wrk bpftool jq; do
	command -v "$t" >/dev/null || { echo "bench: $t missing: run 'make deps'" >&2; exit 1; }
done

work=$(mktemp -d /tmp/vigil-bench.XXXXXX)
pin_dir=/sys/fs/bpf/vigil-bench-$$
nginx_pid="" vigild_pid=""
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
	[ -n "$vigild_pid" ] && kill "$vigild_pid" 2>/dev/null && wait "$vigild_pid" 2>/dev/null
	[ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
	sysctl -qw kernel.bpf_stats_enabled="$old_stats"
	rm -rf "$pin_dir" "$work"
}
trap cleanup EXIT INT TERM

mkdir -p "$work/tmp"
cat > "$work/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $work/tmp; proxy_temp_path $work/tmp;
	fastcgi_temp_path $work/tmp; uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
	server { listen 127.0.0.1:$PORT; location / { return 200 "ok\n"; } }
}
CONF
nginx -c "$work/nginx.conf" -p "$work" &
nginx_pid=$!
for _ in $(seq 50); do wrk -t1 -c1 -d1s "http://127.0.0.1:$PORT/" >/dev/null 2>&1 && break; sleep 0.1; done

cat > "$work/vigil.yaml" <<CONF
daemon:
  pin_dir: $pin_dir
watch:
  backends: ["127.0.0.1:$PORT"]
  local_ports: [$PORT]
CONF

start_vigild() {
	rm -f "$work/ready"
	"$BUILD/vigild" -c "$work/vigil.yaml" --ready-file "$work/ready" 2>>"$work/vigild.log" &
	vigild_pid=$!
	for _ in $(seq 100); do [ -e "$work/ready" ] && return 0; sleep 0.1; done
	echo "bench: vigild did not start:" >&2; cat "$work/vigild.log" >&2; exit 1
}
stop_vigild() { kill "$vigild_pid"; wait "$vigild_pid" || true; vigild_pid=""; }

rps() { wrk -t1 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$PORT/" | awk '/Requests\/sec/ {print $2}'; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "vigil bench: wrk -t1 -c$CONNS -d${DURATION}s against nginx on 127.0.0.1:$PORT, $ROUNDS alternating rounds"
sysctl -qw kernel.bpf_stats_enabled=1
: > "$work/off"; : > "$work/on"
for r in $(seq "$ROUNDS"); do
	off=$(rps); echo "$off" >> "$work/off"
	bpftool -j prog show | jq '[.[].id]' > "$work/ids.before"
	start_vigild; on=$(rps); echo "$on" >> "$work/on"
	# Per-program costs from the last attached round, before detaching.
	[ "$r" -eq "$ROUNDS" ] && bpftool -j prog show > "$work/progs.json"
	stop_vigild
	printf '  round %d: without %s req/s, with %s req/s\n' "$r" "$off" "$on"
done
off_med=$(median < "$work/off"); on_med=$(median < "$work/on")
awk -v off="$off_med" -v on="$on_med" 'BEGIN {
	printf "requests/s median: without vigild %.0f, with vigild %.0f, overhead %.2f%% (target < 2%%)\n",
		off, on, 100 * (off - on) / off }'

echo "per-program average cost (kernel.bpf_stats_enabled, last attached round; target < 150 ns):"
# Only the programs this run's vigild loaded (another vigild may run too).
jq -r --slurpfile before "$work/ids.before" '.[] |
	select(.name != null and (.name | startswith("vigil_"))) |
	select(.id as $id | $before[0] | index($id) | not) |
	select(.run_cnt != null and .run_cnt > 0) |
	"  \(.name)\t runs=\(.run_cnt)\t avg=\((.run_time_ns / .run_cnt) | floor) ns"' "$work/progs.json"
