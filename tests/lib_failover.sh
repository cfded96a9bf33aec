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

# ---- topology ----------------------------------------------------------------------

# Client and server namespaces on subnet NET, N backend addresses in the
# server namespace. Sets CLI_NS, SRV_NS, B4[1..N] (10.NET.0.1I) and B6[1..N]
# (fd00:NET::1I).
fo_topology() { # NET N
	setup_topology "$1"
	backend_addrs "$SRV_NS" veth0 "10.$1.0" "fd00:$1:" "$2"
}

# N backend addresses on DEV in NS: B4[I] = V4NET.1I/24 and B6[I] =
# V6NET:1I/64 (V6NET such as "fd00:N:", giving fd00:N::1I), I = 1..N.
backend_addrs() { # NS DEV V4NET V6NET N
	local i
	B4=() B6=()
	for ((i = 1; i <= $5; i++)); do
		B4[i]="$3.1$i" B6[i]="$4:1$i"
		ip -n "$1" addr add "${B4[i]}/24" dev "$2" || die "adding ${B4[i]} failed"
		ip -n "$1" addr add "${B6[i]}/64" dev "$2" nodad || die "adding ${B6[i]} failed"
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
	FO_SRV_PIDS[idx]=$SRV_PID
}

# Backends 1..N: testsrv "bI" on B4[I]:PORT each; EP[I] gets "B4[I]:PORT".
# With FAMILY 6: on B6[I], EP[I] "[B6[I]]:PORT".
# shellcheck disable=SC2034 # EP is read by the tests
fo_servers() { # N PORT [FAMILY]
	local i addr
	EP=("")
	for ((i = 1; i <= $1; i++)); do
		if [[ ${3:-4} == 6 ]]; then
			addr=${B6[i]} EP[i]="[$addr]:$2"
		else
			addr=${B4[i]} EP[i]="$addr:$2"
		fi
		fo_server "$i" "$addr" "$2" "b$i"
	done
}

# The world of a socket failover test: a subnet of its own (alloc_net), client
# and server namespaces with N backend addresses, the LB cgroup, and testsrv
# "bI" on every backend address of FAMILY (4 or 6, default 4; "none": no
# server) at PORT (VGL_PORT). Sets NET, PORT, VIP4 (10.96.NET.10), VIP6
# (fd00:96:NET::10), and VIP, VIP_EP ("VIP:80", "[VIP]:80") for FAMILY;
# CLI_NS SRV_NS B4 B6 EP.
fo_world() { # N [FAMILY]
	local fam=${2:-4}
	alloc_net
	PORT=$VGL_PORT
	VIP4="10.96.$NET.10" VIP6="fd00:96:$NET::10"
	fo_topology "$NET" "$1"
	fo_cgroup
	[[ $fam == none ]] || fo_servers "$1" "$PORT" "$fam"
	_fo_vip "$fam"
}
_fo_vip() { # FAMILY
	# shellcheck disable=SC2034 # read by the tests
	if [[ $1 == 6 ]]; then VIP=$VIP6 VIP_EP="[$VIP6]:80"; else VIP=$VIP4 VIP_EP="$VIP4:80"; fi
}

# Two services on the same backend addresses (world from fo_world N none):
# testsrv "aI" on B4[I]:PA and "kI" on B4[I]:PK, I = 1..3 (FO_SRV_PIDS 1-3
# and 4-6), for a test with a service per connection mode. Sets A1 A2 A3
# and K1 K2 K3.
# shellcheck disable=SC2034 # read by the tests
fo_servers_two_ports() { # PA PK
	local i
	for i in 1 2 3; do
		fo_server "$i" "${B4[i]}" "$1" "a$i"
		fo_server $((i + 3)) "${B4[i]}" "$2" "k$i"
	done
	A1="${B4[1]}:$1" A2="${B4[2]}:$1" A3="${B4[3]}:$1"
	K1="${B4[1]}:$2" K2="${B4[2]}:$2" K3="${B4[3]}:$2"
}

