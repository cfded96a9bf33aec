#!/bin/bash
# make bench, part 1: vigil's cost on the data path, through a configured
# service.
#
# Testbed (names carry this script's PID, all removed on exit):
#   client netns vboh<PID>-cli 10.212.46.1, wrk running in the cgroup v2
#     directory <root>/vigil-bench-oh-<PID> (vigil's lb.cgroup)
#        | veth
#   server netns vboh<PID>-srv, one nginx (1 worker) on 10.212.46.11:8080 and
#     10.212.46.12:8080
#
# With vigil: vigild runs with one service, VIP 10.212.46.100:80 -> both
# addresses; wrk connects to the VIP, the cgroup/connect4 hook picks a
# backend, the monitor's tracepoints watch the backends. Without vigil: no
# vigild, no hooks (its pins are removed), wrk connects to 10.212.46.11:8080
# directly: the same path minus vigil.
#
# Two loads per phase: keep-alive (wrk, CONNS connections kept open) and a new
# connection per request (wrk -H 'Connection: close': nginx closes after each
# reply and wrk reconnects, so every request pays connect4 and the
# monitor's connection set-up). Rounds alternate the order of the phases
# (without/with, then with/without, ...) so a drift of the machine's load
# hits both sides alike. The with-vigil phase adds three short loads that
# isolate one program's path each: keep-alive to 10.212.46.11:8081, which
# vigil does not watch (every send/recv run is on an unwatched socket), to
# 10.212.46.11:8082, watched on both ends (watch.backends and
# watch.local_ports: every run is on a watched socket), and a getpeername()
# loop on a connection through the VIP (getpeername4). Before its loads,
# vigild's CPU is read over IDLE seconds without traffic.
#
# Figures: requests/s (median and range over the rounds) and, from
# kernel.bpf_stats_enabled, vigil's CPU share: the run_time_ns gained by the
# programs this run's vigild loaded during the load, over the busy time of
# all CPUs (/proc/stat) in the same interval; ns per request and a
# per-program table; vigild's own CPU (/proc/PID/stat) as a share of one CPU,
# idle and under each load; the issue 12 targets beside what this run
# measured. Nothing is asserted.
#
# FLOOR=1 adds a third phase per round, without vigild: build/bench/bpf_floor
# loads programs that return at once on exactly vigil's hooks (tp_btf
# sock_send_length, sock_recv_length, inet_sock_set_state; sockops and
# cgroup/connect4 on the cgroup; tc ingress and egress on the client's veth0,
# where vigil's socket rescue attaches) and runs keep-alive and close to
# $B1:$PORT: each hook's ns/run floor (what bpf_stats' timing and the dispatch
# cost before any work) and runs/request, and from them the least BPF
# ns/request and share any program set on these hooks could have here. Then
# six more close loads, each with one part of vigil_connect4 as the connect4
# program (tests/bench/floor.bpf.c): only the socket's storage (to $B1:$PORT),
# the service lookup, lookup + a draw from the slot table, lookup + vigil's
# backend choice (the draw and its health lookup), vigil_connect4 itself, and
# the choice with the VIP in an LRU hash instead of the storage (these five to
# the VIP, from the loader's own copy of the service).
#
# Settings: ROUNDS (5), DURATION (s per load, 5), CONNS (32), IDLE (s of
# vigild idle per round, 5), PEERNAME_CALLS (200000), FLOOR (0), BUILD
# (build), OUT (raw output file; default docs/bench/overhead-<commit>.txt,
# empty: none).
# Run one at a time (fixed subnet, global tracepoints): under the project's
# lock, flock /tmp/vigil-net.lock scripts/bench.sh.
BENCH_NAME=bench
# shellcheck source=scripts/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"
ROUNDS=${ROUNDS:-5}
CONNS=${CONNS:-32}
IDLE=${IDLE:-5}
PEERNAME_CALLS=${PEERNAME_CALLS:-200000}
FLOOR=${FLOOR:-0}
NET=10.212.46
VIP=$NET.100
VPORT=80
PORT=8080
UNWATCHED_PORT=8081 # served by nginx, watched by nobody
WATCHED_PORT=8082   # watched as a remote endpoint (client) and a local port (server)
B1=$NET.11 B2=$NET.12

