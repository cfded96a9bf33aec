# shellcheck shell=bash
# Helpers for tests/integration/test_failover_*.sh, sourced after lib.sh.
#
# World of a failover test:
#   client netns CLI_NS (10.NET.0.1, fd00:NET::1) -- veth -- server netns
#   SRV_NS holding one extra address per backend (10.NET.0.1I, fd00:NET::1I),
#   one testsrv per backend address ("OK NAME" replies), a cgroup v2
#   directory FO_CGROUP whose processes get vigil's socket load balancing,
#   and vigild with a services config whose pins live in VGL_PIN_DIR.
#
# Cleanup (registered with on_cleanup, so it runs first from lib.sh's trap):
# resume stopped processes, stop every recorded PID, remove our pin
# directories (that detaches the cgroup hooks pinned under PIN_DIR/links),
# then remove the cgroup. lib.sh then deletes the namespaces (and with them
# the nft tables created inside them).

LOADGEN=$BUILD/tools/loadgen
FO_CGROUP=""
# shellcheck disable=SC2034 # read by the tests
FO_SRV_PIDS=() # testsrv PID per backend index (1-based)
LG_PID=""
LG_LOG=""
LG_OUT=""

# ---- preconditions -------------------------------------------------------------

_fo_cgroup2_root() {
	local d
	for d in /sys/fs/cgroup /sys/fs/cgroup/unified; do
		[[ "$(stat -f -c %T "$d" 2>/dev/null)" == cgroup2fs ]] && { echo "$d"; return 0; }
	done
	return 1
}

fo_require_env() {
	require_env
	[[ -x "$LOADGEN" ]] || die "$LOADGEN not built (run make all)"
	_fo_cgroup2_root >/dev/null || skip "no cgroup v2 hierarchy mounted"
}

# ---- cleanup ---------------------------------------------------------------------

_fo_cleanup() {
	local pids i dir
	pids=("${VGL_PIDS[@]}")
	# A SIGSTOPped process (vigild in the fast-path test) must run to act on
	# SIGTERM; SIGCONT is harmless for the others.
	for i in "${pids[@]}"; do kill -CONT "$i" 2>/dev/null; done
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do _stop_pid "${pids[$i]}"; done
	# Removing the pins detaches the cgroup hooks (links pinned under
	# PIN_DIR/links) before the cgroup goes.
	for dir in "${VGL_PIN_DIRS[@]}"; do
		[[ "$dir" == /sys/fs/bpf/vigil-test-"$VGL_ID"-* ]] && rm -rf -- "$dir"
	done
	if [[ -n "$FO_CGROUP" && -d "$FO_CGROUP" ]]; then
		for ((i = 0; i < 50; i++)); do
			rmdir -- "$FO_CGROUP" 2>/dev/null && break
			sleep 0.1
		done
	fi
}
on_cleanup _fo_cleanup

# ---- logs ---------------------------------------------------------------------------

# lib.sh's start_bg names a log after the number of recorded PIDs, a number
# that repeats once stop_pid has removed one: the next process would truncate
# and share the log of a running one (vigild's, typically). Every process
# started here gets a log name of its own right after it starts.
FO_LOG_SEQ=0
_fo_own_log() { # renames BG_LOG
	local f="$VGL_TMP/fo.$FO_LOG_SEQ.log"
	FO_LOG_SEQ=$((FO_LOG_SEQ + 1))
	mv -- "$BG_LOG" "$f" && BG_LOG=$f
}

# start_vigild with a log of its own (VIGILD_LOG).
fo_start_vigild() { # [CONFIG]
	start_vigild "$@"
	BG_LOG=$VIGILD_LOG
	_fo_own_log
	VIGILD_LOG=$BG_LOG
}

# ---- topology ----------------------------------------------------------------------