# Kill backend IDX's testsrv (SIGKILL: no graceful close) and forget it;
# returns once it is gone (wait: at once, where a poll would sleep).
fo_kill_server() { # IDX
	local pid=${FO_SRV_PIDS[$1]}
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
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
# The daemon: section: pins in VGL_PIN_DIR, probes from namespace NS; and
# the metrics: section (lib.sh's metrics_yaml).
daemon_head() { # LOG_LEVEL NS
	printf 'daemon:\n  pin_dir: %s\n  log_level: %s\n  probe_netns: /var/run/netns/%s\n' \
		"$VGL_PIN_DIR" "$1" "$2"
	metrics_yaml
}

# FO_LOG_LEVEL (default info) sets vigild's log level.
fo_config_head() {
	daemon_head "${FO_LOG_LEVEL:-info}" "$CLI_NS"
	printf 'lb:\n  cgroup: %s\n' "$FO_CGROUP"
}

# The config of a failover test, in VGL_CONFIG (with a new pin dir from
# fo_new_config unless --rewrite, which rewrites it in place for a reload):
# the daemon head (fo_config_head, or xdp_config_head with --xdp), then
# detection: and services: from the options, in order:
#   --calm                the latency rules a test does not exercise, out of
#                         reach of this VM's scheduling stalls (a healthy
#                         testsrv can miss its CPU for 400 ms):
#                         slow_floor_ms 1000, stuck_request_floor_ms 2000,
#                         stall_floor_ms 2000
#   --detect 'KEY: VALUE' a line of detection: (repeatable)
#   --top 'YAML'          top-level YAML after detection:
#   --service NAME VIP    a service; VIP "A:P" or several, space-separated
#                         (then vips:); with --xdp it has datapath: xdp
#     --backends ITEM...  its primaries; an ITEM is an endpoint (quoted in the
#     --backups ITEM...   list) or a flow mapping ({address: "EP", weight: 2})
#     --set 'KEY: VALUE'  a line of the service (repeatable)
fo_conf() {
	local head=fo_config_head rewrite=false datapath="" detect=() top=() svcs="" list item
	while (($# > 0)); do
		case $1 in
		--rewrite) rewrite=true; shift ;;
		--xdp) head=xdp_config_head datapath=xdp; shift ;;
		--calm) detect+=("slow_floor_ms: 1000" "stuck_request_floor_ms: 2000" "stall_floor_ms: 2000"); shift ;;
		--detect) detect+=("$2"); shift 2 ;;
		--top) top+=("$2"); shift 2 ;;
		--service)
			svcs+="  - name: $2"$'\n'
			if [[ "$3" == *" "* ]]; then
				list=""
				for item in $3; do list+="${list:+, }\"$item\""; done
				svcs+="    vips: [$list]"$'\n'
			else
				svcs+="    vip: \"$3\""$'\n'
			fi
			[[ -n "$datapath" ]] && svcs+="    datapath: $datapath"$'\n'
			shift 3
			;;
		--backends | --backups)
			item=${1#--}
			shift
			list=""
			while (($# > 0)) && [[ "$1" != --* ]]; do
				if [[ "$1" == "{"* ]]; then list+="${list:+, }$1"; else list+="${list:+, }\"$1\""; fi
				shift
			done
			svcs+="    $item: [$list]"$'\n'
			;;
		--set) svcs+="    $2"$'\n'; shift 2 ;;
		*) die "fo_conf: unknown option $1" ;;
		esac
	done
	$rewrite || fo_new_config
	{
		"$head"
		if ((${#detect[@]})); then
			echo "detection:"
			printf '  %s\n' "${detect[@]}"
		fi
		((${#top[@]})) && printf '%s\n' "${top[@]}"
		echo "services:"
		printf '%s' "$svcs"
	} >"$VGL_CONFIG"
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

# ESTABLISHED client connections to EP in the client namespace.
estab_to() { # EP
	ns_exec "$CLI_NS" ss -Htn state established | awk -v p="$1" '$4 == p' | wc -l
}
# shellcheck disable=SC2317 # called through wait_until
estab_at_least() { (($(estab_to "$2") >= $1)); } # N EP

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
	mark_ready "$@"
	kill -USR1 "$@"
}

# Wait until each loadgen PID catches SIGUSR1 (then a plain kill -USR1 marks
# the fault at once: the check forks per PID).
mark_ready() { # PID...
	local pid
	for pid in "$@"; do
		wait_until 5 _catches_usr1 "$pid" || warn "loadgen $pid does not catch SIGUSR1 yet"
	done
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
	loadgen_fg fo_loadgen_bg "$@"
}

# Start a loadgen with START (fo_loadgen_bg, xlg_bg) and wait for it: its
# -d duration (default 5 s) plus 10 s. LG_OUT gets its summary line.
loadgen_fg() { # START loadgen options...
	local start=$1 d=5000 a
	shift
	local -a args=("$@")
	for ((a = 0; a < ${#args[@]}; a++)); do
		[[ "${args[a]}" == -d ]] && d=${args[a + 1]}
	done
	"$start" "$@"
	fo_loadgen_wait "$LG_PID" "$LG_LOG" $((d / 1000 + 10)) || return 1
	log "loadgen $*: $LG_OUT"
}

# Checks of the last loadgen summary (LG_OUT), as assert_backend's: KEY=N,
# 'KEY>=N', 'KEY<=N'; a served_NAME key is 0 when absent.
#   assert_lg baseline failed=0 'served_b1>=1' served_b3=0
assert_lg() { # LABEL CHECK...
	local label=$1
	shift
	_assert_checks "$label " lg_get "$@"
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

# ---- a fault under load ------------------------------------------------------------
# Shared by the socket and the XDP failover tests:
#   FAULT_LOAD=(xlg_bg -a "$VIP4" -p 80 -c 4 -d 4000 -t 1000 -s 1)
#   fault_under_load 1 "${EP[1]}" b1 fo_kill_server 1
#   expect_ejection web "${EP[1]}" 5 'fast_path|consecutive_failures' 1000
#   no_connects_after_ejection "${EP[1]}" b1 1.5
#   fault_load_end 15

# Start the fault load (the command in FAULT_LOAD, which sets LG_PID and
# LG_LOG), let it run SLEEP_S, record the victim EP's connect attempts and
# errors (ATT_BEFORE, ERR_BEFORE) and require connects to it (without them
# "none after the ejection" proves nothing), mark the fault in the load and
# in the loadgens FAULT_MARK (default none) and inject it: CMD... (dies if it
# fails). With FAULT_MARK_AFTER=1 the loadgens are marked once CMD has
# returned (the backend is dead or black-holed), so that "started after the
# fault" excludes requests a live backend took just before it failed (those
# are in flight at the fault). Sets FAULT_NS, and FLG_PID, FLG_LOG (the fault
# load).
fault_under_load() { # SLEEP_S EP LABEL CMD...
	local ep=$2 label=$3 mark=()
	"${FAULT_LOAD[@]}"
	FLG_PID=$LG_PID FLG_LOG=$LG_LOG
	sleep "$1"
	shift 3
	ATT_BEFORE=$(stat_of "$ep" connect_attempts) || die "no stats for $label"
	ERR_BEFORE=$(stat_of "$ep" errors) || die "no stats for $label"
	assert_ge "connect attempts to $label before the fault" 1 "$ATT_BEFORE"
	[[ -n "${FAULT_MARK+x}" ]] && mark=("${FAULT_MARK[@]}")
	mark_ready "$FLG_PID" "${mark[@]}"
	FAULT_NS=$(now_wall_ns)
	[[ ${FAULT_MARK_AFTER:-0} == 1 ]] || kill -USR1 "$FLG_PID" "${mark[@]}"
	"$@" || die "injecting the fault ($*) failed"
	[[ ${FAULT_MARK_AFTER:-0} == 1 ]] && kill -USR1 "$FLG_PID" "${mark[@]}"
	log "fault on $label ($ep): $*"
}

# Wait up to TIMEOUT_S for SERVICE's backend EP to be ejected (a failure if
# not) and check its first ejection: the rule matches RULES (an extended
# regex, the whole rule) and, with BOUND_MS, it came at most BOUND_MS after
# the fault (FAULT_NS). Sets EJ (the event), RULE and DETECT_MS ("none"
# without an event or a fault time).
expect_ejection() { # SERVICE EP TIMEOUT_S RULES [BOUND_MS]
	local ej_ns
	if wait_backend_field "$1" "$2" state ejected "$3"; then
		log "ok: $2 ejected"
	else
		VGL_FAILS=$((VGL_FAILS + 1))
	fi
	EJ=$(events_of "$2" ejected | head -n1)
	RULE=$(jq -r .rule <<<"$EJ" 2>/dev/null)
	ej_ns=$(jq -r .wall_ns <<<"$EJ" 2>/dev/null)
	DETECT_MS=none
	[[ "$ej_ns" =~ ^[0-9]+$ && -n "${FAULT_NS:-}" ]] && DETECT_MS=$(((ej_ns - FAULT_NS) / 1000000))
	log "ejection of $2, $DETECT_MS ms after the fault: $EJ"
	assert_true "ejection rule $RULE is $4" grep -qxE "$4" <<<"$RULE"
	[[ -z "${5:-}" ]] || assert_le "fault to ejection ms" "$5" "$DETECT_MS"
}

# Once ejected (or marked down by the fast path), EP gets no connect attempt
# (the passive monitors count every SYN) for SLEEP_S, or while CMD runs
# (a new client, say; it must succeed). Sets ATT_EJECTED, ATT_LATER and
# ERR_LATER (its errors).
no_connects_after_ejection() { # EP LABEL SLEEP_S [CMD...]
	ATT_EJECTED=$(stat_of "$1" connect_attempts) || die "no stats for $2"
	sleep "$3"
	if (($# > 3)); then
		"${@:4}" || die "$2: ${*:4} failed"
	fi
	ATT_LATER=$(stat_of "$1" connect_attempts) || die "no stats for $2"
	ERR_LATER=$(stat_of "$1" errors) || die "no stats for $2"
	log "$2 connect attempts: $ATT_EJECTED once out, $ATT_LATER later;" \
		"errors (refused + timeouts + resets): ${ERR_BEFORE:-?} before the fault, $ERR_LATER now"
	assert_eq "connect attempts to $2 once out (ejected or marked down)" "$ATT_EJECTED" "$ATT_LATER"
}

# Failures of a killed backend: both ejection rules need THRESHOLD
# consecutive failures the monitor saw, so its errors since the fault are at
# least THRESHOLD; the fast path marks it down at the THRESHOLD-th, and only
# connects that chose it before (at most one per other worker) fail after
# that: with WORKERS, at most THRESHOLD + WORKERS - 1 (not for a backend whose
# kept-alive connections die with it too).
assert_kill_errors() { # LABEL THRESHOLD [WORKERS]
	local n=$((ERR_LATER - ERR_BEFORE))
	assert_ge "failed connects to $1 the monitor counted (ejection threshold)" "$2" "$n"
	[[ -z "${3:-}" ]] || assert_le "failed connects to $1 (threshold + workers - 1)" $(($2 + $3 - 1)) "$n"
}

# The same bound on the requests of the fault load (LG_OUT) started after
# the kill.
assert_kill_failed_after() { # THRESHOLD WORKERS
	local after
	after=$(lg_get failed_after)
	if ((after > $1)); then
		warn "NOTE: $after failures after the kill > threshold $1: connects that chose" \
			"the victim before the failure that marked it down (concurrent workers)"
	fi
	assert_le "failed requests started after the fault (threshold + workers - 1)" $(($1 + $2 - 1)) "$after"
}

# After a kill under load (fault_under_load ... fo_kill_server): no connect
# to the victim EP for SLEEP_S, its errors and the failed requests of the
# fault load (which ends within TIMEOUT_S) within the kill bounds.
kill_checks() { # EP LABEL SLEEP_S THRESHOLD WORKERS TIMEOUT_S
	no_connects_after_ejection "$1" "$2" "$3"
	assert_kill_errors "$2" "$4" "$5"
	fault_load_end "$6"
	assert_kill_failed_after "$4" "$5"
}

# Wait (at most TIMEOUT_S) for the fault load to end; log its summary and
# its failures relative to the fault.
fault_load_end() { # TIMEOUT_S
	fo_loadgen_wait "$FLG_PID" "$FLG_LOG" "$1" || die "the fault load did not finish"
	log "loadgen across the fault: $LG_OUT"
	log "failures: in flight at the fault $(lg_get failed_inflight), started after it" \
		"$(lg_get failed_after), last one $(lg_get last_fail_ms) ms after the fault"
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
