#!/bin/bash
# make bench, part 2: failover under faults, vigil against HAProxy (Debian's
# package), on one network-namespace testbed, in one run. docs/benchmarks.md
# explains every figure.
#
#   client netns: loadgen, haproxy, vigild's probes       10.213.47.1
#        | veth
#   server netns: testsrv b11 10.213.47.11:8080  primary
#                 testsrv b12 10.213.47.12:8080  primary
#                 testsrv b13 10.213.47.13:8080  backup
#
# Systems: vigil (socket load balancer, clients connect to the VIP
# 10.213.47.100:80), haproxy-default (mode tcp, `check inter 2s fall 3 rise 2`)
# and haproxy-passive (the same plus `observe layer4 error-limit 1 on-error
# mark-down`), haproxy listening on 127.0.0.1:8000 in the client namespace.
# Faults: kill (SIGKILL of b11's server) and blackhole (nftables drops every
# packet to b12). Each case: BEFORE_MS of steady load, the fault (SIGUSR1 tells
# loadgen the instant), AFTER_MS more load; once with a new connection per
# request and once with kept-alive connections (MODES; KA_BEFORE_MS and
# KA_AFTER_MS, shorter, to keep the whole run near 3 minutes).
# Then ROUNDS kill faults, each against a fresh vigild (fresh pin dir), time
# the kernel fast path and vigild's set rebuild from event timestamps.
#
# Root only. Everything it creates (namespaces, cgroup, pin dirs, processes,
# temp dir) is recorded and removed on exit and on Ctrl-C; processes are
# stopped by their PID. Traffic stays inside the two namespaces. Prints
# figures next to their targets; asserts nothing (exit 0 unless the testbed
# cannot be built). Settings below can be overridden from the environment.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
BUILD=${BUILD:-build}
[[ "$BUILD" == /* ]] || BUILD=$ROOT/$BUILD
WORKERS=${WORKERS:-16}        # loadgen workers (closed loop)
PAUSE_MS=${PAUSE_MS:-2}       # pause between a worker's requests
TIMEOUT_MS=${TIMEOUT_MS:-2000} # client timeout per request (connect + reply)
BEFORE_MS=${BEFORE_MS:-3000}  # steady load before the fault
AFTER_MS=${AFTER_MS:-8000}    # load after the fault
KA_BEFORE_MS=${KA_BEFORE_MS:-2000} # the same with kept-alive connections
KA_AFTER_MS=${KA_AFTER_MS:-6000}
ROUNDS=${ROUNDS:-10}          # repeated kill faults for the fast-path timings
MODES=${MODES-"close keepalive"} # close: new connection per request; keepalive: -k
KEEP_WORK=${KEEP_WORK:-0}     # 1: keep the temp dir (logs, events, configs) for inspection

NET=10.213.47
PORT=8080
VIP=$NET.100
VIP_PORT=80
HP_PORT=8000
VIGILD=$BUILD/vigild
VIGILCTL=$BUILD/vigilctl
TESTSRV=$BUILD/tools/testsrv
LOADGEN=$BUILD/tools/loadgen
ID="vbfo$$"
CLI="$ID-cli"
SRV="$ID-srv"
NFT_TABLE=vigil_bench

die() { echo "bench-failover: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (creates namespaces, loads BPF programs)"
for bin in "$VIGILD" "$VIGILCTL" "$TESTSRV" "$LOADGEN"; do
	[[ -x "$bin" ]] || die "$bin is not built: run 'make all'"
done
for t in haproxy nft jq ip awk; do
	command -v "$t" >/dev/null || die "$t missing: run 'make deps' (haproxy and nftables from Debian)"
done
for m in $MODES; do
	[[ $m == close || $m == keepalive ]] || die "MODES: '$m' is neither close nor keepalive"
done

# ---- cleanup: everything recorded, removed by name or PID --------------------

WORK="" CG="" PIDS=() NETNS=() PIN_DIRS=()
declare -A SRV_PID=() SRV_WRAP=()
LAST_PID="" LG_PID="" VIGILD_PID="" VIGILD_LOG="" PIN="" HP_PID="" STAMP_PID=""

_stop_pid() { # PID: SIGTERM, up to 3 s, then SIGKILL; reaps it
	local pid=$1 i
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < 30; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "bench-failover: pid $pid ($(cat "/proc/$pid/comm" 2>/dev/null)) ignored SIGTERM; killing it" >&2
			kill -KILL "$pid" 2>/dev/null
		fi
	fi
	wait "$pid" 2>/dev/null
	return 0
}

forget_pid() { # PID: drop it from the cleanup list (it has been reaped)
	local i
	for i in "${!PIDS[@]}"; do
		[[ "${PIDS[$i]}" == "$1" ]] && unset 'PIDS[i]'
	done
	return 0
}

stop_pid() { _stop_pid "$1"; forget_pid "$1"; }

cleanup() {
	local rc=$? i pid dir ns pids
	trap - EXIT INT TERM
	for i in "${!SRV_WRAP[@]}"; do
		stop_testsrv "$i"
	done
	pids=("${PIDS[@]}")
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		_stop_pid "${pids[$i]}"
	done
	for dir in "${PIN_DIRS[@]}"; do
		# Only our own pin directories; removing them detaches the cgroup links.
		[[ "$dir" == /sys/fs/bpf/vigil-bench-fo-$$-* ]] && rm -rf -- "$dir"
	done
	if [[ -n "$CG" && -d "$CG" ]]; then
		for ((i = 0; i < 20; i++)); do
			rmdir "$CG" 2>/dev/null && break
			sleep 0.1
		done
	fi
	for ns in "${NETNS[@]}"; do
		ip netns delete "$ns" 2>/dev/null
	done
	if [[ -n "$WORK" && -d "$WORK" ]]; then
		if [[ $KEEP_WORK == 1 ]]; then
			echo "bench-failover: logs kept in $WORK" >&2
		else
			rm -rf -- "$WORK"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench-failover: interrupted, cleaning up" >&2; exit 130' INT
trap 'exit 143' TERM

WORK=$(mktemp -d /tmp/vigil-bench-failover.XXXXXX) || die "mktemp failed"

# Start "$@" in the background; the caller's redirections apply. Sets LAST_PID.
start_bg() {
	"$@" &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
}

# ---- clocks -------------------------------------------------------------------

# CLOCK_MONOTONIC (ns) into MONO without forking: the kernel's timer list
# starts with "now at N nsecs" (ktime_get, the clock of bpf_ktime_get_ns).
mono_now() {
	local l
	{ read -r l; read -r l; read -r l; } </proc/timer_list
	l=${l#now at }
	MONO=${l%% nsecs}
}

wait_until() { # TIMEOUT_DS (tenths of a second) CMD...: poll every 0.1 s
	local n=$1 i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

# ---- testbed ----------------------------------------------------------------------

cg2_root() {
	local d
	for d in /sys/fs/cgroup /sys/fs/cgroup/unified; do
		[[ "$(stat -f -c %T "$d" 2>/dev/null)" == cgroup2fs ]] && { echo "$d"; return 0; }
	done
	return 1
}

setup_testbed() {
	local root a
	root=$(cg2_root) || die "no cgroup v2 hierarchy mounted (mount -t cgroup2 none /sys/fs/cgroup/unified)"
	[[ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" == bpf_fs ]] || die "/sys/fs/bpf is not a bpf filesystem"
	for ns in "$CLI" "$SRV"; do
		ip netns add "$ns" || die "ip netns add $ns failed"
		NETNS+=("$ns")
		ip -n "$ns" link set lo up || die "lo up in $ns failed"
	done
	ip link add veth0 netns "$CLI" type veth peer name veth0 netns "$SRV" || die "veth failed"
	ip -n "$CLI" addr add "$NET.1/24" dev veth0 || die "addressing $CLI failed"
	for a in 2 11 12 13; do
		ip -n "$SRV" addr add "$NET.$a/24" dev veth0 || die "addressing $SRV failed"
	done
	{ ip -n "$CLI" link set veth0 up && ip -n "$SRV" link set veth0 up; } || die "veth up failed"
	# ~100k short connections per run from one namespace: reuse TIME_WAIT ports.
	ip netns exec "$CLI" sysctl -qw net.ipv4.tcp_tw_reuse=1 \
		net.ipv4.ip_local_port_range="1024 65000" || die "client sysctls failed"
	ip netns exec "$SRV" nft -f - <<NFT || die "nft table failed"
table inet $NFT_TABLE {
	chain input { type filter hook input priority 0; policy accept; }
}
NFT
	CG="$root/vigil-bench-fo-$$"
	mkdir "$CG" || die "mkdir $CG failed"
}

# testsrv runs under a small bash wrapper (our child, in PIDS) so that the
# SIGKILL of the kill fault is reported by the wrapper into the server log,
# not by this shell as a "Killed" job notice. SRV_PID is testsrv's own PID.
start_testsrv() { # N: backend bN on $NET.N:$PORT
	local n=$1 ready="$WORK/srv$1.ready" pidf="$WORK/srv$1.pid"
	rm -f "$ready" "$pidf"
	# shellcheck disable=SC2016 # expanded by the inner bash
	start_bg bash -c '"$@" & echo $! >"$0"; wait $!' "$pidf" \
		ip netns exec "$SRV" "$TESTSRV" -l "$NET.$n" -p "$PORT" -n "b$n" \
		--ready-file "$ready" >>"$WORK/srv$n.log" 2>&1
	SRV_WRAP[$n]=$LAST_PID
	wait_until 50 test -e "$ready" || die "testsrv b$n did not start: $(cat "$WORK/srv$n.log")"
	SRV_PID[$n]=$(cat "$pidf")
}

# Stop bN: testsrv by its PID (only while it is still the wrapper's child, so
# a recycled PID is never hit), then the wrapper.
stop_testsrv() { # N
	local n=$1 pid=${SRV_PID[$1]:-} wrap=${SRV_WRAP[$1]:-} i
	[[ -n "$wrap" ]] || return 0
	if [[ -n "$pid" && "$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null)" == "$wrap" ]]; then
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < 30; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		[[ "$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null)" == "$wrap" ]] && kill -KILL "$pid" 2>/dev/null
	fi
	stop_pid "$wrap"
	SRV_PID[$n]="" SRV_WRAP[$n]=""
}

backend_answers() { # N: one request to bN from the client namespace
	ip netns exec "$CLI" timeout 1 bash -c \
		"exec 3<>/dev/tcp/$NET.$1/$PORT && echo GET >&3 && read -r l <&3 && [[ \$l == 'OK b$1' ]]" \
		2>/dev/null
}

all_backends_answer() { backend_answers 11 && backend_answers 12 && backend_answers 13; }

# ---- faults -----------------------------------------------------------------------

declare -A FAULT_BACKEND=([kill]=11 [blackhole]=12)

mark_fault() { # F_MONO, F_REAL: the fault instant; SIGUSR1 tells loadgen
	mono_now
	F_MONO=$MONO
	F_REAL=$EPOCHREALTIME
	F_SIGNALED=0
	kill -USR1 "$LG_PID" 2>/dev/null && F_SIGNALED=1
}

# kill: the instant is marked, then SIGKILL (a builtin, microseconds later).
# blackhole: nft needs ~10-40 ms to start, so the instant is marked when it
# returns (the rule is live then, committed at most ~1 ms earlier); NFT_MS
# is how long it took.
inject() { # FAULT
	local t0
	case $1 in
	kill)
		mark_fault
		kill -KILL "${SRV_PID[11]}"
		;;
	blackhole)
		t0=$EPOCHREALTIME
		ip netns exec "$SRV" nft add rule inet "$NFT_TABLE" input ip daddr "$NET.12" drop
		mark_fault
		NFT_MS=$(awk -v a="$t0" -v b="$F_REAL" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
		;;
	esac
}

restore() { # FAULT
	case $1 in
	kill)
		stop_testsrv 11
		start_testsrv 11
		;;
	blackhole) ip netns exec "$SRV" nft flush chain inet "$NFT_TABLE" input ;;
	esac
	wait_until 30 all_backends_answer || die "backends do not answer after restoring the $1 fault"
}

# ---- load -------------------------------------------------------------------------

# loadgen inside the lb cgroup and the client namespace. Sets LG_PID.
start_loadgen() { # ADDR PORT DURATION_MS MODE OUT
	local ka=() i
	[[ $4 == keepalive ]] && ka=(-k)
	# ip netns exec execs (no fork): LAST_PID is loadgen's own PID.
	# shellcheck disable=SC2016 # expanded by the inner bash
	start_bg bash -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' lg "$CG" \
		ip netns exec "$CLI" "$LOADGEN" -a "$1" -p "$2" -c "$WORKERS" -d "$3" -t "$TIMEOUT_MS" \
		-s "$PAUSE_MS" "${ka[@]}" >"$5" 2>"$5.err"
	LG_PID=$LAST_PID
	LG_DUR_MS=$3
	# SIGUSR1 before loadgen installs its handler would kill it: wait for it.
	# loadgen starts its clock right after installing it: LG_T0_US.
	for ((i = 0; i < 1000; i++)); do
		loadgen_ready && break
		sleep 0.005
	done
	loadgen_ready || die "loadgen did not start: $(cat "$5.err" 2>/dev/null)"
	LG_T0_US=${EPOCHREALTIME/./}
}

# Sleep until MS after loadgen's start (scheduling stalls of this script
# eat into the sleep rather than add to it).
sleep_after_start() { # MS
	local left=$(($1 * 1000 - (${EPOCHREALTIME/./} - LG_T0_US)))
	((left > 0)) && sleep "$(printf '%d.%06d' $((left / 1000000)) $((left % 1000000)))"
	return 0
}

# The fault fell inside the load: loadgen got SIGUSR1 and had at least half of
# AFTER_MS left to run. A machine stall can break either; such a run is void.
fault_in_window() { # AFTER_MS
	local tail=$(((LG_T0_US + LG_DUR_MS * 1000 - ${F_REAL/./}) / 1000))
	[[ $F_SIGNALED == 1 ]] && ((tail >= $1 / 2))
}

loadgen_ready() { # loadgen (not yet its wrapper) catches SIGUSR1 (bit 9 of SigCgt)
	local comm mask
	comm=$(cat "/proc/$LG_PID/comm" 2>/dev/null) || return 1
	[[ $comm == loadgen ]] || return 1
	mask=$(awk '/^SigCgt:/ { print $2 }' "/proc/$LG_PID/status" 2>/dev/null)
	[[ -n "$mask" ]] && (((16#$mask >> 9) & 1))
}

wait_loadgen() {
	wait "$LG_PID"
	forget_pid "$LG_PID"
	LG_PID=""
}

window() { # MODE: W_BEFORE, W_AFTER (ms)
	if [[ $1 == keepalive ]]; then
		W_BEFORE=$KA_BEFORE_MS W_AFTER=$KA_AFTER_MS
	else
		W_BEFORE=$BEFORE_MS W_AFTER=$AFTER_MS
	fi
}

kv() { # KEY FILE: value of KEY in loadgen's key=value line
	awk -v k="$1" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit } }' "$2"
}

# ---- vigil ------------------------------------------------------------------------

N_VIGILD=0
start_vigild() {
	local cfg ready
	N_VIGILD=$((N_VIGILD + 1))
	PIN=/sys/fs/bpf/vigil-bench-fo-$$-$N_VIGILD
	PIN_DIRS+=("$PIN")
	cfg=$WORK/vigil-$N_VIGILD.yaml
	ready=$WORK/vigild-$N_VIGILD.ready
	VIGILD_LOG=$WORK/vigild-$N_VIGILD.log
	cat >"$cfg" <<CONF
daemon:
  pin_dir: $PIN
  log_level: info
  probe_netns: /var/run/netns/$CLI
lb:
  cgroup: $CG
services:
  - name: bench
    vip: "$VIP:$VIP_PORT"
    backends: ["$NET.11:$PORT", "$NET.12:$PORT"]
    backups: ["$NET.13:$PORT"]
CONF
	start_bg "$VIGILD" -c "$cfg" --ready-file "$ready" >"$VIGILD_LOG" 2>&1
	VIGILD_PID=$LAST_PID
	wait_until 100 test -e "$ready" || die "vigild did not start: $(tail -n 20 "$VIGILD_LOG")"
}

stop_vigild() {
	stop_pid "$VIGILD_PID"
	VIGILD_PID=""
	rm -rf -- "$PIN"
}

# First ts_ns >= SINCE of a kernel failure event of BACKEND whose kind matches
# KINDS (regex), from vigild's log; empty if none.
ev_first() { # LOG BACKEND KINDS SINCE
	awk -v b="backend=$2" -v re="^kind=($3)\$" -v since="$4" '
		/ failure kind=/ {
			k = ""; ok = 0; ts = ""
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^kind=/) k = $i
				if ($i == b) ok = 1
				if ($i ~ /^ts_ns=/) ts = substr($i, 7) + 0
			}
			if (ok && k ~ re && ts >= since && (best == "" || ts < best)) best = ts
		}
		END { if (best != "") printf "%.0f\n", best }' "$1"
}

# Last ts_ns <= UNTIL of a failure event (refused|timeout|reset) of BACKEND.
ev_last_before() { # LOG BACKEND UNTIL
	awk -v b="backend=$2" -v until_="$3" '
		/ failure kind=(refused|timeout|reset) / {
			ok = 0; ts = ""
			for (i = 1; i <= NF; i++) {
				if ($i == b) ok = 1
				if ($i ~ /^ts_ns=/) ts = substr($i, 7) + 0
			}
			if (ok && ts <= until_ && (best == "" || ts > best)) best = ts
		}
		END { if (best != "") printf "%.0f\n", best }' "$1"
}

# First ejection of BACKEND at or after SINCE: "mono_ns rule latency_us limit_us".
ejection() { # EVENTS_JSON BACKEND SINCE
	jq -r --arg b "$2" --argjson t "$3" \
		'select(.backend == $b and .to == "ejected" and .mono_ns >= $t) |
		 "\(.mono_ns) \(.rule) \(.evidence.latency_us) \(.evidence.limit_us)"' "$1" | head -n 1
}

# Ejections of healthy backends (anything but BACKEND after the fault) and
# fail-open switches: printed as anomalies.
ANOMALIES=()
# Sets ANOM_FOUND=1 when it added anything. VIGILD_LOG: that run's vigild
# log, for the number of connections a tear-down destroyed.
check_false_ejections() { # EVENTS_JSON BACKEND SINCE CASE VIGILD_LOG
	local wall text ep torn
	ANOM_FOUND=0
	while IFS=$'\t' read -r wall ep text; do
		[[ -n "$text" ]] || continue
		torn=$(awk -v w="$wall" -v ep="$ep" '
			/ tore down [0-9]+ connections to / && $NF == ep && $1 * 1e9 >= w - 2e7 && $1 * 1e9 <= w + 1e9 {
				for (i = 1; i < NF; i++) if ($i == "down") { print $(i + 1); exit } }' "$5")
		ANOMALIES+=("$4: $text; tear-down destroyed ${torn:-0} connections; largest scheduling stall in the second before: $(stall_before "$wall") ms")
		ANOM_FOUND=1
	done < <(jq -r --arg b "$2" --argjson t "$3" '
		select((.to == "ejected" and .from == "healthy" and (.backend != $b or .mono_ns < $t)) or .to == "fail-open") |
		"\(.wall_ns)\t\(.backend)\t\(if .to == "fail-open" then "service failed open" else "FALSE EJECTION of healthy backend \(.backend)" end) at \(((.mono_ns - $t) / 1e6 * 10 | round) / 10) ms from the fault: \(.from) -> \(.to) rule=\(.rule) failures=\(.evidence.failures) threshold=\(.evidence.threshold) latency_us=\(.evidence.latency_us) peer_latency_us=\(.evidence.peer_latency_us) limit_us=\(.evidence.limit_us) requests=\(.evidence.requests) errors=\(.evidence.errors)"' "$1")
	return 0
}

# The faulted backend changed state before the fault (a false ejection, or
# the kernel fast path marked it down): the case does not measure the fault.
changed_before_fault() { # EVENTS_JSON BACKEND SINCE VIGILD_LOG
	[[ -n "$(jq -r --arg b "$2" --argjson t "$3" 'select(.backend == $b and .mono_ns < $t) | .seq' "$1")" ]] ||
		awk -v b="backend=$2" -v t="$3" '/ failure kind=fast_path_down / {
			for (i = 1; i <= NF; i++) if ($i ~ /^ts_ns=/) ts = substr($i, 7) + 0
			for (i = 1; i <= NF; i++) if ($i == b && ts < t) found = 1 }
			END { exit !found }' "$4"
}

ms() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print "-"; else printf "%.1f", (a - b) / 1e6 }'; }
us() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print "-"; else printf "%.0f", (a - b) / 1e3 }'; }

# Peers' highest p99 connect and request latency (ms) before the fault, from
# the monitor's histograms (log2 buckets: up to 2x off): "CONNECT REQUEST".
peer_p99() { # FAULTED_BACKEND STATS_JSON
	jq -r --arg b "$1" '[.backends[]? | select(.endpoint != $b and .connect_latency_us.count > 0)] |
		if length == 0 then "- -" else
		"\(([.[].connect_latency_us.p99] | max) / 10 | round / 100) \(([.[].request_latency_us.p99] | max) / 10 | round / 100)"
		end' "$2" 2>/dev/null
}

declare -A R # results: R[system,fault,mode,field]

record_loadgen() { # KEY OUT
	local f
	for f in requests ok failed failed_inflight failed_after last_fail_ms; do
		R[$1,$f]=$(kv "$f" "$2")
	done
	R[$1,served]=$(tr ' ' '\n' <"$2" | grep '^served_' | sed 's/^served_//' | paste -sd, -)
	[[ -s "$2.err" ]] && ANOMALIES+=("$1: loadgen stderr: $(head -c 300 "$2.err")")
	return 0
}

# One attempt; returns 1 when the faulted backend was ejected before the
# fault (a false ejection: the attempt does not measure the fault).
vigil_case_once() { # FAULT MODE ATTEMPT
	local fault=$1 mode=$2 key="vigil,$1,$2" out="$WORK/lg-vigil-$1-$2-$3" b ev ej down first rule stuck limit pc pr
	local in_window=0
	b="$NET.${FAULT_BACKEND[$fault]}:$PORT"
	start_vigild
	window "$mode"
	start_loadgen "$VIP" "$VIP_PORT" $((W_BEFORE + W_AFTER)) "$mode" "$out"
	sleep_after_start "$W_BEFORE"
	"$VIGILCTL" --pin-dir "$PIN" stats --json >"$out.stats" 2>/dev/null
	inject "$fault"
	[[ $fault == blackhole ]] && R[$key,nft_ms]=$NFT_MS
	fault_in_window "$W_AFTER" && in_window=1
	wait_loadgen
	ev="$out.events"
	"$VIGILCTL" --pin-dir "$PIN" events --json >"$ev" 2>/dev/null
	cp "$VIGILD_LOG" "$out.vigild"
	stop_vigild
	restore "$fault"
	record_loadgen "$key" "$out"
	read -r ej rule stuck limit <<<"$(ejection "$ev" "$b" "$F_MONO")"
	R[$key,rule]=$rule R[$key,stuck_us]=$stuck R[$key,limit_us]=$limit
	R[$key,eject_ms]=$(ms "$ej" "$F_MONO")
	down=$(ev_first "$out.vigild" "$b" fast_path_down "$F_MONO")
	first=$(ev_first "$out.vigild" "$b" "refused|timeout|reset" "$F_MONO")
	R[$key,down_ms]=$(ms "$down" "$F_MONO")
	R[$key,first_ms]=$(ms "$first" "$F_MONO")
	# The datapath stops choosing the backend at whichever comes first: the
	# kernel fast path's down flag or vigild's new set.
	if [[ -n "$down" && ( -z "$ej" || "$down" -le "$ej" ) ]]; then
		R[$key,detect_ms]=${R[$key,down_ms]}
		R[$key,detect_by]="kernel fast_path_down (vigild set: ${R[$key,eject_ms]} ms, rule ${R[$key,rule]:-none})"
	elif [[ -n "$ej" ]]; then
		R[$key,detect_ms]=${R[$key,eject_ms]}
		R[$key,detect_by]="vigild set rebuild, rule ${R[$key,rule]:-none}"
	fi
	read -r pc pr <<<"$(peer_p99 "$b" "$out.stats")"
	R[$key,peer_connect_ms]=$pc R[$key,peer_request_ms]=$pr
	check_false_ejections "$ev" "$b" "$F_MONO" "vigil $fault $mode (attempt $3)" "$out.vigild"
	R[$key,anom]=${ANOM_FOUND/0/}
	if ((!in_window)); then
		VOID_REASON="a machine stall pushed the fault out of the load window"
		return 1
	fi
	VOID_REASON="the faulted backend was ejected before the fault"
	! changed_before_fault "$ev" "$b" "$F_MONO" "$out.vigild"
}

VOID_ATTEMPTS=${VOID_ATTEMPTS:-3}
vigil_case() { # FAULT MODE: up to VOID_ATTEMPTS attempts while they are void
	local attempt
	for ((attempt = 1; attempt <= VOID_ATTEMPTS; attempt++)); do
		vigil_case_once "$1" "$2" "$attempt" && return 0
		ANOMALIES+=("vigil $1 $2 (attempt $attempt): $VOID_REASON; attempt discarded")
		printf '    attempt %d void (%s)\n' "$attempt" "$VOID_REASON"
	done
	R[vigil,$1,$2,void]=$VOID_REASON
}

# ---- haproxy ------------------------------------------------------------------------

# Timestamps each line of haproxy's stderr (which has none) as it arrives.
stamp_from() { # FIFO
	local l
	exec <"$1"
	while IFS= read -r l; do
		printf '%s %s\n' "$EPOCHREALTIME" "$l"
	done
}

hp_listening() { ip netns exec "$CLI" bash -c "exec 3<>/dev/tcp/127.0.0.1/$HP_PORT" 2>/dev/null; }

haproxy_case() { # CONF FAULT MODE: up to VOID_ATTEMPTS attempts while they are void
	local attempt
	for ((attempt = 1; attempt <= VOID_ATTEMPTS; attempt++)); do
		haproxy_case_once "$1" "$2" "$3" "$attempt" && return 0
		ANOMALIES+=("haproxy-$1 $2 $3 (attempt $attempt): a machine stall pushed the fault out of the load window; attempt discarded")
		printf '    attempt %d void (a machine stall pushed the fault out of the load window)\n' "$attempt"
	done
	R[haproxy-$1,$2,$3,void]="a machine stall pushed the fault out of the load window"
}

haproxy_case_once() { # CONF(default|passive) FAULT MODE ATTEMPT
	local conf=$1 fault=$2 mode=$3 key="haproxy-$1,$2,$3" out="$WORK/lg-hp-$1-$2-$3-$4" in_window=0
	local srv_opts="check inter 2s fall 3 rise 2" name down other
	R[$key,anom]=""
	[[ $conf == passive ]] && srv_opts+=" observe layer4 error-limit 1 on-error mark-down"
	name="b${FAULT_BACKEND[$fault]}"
	cat >"$out.cfg" <<CONF
# haproxy-$conf: TCP proxy in front of the three backends (stats socket: none).
global
    maxconn 4096
defaults
    mode tcp
    timeout connect 1s
    timeout client 30s
    timeout server 30s
listen bench
    bind 127.0.0.1:$HP_PORT
    balance roundrobin
    server b11 $NET.11:$PORT $srv_opts
    server b12 $NET.12:$PORT $srv_opts
    server b13 $NET.13:$PORT $srv_opts backup
CONF
	ip netns exec "$CLI" haproxy -c -q -f "$out.cfg" || die "haproxy rejects $out.cfg"
	mkfifo "$out.fifo"
	start_bg stamp_from "$out.fifo" >"$out.log"
	STAMP_PID=$LAST_PID
	start_bg ip netns exec "$CLI" haproxy -db -f "$out.cfg" >"$out.fifo" 2>&1
	HP_PID=$LAST_PID
	wait_until 50 hp_listening || die "haproxy did not listen: $(cat "$out.log")"
	window "$mode"
	start_loadgen 127.0.0.1 "$HP_PORT" $((W_BEFORE + W_AFTER)) "$mode" "$out"
	sleep_after_start "$W_BEFORE"
	inject "$fault"
	[[ $fault == blackhole ]] && R[$key,nft_ms]=$NFT_MS
	fault_in_window "$W_AFTER" && in_window=1
	wait_loadgen
	stop_pid "$HP_PID"
	HP_PID=""
	stop_pid "$STAMP_PID"
	STAMP_PID=""
	restore "$fault"
	record_loadgen "$key" "$out"
	down=$(awk -v t="$F_REAL" -v s="Server bench/$name is DOWN" \
		'index($0, s) && $1 >= t { printf "%.1f\n", ($1 - t) * 1000; exit }' "$out.log")
	R[$key,detect_ms]=${down:--}
	R[$key,detect_by]="haproxy: Server is DOWN"
	while IFS= read -r other; do
		[[ -n "$other" ]] || continue
		ANOMALIES+=("haproxy-$conf $fault $mode: healthy server marked down: $other")
		R[$key,anom]=1
	done < <(grep ' is DOWN' "$out.log" | grep -v "Server bench/$name is DOWN")
	((in_window))
}

# ---- repeated kill faults: fast path timings ---------------------------------------

pct() { # P: nearest-rank percentile of the numbers on stdin
	sort -g | awk -v p="$1" '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		r = int(p / 100 * NR); if (r < p / 100 * NR) r++; if (r < 1) r = 1
		print v[r] }'
}

ROUND_BEFORE_MS=600
ROUND_AFTER_MS=1000
kill_rounds() {
	local r out b="$NET.11:$PORT" ej down first decisive a ab b_us first_us fail_after in_window
	: >"$WORK/r.a"; : >"$WORK/r.b"; : >"$WORK/r.ab"; : >"$WORK/r.first"; : >"$WORK/r.fd"
	local valid=0 tries=0
	while ((valid < ROUNDS && tries < ROUNDS + 5)); do
		tries=$((tries + 1))
		r=$tries
		out="$WORK/round-$r"
		start_vigild
		start_loadgen "$VIP" "$VIP_PORT" $((ROUND_BEFORE_MS + ROUND_AFTER_MS)) close "$out"
		sleep_after_start "$ROUND_BEFORE_MS"
		inject kill
		in_window=0
		fault_in_window "$ROUND_AFTER_MS" && in_window=1
		wait_loadgen
		"$VIGILCTL" --pin-dir "$PIN" events --json >"$out.events" 2>/dev/null
		cp "$VIGILD_LOG" "$out.vigild"
		stop_vigild
		restore kill
		check_false_ejections "$out.events" "$b" "$F_MONO" "kill round $r" "$out.vigild"
		if ((!in_window)); then
			ANOMALIES+=("kill round $r: a machine stall pushed the fault out of the load window; round discarded")
			printf '  round %2d: void (fault outside the load window)\n' "$r"
			continue
		fi
		if [[ -z "$(kv requests "$out")" ]]; then
			ANOMALIES+=("kill round $r: loadgen printed nothing ($(head -c 200 "$out.err")); round discarded")
			printf '  round %2d: void (no loadgen result)\n' "$r"
			continue
		fi
		if changed_before_fault "$out.events" "$b" "$F_MONO" "$out.vigild"; then
			ANOMALIES+=("kill round $r: $b was ejected before the fault; round discarded")
			printf '  round %2d: void (%s ejected before the fault)\n' "$r" "$b"
			continue
		fi
		ej=$(ejection "$out.events" "$b" "$F_MONO" | awk '{print $1}')
		down=$(ev_first "$out.vigild" "$b" fast_path_down "$F_MONO")
		first=$(ev_first "$out.vigild" "$b" "refused|timeout|reset" "$F_MONO")
		if [[ -z "$first" && -z "$down" && "$(kv failed_after "$out")" == 0 ]]; then
			# Nothing failed and the kernel saw no failure: no client
			# connected to b11 after the fault (they were not scheduled).
			ANOMALIES+=("kill round $r: no client connected to $b after the fault (no failure at all); round discarded")
			printf '  round %2d: void (no client connected to %s after the fault)\n' "$r" "$b"
			continue
		fi
		valid=$((valid + 1))
		decisive=""
		[[ -n "$down" ]] && decisive=$(ev_last_before "$out.vigild" "$b" "$down")
		a=$(us "$down" "$decisive")
		b_us=$(us "$ej" "$down")
		ab=$(us "$ej" "$decisive")
		first_us=$(us "$down" "$first")
		fail_after=$(kv failed_after "$out")
		printf '  round %2d: first failure +%s ms, fast_path_down +%s ms; (a) decisive->fast_path_down %s us, (b) fast_path_down->set rebuild %s us, first failure->fast_path_down %s us; failed_after=%s\n' \
			"$r" "$(ms "$first" "$F_MONO")" "$(ms "$down" "$F_MONO")" "$a" "$b_us" "$first_us" "${fail_after:-?}"
		[[ $a != - ]] && echo "$a" >>"$WORK/r.a"
		[[ $b_us != - ]] && echo "$b_us" >>"$WORK/r.b"
		[[ $ab != - ]] && echo "$ab" >>"$WORK/r.ab"
		[[ $first_us != - ]] && echo "$first_us" >>"$WORK/r.fd"
		[[ -z "$down" ]] && ANOMALIES+=("kill round $r: no fast_path_down event for $b")
		[[ -z "$ej" ]] && ANOMALIES+=("kill round $r: no ejection of $b")
	done
	((valid < ROUNDS)) && ANOMALIES+=("only $valid valid kill rounds out of $tries")
	return 0
}

# ---- report ----------------------------------------------------------------------------

mode_name() { [[ $1 == close ]] && echo "new connection per request" || echo "kept-alive connections"; }
secs() { awk -v v="$1" 'BEGIN { printf "%g", v / 1000 }'; }

print_table() { # MODE
	local mode=$1 sys fault key
	window "$mode"
	printf '\n%s (%s): %s s of load, fault, %s s of load\n' "$(mode_name "$mode")" "$mode" "$(secs "$W_BEFORE")" "$(secs "$W_AFTER")"
	printf '  %-16s %-10s %9s %16s %13s %13s %10s  %s\n' system fault requests failed_inflight \
		failed_after last_fail_ms detect_ms "detected by"
	for sys in vigil haproxy-default haproxy-passive; do
		for fault in kill blackhole; do
			key="$sys,$fault,$mode"
			[[ -n "${R[$key,requests]+x}" ]] || continue
			if [[ -n "${R[$key,void]:-}" ]]; then
				printf '  %-16s %-10s %9s %16s %13s %13s %10s  %s\n' "$sys*" "$fault" "${R[$key,requests]:-?}" \
					VOID VOID VOID VOID "all $VOID_ATTEMPTS attempts void; last: ${R[$key,void]}"
				continue
			fi
			printf '  %-16s %-10s %9s %16s %13s %13s %10s  %s\n' "$sys${R[$key,anom]:+*}" "$fault" \
				"${R[$key,requests]:-?}" "${R[$key,failed_inflight]:-?}" "${R[$key,failed_after]:-?}" \
				"${R[$key,last_fail_ms]:-?}" "${R[$key,detect_ms]:--}" "${R[$key,detect_by]:-}"
		done
	done
}

print_ratios() { # MODE
	local mode=$1 fault v h p
	for fault in kill blackhole; do
		v=${R[vigil,$fault,$mode,failed_after]:-}
		h=${R[haproxy-default,$fault,$mode,failed_after]:-}
		p=${R[haproxy-passive,$fault,$mode,failed_after]:-}
		[[ -n "$v" && -n "$h" ]] || continue
		if [[ -n "${R[vigil,$fault,$mode,void]:-}${R[haproxy-default,$fault,$mode,void]:-}" ]]; then
			printf '  %-9s no ratio: a case is void\n' "$fault"
			continue
		fi
		awk -v f="$fault" -v v="$v" -v h="$h" -v p="$p" 'BEGIN {
			d = (v == 0) ? 1 : v
			r = h / d
			printf "  %-9s haproxy_default.failed_after / vigil.failed_after = %d / %d%s = %.1fx   (target >= 10x: %s)\n",
				f, h, v, (v == 0) ? " (vigil 0 counted as 1)" : "", r, (r >= 10) ? "met" : "MISSED"
			if (p != "")
				printf "  %-9s haproxy_passive.failed_after / vigil.failed_after = %d / %d%s = %.1fx\n",
					f, p, v, (v == 0) ? " (vigil 0 counted as 1)" : "", p / d
		}'
	done
}

# ---- scheduling noise ------------------------------------------------------------------

# Sleeps 1 ms in a loop (read -t on a FIFO nobody writes: no fork) and logs
# every oversleep above 20 ms as "epoch_us stall_us". On a quiet machine the
# log stays empty; stalls explain latency outliers and stuck-socket rules.
jitter_monitor() { # FIFO OUT
	local fd t0 t1 d
	exec {fd}<>"$1"
	while :; do
		t0=${EPOCHREALTIME/./}
		read -r -t 0.001 -u "$fd" _
		t1=${EPOCHREALTIME/./}
		d=$((t1 - t0 - 1000))
		((d > 20000)) && echo "$t0 $d"
	done >"$2"
}

stall_before() { # WALL_NS: largest stall (ms) that ended within 1 s before it
	awk -v w="$1" '{ end = $1 + $2; if (end <= w / 1000 + 50000 && end >= w / 1000 - 1000000 && $2 > m) m = $2 }
		END { printf "%.0f", m / 1000 }' "$WORK/stalls" 2>/dev/null
}

# ---- run --------------------------------------------------------------------------------

T0=$EPOCHREALTIME
setup_testbed
mkfifo "$WORK/jitter.fifo"
start_bg jitter_monitor "$WORK/jitter.fifo" "$WORK/stalls"

for n in 11 12 13; do start_testsrv "$n"; done
wait_until 30 all_backends_answer || die "backends do not answer"

printf 'vigil failover bench: loadgen %d workers, %d ms pause, client timeout %d ms\n' "$WORKERS" "$PAUSE_MS" "$TIMEOUT_MS"
printf 'backends b11 %s.11, b12 %s.12 (primaries), b13 %s.13 (backup), port %d; faults: kill = SIGKILL b11, blackhole = nft drop to b12\n' \
	"$NET" "$NET" "$NET" "$PORT"
for mode in $MODES; do
	for fault in kill blackhole; do
		printf '  running %-9s %-16s %s ...\n' "$fault" vigil "$mode"
		vigil_case "$fault" "$mode"
		for conf in default passive; do
			printf '  running %-9s %-16s %s ...\n' "$fault" "haproxy-$conf" "$mode"
			haproxy_case "$conf" "$fault" "$mode"
		done
	done
done

printf '\nkill fault x %d, each against a fresh vigild (new connection per request; %s s + %s s of load):\n' \
	"$ROUNDS" "$(secs $ROUND_BEFORE_MS)" "$(secs $ROUND_AFTER_MS)"
kill_rounds

printf '\n==== results ====\n'
printf 'failed_inflight: failed requests started before the fault; failed_after: started after it;\n'
printf 'last_fail_ms: fault to the last failed request; detect_ms: fault to the moment the faulty\n'
printf 'backend stopped being chosen (vigil: kernel fast_path_down event, else vigild ejection;\n'
printf 'haproxy: "Server is DOWN" on its stderr). "-": never within the run. *: a healthy\n'
printf 'backend was ejected (or marked down) during that case, see anomalies.\n'
for mode in $MODES; do
	print_table "$mode"
done
nft_list=""
for k in "${!R[@]}"; do
	[[ $k == *,nft_ms ]] && nft_list+="${nft_list:+ }${R[$k]}"
done
[[ -n "$nft_list" ]] && printf '\nblackhole: the fault instant is when nft returned; it took %s ms per case to apply\n' "$(tr ' ' '\n' <<<"$nft_list" | sort -g | paste -sd/ -)"

for mode in $MODES; do
	printf '\nratios, %s:\n' "$(mode_name "$mode")"
	print_ratios "$mode"
done

printf '\ntargets:\n'
a50=$(pct 50 <"$WORK/r.a") a99=$(pct 99 <"$WORK/r.a")
b50=$(pct 50 <"$WORK/r.b") b99=$(pct 99 <"$WORK/r.b")
ab50=$(pct 50 <"$WORK/r.ab") ab99=$(pct 99 <"$WORK/r.ab")
fd50=$(pct 50 <"$WORK/r.fd") fd99=$(pct 99 <"$WORK/r.fd")
nr=$(wc -l <"$WORK/r.ab")
printf '  hard failure (kill), %s rounds with both events, p50 / p99 (nearest rank; with %s samples p99 is the maximum):\n' "$nr" "$nr"
printf '    (a)     decisive kernel failure event -> fast_path_down (kernel datapath): %s / %s us%s\n' "$a50" "$a99" \
	"$([[ $a99 == 0 ]] && echo ' (one timestamp: the fast path flips the flag inside the failing connect'"'"'s tracepoint)')"
printf '    (b)     fast_path_down -> vigild set rebuild (ejection mono_ns):          %s / %s us\n' "$b50" "$b99"
printf '    (a)+(b) decisive failure -> vigild set rebuild:                          %s / %s us\n' "$ab50" "$ab99"
printf '    first failure after the fault -> fast_path_down:                        %s / %s us\n' "$fd50" "$fd99"
awk -v a="$a99" -v ab="$ab99" 'BEGIN {
	if (a == "-") { print "    signal->datapath p99 < 1 ms: NO DATA"; exit }
	printf "    signal->datapath p99 < 1 ms: kernel datapath %s (%.3f ms); vigild set rebuild %s (%.3f ms)\n",
		(a < 1000) ? "met" : "MISSED", a / 1000, (ab != "-" && ab < 1000) ? "met" : "MISSED", ab / 1000 }'
for mode in $MODES; do
	key="vigil,blackhole,$mode"
	[[ -n "${R[$key,requests]+x}" && -z "${R[$key,void]:-}" ]] || continue
	awk -v e="${R[$key,eject_ms]:--}" -v rule="${R[$key,rule]:-none}" \
		-v pc="${R[$key,peer_connect_ms]:--}" -v pr="${R[$key,peer_request_ms]:--}" \
		-v st="${R[$key,stuck_us]:-}" -v lim="${R[$key,limit_us]:-}" -v m="$(mode_name "$mode")" 'BEGIN {
		printf "  blackhole ejected within 100 ms when peers answer within 5 ms, %s:\n", m
		printf "    fault -> ejection %s ms (rule %s, oldest stuck %s ms, limit %s ms): %s\n", e, rule,
			(st == "") ? "-" : st / 1000, (lim == "") ? "-" : lim / 1000,
			(e == "-") ? "NOT EJECTED" : (e + 0 <= 100) ? "met" : "MISSED"
		printf "    peers p99 before the fault: connect %s ms, request %s ms (within 5 ms: %s)\n", pc, pr,
			(pc == "-") ? "unknown" : (pc + 0 <= 5 && pr + 0 <= 5) ? "yes" : (pc + 0 <= 5) ? "connect yes, request no" : "no" }'
done

awk -v secs="$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')" '
	$2 > 50000 { n++ } $2 > 100000 { n100++ } $2 > m { m = $2 }
	END { printf "\nscheduling noise during the run (a 1 ms sleep in a loop): %d stalls > 50 ms, %d > 100 ms in %.0f s, largest %.0f ms (a quiet machine: none)\n", n, n100, secs, m / 1000 }' \
	"$WORK/stalls"

printf '\nanomalies:\n'
if ((${#ANOMALIES[@]} == 0)); then
	printf '  none (no healthy backend ejected or marked down, no service failed open)\n'
else
	for a in "${ANOMALIES[@]}"; do printf '  %s\n' "$a"; done
fi
printf '\nrun time %.0f s\n' "$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')"