# Client and server namespaces on subnet NET, N backend addresses in the
# server namespace. Sets CLI_NS, SRV_NS, B4[1..N] (10.NET.0.1I) and B6[1..N]
# (fd00:NET::1I).
fo_topology() { # NET N
	local net=$1 n=$2 i
	setup_topology "$net"
	B4=() B6=()
	for ((i = 1; i <= n; i++)); do
		B4[i]="10.$net.0.1$i"
		B6[i]="fd00:$net::1$i"
		ip -n "$SRV_NS" addr add "${B4[i]}/24" dev veth0 || die "adding ${B4[i]} failed"
		ip -n "$SRV_NS" addr add "${B6[i]}/64" dev veth0 nodad || die "adding ${B6[i]} failed"
	done
}

# A fresh cgroup v2 directory for the clients. Sets FO_CGROUP.
fo_cgroup() {
	local root
	root=$(_fo_cgroup2_root) || skip "no cgroup v2 hierarchy mounted"
	FO_CGROUP="$root/vigil-test-$VGL_ID"
	mkdir "$FO_CGROUP" || die "mkdir $FO_CGROUP failed"
}

# Start testsrv NAME on ADDR:PORT in the server namespace; records its PID
# as FO_SRV_PIDS[IDX].
fo_server() { # IDX ADDR PORT NAME [testsrv options...]
	local idx=$1 addr=$2 port=$3 name=$4
	shift 4
	start_testsrv "$SRV_NS" "$addr" "$port" -n "$name" "$@"
	_fo_own_log
	FO_SRV_PIDS[idx]=$SRV_PID
}

# Backends 1..N: testsrv "bI" on B4[I]:PORT each; EP[I] gets "B4[I]:PORT".
fo_servers() { # N PORT
	local i
	EP=("")
	for ((i = 1; i <= $1; i++)); do
		EP[i]="${B4[i]}:$2"
		fo_server "$i" "${B4[i]}" "$2" "b$i"
	done
}

# Kill backend IDX's testsrv (SIGKILL: no graceful close) and forget it.
fo_kill_server() { # IDX
	local pid=${FO_SRV_PIDS[$1]}
	kill -KILL "$pid" 2>/dev/null
	stop_pid "$pid"
}

# Drop every packet to ADDR:PORT in the server namespace (nft table TABLE,
# removed with the namespace). Returns 1 if nft is unusable.
fo_blackhole() { # TABLE ADDR PORT
	local fam=ip
	[[ "$2" == *:* ]] && fam=ip6
	ns_exec "$SRV_NS" nft -f - <<EOF
table inet $1 {
	chain input {
		type filter hook input priority 0; policy accept;
		$fam daddr $2 tcp dport $3 drop
	}
}
EOF
}

fo_unblackhole() { # TABLE
	ns_exec "$SRV_NS" nft delete table inet "$1"
}

# ---- vigild ------------------------------------------------------------------------

# New pin dir and config path (VGL_PIN_DIR, VGL_CONFIG); prints the daemon:
# and lb: sections to stdout. The caller appends detection:/services:.
#   { fo_config_head; cat <<EOF ... EOF; } >"$VGL_CONFIG"
fo_new_config() {
	VGL_PIN_DIR="/sys/fs/bpf/vigil-test-$VGL_ID-${#VGL_PIN_DIRS[@]}"
	VGL_PIN_DIRS+=("$VGL_PIN_DIR")
	# shellcheck disable=SC2034 # read by lib.sh's start_vigild
	VGL_CONFIG="$VGL_TMP/vigil-${#VGL_PIN_DIRS[@]}.yaml"
}
fo_config_head() {
	cat <<EOF
daemon:
  pin_dir: $VGL_PIN_DIR
  log_level: info
  probe_netns: /var/run/netns/$CLI_NS
lb:
  cgroup: $FO_CGROUP
EOF
}

vctl() { "$VIGILCTL" --pin-dir "$VGL_PIN_DIR" "$@"; }

# One field of backend EP of SERVICE in 'vigilctl backends --json'
# ("absent" when not listed).
backend_field() { # SERVICE EP FIELD
	vctl backends --json 2>/dev/null | jq -r --arg s "$1" --arg ep "$2" \
		"[.backends[] | select(.service == \$s and .backend == \$ep)] |
		 if length == 0 then \"absent\" else (.[0] | .$3 | tostring) end"
}

