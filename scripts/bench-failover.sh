#!/bin/bash
# make bench, part 2: failover under faults, vigil against four HAProxy
# configurations (Debian's HAProxy 2.6, mode tcp), on one network-namespace
# testbed, every case repeated REPEATS times. docs/benchmarks.md explains
# every figure; this script prints every figure the docs quote.
#
#   client netns: loadgen, haproxy, vigild's probes        10.213.0.1
#        | veth
#   server netns: testsrv b1 10.213.0.11:8080  primary
#                 testsrv b2 10.213.0.12:8080  primary
#                 testsrv b3 10.213.0.13:8080  backup
#
# Systems (SYSTEMS): vigil (socket load balancer; clients connect to the VIP
# 10.213.0.100:80) and haproxy-default, haproxy-fast, haproxy-passive,
# haproxy-tuned (listening on 127.0.0.1:8000 in the client namespace; their
# configs are printed at the top of the output). Faults: kill (SIGKILL of b1's
# server) and blackhole (nftables drops every packet to b2). Each case:
# BEFORE_MS of steady load, the fault (SIGUSR1 tells loadgen the instant),
# AFTER_MS more load; with a new connection per request and with kept-alive
# connections (MODES). Every case runs REPEATS times, the order of the systems
# reversed on every other repeat; the tables give median [min-max]. Then
# ROUNDS kill faults, each against a fresh vigild, time the kernel fast path
# and vigild's set rebuild from event timestamps. No attempt or round is ever
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
# keep 5 systems x 2 faults x 2 modes x 3 repeats near 15 minutes.
BEFORE_MS=${BEFORE_MS:-2000}
AFTER_MS=${AFTER_MS:-7000}
REPEATS=${REPEATS:-3}
ROUNDS=${ROUNDS:-10}            # kill faults for the fast-path timings
MODES=${MODES-"close keepalive"} # close: new connection per request; keepalive: loadgen -k
SYSTEMS=${SYSTEMS-"vigil haproxy-default haproxy-fast haproxy-passive haproxy-tuned"}
FAULTS=${FAULTS-"kill blackhole"}
SCHED=${SCHED:-rr}
KEEP_WORK=${KEEP_WORK:-0}       # 1: keep the temp dir (logs, events, configs)

NET=213
PORT=8080
VIP=10.213.0.100
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
set -uo pipefail
W=$VGL_TMP

[[ $SCHED == rr || $SCHED == other ]] || die "SCHED: '$SCHED' is neither rr nor other"
[[ $REPEATS =~ ^[1-9][0-9]*$ ]] || die "REPEATS: '$REPEATS' is not a positive number"
for m in $MODES; do [[ $m == close || $m == keepalive ]] || die "MODES: unknown mode '$m'"; done
for f in $FAULTS; do [[ $f == kill || $f == blackhole ]] || die "FAULTS: unknown fault '$f'"; done
for s in $SYSTEMS; do
	case $s in vigil | haproxy-default | haproxy-fast | haproxy-passive | haproxy-tuned) ;;
	*) die "SYSTEMS: unknown system '$s'" ;; esac
done
fo_require_env
for t in haproxy nft chrt jq awk; do
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

# ---- testbed ------------------------------------------------------------------------

backend_answers() { # I: one request to bI from the client namespace
	ip netns exec "$CLI_NS" timeout 1 bash -c \
		"exec 3<>/dev/tcp/${B4[$1]}/$PORT && echo GET >&3 && read -r l <&3 && [[ \$l == 'OK b$1' ]]" \
		2>/dev/null
}
all_backends_answer() { backend_answers 1 && backend_answers 2 && backend_answers 3; }

# fo_server, then disown: the kill fault SIGKILLs it, and bash would print
# a "Killed" job notice into the output. Disowned children are still reaped.
server_start() { # I
	fo_server "$1" "${B4[$1]}" "$PORT" "b$1"
	disown "${FO_SRV_PIDS[$1]}"
}

setup_testbed() {
	fo_topology "$NET" 3 >/dev/null
	fo_cgroup
	# ~100k short connections per run from one namespace: reuse TIME_WAIT ports.
	ip netns exec "$CLI_NS" sysctl -qw net.ipv4.tcp_tw_reuse=1 \
		net.ipv4.ip_local_port_range="1024 65000" || die "client sysctls failed"
	EP=("")
	for i in 1 2 3; do
		EP[i]="${B4[i]}:$PORT"
		server_start "$i"
	done
	wait_until 3 all_backends_answer || die "backends do not answer"
}