need_root "loads BPF programs, creates namespaces"
need_tools nginx wrk bpftool jq ip git python3
need_built "$BUILD/vigild" "$BUILD/vigilctl"
[ "$FLOOR" = 0 ] || need_built "$BUILD/bench/bpf_floor"
[ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ] || die "/sys/fs/bpf is not a bpf filesystem"
[ -r /proc/sys/kernel/bpf_stats_enabled ] || die "kernel.bpf_stats_enabled not available"
find_cgroup2_root

commit=$(bench_commit)
OUT=${OUT-docs/bench/overhead-$commit.txt}

CLI=vboh$$-cli SRV=vboh$$-srv
CG=$cg_root/vigil-bench-oh-$$
PIN=/sys/fs/bpf/vigil-bench-oh-$$
work=$(mktemp -d /tmp/vigil-bench-oh.XXXXXX)
nginx_pid="" vigild_pid="" floor_pid="" wrk_pid="" netns=() cg_made=0
old_stats=$(sysctl -n kernel.bpf_stats_enabled)

# Running (not exited): a child that exited but is not reaped yet (a zombie)
# still answers kill -0.
alive() { # PID
	local st
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "${st%% *}" != Z ]
}
stop_pid() { # PID: SIGTERM, up to 5 s, then SIGKILL
	local i
	kill -TERM "$1" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do alive "$1" || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
cleanup() {
	local rc=$? ns i
	trap - EXIT INT TERM
	set +e
	for p in "$wrk_pid" "$vigild_pid" "$floor_pid" "$nginx_pid"; do [ -n "$p" ] && stop_pid "$p"; done
	# Removing the pins detaches the cgroup links before the cgroup goes.
	rm -rf -- "$PIN"
	if [ "$cg_made" = 1 ]; then
		for ((i = 0; i < 50; i++)); do rmdir "$CG" 2>/dev/null && break; sleep 0.1; done
	fi
	for ns in "${netns[@]}"; do ip netns delete "$ns"; done
	sysctl -qw kernel.bpf_stats_enabled="$old_stats"
	rm -rf -- "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench: interrupted, cleaning up" >&2; exit 130' INT
trap 'exit 143' TERM

# Everything reported goes to stdout and to the raw output file.
p() { printf '%s\n' "$*" | tee -a "$work/raw.txt"; }

# ---- testbed ---------------------------------------------------------------------

for ns in "$CLI" "$SRV"; do
	ip netns add "$ns"
	netns+=("$ns")
	ip -n "$ns" link set lo up
done
ip link add veth0 netns "$CLI" type veth peer name veth0 netns "$SRV"
ip -n "$CLI" addr add "$NET.1/24" dev veth0
ip -n "$SRV" addr add "$B1/24" dev veth0
ip -n "$SRV" addr add "$B2/24" dev veth0
ip -n "$CLI" link set veth0 up
ip -n "$SRV" link set veth0 up
mkdir "$CG"
cg_made=1

mkdir -p "$work/tmp"
# keepalive_requests: nginx (>= 1.19.10) closes a kept-alive connection after
# 1000 requests by default, which would put connects into the keep-alive load.
cat >"$work/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 100000000;
	client_body_temp_path $work/tmp; proxy_temp_path $work/tmp;
	fastcgi_temp_path $work/tmp; uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
	server {
		listen $B1:$PORT backlog=4096; listen $B2:$PORT backlog=4096;
		listen $B1:$UNWATCHED_PORT backlog=4096; listen $B1:$WATCHED_PORT backlog=4096;
		location / { return 200 "ok\n"; }
	}
}
CONF
ip netns exec "$SRV" nginx -c "$work/nginx.conf" -p "$work" &
nginx_pid=$!
up=0
for _ in $(seq 50); do
	ip netns exec "$CLI" bash -c "exec 3<>/dev/tcp/$B1/$PORT && exec 4<>/dev/tcp/$B2/$PORT" 2>/dev/null &&
		{ up=1; break; }
	sleep 0.1
done
[ "$up" = 1 ] || { cat "$work/nginx.log" >&2; die "nginx did not start"; }

cat >"$work/vigil.yaml" <<CONF
daemon:
  pin_dir: $PIN
  probe_netns: /var/run/netns/$CLI
lb:
  cgroup: $CG
watch:
  backends: ["$B1:$WATCHED_PORT"]
  local_ports: [$WATCHED_PORT]
services:
  - name: bench
    vip: "$VIP:$VPORT"
    backends: ["$B1:$PORT", "$B2:$PORT"]
CONF

# ---- measuring -------------------------------------------------------------------

hz=$(getconf CLK_TCK)
ncpu=$(nproc)
# Busy time of all CPUs in ns: user nice system irq softirq (not idle, iowait,
# or steal, which is time the hypervisor gave to other guests).
cpu_busy_ns() { awk -v hz="$hz" '$1 == "cpu" { printf "%.0f\n", ($2 + $3 + $4 + $7 + $8) * 1e9 / hz }' /proc/stat; }
now_ns() { echo "${EPOCHREALTIME/./}000"; }
# vigild's own CPU time (user + system, all threads) in ns.
vigild_cpu_ns() { awk -v hz="$hz" '{ sub(/^.*\) /, ""); printf "%.0f\n", ($12 + $13) * 1e9 / hz }' "/proc/$vigild_pid/stat"; }
# run_time_ns and run_cnt of this run's programs: "name id time cnt" lines.
prog_stats() {
	bpftool -j prog show | jq -r --slurpfile ids "$work/ids.json" \
		'.[] | select(.id as $i | $ids[0] | index($i)) | "\(.name) \(.id) \(.run_time_ns // 0) \(.run_cnt // 0)"'
}

# The programs PID holds open (its fds' prog_id in fdinfo; bpftool here
# lists no owner pids) whose name starts with PREFIX, into $work/ids.json:
# another process's programs, or leftovers pinned elsewhere, are not counted.
collect_prog_ids() { # PID PREFIX
	awk '$1 == "prog_id:" { print $2 }' /proc/"$1"/fdinfo/* 2>/dev/null | sort -un |
		jq -s . >"$work/fd_ids.json"
	bpftool -j prog show | jq --slurpfile fd "$work/fd_ids.json" --arg pre "$2" \
		'[.[] | select((.name // "") | startswith($pre)) | select(.id as $i | $fd[0] | index($i)) | .id]' \
		>"$work/ids.json"
	[ "$(jq length "$work/ids.json")" -gt 0 ] || die "no $2* programs found among process $1's fds"
}

# Up to 10 s for PID to write $work/ready; otherwise show its LOG and stop.
wait_ready() { # PID LOG NAME
	for _ in $(seq 100); do
		[ -e "$work/ready" ] && return 0
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	[ -e "$work/ready" ] || { cat "$2" >&2; die "$3 did not start"; }
}

start_vigild() {
	rm -f "$work/ready"
	"$BUILD/vigild" -c "$work/vigil.yaml" --ready-file "$work/ready" >>"$work/vigild.log" 2>&1 &
	vigild_pid=$!
	wait_ready "$vigild_pid" "$work/vigild.log" vigild
	collect_prog_ids "$vigild_pid" vigil_
	# Let the first probes pass and the backends go healthy before the load.
	sleep 1
}
# vigild's CPU with no traffic over IDLE seconds: "vigild_ns elapsed_ns" to
# $work/idle.
measure_idle() {
	local v0 v1 t0 t1
	v0=$(vigild_cpu_ns); t0=$(now_ns)
	sleep "$IDLE"
	v1=$(vigild_cpu_ns); t1=$(now_ns)
	echo "$((v1 - v0)) $((t1 - t0))" >>"$work/idle"
	awk -v v=$((v1 - v0)) -v t=$((t1 - t0)) 'BEGIN {
		printf "    idle      vigild %.2f%% of one CPU\n", 100 * v / t }' | tee -a "$work/raw.txt"
}
stop_vigild() {
	stop_pid "$vigild_pid"
	vigild_pid=""
	rm -rf -- "$PIN" # detaches the cgroup hooks: the next phase runs without vigil
}

# bpf_floor with connect4 program VARIANT (empty store lookup draw choose vigil lru).
start_floor() { # VARIANT
	rm -f "$work/ready"
	"$BUILD/bench/bpf_floor" --cgroup "$CG" --netns "/var/run/netns/$CLI" --ifname veth0 \
		--ready "$work/ready" --connect4 "$1" --vip "$VIP:$VPORT" --backend "$B1:$PORT" \
		--backend "$B2:$PORT" >>"$work/floor.log" 2>&1 &
	floor_pid=$!
	wait_ready "$floor_pid" "$work/floor.log" bpf_floor
	collect_prog_ids "$floor_pid" ""
}
stop_floor() {
	stop_pid "$floor_pid"
	floor_pid=""
}

# wrk in the client namespace, inside the LB cgroup (in this shell, so that
# cleanup knows its PID). Writes "rps requests errors" to $work/wrk.res.
run_wrk() { # MODE URL
	local extra=()
	[ "$1" = close ] && extra=(-H 'Connection: close')
	# shellcheck disable=SC2016 # expanded by the inner bash
	bash -c 'echo $$ >"$0/cgroup.procs" && exec ip netns exec "$1" "${@:2}"' "$CG" "$CLI" \
		wrk -t1 -c"$CONNS" -d"${DURATION}s" "${extra[@]}" "$2" >"$work/wrk.out" 2>&1 &
	wrk_pid=$!
	wait "$wrk_pid" || { wrk_pid=""; cat "$work/wrk.out" >&2; die "wrk failed"; }
	wrk_pid=""
	awk '/requests in/ { n = $1 } /Requests\/sec/ { r = $2 }
		/Socket errors/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 } /Non-2xx/ { e += $NF }
		END { printf "%s %d %d\n", r, n, e }' "$work/wrk.out" >"$work/wrk.res"
}

# getpeername() PEERNAME_CALLS times on one connection through the VIP, in
# the client namespace and the LB cgroup; "rps calls 0" to $work/wrk.res.
run_peername() {
	local t0 t1
	t0=$(now_ns)
	# shellcheck disable=SC2016 # expanded by the inner bash
	bash -c 'echo $$ >"$0/cgroup.procs" && exec ip netns exec "$1" "${@:2}"' "$CG" "$CLI" \
		python3 -c 'import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
for _ in range(int(sys.argv[3])):
    s.getpeername()' "$VIP" "$VPORT" "$PEERNAME_CALLS" >"$work/wrk.out" 2>&1 &
	wrk_pid=$!
	wait "$wrk_pid" || { wrk_pid=""; cat "$work/wrk.out" >&2; die "getpeername loop failed"; }
	wrk_pid=""
	t1=$(now_ns)
	awk -v n="$PEERNAME_CALLS" -v t=$((t1 - t0)) 'BEGIN { printf "%.0f %d 0\n", n * 1e9 / t, n }' \
		>"$work/wrk.res"
}

# The load of MODE: its target and how it runs.
run_load() { # PHASE MODE
	case $2 in
	keepalive | close)
		if [ "$1" = with ]; then run_wrk "$2" "http://$VIP:$VPORT/"
		else run_wrk "$2" "http://$B1:$PORT/"; fi ;;
	c4store) run_wrk close "http://$B1:$PORT/" ;;
	c4lookup | c4draw | c4choose | c4vigil | c4lru) run_wrk close "http://$VIP:$VPORT/" ;;
	unwatched) run_wrk keepalive "http://$B1:$UNWATCHED_PORT/" ;;
	watched) run_wrk keepalive "http://$B1:$WATCHED_PORT/" ;;
	peername) run_peername ;;
	esac
}

# One load: wrk, plus (with vigil, or the floor's programs) the BPF and CPU
# deltas. Appends a line to $work/MODE.PHASE: "rps requests errors busy_ns
# bpf_ns vigild_ns elapsed_ns", and the per-program deltas to $work/MODE.progs
# (with) or $work/MODE.floor.progs: "name runs ns".
measure() { # PHASE MODE
	local phase=$1 mode=$2 b0 b1 v0=0 v1=0 t0 t1 res progs=$work/$2.progs
	[ "$phase" = floor ] && progs=$work/$2.floor.progs
	[ "$phase" = without ] || prog_stats >"$work/p0"
	[ "$phase" = with ] && v0=$(vigild_cpu_ns)
	b0=$(cpu_busy_ns); t0=$(now_ns)
	run_load "$phase" "$mode"
	b1=$(cpu_busy_ns); t1=$(now_ns)
	res=$(cat "$work/wrk.res")
	local bpf=0
	if [ "$phase" != without ]; then
		[ "$phase" = with ] && v1=$(vigild_cpu_ns)
		prog_stats >"$work/p1"
		# By program id: "id name time0 cnt0 name time1 cnt1".
		join -j2 <(sort -k2,2 "$work/p0") <(sort -k2,2 "$work/p1") |
			awk '{ print $2, $7 - $4, $6 - $3 }' | tee -a "$progs" >"$work/pd"
		bpf=$(awk '{ s += $3 } END { print s + 0 }' "$work/pd")
	fi
	echo "$res $((b1 - b0)) $bpf $((v1 - v0)) $((t1 - t0))" >>"$work/$mode.$phase"
	# shellcheck disable=SC2086 # split into its three fields
	set -- $res
	if [ "$phase" = floor ]; then
		awk -v rps="$1" -v n="$2" -v e="$3" -v busy=$((b1 - b0)) -v bpf="$bpf" -v m="$mode" \
			-v el=$((t1 - t0)) -v nc="$ncpu" 'BEGIN {
			printf "    %-9s floor:         %8.0f req/s  errors %d  bpf %.3f%% of busy CPU, %.0f ns/request (machine busy %.0f%%)\n",
				m, rps, e, 100 * bpf / busy, bpf / n, 100 * busy / (el * nc) }' | tee -a "$work/raw.txt"
	elif [ "$phase" = with ]; then
		awk -v rps="$1" -v n="$2" -v e="$3" -v busy=$((b1 - b0)) -v bpf="$bpf" -v m="$mode" \
			-v el=$((t1 - t0)) -v nc="$ncpu" -v vd=$((v1 - v0)) 'BEGIN {
			printf "    %-9s with vigil:    %8.0f req/s  errors %d  bpf %.3f%% of busy CPU, %.0f ns/request, vigild %.2f%% of one CPU (machine busy %.0f%%)\n",
				m, rps, e, 100 * bpf / busy, bpf / n, 100 * vd / el, 100 * busy / (el * nc) }' | tee -a "$work/raw.txt"
	else
		awk -v rps="$1" -v e="$3" -v busy=$((b1 - b0)) -v m="$mode" -v el=$((t1 - t0)) -v nc="$ncpu" 'BEGIN {
			printf "    %-9s without vigil: %8.0f req/s  errors %d  (machine busy %.0f%%)\n",
				m, rps, e, 100 * busy / (el * nc) }' | tee -a "$work/raw.txt"
	fi
}

# Empty programs on vigil's hooks under both loads, then the parts of
# connect4 under the close load, one bpf_floor per connect4 program.
floor_phase() {
	local v mode
	start_floor empty
	for mode in keepalive close; do measure floor "$mode"; done
	stop_floor
	for v in store lookup draw choose vigil lru; do
		start_floor "$v"
		measure floor "c4$v"
		stop_floor
	done
}

phase() { # PHASE
	local mode
	[ "$1" = floor ] && { floor_phase; return; }
	if [ "$1" = with ]; then
		start_vigild
		measure_idle
	fi
	for mode in keepalive close; do measure "$1" "$mode"; done
	if [ "$1" = with ]; then
		for mode in unwatched watched peername; do measure with "$mode"; done
		# Ejections during the load would change what was measured: report them.
		local ej
		ej=$("$BUILD/vigilctl" --pin-dir "$PIN" events --json 2>/dev/null |
			jq -s '[.[] | select(.to == "ejected")] | length') || ej="unknown (vigilctl events failed)"
		[ "${ej:-0}" = 0 ] || p "    note: vigild ejected a backend $ej time(s) in this phase (noise; see vigilctl events)"
		stop_vigild
	fi
}

# ---- run ---------------------------------------------------------------------------

p "vigil overhead bench (scripts/bench.sh)"
p "commit $commit, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), kernel $(uname -r), $ncpu CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo))"
p "$(nginx -v 2>&1 | sed 's/^nginx version: //'), wrk -t1 -c$CONNS -d${DURATION}s, $ROUNDS rounds, phase order alternating (round 1: without first)"
p "with vigil: wrk in cgroup $(basename "$CG") (lb.cgroup) -> VIP $VIP:$VPORT -> $B1:$PORT / $B2:$PORT (nginx, 1 worker, server netns)"
p "without:    same client, same cgroup, no vigild, no hooks -> $B1:$PORT directly"
p "loads: keepalive = $CONNS kept-alive connections; close = 'Connection: close', a new connection per request"
p "with vigil only: unwatched = keepalive to $B1:$UNWATCHED_PORT (no socket watched); watched = keepalive to"
p "  $B1:$WATCHED_PORT (both ends watched); peername = $PEERNAME_CALLS getpeername() on one connection through the VIP"
p ""

sysctl -qw kernel.bpf_stats_enabled=1
for r in $(seq "$ROUNDS"); do
	p "  round $r"
	if ((r % 2)); then phases=(without with floor); else phases=(floor with without); fi
	for ph in "${phases[@]}"; do
		if [ "$ph" != floor ] || [ "$FLOOR" != 0 ]; then phase "$ph"; fi
	done
done

# ---- summary ---------------------------------------------------------------------

p ""
p "requests/s (median [min-max] over $ROUNDS rounds; noise-bound, see the notes):"
for mode in keepalive close; do
	paste -d' ' <(cut -d' ' -f1 "$work/$mode.without") <(cut -d' ' -f1 "$work/$mode.with") |
		awk -v m="$mode" '
		function med(a, n,   i, j, t) {
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		{ off[NR] = $1; on[NR] = $2 }
		END {
			mo = med(off, NR); mn = med(on, NR)
			printf "  %-9s without vigil %7.0f [%.0f-%.0f]   with vigil %7.0f [%.0f-%.0f]   difference of medians %+.1f%% (ranges %s)\n",
				m, mo, off[1], off[NR], mn, on[1], on[NR], 100 * (mn - mo) / mo,
				(on[NR] < off[1] || off[NR] < on[1]) ? "apart" : "overlap"
		}' | tee -a "$work/raw.txt"
done

p ""
p "vigil's CPU share (kernel.bpf_stats_enabled run_time_ns of this vigild's programs during the"
p "load / busy time of all CPUs in /proc/stat over the same interval; median [min-max] over rounds):"
for mode in keepalive close; do
	awk -v m="$mode" '
	function med(a, n,   i, j, t) {
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{ s[NR] = 100 * $5 / $4; q[NR] = $5 / $2; v[NR] = 100 * $6 / $7; rps[NR] = $1 }
	END {
		ms = med(s, NR); mq = med(q, NR); mv = med(v, NR); mr = med(rps, NR)
		printf "  %-9s BPF %.3f%% [%.3f-%.3f]   %.0f ns/request [%.0f-%.0f]   (at %.0f req/s median; vigild %.2f%% [%.2f-%.2f] of one CPU)\n",
			m, ms, s[1], s[NR], mq, q[1], q[NR], mr, mv, v[1], v[NR]
	}' "$work/$mode.with" | tee -a "$work/raw.txt"
done
awk '{ v[NR] = 100 * $1 / $2 } END {
	for (i = 1; i <= NR; i++) for (j = i + 1; j <= NR; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
	printf "  idle      vigild %.2f%% [%.2f-%.2f] of one CPU, no traffic (%d s per round)\n",
		(NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, v[1], v[NR], '"$IDLE"' }' \
	"$work/idle" | tee -a "$work/raw.txt"

p ""
p "per program, summed over the $ROUNDS with-vigil rounds (ns/run: run_time_ns / run_cnt):"
for mode in keepalive close unwatched watched peername; do
	reqs=$(awk '{ n += $2 } END { print n }' "$work/$mode.with")
	p "  $mode ($reqs requests):"
	awk -v reqs="$reqs" '{ runs[$1] += $2; ns[$1] += $3 }
		END {
			printf "    %-20s %12s %10s %14s %12s\n", "program", "runs", "ns/run", "runs/request", "ns/request"
			for (k in runs)
				printf "    %-20s %12d %10s %14.3f %12.1f\n", k, runs[k],
					runs[k] ? sprintf("%.0f", ns[k] / runs[k]) : "-", runs[k] / reqs, ns[k] / reqs
		}' "$work/$mode.progs" | sort -k1,1 | tee -a "$work/raw.txt"
done
# ns per run of a program over the rounds of a load ("-" without runs).
ns_per_run() { # MODE PROGRAM
	awk -v p="$2" '$1 == p { r += $2; ns += $3 } END { if (r) printf "%.0f", ns / r; else printf "-" }' \
		"$work/$1.progs"
}
share() { # MODE: median BPF share of busy CPU
	awk '{ s[NR] = 100 * $5 / $4 } END {
		for (i = 1; i <= NR; i++) for (j = i + 1; j <= NR; j++) if (s[j] < s[i]) { t = s[i]; s[i] = s[j]; s[j] = t }
		printf "%.2f", (NR % 2) ? s[(NR + 1) / 2] : (s[NR / 2] + s[NR / 2 + 1]) / 2 }' "$work/$1.with"
}
vigild_cpu() { # FILE FIELD_NS FIELD_ELAPSED: median % of one CPU
	awk -v a="$2" -v b="$3" '{ s[NR] = 100 * $a / $b } END {
		for (i = 1; i <= NR; i++) for (j = i + 1; j <= NR; j++) if (s[j] < s[i]) { t = s[i]; s[i] = s[j]; s[j] = t }
		printf "%.2f", (NR % 2) ? s[(NR + 1) / 2] : (s[NR / 2] + s[NR / 2 + 1]) / 2 }' "$1"
}
p ""
p "issue 12 targets (this run; medians over rounds, ns/run over all rounds):"
p "  vigil_connect4 ns/run (close load)                 $(ns_per_run close vigil_connect4)   target <= 250"
p "  vigil_getpeername4 ns/run (peername loop)          $(ns_per_run peername vigil_getpeername4)   target <= 100"
p "  send / recv ns/run, unwatched sockets              $(ns_per_run unwatched vigil_send_length) / $(ns_per_run unwatched vigil_recv_length)   target <= 40"
p "  send / recv ns/run, watched sockets (both ends)    $(ns_per_run watched vigil_send_length) / $(ns_per_run watched vigil_recv_length)   target <= 80"
p "  BPF share of the run's CPU, keepalive / close      $(share keepalive) % / $(share close) %   target <= 1 %"
p "  vigild, % of one CPU: idle / keepalive / close     $(vigild_cpu "$work/idle" 1 2) / $(vigild_cpu "$work/keepalive.with" 6 7) / $(vigild_cpu "$work/close.with" 6 7)   target <= 2 under load"
if [ "$FLOOR" != 0 ]; then
	p ""
	p "floor: programs that return at once on vigil's hooks, no vigild (FLOOR=1; summed over rounds):"
	for mode in keepalive close; do
		reqs=$(awk '{ n += $2 } END { print n }' "$work/$mode.floor")
		p "  $mode ($reqs requests):"
		# Per hook: the floor program's ns/run and runs/request; what vigil's own
		# program on that hook ran per request (the with phase) at the floor's
		# ns/run; the floor program set's ns/request over the run's busy time.
		vreqs=$(awk '{ n += $2 } END { print n + 0 }' "$work/$mode.with")
		awk -v reqs="$reqs" -v vreqs="$vreqs" '
			FILENAME ~ /floor.progs$/ { fr[$1] += $2; fns[$1] += $3; next }
			FILENAME ~ /progs$/ { vr[$1] += $2; next }
			{ busy += $4; n += $2 }
			END {
				# floor program, then vigil'"'"'s program on the same hook
				k = split("floor_connect4 vigil_connect4 floor_sockops vigil_rescue_ops " \
					"floor_set_state vigil_set_state floor_send_length vigil_send_length " \
					"floor_recv_length vigil_recv_length floor_tc_in vigil_rescue_in " \
					"floor_tc_out vigil_rescue_out", h, " ")
				printf "    %-18s %8s %14s %12s %20s %20s\n", "hook (floor prog)", "ns/run", "runs/request",
					"ns/request", "vigil runs/request", "vigil at floor ns/r"
				for (i = 1; i < k; i += 2) {
					f = h[i]; nsr = fr[f] ? fns[f] / fr[f] : 0; vrq = vreqs ? vr[h[i + 1]] / vreqs : 0
					printf "    %-18s %8.0f %14.3f %12.1f %20.3f %20.1f\n", f, nsr, fr[f] / reqs,
						fns[f] / reqs, vrq, vrq * nsr
					tot += fns[f] / reqs; vtot += vrq * nsr
				}
				printf "    %-18s %8s %14s %12.1f %20s %20.1f\n", "total", "", "", tot, "", vtot
				printf "    least BPF share on these hooks: %.3f%% of busy CPU (%.0f ns of %.0f ns busy per request)\n",
					100 * tot * n / busy, tot, busy / n
				printf "    vigil'"'"'s runs at the floor'"'"'s ns/run: %.1f ns/request = %.3f%% of the same busy CPU\n",
					vtot, 100 * vtot * n / busy
			}' "$work/$mode.floor.progs" "$work/$mode.progs" "$work/$mode.floor" | tee -a "$work/raw.txt"
	done
	p ""
	p "connect4 in parts (close load, no vigild; ns/run of the connect4 program over all rounds):"
	c4() { awk -v p="$2" '$1 == p { r += $2; ns += $3 } END { if (r) printf "%.0f", ns / r; else printf "-" }' \
		"$work/$1.floor.progs"; }
	e=$(c4 close floor_connect4) st=$(c4 c4store floor_c4_store) lk=$(c4 c4lookup floor_c4_lookup)
	dr=$(c4 c4draw floor_c4_draw) ch=$(c4 c4choose floor_c4_choose) vg=$(c4 c4vigil vigil_connect4)
	lr=$(c4 c4lru floor_c4_lru)
	p "  empty (returns at once)                  $e"
	p "  storage only (bpf_sk_storage_get CREATE) $st   (storage over the empty program: $((st - e)))"
	p "  service lookup                           $lk   (lookup over empty: $((lk - e)))"
	p "  lookup + a slot draw, no health lookup   $dr   (draw over lookup: $((dr - lk)))"
	p "  lookup + choice (set_pick.h choose())    $ch   (backend_health lookup: $((ch - dr)))"
	p "  vigil_connect4 (this build)              $vg   (its storage step: $((vg - ch)))"
	p "  lookup + choice + VIP in an LRU hash     $lr   (the LRU insert: $((lr - ch)); plus a delete at close elsewhere)"
	p "  least connect4 that keeps the VIP in the socket's storage: storage only, $st ns/run (target <= 250)"
fi

p ""
p "Notes: client and server share this host, so the tracepoint programs run for both ends of"
p "every connection (2 send + 2 recv runs per request; with a remote backend the client host"
p "pays about half of those). They also run for any other TCP traffic on the host meanwhile."
p "run_time_ns is timed around each program's body (it includes part of bpf_stats' two clock"
p "reads), not the hook entry (trampoline, cgroup run array) or cache effects on the traffic."
p "The busy time counts every process on the machine (other users' builds too): the share is"
p "lower on a busier machine; ns/request does not depend on that. wrk never calls"
p "getpeername(): vigil_getpeername4 runs in the peername loop only (its requests/s are calls/s of a"
p "python loop). requests/s is noise-bound on this shared 2-CPU VM (others compile on it): weigh the"
p "gap between the medians against each side's range."
p ""

if [ -n "$OUT" ]; then
	mkdir -p "$(dirname "$OUT")"
	cp "$work/raw.txt" "$OUT"
	echo "raw output written to $OUT"
fi