# One field of SERVICE in 'vigilctl services --json'.
service_field() { # SERVICE FIELD
	vctl services --json 2>/dev/null | jq -r --arg s "$1" \
		"[.services[] | select(.name == \$s)] |
		 if length == 0 then \"absent\" else (.[0] | .$2 | tostring) end"
}

_backend_is() { # SERVICE EP FIELD VALUE
	WAIT_LAST=$(backend_field "$1" "$2" "$3")
	[[ "$WAIT_LAST" == "$4" ]]
}
# Poll until backend EP of SERVICE has FIELD == VALUE; 1 on timeout.
wait_backend_field() { # SERVICE EP FIELD VALUE TIMEOUT_S
	wait_until "$5" _backend_is "$1" "$2" "$3" "$4" ||
		{ warn "waited $5 s for $1 $2 $3 == $4; last: $WAIT_LAST"; return 1; }
}

_service_is() { # SERVICE FIELD VALUE
	WAIT_LAST=$(service_field "$1" "$2")
	[[ "$WAIT_LAST" == "$3" ]]
}
wait_service_field() { # SERVICE FIELD VALUE TIMEOUT_S
	wait_until "$4" _service_is "$1" "$2" "$3" ||
		{ warn "waited $4 s for service $1 $2 == $3; last: $WAIT_LAST"; return 1; }
}

# History records (NDJSON) of backend EP (or "-" for service-level changes)
# whose "to" is TO ("" for any), in sequence order.
events_of() { # EP [TO]
	vctl events --json 2>/dev/null |
		jq -c --arg ep "$1" --arg to "${2:-}" 'select(.backend == $ep and ($to == "" or .to == $to))'
}

# A counter of backend EP from 'vigilctl stats --json'. Prints nothing and
# returns 1, with the reason on stderr, when vigilctl fails, EP has no entry
# or the field is not a number: a "0" there would let "no connects after the
# ejection" pass with no data at all. Callers end the test on failure:
#   ATT=$(stat_of "$EP" connect_attempts) || die "no stats for $EP"
stat_of() { # EP FIELD
	local s v
	s=$(vigil_stats) || { warn "stat_of $1 $2: vigilctl stats failed"; return 1; }
	v=$(backend_get "$s" "$1" ".$2")
	if [[ ! "$v" =~ ^[0-9]+$ ]]; then
		warn "stat_of $1 $2: got '$v' (absent: no stats entry for this backend)"
		return 1
	fi
	echo "$v"
}

# Log the current backends table and the history (for the reader, and for
# diagnosis after a failure).
fo_show() {
	vctl backends 2>&1 | sed 's/^/  /'
}
fo_show_events() {
	vctl events 2>&1 | sed 's/^/  /'
}

# ---- load ----------------------------------------------------------------------------

# Start loadgen in the client namespace, inside the LB cgroup (whatever the
# netns, the cgroup hooks apply). Sets LG_PID and LG_LOG.
fo_loadgen_bg() { # loadgen options...
	# shellcheck disable=SC2016 # expanded by the inner bash
	start_bg bash -c 'echo $$ >"$0/cgroup.procs" && exec ip netns exec "$1" "$2" "${@:3}"' \
		"$FO_CGROUP" "$CLI_NS" "$LOADGEN" "$@"
	_fo_own_log
	# shellcheck disable=SC2153 # set by lib.sh's start_bg
	LG_PID=$BG_PID LG_LOG=$BG_LOG
}