# ---- faults -------------------------------------------------------------------------

declare -A FAULT_IDX=([kill]=1 [blackhole]=2)

# F_MONO, F_REAL: the fault instant; SIGUSR1 tells loadgen.
fault_instant() {
	mono_now
	F_MONO=$MONO
	F_REAL=$EPOCHREALTIME
	F_SIGNALED=0
	kill -USR1 "$LG_PID" 2>/dev/null && F_SIGNALED=1
}

# kill: the instant is marked, then SIGKILL (a builtin, microseconds later).
# blackhole: nft needs 10-40 ms to start, so the instant is marked when it
# returns (the rule is live then, committed at most ~1 ms earlier); NFT_MS is
# how long it took.
inject() { # FAULT
	local t0
	NFT_MS=""
	case $1 in
	kill)
		fault_instant
		kill -KILL "${FO_SRV_PIDS[1]}"
		;;
	blackhole)
		t0=$EPOCHREALTIME
		fo_blackhole "$NFT_TABLE" "${B4[2]}" "$PORT" || die "nft failed"
		fault_instant
		NFT_MS=$(awk -v a="$t0" -v b="$F_REAL" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
		;;
	esac
}

restore() { # FAULT
	case $1 in
	kill)
		stop_pid "${FO_SRV_PIDS[1]}"
		server_start 1
		;;
	blackhole) fo_unblackhole "$NFT_TABLE" ;;
	esac
	wait_until 3 all_backends_answer || die "backends do not answer after restoring the $1 fault"
}

# ---- load ---------------------------------------------------------------------------

lg_ready() { [[ "$(cat "/proc/$LG_PID/comm" 2>/dev/null)" == loadgen ]] && _catches_usr1 "$LG_PID"; }

