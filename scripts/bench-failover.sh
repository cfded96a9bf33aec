#!/bin/bash
# make bench, part 2: failover under faults, vigil (socket and XDP datapaths)
# against four HAProxy configurations (Debian's HAProxy 2.6, mode tcp), on
# network-namespace testbeds, every case repeated REPEATS times.
# docs/benchmarks.md explains every figure; this script prints every figure
# the docs quote, ending with the failed-request table of issue 11 and the
# commands that produced it.
#
#   socket testbed                                   XDP testbed (vigil-xdp)
#   client netns: loadgen, haproxy, probes 10.213.0.1   client netns 10.214.1.2
#        | veth                                              | veth
#   server netns: testsrv b1 10.213.0.11:8080 primary   LB netns: XDP on xlc, xls
#                 testsrv b2 10.213.0.12:8080 primary        | veth
#                 testsrv b3 10.213.0.13:8080 backup    server netns: b1-b3 10.214.2.11-13
#
# Systems (SYSTEMS): vigil (socket load balancer; clients connect to the VIP
# 10.213.0.100:80), vigil-xdp (the XDP load balancer in the LB namespace of
# the second testbed, VIP 10.96.214.10:80) and haproxy-default, haproxy-fast,
# haproxy-passive, haproxy-tuned (listening on 127.0.0.1:8000 in the client
# namespace; their configs are printed at the top of the output). Faults:
# kill (SIGKILL of b1's server), blackhole (nftables drops every packet to
# b2), slow (b1's replies take SLOW_MS from the fault on), kill-both
# (SIGKILL of both primaries: the backup takes over) and sigstop (b1's server
# stopped for STOP_MS, then resumed). The rows (ROWS, FAULT:MODE) are those
# of issue 11's table; a mode is close (a new connection per request) or
# keepalive (kept-alive connections). Each case: BEFORE_MS of steady load,
# the fault (SIGUSR1 tells loadgen the instant), AFTER_MS more load. Every
# case runs REPEATS times, the order of the systems reversed on every other
# repeat; the tables give median [min-max]. Then ROUNDS kill faults, each
# against a fresh vigild, time the kernel fast path, vigild's set rebuild
# and the tear-down from event timestamps. No attempt or round is ever
# discarded or re-run: false ejections are counted against the system that
# made them, an attempt without a loadgen result is reported as such.
#
# SCHED=rr (default): vigild at its default SCHED_RR 10 and HAProxy under
# `chrt -r 10`; SCHED=other: vigild with daemon.sched_priority 0, HAProxy
# at the normal policy. Both systems always get the same policy.
#
# Output goes to stdout and to OUT (default docs/bench/failover-<commit>.txt,
# <commit> with -dirty when tracked files have uncommitted changes; OUT=
# writes no file). Root only. Built on tests/lib.sh and tests/lib_failover.sh:
# everything created (namespaces, cgroup, pin dirs, processes, temp dir) is
# recorded and removed on exit, on failure and on Ctrl-C; processes are
# stopped by PID. Traffic stays inside the two namespaces. Asserts nothing.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
[[ "$BUILD" == /* ]] || BUILD=$PWD/$BUILD
WORKERS=${WORKERS:-16}          # loadgen workers (closed loop)
PAUSE_MS=${PAUSE_MS:-2}         # pause between a worker's requests
TIMEOUT_MS=${TIMEOUT_MS:-2000}  # client timeout per request (connect + reply)
# 2 s + 7 s: the 2 s give every system a warm steady state; 7 s after the
# fault cover haproxy-default's detection (3 checks 2 s apart: 4-6 s) and
# keep 6 systems x 6 rows x 3 repeats near 20 minutes.
BEFORE_MS=${BEFORE_MS:-2000}
AFTER_MS=${AFTER_MS:-7000}
REPEATS=${REPEATS:-3}
ROUNDS=${ROUNDS:-10}            # kill faults for the fast-path timings
# The rows of issue 11's table, FAULT:MODE; FAULTS and MODES select among them.
ROWS=${ROWS-"kill:close blackhole:close blackhole:keepalive slow:keepalive kill-both:close sigstop:close"}
MODES=${MODES-"close keepalive"} # close: new connection per request; keepalive: loadgen -k
FAULTS=${FAULTS-"kill blackhole slow kill-both sigstop"}
SYSTEMS=${SYSTEMS-"vigil vigil-xdp haproxy-default haproxy-fast haproxy-passive haproxy-tuned"}
SLOW_MS=${SLOW_MS:-500}         # slow: b1's reply delay from the fault on
STOP_MS=${STOP_MS:-1000}        # sigstop: how long b1's server stays stopped
SCHED=${SCHED:-rr}
KEEP_WORK=${KEEP_WORK:-0}       # 1: keep the temp dir (logs, events, configs)

NET=213
XNET=214                        # the XDP testbed
PORT=8080
VIP=10.213.0.100
XVIP=10.96.214.10
VIP_PORT=80
HP_PORT=8000
RT_PRIO=10                      # vigild's default daemon.sched_priority
NFT_TABLE=vigil_bench

# The commit before anything is written: the output file is named after it.
COMMIT=$(git rev-parse --short HEAD 2>/dev/null) || COMMIT=unknown
[[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]] && COMMIT+=-dirty
OUT=${OUT-docs/bench/failover-$COMMIT.txt}

# shellcheck source=tests/lib.sh
source tests/lib.sh
# Hooks run LIFO: registered before lib_failover.sh's, this one runs after
# it has stopped every process, so the kept directory is complete.
keep_work() {
	[[ $KEEP_WORK == 1 && -d "$VGL_TMP" ]] || return 0
	mv -- "$VGL_TMP" "/tmp/vigil-bench-failover-kept-$$" && VGL_TMP=""
}
on_cleanup keep_work
# shellcheck source=tests/lib_failover.sh
source tests/lib_failover.sh
# shellcheck source=tests/lib_xdp.sh
source tests/lib_xdp.sh
set -uo pipefail
W=$VGL_TMP

[[ $SCHED == rr || $SCHED == other ]] || die "SCHED: '$SCHED' is neither rr nor other"
[[ $REPEATS =~ ^[1-9][0-9]*$ ]] || die "REPEATS: '$REPEATS' is not a positive number"
ALL_FAULTS="kill blackhole slow kill-both sigstop"
for m in $MODES; do [[ $m == close || $m == keepalive ]] || die "MODES: unknown mode '$m'"; done
for f in $FAULTS; do [[ " $ALL_FAULTS " == *" $f "* ]] || die "FAULTS: unknown fault '$f' (known: $ALL_FAULTS)"; done
# SEL_ROWS: the rows of ROWS whose fault is in FAULTS and mode in MODES.
SEL_ROWS=()
for r in $ROWS; do
	[[ $r == *:* && " $ALL_FAULTS " == *" ${r%%:*} "* && ${r#*:} =~ ^(close|keepalive)$ ]] ||
		die "ROWS: '$r' is not FAULT:MODE (faults: $ALL_FAULTS; modes: close, keepalive)"
	[[ " $FAULTS " == *" ${r%%:*} "* && " $MODES " == *" ${r#*:} "* ]] && SEL_ROWS+=("$r")
done
for s in $SYSTEMS; do
	case $s in vigil | vigil-xdp | haproxy-default | haproxy-fast | haproxy-passive | haproxy-tuned) ;;
	*) die "SYSTEMS: unknown system '$s'" ;; esac
done
fo_require_env
for t in haproxy nft chrt jq awk ethtool; do
	command -v "$t" >/dev/null || die "$t missing: run 'make deps' (haproxy and nftables from Debian)"
done

if [[ -n "$OUT" ]]; then
	mkdir -p -- "$(dirname -- "$OUT")" || die "cannot create the directory of $OUT"
	# stderr too: a failure's reason belongs in the raw output.
	exec {SAVED_OUT}>&1 {SAVED_ERR}>&2
	exec > >(tee -- "$OUT") 2>&1
	TEE_PID=$!
fi

# ---- clocks -----------------------------------------------------------------------

# CLOCK_MONOTONIC (ns) into MONO without forking: the kernel's timer list
# starts with "now at N nsecs" (ktime_get, the clock of bpf_ktime_get_ns).
mono_now() {
	local l
	{ read -r l; read -r l; read -r l; } </proc/timer_list
	l=${l#now at }
	MONO=${l%% nsecs}
}

# ---- scheduling -------------------------------------------------------------------

# "POLICY PRIORITY" of a PID, as chrt reports it.
policy_of() { chrt -p "$1" 2>/dev/null | awk -F': ' 'NR == 1 { p = $2 } NR == 2 { print p, $2 }'; }

# The two systems must run at the policy SCHED promises: checked on every
# start, so a silently failed chrt or a missing CAP_SYS_NICE cannot skew a run.
check_policy() { # WHAT PID
	local want=$WANT_POLICY got
	got=$(policy_of "$2")
	[[ "$got" == "$want" ]] || die "$1 (pid $2) runs '$got', SCHED=$SCHED wants '$want'"
}

if [[ $SCHED == rr ]]; then
	WANT_POLICY="SCHED_RR $RT_PRIO"
	HP_CHRT=(chrt -r "$RT_PRIO")
else
	WANT_POLICY="SCHED_OTHER 0"
	HP_CHRT=()
fi

# Scheduling stalls: tests/lib.sh's stall_monitor (every 1 ms) logs them to
# $W/stalls as "start_us stall_us"; they explain latency outliers and false
# ejections.
stall_max_ms() { # FROM_US TO_US: largest stall (ms) that ended in that interval
	awk -v a="$1" -v b="$2" '{ e = $1 + $2; if (e >= a && e <= b && $2 > m) m = $2 }
		END { printf "%.0f", m / 1000 }' "$W/stalls" 2>/dev/null
}

stall_before() { # WALL_NS: largest stall (ms) that ended within 1 s before it
	local us=$(($1 / 1000))
	stall_max_ms $((us - 1000000)) $((us + 50000))
}

# ---- testbeds -----------------------------------------------------------------------

# Two testbeds: s (the socket datapath and HAProxy) and x (vigil-xdp).
# use_testbed points the TB_* names at one: the namespaces, the backends'
# addresses (TB_B4) and endpoints (TB_EP); the testsrv of backend I is
# FO_SRV_PIDS[TB_OFF + I].
use_testbed() { # s|x
	TB=$1
	if [[ $1 == x ]]; then
		TB_CLI_NS=$XCLI_NS TB_SRV_NS=$XSRV_NS TB_CHECK_NS=$XLB_NS TB_OFF=10
		declare -gn TB_B4=XB4 TB_EP=XEP
	else
		TB_CLI_NS=$CLI_NS TB_SRV_NS=$SRV_NS TB_CHECK_NS=$CLI_NS TB_OFF=0
		declare -gn TB_B4=SB4 TB_EP=EP
	fi
}
testbed_of() { [[ $1 == vigil-xdp ]] && echo x || echo s; } # SYSTEM
srv_pid() { echo "${FO_SRV_PIDS[TB_OFF + $1]}"; } # I

backend_answers() { # I: one request to bI (from the client, or the XDP testbed's LB host)
	ip netns exec "$TB_CHECK_NS" timeout 1 bash -c \
		"exec 3<>/dev/tcp/${TB_B4[$1]}/$PORT && echo GET >&3 && read -r l <&3 && [[ \$l == 'OK b$1' ]]" \
		2>/dev/null
}
all_backends_answer() { backend_answers 1 && backend_answers 2 && backend_answers 3; }

# testsrv bI, then disown: the kill fault SIGKILLs it, and bash would print
# a "Killed" job notice into the output. Disowned children are still reaped.
# -D: SIGUSR1 makes its replies slow (the slow fault), SIGUSR2 fast again.
server_start() { # I
	start_testsrv "$TB_SRV_NS" "${TB_B4[$1]}" "$PORT" -n "b$1" -D "$SLOW_MS"
	FO_SRV_PIDS[TB_OFF + $1]=$SRV_PID
	disown "$SRV_PID"
}

servers_start() {
	local i
	for i in 1 2 3; do
		TB_EP[i]="${TB_B4[i]}:$PORT"
		server_start "$i"
	done
	wait_until 3 all_backends_answer || die "backends do not answer (testbed $TB)"
}

# ~100k short connections per run from one namespace: reuse TIME_WAIT ports.
client_sysctls() { # NS
	ip netns exec "$1" sysctl -qw net.ipv4.tcp_tw_reuse=1 \
		net.ipv4.ip_local_port_range="1024 65000" || die "client sysctls in $1 failed"
}

# The XDP testbed first: xdp_topology sets the names fo_topology sets next.
setup_xdp_testbed() {
	xdp_topology "$XNET" 3 x >/dev/null
	XCLI_NS=$CLI_NS XLB_NS=$LB_NS XSRV_NS=$SRV_NS
	XB4=() XEP=("")
	# shellcheck disable=SC2034 # read through the TB_B4 and TB_EP namerefs
	for i in 1 2 3; do XB4[i]=${B4[i]}; done
	client_sysctls "$XCLI_NS"
	use_testbed x
	servers_start
}

setup_testbed() {
	fo_topology "$NET" 3 >/dev/null
	fo_cgroup
	client_sysctls "$CLI_NS"
	SB4=() EP=("")
	for i in 1 2 3; do SB4[i]=${B4[i]}; done
	use_testbed s
	servers_start
}

# ---- faults -------------------------------------------------------------------------

# The backends (indexes) each fault hits; their ejections are no false ones.
declare -A FAULT_VICTIMS=([kill]="1" [blackhole]="2" [slow]="1" [kill-both]="1 2" [sigstop]="1")

# F_MONO, F_REAL: the fault instant; SIGUSR1 tells loadgen.
fault_instant() {
	mono_now
	F_MONO=$MONO
	F_REAL=$EPOCHREALTIME
	F_SIGNALED=0
	kill -USR1 "$LG_PID" 2>/dev/null && F_SIGNALED=1
}

# nft drop of every packet to ADDR:PORT in the testbed's server namespace.
tb_blackhole() { # ADDR
	ip netns exec "$TB_SRV_NS" nft -f - <<EOF
table inet $NFT_TABLE {
	chain input {
		type filter hook input priority 0; policy accept;
		ip daddr $1 tcp dport $PORT drop
	}
}
EOF
}

# Whether every thread of PID has exited (its files, the listening socket
# among them, are closed): gone, or a zombie leader with no thread left (a
# leader killed first is a zombie while its other threads still exit).
exited() { # PID
	local key val st="" threads=""
	{ while read -r key val _; do
		case $key in State:) st=$val ;; Threads:) threads=$val ;; esac
	done <"/proc/$1/status"; } 2>/dev/null || return 0
	[[ ($st == Z || $st == X) && $threads == 1 ]]
}

# kill, kill-both: SIGKILL (a builtin); loadgen's instant is marked once every
# victim has exited, within a millisecond or so (polled without sleeping): a
# request its listener accepted before then fails with it, in flight. F_MONO
# and F_REAL, from which the detection figures count, stay at the kill: the
# dying process's resets can trip the fast path before it is gone. slow,
# sigstop: the instant is marked, then the signal (microseconds later);
# sigstop's SIGCONT comes STOP_MS later from a process of its own. blackhole:
# nft needs 10-40 ms to start, so the instant is marked when it returns (the
# rule is live then, committed at most ~1 ms earlier). INJECT_MS: how long
# the kill's exit or nft took.
inject() { # FAULT
	local t0=$EPOCHREALTIME k_mono k_real i n pid
	INJECT_MS=""
	case $1 in
	kill | kill-both)
		mono_now
		k_mono=$MONO k_real=$EPOCHREALTIME
		# shellcheck disable=SC2046 # one PID per victim
		kill -KILL $(for i in ${FAULT_VICTIMS[$1]}; do srv_pid "$i"; done)
		for i in ${FAULT_VICTIMS[$1]}; do
			pid=$(srv_pid "$i")
			for ((n = 0; n < 200000; n++)); do exited "$pid" && break; done
		done
		fault_instant
		INJECT_MS=$(awk -v a="$t0" -v b="$F_REAL" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
		F_MONO=$k_mono F_REAL=$k_real
		;;
	slow)
		fault_instant
		kill -USR1 "$(srv_pid 1)"
		;;
	sigstop)
		fault_instant
		kill -STOP "$(srv_pid 1)"
		# shellcheck disable=SC2016 # expanded by the inner bash
		start_bg bash -c 'sleep "$0" && kill -CONT "$1"' "$(awk -v m="$STOP_MS" 'BEGIN { print m / 1000 }')" \
			"$(srv_pid 1)"
		RESUME_PID=$BG_PID
		;;
	blackhole)
		tb_blackhole "${TB_B4[2]}" || die "nft failed"
		fault_instant
		INJECT_MS=$(awk -v a="$t0" -v b="$F_REAL" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
		;;
	esac
}

restore() { # FAULT
	local i
	case $1 in
	kill | kill-both)
		for i in ${FAULT_VICTIMS[$1]}; do
			stop_pid "$(srv_pid "$i")"
			server_start "$i"
		done
		;;
	slow) kill -USR2 "$(srv_pid 1)" ;;
	sigstop)
		stop_pid "$RESUME_PID"
		kill -CONT "$(srv_pid 1)"
		;;
	blackhole) ip netns exec "$TB_SRV_NS" nft delete table inet "$NFT_TABLE" ;;
	esac
	wait_until 3 all_backends_answer || die "backends do not answer after restoring the $1 fault"
}

# ---- load ---------------------------------------------------------------------------

lg_ready() { [[ "$(cat "/proc/$LG_PID/comm" 2>/dev/null)" == loadgen ]] && _catches_usr1 "$LG_PID"; }

# loadgen in the testbed's client namespace; on the socket testbed inside
# the LB cgroup (the HAProxy cases have no hook attached: vigild's pins are
# gone by then). Sets LG_PID, LG_LOG, LG_T0_US; LG_CMD is its command line.
lg_start() { # ADDR PORT DURATION_MS MODE
	local ka=() i lg
	[[ $4 == keepalive ]] && ka=(-k)
	lg=("$LOADGEN" -a "$1" -p "$2" -c "$WORKERS" -d "$3" -t "$TIMEOUT_MS" -s "$PAUSE_MS" "${ka[@]}")
	LG_CMD="ip netns exec $TB_CLI_NS ${lg[*]}"
	# lib_failover.sh's fo_loadgen_bg renames the log right after start_bg,
	# racing the child that creates it ("mv: cannot stat" once in a run);
	# lib.sh's log names are never reused, so the log keeps its name here.
	if [[ $TB == x ]]; then
		start_bg ip netns exec "$TB_CLI_NS" "${lg[@]}"
	else
		LG_CMD+=" (in cgroup $FO_CGROUP)"
		# shellcheck disable=SC2016 # expanded by the inner bash
		start_bg bash -c 'echo $$ >"$0/cgroup.procs" && exec ip netns exec "$1" "${@:2}"' \
			"$FO_CGROUP" "$TB_CLI_NS" "${lg[@]}"
	fi
	LG_PID=$BG_PID LG_LOG=$BG_LOG
	LG_DUR_MS=$3
	# SIGUSR1 before loadgen installs its handler would kill it, and loadgen
	# starts its clock right after installing it: poll finely (lib's
	# mark_fault polls every 100 ms), then take the start time.
	for ((i = 0; i < 1000; i++)); do
		lg_ready && break
		sleep 0.005
	done
	lg_ready || die "loadgen did not start: $(cat "$LG_LOG")"
	LG_T0_US=${EPOCHREALTIME/./}
}

# Sleep until MS after loadgen's start (stalls of this script eat into the
# sleep rather than add to it).
sleep_after_start() { # MS
	local left=$(($1 * 1000 - (${EPOCHREALTIME/./} - LG_T0_US)))
	((left > 0)) && sleep "$(printf '%d.%06d' $((left / 1000000)) $((left % 1000000)))"
	return 0
}

# After loadgen: LG_OUT (its line, empty when it printed none) and NORES (why
# the attempt measured nothing, empty when it did). A fault signalled after
# loadgen exited cannot be measured either.
lg_finish() {
	NORES=""
	if ! fo_loadgen_wait "$LG_PID" "$LG_LOG" $((LG_DUR_MS / 1000 + 15)) 2>/dev/null; then
		stop_pid "$LG_PID"
		LG_OUT=""
		NORES="loadgen printed no result: $(head -c 200 "$LG_LOG" | tr '\n' ' ')"
	elif [[ $F_SIGNALED != 1 ]]; then
		NORES="loadgen had exited before the fault (a stall of this script)"
	fi
	# Less than half of the after-fault window left: kept, but said.
	SHORT=""
	local tail=$(((LG_T0_US + LG_DUR_MS * 1000 - ${F_REAL/./}) / 1000))
	((tail < AFTER_MS / 2)) && SHORT="a stall left only $tail ms of load after the fault"
	return 0
}

kv() { lg_get "$1" "$LG_OUT"; }

# ---- vigil ------------------------------------------------------------------------

vigil_config() { # SYSTEM
	local head=fo_config_head vip=$VIP datapath=""
	[[ $1 == vigil-xdp ]] && head=xdp_config_head vip=$XVIP datapath=$'\n    datapath: xdp'
	# daemon.sched_priority left out under SCHED=rr: the default (10) is
	# what is measured.
	if [[ $SCHED == other ]]; then
		"$head" | sed '/^daemon:/a\  sched_priority: 0'
	else
		"$head"
	fi
	cat <<CONF
services:
  - name: bench
    vip: "$vip:$VIP_PORT"$datapath
    backends: ["${TB_EP[1]}", "${TB_EP[2]}"]
    backups: ["${TB_EP[3]}"]
CONF
}

vigil_start() { # SYSTEM
	fo_new_config
	vigil_config "$1" >"$VGL_CONFIG"
	start_vigild "$VGL_CONFIG" >/dev/null
	check_policy vigild "$VIGILD_PID"
	if [[ $1 == vigil-xdp ]] && ! wait_until 5 grep -q "XDP load balancer attached to xls" "$VIGILD_LOG"; then
		die "vigild did not attach XDP to xls: $(tail -n 5 "$VIGILD_LOG")"
	fi
}

# Removing the pin dir detaches vigild's cgroup links: the next system runs
# without any vigil program on the bench cgroup.
vigil_stop() {
	stop_pid "$VIGILD_PID"
	VIGILD_PID=""
	[[ "$VGL_PIN_DIR" == /sys/fs/bpf/vigil-test-"$VGL_ID"-* ]] && rm -rf -- "$VGL_PIN_DIR"
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

ANOMALIES=()
# vigil's false ejections in one case, counted into FE and described in
# ANOMALIES: vigild ejecting a healthy backend (any but the faulted ones, or
# a faulted one before the fault), the service failing open, and the kernel
# fast path marking a healthy backend down. One incident can give a
# fast-path mark and an ejection: both count (against vigil).
vigil_false_ejections() { # EVENTS_JSON "BACKEND..." SINCE CASE VIGILD_LOG
	local wall text ep torn ts victims
	# shellcheck disable=SC2086 # one endpoint per word
	victims=$(printf '%s\n' $2 | jq -R . | jq -sc .)
	FE=0
	while IFS=$'\t' read -r wall ep text; do
		[[ -n "$text" ]] || continue
		# vigild's lines start with a local "YYYY-MM-DD HH:MM:SS.mmm" stamp.
		torn=$(awk -v w="$wall" -v ep="$ep" '
			function epoch(d, t) { split(d, D, "-"); split(t, T, ":")
				return mktime(D[1] " " D[2] " " D[3] " " T[1] " " T[2] " " int(T[3])) + T[3] - int(T[3]) }
			/ tore down [0-9]+ connections to / && index($0, "connections to " ep) {
				s = epoch($1, $2) * 1e9; if (s < w - 2e7 || s > w + 1e9) next
				for (i = 1; i < NF; i++) if ($i == "down") { print $(i + 1); exit } }' "$5")
		ANOMALIES+=("$4: $text; tear-down destroyed ${torn:-0} connections; largest scheduling stall in the second before: $(stall_before "$wall") ms")
		FE=$((FE + 1))
	done < <(jq -r --argjson bs "$victims" --argjson t "$3" '
		select((.to == "ejected" and .from == "healthy" and ((.backend as $be | $bs | index([$be])) == null or .mono_ns < $t)) or .to == "fail-open") |
		"\(.wall_ns)\t\(.backend)\t\(if .to == "fail-open" then "service failed open" else "FALSE EJECTION of healthy backend \(.backend)" end) at \(((.mono_ns - $t) / 1e6 * 10 | round) / 10) ms from the fault: \(.from) -> \(.to) rule=\(.rule) failures=\(.evidence.failures) threshold=\(.evidence.threshold) latency_us=\(.evidence.latency_us) peer_latency_us=\(.evidence.peer_latency_us) limit_us=\(.evidence.limit_us) requests=\(.evidence.requests) errors=\(.evidence.errors)"' "$1")
	while IFS=' ' read -r ep ts; do
		[[ -n "$ts" ]] || continue
		ANOMALIES+=("$4: kernel fast path marked healthy backend $ep down at $(ms "$ts" "$3") ms from the fault")
		FE=$((FE + 1))
	done < <(awk -v bs=" $2 " -v t="$3" '/ failure kind=fast_path_down / {
			be = ""; ts = ""
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^backend=/) be = substr($i, 9)
				if ($i ~ /^ts_ns=/) ts = substr($i, 7) + 0
			}
			if (!index(bs, " " be " ") || ts < t) print be, ts }' "$5")
	return 0
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

declare -A R # results: R[system,fault,mode,repeat,field]

# The loadgen figures of one attempt, and what every system's attempt records.
record_common() { # KEY
	local f
	for f in requests failed failed_inflight failed_after last_fail_ms slowest_ok_after_ms; do
		R[$1,$f]=$(kv "$f")
	done
	R[$1,nores]=$NORES
	R[$1,inject_ms]=$INJECT_MS
	R[$1,stall_ms]=$(stall_max_ms "$LG_T0_US" $((LG_T0_US + LG_DUR_MS * 1000)))
	[[ -n "$SHORT" ]] && ANOMALIES+=("${1//,/ }: $SHORT (attempt kept)")
	return 0
}

# Milliseconds from vigild's decision to eject EP to its tear-down being done,
# from vigild's log ("-" without a tear-down): the figure the tear-down line
# gives ("done X ms after the decision"), or for a vigild that does not say
# (a build before the tear-down thread: it tore down synchronously, and only
# logged when it destroyed something) the time between the two log lines.
td_ms() { # VIGILD_LOG EP
	awk -v ep="$2" '
		function secs(hms,  T) { split(hms, T, ":"); return T[1] * 3600 + T[2] * 60 + T[3] }
		index($0, "backend " ep ": healthy -> ejected") && dec == "" { dec = secs($2) }
		index($0 " ", "connections to " ep " ") && / tore down [0-9]+ connections / {
			if (match($0, /done [0-9.]+ ms after the decision/)) {
				split(substr($0, RSTART, RLENGTH), f, " "); print f[2]; exit
			}
			if (dec != "") { printf "%.0f\n", (secs($2) - dec) * 1000; exit }
		}' "$1"
}

# When the datapath stopped choosing backend B: whichever came first of the
# kernel fast path's down flag and vigild's new set. Sets DET (mono ns, empty
# when neither came), DET_BY, EJ, RULE, STUCK, LIMIT.
vigil_detection() { # EVENTS_JSON VIGILD_LOG BACKEND
	local down
	read -r EJ RULE STUCK LIMIT <<<"$(ejection "$1" "$3" "$F_MONO")"
	down=$(ev_first "$2" "$3" fast_path_down "$F_MONO")
	DET="" DET_BY=""
	if [[ -n "$down" && (-z "$EJ" || "$down" -le "$EJ") ]]; then
		DET=$down DET_BY="fast_path_down; set $(ms "$EJ" "$F_MONO") ms ${RULE:-}"
	elif [[ -n "$EJ" ]]; then
		DET=$EJ DET_BY="set rebuild ${RULE:-}"
	fi
}

vigil_case() { # SYSTEM FAULT MODE REPEAT
	local sys=$1 fault=$2 mode=$3 key="$1,$2,$3,$4" out="$W/$1-$2-$3-$4" vip=$VIP i b victims=""
	local pc pr det_max="" by="" ejs=() td td_max=""
	[[ $sys == vigil-xdp ]] && vip=$XVIP
	for i in ${FAULT_VICTIMS[$fault]}; do victims+="${victims:+ }${TB_EP[i]}"; done
	vigil_start "$sys"
	lg_start "$vip" "$VIP_PORT" $((BEFORE_MS + AFTER_MS)) "$mode"
	sleep_after_start "$BEFORE_MS"
	vctl stats --json >"$out.stats" 2>/dev/null
	inject "$fault"
	lg_finish
	vctl events --json >"$out.events" 2>/dev/null
	cp -- "$VIGILD_LOG" "$out.vigild"
	vigil_stop
	restore "$fault"
	record_common "$key"
	# With several faulted backends, the fault is handled when the last one
	# is out: its figures are the case's.
	for b in $victims; do
		vigil_detection "$out.events" "$out.vigild" "$b"
		ejs+=("${EJ:-}")
		[[ -n "$DET" ]] || { det_max=none; continue; }
		if [[ $det_max != none && (-z "$det_max" || "$DET" -gt "$det_max") ]]; then
			det_max=$DET by=$DET_BY
			R[$key,rule]=$RULE R[$key,stuck_us]=$STUCK R[$key,limit_us]=$LIMIT
			R[$key,eject_ms]=$(ms "$EJ" "$F_MONO")
		fi
		td=$(td_ms "$out.vigild" "$b")
		[[ -n "$td" ]] && awk -v a="$td" -v b="${td_max:--1}" 'BEGIN { exit !(a > b) }' && td_max=$td
	done
	R[$key,detect_ms]=- R[$key,detect_by]=""
	[[ -n "$det_max" && $det_max != none ]] && R[$key,detect_ms]=$(ms "$det_max" "$F_MONO") R[$key,detect_by]=$by
	R[$key,td_ms]=${td_max:--}
	# Two faulted backends: how long after the first ejection the second came.
	R[$key,gap_ms]=-
	if ((${#ejs[@]} == 2)) && [[ -n "${ejs[0]}" && -n "${ejs[1]}" ]]; then
		R[$key,gap_ms]=$(awk -v a="${ejs[0]}" -v b="${ejs[1]}" 'BEGIN { d = a - b; if (d < 0) d = -d; printf "%.1f", d / 1e6 }')
	fi
	read -r pc pr <<<"$(peer_p99 "${victims%% *}" "$out.stats")"
	R[$key,peer_connect_ms]=$pc R[$key,peer_request_ms]=$pr
	vigil_false_ejections "$out.events" "$victims" "$F_MONO" "$sys $fault $mode repeat $4" "$out.vigild"
	R[$key,false_ej]=$FE
}

# ---- haproxy ------------------------------------------------------------------------

# Every HAProxy variant: the server-line options, and the defaults lines that
# differ from a default install (docs/benchmarks.md quotes these, printed at
# the top of the output).
declare -A HP_SERVER=(
	[default]="check inter 2s fall 3 rise 2"
	[fast]="check inter 100ms fastinter 100ms fall 2 rise 2"
	[passive]="check inter 2s fall 3 rise 2 observe layer4 error-limit 1 on-error mark-down"
	[tuned]="check inter 100ms fastinter 100ms fall 2 rise 2 observe layer4 error-limit 1 on-error mark-down on-marked-down shutdown-sessions"
)
declare -A HP_DEFAULTS=(
	[default]=$'    timeout connect 5s\n    retries 3'
	[fast]=$'    timeout connect 100ms\n    retries 3\n    option redispatch 1'
	[passive]=$'    timeout connect 100ms\n    retries 3\n    option redispatch 1'
	[tuned]=$'    timeout connect 100ms\n    retries 3\n    option redispatch 1'
)

hp_config() { # VARIANT
	cat <<CONF
global
    maxconn 4096
defaults
    mode tcp
${HP_DEFAULTS[$1]}
    timeout client 30s
    timeout server 30s
listen bench
    bind 127.0.0.1:$HP_PORT
    balance roundrobin
    server b1 ${EP[1]} ${HP_SERVER[$1]}
    server b2 ${EP[2]} ${HP_SERVER[$1]}
    server b3 ${EP[3]} ${HP_SERVER[$1]} backup
CONF
}

# Timestamps each line of haproxy's stderr (which has none) as it arrives.
stamp_from() { # FIFO
	local l
	exec <"$1"
	while IFS= read -r l; do
		printf '%s %s\n' "$EPOCHREALTIME" "$l"
	done
}

hp_listening() { ip netns exec "$CLI_NS" bash -c "exec 3<>/dev/tcp/127.0.0.1/$HP_PORT" 2>/dev/null; }

haproxy_case() { # VARIANT FAULT MODE REPEAT
	local v=$1 fault=$2 mode=$3 key="haproxy-$1,$2,$3,$4" out="$W/hp-$1-$2-$3-$4"
	local names="" i down line ts hp_pid stamp_pid stamp_log fe=0 d
	for i in ${FAULT_VICTIMS[$fault]}; do names+=" b$i"; done
	hp_config "$v" >"$out.cfg"
	ip netns exec "$CLI_NS" haproxy -c -q -f "$out.cfg" || die "haproxy rejects $out.cfg"
	mkfifo "$out.fifo"
	start_bg stamp_from "$out.fifo"
	stamp_pid=$BG_PID stamp_log=$BG_LOG
	# shellcheck disable=SC2016 # expanded by the inner bash; exec keeps the PID haproxy's
	start_bg bash -c 'exec "$@" >"$0" 2>&1' "$out.fifo" \
		ip netns exec "$CLI_NS" "${HP_CHRT[@]}" haproxy -db -f "$out.cfg"
	hp_pid=$BG_PID
	wait_until 5 hp_listening || die "haproxy did not listen: $(cat "$stamp_log")"
	check_policy haproxy "$hp_pid"
	lg_start 127.0.0.1 "$HP_PORT" $((BEFORE_MS + AFTER_MS)) "$mode"
	sleep_after_start "$BEFORE_MS"
	inject "$fault"
	lg_finish
	stop_pid "$hp_pid"
	stop_pid "$stamp_pid"
	cp -- "$stamp_log" "$out.log"
	restore "$fault"
	record_common "$key"
	# With several faulted servers, the fault is handled when the last is down.
	down=""
	for i in $names; do
		d=$(awk -v t="$F_REAL" -v s="Server bench/$i is DOWN" \
			'index($0, s) && $1 >= t { printf "%.1f\n", ($1 - t) * 1000; exit }' "$out.log")
		[[ -n "$d" ]] || { down=none; break; }
		[[ -z "$down" ]] || awk -v a="$d" -v b="$down" 'BEGIN { exit !(a > b) }' && down=$d
	done
	[[ $down == none ]] && down=""
	R[$key,detect_ms]=${down:--}
	R[$key,detect_by]="Server is DOWN"
	R[$key,td_ms]=- R[$key,gap_ms]=-
	# A healthy server marked down: any other server, or a faulted one
	# before the fault.
	while read -r ts line; do
		[[ -n "$line" ]] || continue
		if ! [[ $line =~ Server\ bench/(b[0-9])\ is\ DOWN && " $names " == *" ${BASH_REMATCH[1]} "* ]] ||
			awk -v a="$ts" -v t="$F_REAL" 'BEGIN { exit !(a < t) }'; then
			ANOMALIES+=("haproxy-$v $fault $mode repeat $4: healthy server marked down at $(awk -v a="$ts" -v t="$F_REAL" 'BEGIN { printf "%.1f", (a - t) * 1000 }') ms from the fault: ${line:0:200}")
			fe=$((fe + 1))
		fi
	done < <(grep ' is DOWN' "$out.log")
	R[$key,false_ej]=$fe
}

# ---- one attempt, its line ------------------------------------------------------------

run_case() { # SYSTEM FAULT MODE REPEAT
	local key="$1,$2,$3,$4"
	use_testbed "$(testbed_of "$1")"
	if [[ $1 == vigil* ]]; then
		vigil_case "$@"
	else
		haproxy_case "${1#haproxy-}" "$2" "$3" "$4"
	fi
	if [[ -n "${R[$key,nores]}" ]]; then
		printf '  %d %-9s %-9s %-16s NO RESULT: %s\n' "$4" "$3" "$2" "$1" "${R[$key,nores]}"
		ANOMALIES+=("$1 $2 $3 repeat $4: no result: ${R[$key,nores]}")
		return
	fi
	printf '  %d %-9s %-9s %-16s %6s %5s %5s %8s %8s %8s %3s %6s %6s  %s\n' "$4" "$3" "$2" "$1" \
		"${R[$key,requests]}" "${R[$key,failed_inflight]}" "${R[$key,failed_after]}" \
		"${R[$key,last_fail_ms]}" "${R[$key,slowest_ok_after_ms]}" "${R[$key,detect_ms]}" \
		"${R[$key,false_ej]}" "${R[$key,stall_ms]}" "${R[$key,inject_ms]:--}" "${R[$key,detect_by]}"
}

# ---- repeated kill faults: fast path timings -------------------------------------------

pct() { # P: nearest-rank percentile of the numbers on stdin
	sort -g | awk -v p="$1" '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		r = int(p / 100 * NR); if (r < p / 100 * NR) r++; if (r < 1) r = 1
		print v[r] }'
}

ROUND_BEFORE_MS=600
ROUND_AFTER_MS=1000
ROUND_FE=0
kill_rounds() {
	local r out b=${EP[1]} ej down first decisive a ab b_us first_us td
	: >"$W/r.a"; : >"$W/r.b"; : >"$W/r.ab"; : >"$W/r.fd"; : >"$W/r.td"
	use_testbed s
	for ((r = 1; r <= ROUNDS; r++)); do
		out="$W/round-$r"
		vigil_start vigil
		lg_start "$VIP" "$VIP_PORT" $((ROUND_BEFORE_MS + ROUND_AFTER_MS)) close
		sleep_after_start "$ROUND_BEFORE_MS"
		inject kill
		lg_finish
		vctl events --json >"$out.events" 2>/dev/null
		cp -- "$VIGILD_LOG" "$out.vigild"
		vigil_stop
		restore kill
		vigil_false_ejections "$out.events" "$b" "$F_MONO" "kill round $r" "$out.vigild"
		ROUND_FE=$((ROUND_FE + FE))
		if [[ -n "$NORES" ]]; then
			printf '  round %2d: NO RESULT: %s\n' "$r" "$NORES"
			ANOMALIES+=("kill round $r: no result: $NORES")
			continue
		fi
		ej=$(ejection "$out.events" "$b" "$F_MONO" | awk '{print $1}')
		down=$(ev_first "$out.vigild" "$b" fast_path_down "$F_MONO")
		first=$(ev_first "$out.vigild" "$b" "refused|timeout|reset" "$F_MONO")
		decisive=""
		[[ -n "$down" ]] && decisive=$(ev_last_before "$out.vigild" "$b" "$down")
		a=$(us "$down" "$decisive")
		b_us=$(us "$ej" "$down")
		ab=$(us "$ej" "$decisive")
		first_us=$(us "$down" "$first")
		td=$(td_ms "$out.vigild" "$b")
		printf '  round %2d: first failure +%s ms, fast_path_down +%s ms, set rebuild +%s ms, tear-down done %s ms after it; (a) %s us, (b) %s us, first failure->fast_path_down %s us; failed_after=%s false_ej=%d stall_max=%s ms\n' \
			"$r" "$(ms "$first" "$F_MONO")" "$(ms "$down" "$F_MONO")" "$(ms "$ej" "$F_MONO")" "${td:--}" "$a" "$b_us" \
			"$first_us" "$(kv failed_after)" "$FE" "$(stall_max_ms "$LG_T0_US" $((LG_T0_US + LG_DUR_MS * 1000)))"
		[[ -n "$td" ]] && echo "$td" >>"$W/r.td"
		[[ $a != - ]] && echo "$a" >>"$W/r.a"
		[[ $b_us != - ]] && echo "$b_us" >>"$W/r.b"
		[[ $ab != - ]] && echo "$ab" >>"$W/r.ab"
		[[ $first_us != - ]] && echo "$first_us" >>"$W/r.fd"
		[[ -z "$down" ]] && ANOMALIES+=("kill round $r: no fast_path_down event for $b after the fault")
		[[ -z "$ej" ]] && ANOMALIES+=("kill round $r: no ejection of $b after the fault")
	done
	return 0
}

# ---- report ----------------------------------------------------------------------------

mode_name() { [[ $1 == close ]] && echo "new connection per request" || echo "kept-alive connections"; }
# The faults of the selected rows in MODE, in row order.
row_faults() { # MODE
	local r
	for r in "${SEL_ROWS[@]}"; do [[ ${r#*:} == "$1" ]] && printf '%s ' "${r%%:*}"; done
	return 0
}
# The modes the selected rows use, in MODES order.
row_modes() {
	local m
	for m in $MODES; do [[ -n "$(row_faults "$m")" ]] && printf '%s ' "$m"; done
	return 0
}
secs() { awk -v v="$1" 'BEGIN { printf "%g", v / 1000 }'; }

# The values of FIELD over the repeats of a case that have a result.
vals() { # SYS FAULT MODE FIELD
	local r
	for ((r = 1; r <= REPEATS; r++)); do
		[[ -n "${R[$1,$2,$3,$r,requests]+x}" && -z "${R[$1,$2,$3,$r,nores]}" ]] || continue
		printf '%s\n' "${R[$1,$2,$3,$r,$4]:--}"
	done
}

# "median [min-max]" of the values on stdin; "-" (not within the case) sorts
# above every number and is printed "none". One value: just it. None: "n/a". (mawk has no asort:
# sort first.)
medrange() {
	sed 's/^-$/1e300/' | sort -g | awk '
		function f(x) { return x >= 1e300 ? "none" : (x == int(x) ? sprintf("%d", x) : sprintf("%.1f", x)) }
		{ v[NR] = $1 + 0 }
		END {
			n = NR
			if (n == 0) { print "n/a"; exit }
			if (n % 2) m = v[(n + 1) / 2]
			else if (v[n / 2 + 1] >= 1e300) m = 1e300
			else m = (v[n / 2] + v[n / 2 + 1]) / 2
			if (n == 1) print f(m); else printf "%s [%s-%s]\n", f(m), f(v[1]), f(v[n])
		}'
}

# The median alone, as a number ("-" as 1e300), for comparisons.
median() {
	sed 's/^-$/1e300/' | sort -g | awk '{ v[NR] = $1 + 0 }
		END { n = NR; if (n == 0) { print 1e300; exit }
			print (n % 2) ? v[(n + 1) / 2] : (v[n / 2 + 1] >= 1e300 ? 1e300 : (v[n / 2] + v[n / 2 + 1]) / 2) }'
}

cell() { vals "$@" | medrange; }

print_table() { # MODE
	local mode=$1 sys fault n
	printf '\n%s (%s): %s s of load, fault, %s s of load; median [min-max] over the repeats with a result\n' \
		"$(mode_name "$mode")" "$mode" "$(secs "$BEFORE_MS")" "$(secs "$AFTER_MS")"
	printf '  %-16s %-9s %3s %-23s %-16s %-16s %-22s %-22s %-22s %s\n' system fault n requests \
		failed_inflight failed_after last_fail_ms slowest_ok_after_ms detect_ms false_ej
	for fault in $(row_faults "$mode"); do
		for sys in $SYSTEMS; do
			n=$(vals "$sys" "$fault" "$mode" requests | wc -l)
			printf '  %-16s %-9s %3s %-23s %-16s %-16s %-22s %-22s %-22s %s\n' "$sys" "$fault" "$n/$REPEATS" \
				"$(cell "$sys" "$fault" "$mode" requests)" \
				"$(cell "$sys" "$fault" "$mode" failed_inflight)" \
				"$(cell "$sys" "$fault" "$mode" failed_after)" \
				"$(cell "$sys" "$fault" "$mode" last_fail_ms)" \
				"$(cell "$sys" "$fault" "$mode" slowest_ok_after_ms)" \
				"$(cell "$sys" "$fault" "$mode" detect_ms)" \
				"$(vals "$sys" "$fault" "$mode" false_ej | awk '{ s += $1 } END { printf "%d", s }')"
		done
	done
}

# The HAProxy variant with the fewest failed requests started after the fault
# (median); ties broken by all failed requests, then by detect_ms (medians),
# then by the order of SYSTEMS. Sets STRONG and STRONG_TIED (the others tied
# on failed_after).
strongest() { # FAULT MODE
	local sys best="" bk="" k
	STRONG="" STRONG_TIED=""
	for sys in $SYSTEMS; do
		[[ $sys == haproxy-* ]] || continue
		[[ -n "$(vals "$sys" "$1" "$2" requests)" ]] || continue
		k=$(printf '%s %s %s' "$(vals "$sys" "$1" "$2" failed_after | median)" \
			"$(vals "$sys" "$1" "$2" failed | median)" "$(vals "$sys" "$1" "$2" detect_ms | median)")
		if [[ -z "$best" ]] || awk -v a="$k" -v b="$bk" 'BEGIN { split(a, x, " "); split(b, y, " ")
			for (i = 1; i <= 3; i++) { if (x[i] + 0 < y[i] + 0) exit 0; if (x[i] + 0 > y[i] + 0) exit 1 }
			exit 1 }'; then
			best=$sys bk=$k
		fi
	done
	STRONG=$best
	for sys in $SYSTEMS; do
		[[ $sys == haproxy-* && $sys != "$STRONG" && -n "$STRONG" ]] || continue
		[[ -n "$(vals "$sys" "$1" "$2" requests)" ]] || continue
		[[ "$(vals "$sys" "$1" "$2" failed_after | median)" == "${bk%% *}" ]] && STRONG_TIED+="${STRONG_TIED:+, }$sys"
	done
	return 0
}

# "H / V = Rx (verdict)" for medians of failed_after; vigil's 0 counted as 1.
ratio() { # HAPROXY_MEDIAN VIGIL_MEDIAN
	awk -v h="$1" -v v="$2" 'function f(x) { return x == int(x) ? sprintf("%d", x) : sprintf("%.1f", x) }
		BEGIN {
			d = (v == 0) ? 1 : v
			if (h == v) verdict = "tie"
			else if (h < v) verdict = "HAProxy fails fewer"
			else verdict = "vigil fails fewer"
			printf "%s / %s%s = %.1fx (%s)", f(h), f(v), (v == 0) ? " (vigil 0 counted as 1)" : "", h / d, verdict }'
}

print_ratios() { # MODE
	local mode=$1 fault sys vm hm
	for fault in $(row_faults "$mode"); do
		[[ -n "$(vals vigil "$fault" "$mode" requests)" ]] || continue
		strongest "$fault" "$mode"
		[[ -n "$STRONG" ]] || continue
		vm=$(vals vigil "$fault" "$mode" failed_after | median)
		hm=$(vals "$STRONG" "$fault" "$mode" failed_after | median)
		printf '  %-9s strongest HAProxy: %s%s\n' "$fault" "$STRONG" "${STRONG_TIED:+ (tied on failed_after with $STRONG_TIED)}"
		printf '  %-9s   failed_after vigil %s, %s %s\n' "" "$(cell vigil "$fault" "$mode" failed_after)" \
			"$STRONG" "$(cell "$STRONG" "$fault" "$mode" failed_after)"
		printf '  %-9s   %s / vigil: %s\n' "" "$STRONG" "$(ratio "$hm" "$vm")"
		printf '  %-9s   target >= 10x against the strongest HAProxy: %s\n' "" \
			"$(awk -v h="$hm" -v v="$vm" 'BEGIN { d = (v == 0) ? 1 : v; print (h / d >= 10) ? "met" : "MISSED" }')"
		for sys in $SYSTEMS; do
			[[ $sys == haproxy-* && -n "$(vals "$sys" "$fault" "$mode" requests)" ]] || continue
			printf '  %-9s   per variant: %-16s / vigil: %s\n' "" "$sys" \
				"$(ratio "$(vals "$sys" "$fault" "$mode" failed_after | median)" "$vm")"
		done
	done
}

# Tear-down of the vigil systems: decision -> done, and with two primaries
# killed at once the time from the first ejection to the second (the next
# decision, which a synchronous tear-down used to hold up).
teardown_summary() {
	local sys r
	for sys in vigil vigil-xdp; do
		[[ " $SYSTEMS " == *" $sys "* ]] || continue
		printf '  %s: ejection decision -> tear-down done (ms), median [min-max] over the cases with one: %s\n' "$sys" \
			"$(for r in "${SEL_ROWS[@]}"; do vals "$sys" "${r%%:*}" "${r#*:}" td_ms; done | grep -v '^-$' | medrange)"
		[[ " ${SEL_ROWS[*]} " == *" kill-both:"* ]] || continue
		for r in "${SEL_ROWS[@]}"; do
			[[ ${r%%:*} == kill-both ]] || continue
			printf '  %s: kill-both, %s: second primary ejected after the first (ms): %s\n' "$sys" \
				"$(mode_name "${r#*:}")" "$(cell "$sys" kill-both "${r#*:}" gap_ms)"
		done
	done
}

fault_label() { # FAULT
	case $1 in
	kill) echo "backend killed" ;;
	blackhole) echo "backend black-holed" ;;
	slow) echo "backend slow ($SLOW_MS ms)" ;;
	kill-both) echo "both primaries killed (backup takes over)" ;;
	sigstop) echo "server process stopped $(secs "$STOP_MS") s (SIGSTOP)" ;;
	esac
}

# One cell of issue 11's table: failed requests started after the fault,
# median [min-max], and those in flight at the fault when there were any.
issue_cell() { # SYS FAULT MODE
	local c inflight
	[[ -n "$(vals "$@" requests)" ]] || { echo "-"; return; }
	c=$(cell "$@" failed_after)
	inflight=$(vals "$@" failed_inflight | median)
	awk -v m="$inflight" 'BEGIN { exit !(m > 0 && m < 1e300) }' && c+=" (+$(cell "$@" failed_inflight) in flight)"
	echo "$c"
}

# Issue 11's table from this run: per row, vigil's two datapaths, the
# strongest HAProxy variant (fewest failed_after, see strongest) and
# HAProxy's default configuration.
issue_table() {
	local r fault mode sx hs hd
	printf '\nfailed requests (issue 11 table): requests started after the fault that failed, median [min-max] over %s repeats\n' "$REPEATS"
	printf '(and those in flight at the fault, when any failed); %s workers, %s ms client timeout; "-": not run\n\n' "$WORKERS" "$TIMEOUT_MS"
	printf '| fault | vigil socket | vigil XDP | HAProxy strongest | HAProxy default |\n|---|---|---|---|---|\n'
	for r in "${SEL_ROWS[@]}"; do
		fault=${r%%:*} mode=${r#*:}
		strongest "$fault" "$mode"
		hs="-"
		[[ -n "$STRONG" ]] && hs="$(issue_cell "$STRONG" "$fault" "$mode") (${STRONG#haproxy-}${STRONG_TIED:+; tied: ${STRONG_TIED//haproxy-/}})"
		hd=$(issue_cell haproxy-default "$fault" "$mode")
		sx=$(issue_cell vigil-xdp "$fault" "$mode")
		printf '| %s, %s | %s | %s | %s | %s |\n' "$(fault_label "$fault")" "$(mode_name "$mode")" \
			"$(issue_cell vigil "$fault" "$mode")" "$sx" "$hs" "$hd"
	done
}

# The commands behind the table: this script's settings and, per system,
# the load (loadgen) and the faults.
print_commands() {
	local sys
	printf '\ncommands that produced this table:\n'
	printf '  make bench runs scripts/bench.sh, build/bench/xdp_bench, scripts/bench-xdp.sh, then:\n'
	printf '  %s scripts/bench-failover.sh\n' "$SETTINGS"
	printf '  load, every case (keepalive rows add -k; -d is BEFORE_MS + AFTER_MS):\n'
	for sys in $SYSTEMS; do
		[[ -n "${LG_CMDS[$sys]:-}" ]] && printf '    %-16s %s\n' "$sys" "${LG_CMDS[$sys]}"
	done
	printf '  faults, BEFORE_MS after the load started (the socket testbed'"'"'s names; vigil-xdp: the same in its server netns):\n'
	printf '    kill       kill -KILL <pid of: testsrv -n b1 -l %s>; afterwards started again\n' "${SB4[1]}"
	printf '    blackhole  ip netns exec %s nft: table inet %s { chain input { type filter hook input priority 0; ip daddr %s tcp dport %s drop } }\n' \
		"$SRV_NS" "$NFT_TABLE" "${SB4[2]}" "$PORT"
	printf '    slow       kill -USR1 <pid of b1'"'"'s testsrv, started with -D %s>; afterwards kill -USR2\n' "$SLOW_MS"
	printf '    kill-both  kill -KILL <pid of b1'"'"'s testsrv> <pid of b2'"'"'s testsrv>\n'
	printf '    sigstop    kill -STOP <pid of b1'"'"'s testsrv>; %s ms later kill -CONT\n' "$STOP_MS"
	printf '  servers: ip netns exec <server netns> %s -l ADDR -p %s -n bI -D %s\n' "$TESTSRV" "$PORT" "$SLOW_MS"
}

# ---- run --------------------------------------------------------------------------------

declare -A LG_CMDS # one loadgen command line per system, for the commands section
T0=$EPOCHREALTIME
printf 'vigil failover bench (scripts/bench-failover.sh)\n'
printf 'commit %s, date %s, kernel %s, %s CPUs, load average at start %s\n' "$COMMIT" \
	"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(uname -r)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'haproxy: %s\n' "$(haproxy -v 2>/dev/null | head -n 1)"
if [[ $SCHED == rr ]]; then
	printf 'SCHED=rr: vigild SCHED_RR %d (its default daemon.sched_priority), haproxy under chrt -r %d (checked on every start)\n' "$RT_PRIO" "$RT_PRIO"
else
	printf 'SCHED=other: vigild with daemon.sched_priority 0, haproxy at the normal policy (both SCHED_OTHER, checked on every start)\n'
fi
SETTINGS="SCHED=$SCHED REPEATS=$REPEATS ROUNDS=$ROUNDS ROWS=\"$ROWS\" MODES=\"$MODES\" FAULTS=\"$FAULTS\" SYSTEMS=\"$SYSTEMS\" WORKERS=$WORKERS PAUSE_MS=$PAUSE_MS TIMEOUT_MS=$TIMEOUT_MS BEFORE_MS=$BEFORE_MS AFTER_MS=$AFTER_MS SLOW_MS=$SLOW_MS STOP_MS=$STOP_MS"
printf 'REPEATS=%s ROUNDS=%s ROWS="%s" (selected: %s) MODES="%s" FAULTS="%s" SYSTEMS="%s"\n' "$REPEATS" \
	"$ROUNDS" "$ROWS" "${SEL_ROWS[*]}" "$MODES" "$FAULTS" "$SYSTEMS"
printf 'loadgen: WORKERS=%s PAUSE_MS=%s TIMEOUT_MS=%s BEFORE_MS=%s AFTER_MS=%s (both modes); SLOW_MS=%s STOP_MS=%s\n' \
	"$WORKERS" "$PAUSE_MS" "$TIMEOUT_MS" "$BEFORE_MS" "$AFTER_MS" "$SLOW_MS" "$STOP_MS"
printf 'binaries: vigild sha256 %s, loadgen sha256 %s\n' "$(sha256sum "$VIGILD" | cut -c1-12)" \
	"$(sha256sum "$LOADGEN" | cut -c1-12)"
printf 'output file: %s\n' "${OUT:-none}"

[[ " $SYSTEMS " == *" vigil-xdp "* ]] && setup_xdp_testbed
setup_testbed
mkfifo "$W/jitter.fifo"
start_bg stall_monitor "$W/jitter.fifo" "$W/stalls" 1

printf '\ntestbed: client netns %s (10.%s.0.1), server netns %s: b1 %s, b2 %s (primaries), b3 %s (backup)\n' \
	"$CLI_NS" "$NET" "$SRV_NS" "${EP[1]}" "${EP[2]}" "${EP[3]}"
[[ " $SYSTEMS " == *" vigil-xdp "* ]] &&
	printf 'XDP testbed (vigil-xdp): client netns %s (10.%s.1.2) -> LB netns %s (XDP on xlc, xls) -> server netns %s: b1 %s, b2 %s (primaries), b3 %s (backup)\n' \
		"$XCLI_NS" "$XNET" "$XLB_NS" "$XSRV_NS" "${XEP[1]}" "${XEP[2]}" "${XEP[3]}"
printf 'faults: kill = SIGKILL of b1'"'"'s server; blackhole = nft drop of every packet to b2:%s; slow = b1'"'"'s replies take %s ms (testsrv -D, SIGUSR1); kill-both = SIGKILL of b1 and b2; sigstop = SIGSTOP of b1'"'"'s server, SIGCONT %s ms later\n' \
	"$PORT" "$SLOW_MS" "$STOP_MS"
for s in vigil vigil-xdp; do
	[[ " $SYSTEMS " == *" $s "* ]] || continue
	use_testbed "$(testbed_of "$s")"
	printf '\n%s config (a fresh vigild and pin dir per case; the pin dir shown is an example):\n' "$s"
	fo_new_config
	vigil_config "$s" | sed 's/^/    /'
done
for s in $SYSTEMS; do
	[[ $s == haproxy-* ]] || continue
	printf '\n%s config (haproxy -db%s):\n' "$s" "${HP_CHRT[*]:+, under ${HP_CHRT[*]}}"
	hp_config "${s#haproxy-}" | sed 's/^/    /'
done

printf '\nattempts (repeat, mode, fault, system, then: requests failed_inflight failed_after last_fail_ms slowest_ok_after_ms detect_ms false_ej stall_max_ms inject_ms detected_by):\n'
for ((rep = 1; rep <= REPEATS; rep++)); do
	# Odd repeats in SYSTEMS order, even ones reversed: slow drifts of the
	# machine (other jobs, page cache, thermal) do not favour one system.
	read -ra order <<<"$SYSTEMS"
	if ((rep % 2 == 0)); then
		rev=()
		for ((i = ${#order[@]} - 1; i >= 0; i--)); do rev+=("${order[i]}"); done
		order=("${rev[@]}")
	fi
	for row in "${SEL_ROWS[@]}"; do
		for sys in "${order[@]}"; do
			run_case "$sys" "${row%%:*}" "${row#*:}" "$rep"
			[[ -n "${LG_CMDS[$sys]:-}" ]] || LG_CMDS[$sys]=$LG_CMD
		done
	done
done

if ((ROUNDS > 0)); then
	printf '\nkill fault x %d, each against a fresh vigild (new connection per request; %s s + %s s of load):\n' \
		"$ROUNDS" "$(secs $ROUND_BEFORE_MS)" "$(secs $ROUND_AFTER_MS)"
	kill_rounds
fi

printf '\n==== results ====\n'
printf 'n: repeats with a loadgen result. failed_inflight: failed requests started before the fault;\n'
printf 'failed_after: started after it; last_fail_ms: fault to the last failed request; slowest_ok_after_ms:\n'
printf 'the slowest request started after the fault that succeeded (a rescued connect shows here); detect_ms: fault\n'
printf 'to the moment the faulty backend stopped being chosen (vigil: kernel fast_path_down event, else\n'
printf 'vigild ejection; haproxy: "Server is DOWN" on its stderr); "none" ("-" in the attempt lines): not\n'
printf 'within the case (sorts above every number). false_ej: sum over the repeats of healthy backends\n'
printf 'ejected, marked down by the fast path or failed open (vigil), healthy servers marked down (haproxy);\n'
printf 'they count against the system and stay in every figure (no attempt is dropped); see anomalies.\n'
for mode in $(row_modes); do
	print_table "$mode"
done

for mode in $(row_modes); do
	printf '\nratios of failed_after medians, %s (HAProxy / vigil; above 1: vigil fails fewer):\n' "$(mode_name "$mode")"
	print_ratios "$mode"
done

if ((ROUNDS > 0)); then
	printf '\ntargets:\n'
	a50=$(pct 50 <"$W/r.a") a99=$(pct 99 <"$W/r.a")
	b50=$(pct 50 <"$W/r.b") b99=$(pct 99 <"$W/r.b")
	ab50=$(pct 50 <"$W/r.ab") ab99=$(pct 99 <"$W/r.ab")
	fd50=$(pct 50 <"$W/r.fd") fd99=$(pct 99 <"$W/r.fd")
	nr=$(wc -l <"$W/r.ab")
	printf '  hard failure (kill), %s of %s rounds with both events, p50 / p99 (nearest rank; with %s samples p99 is the maximum);\n' "$nr" "$ROUNDS" "$nr"
	printf '  false ejections during the rounds: %d (all rounds kept)\n' "$ROUND_FE"
	printf '    (a)     decisive kernel failure event -> fast_path_down (kernel datapath): %s / %s us\n' "$a50" "$a99"
	printf '    (b)     fast_path_down -> vigild set rebuild (ejection mono_ns):          %s / %s us\n' "$b50" "$b99"
	printf '    (a)+(b) decisive failure -> vigild set rebuild:                          %s / %s us\n' "$ab50" "$ab99"
	printf '    first failure after the fault -> fast_path_down:                        %s / %s us\n' "$fd50" "$fd99"
	printf '    vigild ejection decision -> tear-down done:                             %s / %s ms\n' \
		"$(pct 50 <"$W/r.td")" "$(pct 99 <"$W/r.td")"
	awk -v a="$a99" -v ab="$ab99" 'BEGIN {
		if (a == "-") { print "    signal->datapath p99 < 1 ms: NO DATA"; exit }
		printf "    signal->datapath p99 < 1 ms: kernel datapath %s (%.3f ms); vigild set rebuild %s (%.3f ms)\n",
			(a < 1000) ? "met" : "MISSED", a / 1000, (ab != "-" && ab < 1000) ? "met" : "MISSED", ab / 1000 }'
fi
for bh in "${SEL_ROWS[@]}"; do
	[[ ${bh%%:*} == blackhole ]] || continue
	for sys in vigil vigil-xdp; do
	[[ " $SYSTEMS " == *" $sys "* ]] || continue
	mode=${bh#*:}
	printf '  %s: blackhole ejected within 100 ms when peers answer within 5 ms, %s, per repeat:\n' "$sys" "$(mode_name "$mode")"
	for ((rep = 1; rep <= REPEATS; rep++)); do
		key="$sys,blackhole,$mode,$rep"
		[[ -n "${R[$key,requests]+x}" && -z "${R[$key,nores]}" ]] || { printf '    repeat %d: no result\n' "$rep"; continue; }
		awk -v r="$rep" -v e="${R[$key,eject_ms]:--}" -v rule="${R[$key,rule]:-none}" \
			-v pc="${R[$key,peer_connect_ms]:--}" -v pr="${R[$key,peer_request_ms]:--}" \
			-v st="${R[$key,stuck_us]:-}" -v lim="${R[$key,limit_us]:-}" 'BEGIN {
			printf "    repeat %d: fault -> ejection %s ms (rule %s, oldest stuck %s ms, limit %s ms): %s; peers p99 before: connect %s ms, request %s ms (within 5 ms: %s)\n",
				r, e, rule, (st == "" || st == "null") ? "-" : st / 1000, (lim == "" || lim == "null") ? "-" : lim / 1000,
				(e == "-") ? "NOT EJECTED" : (e + 0 <= 100) ? "met" : "MISSED", pc, pr,
				(pc == "-") ? "unknown" : (pc + 0 <= 5 && pr + 0 <= 5) ? "yes" : (pc + 0 <= 5) ? "connect yes, request no" : "no" }'
	done
	done
done
teardown_summary

for f in kill blackhole; do
	list=$(for k in "${!R[@]}"; do [[ $k == *,$f,*,inject_ms && -n "${R[$k]}" ]] && echo "${R[$k]}"; done | sort -g | paste -sd' ' -)
	[[ -n "$list" ]] || continue
	[[ $f == kill ]] && printf '\nkill: the fault instant is when the killed process had exited; that took (ms, sorted): %s\n' "$list"
	[[ $f == blackhole ]] && printf '\nblackhole: the fault instant is when nft returned; nft took (ms, sorted): %s\n' "$list"
done

printf '\nfalse ejections per system (all cases and repeats): '
for s in $SYSTEMS; do
	printf '%s %s; ' "$s" "$(for r in "${SEL_ROWS[@]}"; do vals "$s" "${r%%:*}" "${r#*:}" false_ej; done |
		awk '{ s += $1 } END { printf "%d", s }')"
done
printf 'vigil kill rounds %d\n' "$ROUND_FE"

awk -v secs="$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')" '
	$2 > 50000 { n++ } $2 > 100000 { n100++ } $2 > m { m = $2 }
	END { printf "\nscheduling noise during the run (a 1 ms sleep in a loop): %d stalls > 50 ms, %d > 100 ms in %.0f s, largest %.0f ms (a quiet machine: none); load average at the end %s\n", n, n100, secs, m / 1000, la }' \
	la="$(cut -d' ' -f1-3 /proc/loadavg)" "$W/stalls"

printf '\nanomalies:\n'
if ((${#ANOMALIES[@]} == 0)); then
	printf '  none (no healthy backend ejected or marked down, no service failed open, every attempt measured)\n'
else
	for a in "${ANOMALIES[@]}"; do printf '  %s\n' "$a"; done
fi
issue_table
print_commands
printf '\nrun time %.0f s\n' "$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')"
# Let tee write the last lines before the EXIT trap runs (its messages go
# to the terminal).
if [[ -n "$OUT" ]]; then
	exec >&"$SAVED_OUT"
	exec 2>&"$SAVED_ERR"
	wait "$TEE_PID"
fi