# shellcheck disable=SC2317 # called through wait_until
_catches_usr1() { # PID
	local mask
	mask=$(awk '/^SigCgt:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
	[[ -n "$mask" ]] && (((16#$mask >> 9) & 1))
}

# Mark the fault time in running loadgens (SIGUSR1), each once it catches the
# signal: a loadgen still starting (its wrapper before exec, or loadgen
# before its handler is set) would be killed by it instead.
mark_fault() { # PID...
	local pid
	for pid in "$@"; do
		wait_until 5 _catches_usr1 "$pid" || warn "loadgen $pid does not catch SIGUSR1 yet"
	done
	kill -USR1 "$@"
}

# Wait (at most TIMEOUT_S) for the loadgen PID to end; LG_OUT gets its
# summary line. 1 if it did not end or printed no summary.
fo_loadgen_wait() { # PID LOG TIMEOUT_S
	local pid=$1 logf=$2
	if ! wait_until "$3" eval "! kill -0 $pid 2>/dev/null"; then
		warn "loadgen $pid still running after $3 s"
		return 1
	fi
	stop_pid "$pid"
	LG_OUT=$(grep -m1 '^requests=' "$logf")
	[[ -n "$LG_OUT" ]] || { warn "loadgen printed no summary:"; sed 's/^/  /' "$logf" >&2; return 1; }
}

# Run loadgen in the foreground (through the cgroup); LG_OUT gets its line.
fo_loadgen() { # loadgen options...
	local d=5000 a
	local -a args=("$@")
	for ((a = 0; a < ${#args[@]}; a++)); do
		[[ "${args[a]}" == -d ]] && d=${args[a + 1]}
	done
	fo_loadgen_bg "$@"
	fo_loadgen_wait "$LG_PID" "$LG_LOG" $((d / 1000 + 10)) || return 1
	log "loadgen $*: $LG_OUT"
}

# Value of KEY in a loadgen line (default LG_OUT); 0 when absent (served_X).
lg_get() { # KEY [LINE]
	local v
	v=$(cli_get "$1" "${2:-$LG_OUT}")
	[[ "$v" == absent ]] && v=0
	echo "$v"
}

# Whole milliseconds of a decimal "12.3" (last_fail_ms).
ms_int() { echo "${1%%.*}"; }

# Wall clock in ns (CLOCK_REALTIME, comparable with the events' wall_ns).
now_wall_ns() { echo "${EPOCHREALTIME/./}000"; }

# Stop vigild (VIGILD_PID) even if SIGSTOPped: SIGCONT, SIGTERM, wait up to
# TIMEOUT_S. Sets VIGILD_RC to its exit status ("running" if it did not
# exit; it is then killed by cleanup). The pins, links and sets stay.
fo_stop_vigild() { # [TIMEOUT_S]
	local pid=$VIGILD_PID
	VIGILD_RC=running
	kill -CONT "$pid" 2>/dev/null
	kill -TERM "$pid" 2>/dev/null
	wait_until "${1:-5}" eval "! kill -0 $pid 2>/dev/null" || return 1
	wait "$pid" 2>/dev/null
	# shellcheck disable=SC2034 # read by the tests
	VIGILD_RC=$?
	stop_pid "$pid"
}

# ---- config reload -------------------------------------------------------------

# "PID STARTTIME" of a running process (start time in clock ticks since boot,
# /proc/PID/stat field 22), or "PID gone" / "PID exited (state Z)". A PID is
# reused after exit; a PID and its start time name one process. kill -0 is no
# proof of life: it also succeeds on a zombie (a dead child not reaped yet).
proc_identity() { # PID
	local stat f
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo "$1 gone"; return 1; }
	# Field 2 (comm) is in parentheses and may contain spaces: split after it.
	read -r -a f <<<"${stat##*) }"
	# f[0] is field 3 (state), f[19] field 22 (starttime).
	case ${f[0]} in
	Z | X | x) echo "$1 exited (state ${f[0]})"; return 1 ;;
	esac
	echo "$1 ${f[19]}"
}

# shellcheck disable=SC2317 # called through wait_until
_log_count_above() { # PATTERN N
	(($(grep -c -- "$1" "$VIGILD_LOG") > $2))
}

# SIGHUP vigild and wait (5 s) for a new log line matching PATTERN; prints it.
hup_expect() { # PATTERN
	local before
	before=$(grep -c -- "$1" "$VIGILD_LOG")
	kill -HUP "$VIGILD_PID" || die "cannot signal vigild (pid $VIGILD_PID)"
	if ! wait_until 5 _log_count_above "$1" "$before"; then
		dump_vigild_log
		die "no log line matching '$1' within 5 s of SIGHUP"
	fi
	HUP_LINE=$(grep -- "$1" "$VIGILD_LOG" | tail -n1)
	log "vigild: $HUP_LINE"
}