# loadgen in the client namespace and the LB cgroup (the HAProxy cases have no
# hook attached: vigild's pins are gone by then). Sets LG_PID, LG_LOG, LG_T0_US.
lg_start() { # ADDR PORT DURATION_MS MODE
	local ka=() i
	[[ $4 == keepalive ]] && ka=(-k)
	# lib_failover.sh's fo_loadgen_bg renames the log right after start_bg,
	# racing the child that creates it ("mv: cannot stat" once in a run);
	# lib.sh's log names are never reused, so the log keeps its name here.
	# shellcheck disable=SC2016 # expanded by the inner bash
	start_bg bash -c 'echo $$ >"$0/cgroup.procs" && exec ip netns exec "$1" "$2" "${@:3}"' \
		"$FO_CGROUP" "$CLI_NS" "$LOADGEN" -a "$1" -p "$2" -c "$WORKERS" -d "$3" -t "$TIMEOUT_MS" \
		-s "$PAUSE_MS" "${ka[@]}"
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

vigil_config() {
	# daemon.sched_priority left out under SCHED=rr: the default (10) is
	# what is measured.
	if [[ $SCHED == other ]]; then
		fo_config_head | sed '/^daemon:/a\  sched_priority: 0'
	else
		fo_config_head
	fi
	cat <<CONF
services:
  - name: bench
    vip: "$VIP:$VIP_PORT"
    backends: ["${EP[1]}", "${EP[2]}"]
    backups: ["${EP[3]}"]
CONF
}

vigil_start() {
	fo_new_config
	vigil_config >"$VGL_CONFIG"
	start_vigild "$VGL_CONFIG" >/dev/null
	check_policy vigild "$VIGILD_PID"
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
# ANOMALIES: vigild ejecting a healthy backend (any but the faulted one, or
# the faulted one before the fault), the service failing open, and the
# kernel fast path marking a healthy backend down. One incident can give a
# fast-path mark and an ejection: both count (against vigil).
vigil_false_ejections() { # EVENTS_JSON BACKEND SINCE CASE VIGILD_LOG
	local wall text ep torn ts
	FE=0
	while IFS=$'\t' read -r wall ep text; do
		[[ -n "$text" ]] || continue
		# vigild's lines start with a local "YYYY-MM-DD HH:MM:SS.mmm" stamp.
		torn=$(awk -v w="$wall" -v ep="$ep" '
			function epoch(d, t) { split(d, D, "-"); split(t, T, ":")
				return mktime(D[1] " " D[2] " " D[3] " " T[1] " " T[2] " " int(T[3])) + T[3] - int(T[3]) }
			/ tore down [0-9]+ connections to / && $NF == ep {
				s = epoch($1, $2) * 1e9; if (s < w - 2e7 || s > w + 1e9) next
				for (i = 1; i < NF; i++) if ($i == "down") { print $(i + 1); exit } }' "$5")
		ANOMALIES+=("$4: $text; tear-down destroyed ${torn:-0} connections; largest scheduling stall in the second before: $(stall_before "$wall") ms")
		FE=$((FE + 1))
	done < <(jq -r --arg b "$2" --argjson t "$3" '
		select((.to == "ejected" and .from == "healthy" and (.backend != $b or .mono_ns < $t)) or .to == "fail-open") |
		"\(.wall_ns)\t\(.backend)\t\(if .to == "fail-open" then "service failed open" else "FALSE EJECTION of healthy backend \(.backend)" end) at \(((.mono_ns - $t) / 1e6 * 10 | round) / 10) ms from the fault: \(.from) -> \(.to) rule=\(.rule) failures=\(.evidence.failures) threshold=\(.evidence.threshold) latency_us=\(.evidence.latency_us) peer_latency_us=\(.evidence.peer_latency_us) limit_us=\(.evidence.limit_us) requests=\(.evidence.requests) errors=\(.evidence.errors)"' "$1")
	while IFS=' ' read -r ep ts; do
		[[ -n "$ts" ]] || continue
		ANOMALIES+=("$4: kernel fast path marked healthy backend $ep down at $(ms "$ts" "$3") ms from the fault")
		FE=$((FE + 1))
	done < <(awk -v b="backend=$2" -v t="$3" '/ failure kind=fast_path_down / {
			be = ""; ts = ""
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^backend=/) be = $i
				if ($i ~ /^ts_ns=/) ts = substr($i, 7) + 0
			}
			if (be != b || ts < t) print substr(be, 9), ts }' "$5")
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
	for f in requests failed failed_inflight failed_after last_fail_ms; do
		R[$1,$f]=$(kv "$f")
	done
	R[$1,nores]=$NORES
	R[$1,nft_ms]=$NFT_MS
	R[$1,stall_ms]=$(stall_max_ms "$LG_T0_US" $((LG_T0_US + LG_DUR_MS * 1000)))
	[[ -n "$SHORT" ]] && ANOMALIES+=("${1//,/ }: $SHORT (attempt kept)")
	return 0
}

vigil_case() { # FAULT MODE REPEAT
	local fault=$1 mode=$2 key="vigil,$1,$2,$3" out="$W/vigil-$1-$2-$3" b ej down first rule stuck limit pc pr
	b=${EP[${FAULT_IDX[$fault]}]}
	vigil_start
	lg_start "$VIP" "$VIP_PORT" $((BEFORE_MS + AFTER_MS)) "$mode"
	sleep_after_start "$BEFORE_MS"
	vctl stats --json >"$out.stats" 2>/dev/null
	inject "$fault"
	lg_finish
	vctl events --json >"$out.events" 2>/dev/null
	cp -- "$VIGILD_LOG" "$out.vigild"
	vigil_stop
	restore "$fault"
	record_common "$key"
	read -r ej rule stuck limit <<<"$(ejection "$out.events" "$b" "$F_MONO")"
	R[$key,rule]=$rule R[$key,stuck_us]=$stuck R[$key,limit_us]=$limit
	R[$key,eject_ms]=$(ms "$ej" "$F_MONO")
	down=$(ev_first "$out.vigild" "$b" fast_path_down "$F_MONO")
	first=$(ev_first "$out.vigild" "$b" "refused|timeout|reset" "$F_MONO")
	# The datapath stops choosing the backend at whichever comes first: the
	# kernel fast path's down flag or vigild's new set.
	R[$key,detect_ms]=- R[$key,detect_by]=""
	if [[ -n "$down" && (-z "$ej" || "$down" -le "$ej") ]]; then
		R[$key,detect_ms]=$(ms "$down" "$F_MONO")
		R[$key,detect_by]="fast_path_down; set ${R[$key,eject_ms]} ms ${rule:-}"
	elif [[ -n "$ej" ]]; then
		R[$key,detect_ms]=${R[$key,eject_ms]}
		R[$key,detect_by]="set rebuild ${rule:-}"
	fi
	read -r pc pr <<<"$(peer_p99 "$b" "$out.stats")"
	R[$key,peer_connect_ms]=$pc R[$key,peer_request_ms]=$pr
	vigil_false_ejections "$out.events" "$b" "$F_MONO" "vigil $fault $mode repeat $3" "$out.vigild"
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
	local name down line ts hp_pid stamp_pid stamp_log fe=0
	name="b${FAULT_IDX[$fault]}"
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
	down=$(awk -v t="$F_REAL" -v s="Server bench/$name is DOWN" \
		'index($0, s) && $1 >= t { printf "%.1f\n", ($1 - t) * 1000; exit }' "$out.log")
	R[$key,detect_ms]=${down:--}
	R[$key,detect_by]="Server is DOWN"
	# A healthy server marked down: any other server, or the faulted one
	# before the fault.
	while read -r ts line; do
		[[ -n "$line" ]] || continue
		if [[ $line != *"Server bench/$name is DOWN"* ]] ||
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
	if [[ $1 == vigil ]]; then
		vigil_case "$2" "$3" "$4"
	else
		haproxy_case "${1#haproxy-}" "$2" "$3" "$4"
	fi
	if [[ -n "${R[$key,nores]}" ]]; then
		printf '  %d %-9s %-9s %-16s NO RESULT: %s\n' "$4" "$3" "$2" "$1" "${R[$key,nores]}"
		ANOMALIES+=("$1 $2 $3 repeat $4: no result: ${R[$key,nores]}")
		return
	fi
	printf '  %d %-9s %-9s %-16s %6s %5s %5s %8s %8s %3s %6s %6s  %s\n' "$4" "$3" "$2" "$1" \
		"${R[$key,requests]}" "${R[$key,failed_inflight]}" "${R[$key,failed_after]}" \
		"${R[$key,last_fail_ms]}" "${R[$key,detect_ms]}" "${R[$key,false_ej]}" \
		"${R[$key,stall_ms]}" "${R[$key,nft_ms]:--}" "${R[$key,detect_by]}"
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
	local r out b=${EP[1]} ej down first decisive a ab b_us first_us
	: >"$W/r.a"; : >"$W/r.b"; : >"$W/r.ab"; : >"$W/r.fd"
	for ((r = 1; r <= ROUNDS; r++)); do
		out="$W/round-$r"
		vigil_start
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
		printf '  round %2d: first failure +%s ms, fast_path_down +%s ms, set rebuild +%s ms; (a) %s us, (b) %s us, first failure->fast_path_down %s us; failed_after=%s false_ej=%d stall_max=%s ms\n' \
			"$r" "$(ms "$first" "$F_MONO")" "$(ms "$down" "$F_MONO")" "$(ms "$ej" "$F_MONO")" "$a" "$b_us" \
			"$first_us" "$(kv failed_after)" "$FE" "$(stall_max_ms "$LG_T0_US" $((LG_T0_US + LG_DUR_MS * 1000)))"
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
	printf '  %-16s %-9s %3s %-23s %-16s %-16s %-22s %-22s %s\n' system fault n requests \
		failed_inflight failed_after last_fail_ms detect_ms false_ej
	for fault in $FAULTS; do
		for sys in $SYSTEMS; do
			n=$(vals "$sys" "$fault" "$mode" requests | wc -l)
			printf '  %-16s %-9s %3s %-23s %-16s %-16s %-22s %-22s %s\n' "$sys" "$fault" "$n/$REPEATS" \
				"$(cell "$sys" "$fault" "$mode" requests)" \
				"$(cell "$sys" "$fault" "$mode" failed_inflight)" \
				"$(cell "$sys" "$fault" "$mode" failed_after)" \
				"$(cell "$sys" "$fault" "$mode" last_fail_ms)" \
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
	for fault in $FAULTS; do
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

# ---- run --------------------------------------------------------------------------------

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
printf 'REPEATS=%s ROUNDS=%s MODES="%s" FAULTS="%s" SYSTEMS="%s"\n' "$REPEATS" "$ROUNDS" "$MODES" "$FAULTS" "$SYSTEMS"
printf 'loadgen: WORKERS=%s PAUSE_MS=%s TIMEOUT_MS=%s BEFORE_MS=%s AFTER_MS=%s (both modes)\n' \
	"$WORKERS" "$PAUSE_MS" "$TIMEOUT_MS" "$BEFORE_MS" "$AFTER_MS"
printf 'binaries: vigild sha256 %s, loadgen sha256 %s\n' "$(sha256sum "$VIGILD" | cut -c1-12)" \
	"$(sha256sum "$LOADGEN" | cut -c1-12)"
printf 'output file: %s\n' "${OUT:-none}"

setup_testbed
mkfifo "$W/jitter.fifo"
start_bg stall_monitor "$W/jitter.fifo" "$W/stalls" 1

printf '\ntestbed: client netns %s (10.%s.0.1), server netns %s: b1 %s, b2 %s (primaries), b3 %s (backup)\n' \
	"$CLI_NS" "$NET" "$SRV_NS" "${EP[1]}" "${EP[2]}" "${EP[3]}"
printf 'faults: kill = SIGKILL of b1'"'"'s server; blackhole = nft drop of every packet to b2:%s\n' "$PORT"
printf '\nvigil config (a fresh vigild and pin dir per case; the pin dir shown is an example):\n'
fo_new_config
vigil_config | sed 's/^/    /'
for s in $SYSTEMS; do
	[[ $s == haproxy-* ]] || continue
	printf '\n%s config (haproxy -db%s):\n' "$s" "${HP_CHRT[*]:+, under ${HP_CHRT[*]}}"
	hp_config "${s#haproxy-}" | sed 's/^/    /'
done

printf '\nattempts (repeat, mode, fault, system, then: requests failed_inflight failed_after last_fail_ms detect_ms false_ej stall_max_ms nft_ms detected_by):\n'
for ((rep = 1; rep <= REPEATS; rep++)); do
	# Odd repeats in SYSTEMS order, even ones reversed: slow drifts of the
	# machine (other jobs, page cache, thermal) do not favour one system.
	read -ra order <<<"$SYSTEMS"
	if ((rep % 2 == 0)); then
		rev=()
		for ((i = ${#order[@]} - 1; i >= 0; i--)); do rev+=("${order[i]}"); done
		order=("${rev[@]}")
	fi
	for mode in $MODES; do
		for fault in $FAULTS; do
			for sys in "${order[@]}"; do
				run_case "$sys" "$fault" "$mode" "$rep"
			done
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
printf 'failed_after: started after it; last_fail_ms: fault to the last failed request; detect_ms: fault\n'
printf 'to the moment the faulty backend stopped being chosen (vigil: kernel fast_path_down event, else\n'
printf 'vigild ejection; haproxy: "Server is DOWN" on its stderr); "none" ("-" in the attempt lines): not\n'
printf 'within the case (sorts above every number). false_ej: sum over the repeats of healthy backends\n'
printf 'ejected, marked down by the fast path or failed open (vigil), healthy servers marked down (haproxy);\n'
printf 'they count against the system and stay in every figure (no attempt is dropped); see anomalies.\n'
for mode in $MODES; do
	print_table "$mode"
done

for mode in $MODES; do
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
	awk -v a="$a99" -v ab="$ab99" 'BEGIN {
		if (a == "-") { print "    signal->datapath p99 < 1 ms: NO DATA"; exit }
		printf "    signal->datapath p99 < 1 ms: kernel datapath %s (%.3f ms); vigild set rebuild %s (%.3f ms)\n",
			(a < 1000) ? "met" : "MISSED", a / 1000, (ab != "-" && ab < 1000) ? "met" : "MISSED", ab / 1000 }'
fi
for mode in $MODES; do
	[[ " $FAULTS " == *" blackhole "* && " $SYSTEMS " == *" vigil "* ]] || continue
	printf '  blackhole ejected within 100 ms when peers answer within 5 ms, %s, per repeat:\n' "$(mode_name "$mode")"
	for ((rep = 1; rep <= REPEATS; rep++)); do
		key="vigil,blackhole,$mode,$rep"
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

nft_list=$(for k in "${!R[@]}"; do [[ $k == *,nft_ms && -n "${R[$k]}" ]] && echo "${R[$k]}"; done | sort -g | paste -sd' ' -)
[[ -n "$nft_list" ]] && printf '\nblackhole: the fault instant is when nft returned; nft took (ms, sorted): %s\n' "$nft_list"

printf '\nfalse ejections per system (all cases and repeats): '
for s in $SYSTEMS; do
	printf '%s %s; ' "$s" "$(for m in $MODES; do for f in $FAULTS; do vals "$s" "$f" "$m" false_ej; done; done |
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
printf '\nrun time %.0f s\n' "$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')"
# Let tee write the last lines before the EXIT trap runs (its messages go
# to the terminal).
if [[ -n "$OUT" ]]; then
	exec >&"$SAVED_OUT"
	exec 2>&"$SAVED_ERR"
	wait "$TEE_PID"
fi
