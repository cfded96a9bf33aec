# shellcheck shell=bash
# Helpers sourced by every tests/integration/test_*.sh.
#
# A test sources this file, then builds its world with netns_create,
# veth_pair, start_vigild, start_testsrv and checks counters with vigil_stats,
# backend_get/local_get and assert_*. Everything it creates is recorded and
# removed by cleanup (run from the EXIT trap), and nothing else is touched:
# processes are killed by recorded PID, namespaces and pin directories by
# recorded name. Every name carries VGL_ID ("vgl" + the test's PID), so runs
# never collide on names.
#
# Subnets come from alloc_net, never from a number written in the test: it
# hands out one no other test of this run (or of a concurrent one) uses.
# A test whose cases each need a world of their own (a fault leaves a backend
# dead) is table-driven with run_cases.
#
# Exit codes: 0 pass, 1 fail, 77 skip (not root or the kernel lacks a
# feature).

set -u

VGL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$VGL_ROOT/build}
VIGILD=${VIGILD:-$BUILD/vigild}
VIGILCTL=$BUILD/vigilctl
TESTSRV=$BUILD/tools/testsrv
TESTCLI=$BUILD/tools/testcli

VGL_SKIP=77
VGL_ID="vgl$$"
VGL_CASE=${VGL_CASE:-} # the case of a table-driven test (run_cases)
VGL_TEST=$(basename "$0" .sh)${VGL_CASE:+/$VGL_CASE}
# A random port per run in 20000-29999 (below the ephemeral range), so
# concurrent runs of the same test do not add to each other's counters.
# shellcheck disable=SC2034 # used by the tests
VGL_PORT=$((20000 + RANDOM % 10000))

# vigild's metrics endpoint (metrics.listen) in this run's configs: a random
# loopback port in 30000-32767 (above VGL_PORT's range, below the ephemeral
# one), so a test's vigild never meets another process on the default 9487.
# VGL_METRICS_YAML, when set, is written instead (metrics: {enabled: false}).
VGL_METRICS_PORT=$((30000 + RANDOM % 2768))
metrics_yaml() {
	echo "${VGL_METRICS_YAML:-metrics: {listen: \"127.0.0.1:$VGL_METRICS_PORT\"\}}"
}

VGL_TMP=""
VGL_PIDS=()       # background processes started by start_bg
VGL_NETNS=()      # namespaces created by netns_create
VGL_PIN_DIRS=()   # pin directories handed to vigild
VGL_CLEANUPS=()   # extra commands registered with on_cleanup (run LIFO)
VGL_FAILS=0
VGL_BG_SEQ=0     # numbers background logs; never reused within a run
VGL_PIN_DIR=""
VGL_CONFIG=""
VIGILD_PID=""
VIGILD_LOG=""
BG_PID=""
BG_LOG=""

# ---- output ---------------------------------------------------------------

log() { printf '[%s] %s\n' "$VGL_TEST" "$*"; }
warn() { printf '[%s] %s\n' "$VGL_TEST" "$*" >&2; }

# Fail now: message, then exit 1 (cleanup runs from the EXIT trap).
die() {
	warn "FAIL: $*"
	exit 1
}

skip() {
	log "SKIP: $*"
	exit "$VGL_SKIP"
}

# ---- assertions: print both values, count failures, return 0/1 -------------

assert_eq() { # NAME EXPECTED ACTUAL
	if [[ "$3" == "$2" ]]; then
		log "ok: $1 == $2"
		return 0
	fi
	warn "FAIL: $1: expected '$2', got '$3'"
	VGL_FAILS=$((VGL_FAILS + 1))
	return 1
}

_assert_cmp() { # OP NAME BOUND ACTUAL
	local op=$1 name=$2 bound=$3 actual=$4 holds=false
	if [[ "$actual" =~ ^-?[0-9]+$ ]]; then
		case $op in
		'>=') ((actual >= bound)) && holds=true ;;
		'<=') ((actual <= bound)) && holds=true ;;
		esac
	fi
	if $holds; then
		log "ok: $name == $actual ($op $bound)"
		return 0
	fi
	warn "FAIL: $name: expected $op $bound, got '$actual'"
	VGL_FAILS=$((VGL_FAILS + 1))
	return 1
}
assert_ge() { _assert_cmp '>=' "$@"; } # NAME MIN ACTUAL
assert_le() { _assert_cmp '<=' "$@"; } # NAME MAX ACTUAL

assert_true() { # NAME CMD...
	local name=$1
	shift
	if "$@" >/dev/null; then
		log "ok: $name"
		return 0
	fi
	warn "FAIL: $name (command: $*)"
	VGL_FAILS=$((VGL_FAILS + 1))
	return 1
}

# Several checks of one source at once, one per argument: KEY=VALUE (equal),
# KEY>=N or KEY<=N; GETTER KEY prints the actual value. Returns 1 if any failed.
_assert_checks() { # LABEL GETTER CHECK...
	local label=$1 getter=$2 chk key op want got bad=0 re='^([^<>=]+)(>=|<=|=)(.*)$'
	shift 2
	for chk in "$@"; do
		[[ "$chk" =~ $re ]] || die "bad check '$chk'"
		key=${BASH_REMATCH[1]} op=${BASH_REMATCH[2]} want=${BASH_REMATCH[3]}
		got=$("$getter" "$key")
		case $op in
		=) assert_eq "$label$key" "$want" "$got" ;;
		'>=') assert_ge "$label$key" "$want" "$got" ;;
		'<=') assert_le "$label$key" "$want" "$got" ;;
		esac || bad=1
	done
	return "$bad"
}

# Fields of a backend (endpoint EP) or local-port entry of stats JSON, e.g.
#   assert_backend "$S" "$EP" established="$N" refused=0 "syn_retrans>=$N"
# (quote the checks with < or >). KEY is a jq path below the entry
# (request_latency_us.count); "absent" is the value of a missing entry.
assert_backend() { # JSON EP CHECK...
	local _json=$1 _ep=$2
	shift 2
	_backend_key() { backend_get "$_json" "$_ep" ".$1"; }
	_assert_checks "$_ep " _backend_key "$@"
}
assert_local() { # JSON PORT CHECK...
	local _json=$1 _port=$2
	shift 2
	_local_key() { local_get "$_json" "$_port" ".$1"; }
	_assert_checks "local port $_port " _local_key "$@"
}

# Keys of testcli's summary line (CLI_OUT), e.g. assert_cli "ipv4 testcli" ok=50.
assert_cli() { # LABEL CHECK...
	local label=$1
	shift
	_assert_checks "$label " cli_get "$@"
}

# Last line of a test: exit 0 if every assertion held, else 1.
finish() {
	if ((VGL_FAILS > 0)); then
		warn "$VGL_FAILS assertion(s) failed"
		exit 1
	fi
	log "all assertions passed"
	exit 0
}

# ---- preconditions ------------------------------------------------------------

# Skip unless root with bpffs and network namespaces; fail if the binaries
# under test are missing (that is a build problem, not a missing feature).
# A fresh machine has no bpffs mounted: mount it at /sys/fs/bpf as vigild
# itself does (user/host.c), and skip only if that fails, so no test passes
# vacuously for want of a mount.
require_env() {
	local bin
	[[ $(id -u) -eq 0 ]] || skip "needs root"
	for bin in "$VIGILD" "$VIGILCTL" "$TESTSRV" "$TESTCLI"; do
		[[ -x "$bin" ]] || die "$bin not built (run make all)"
	done
	for bin in ip jq ss timeout; do
		command -v "$bin" >/dev/null || die "$bin not installed (run make deps)"
	done
	if [[ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" != bpf_fs ]]; then
		log "/sys/fs/bpf is not a bpf filesystem; mounting one"
		mount -t bpf -o mode=0700 bpf /sys/fs/bpf ||
			skip "/sys/fs/bpf is not a mounted bpf filesystem and mounting one failed"
		[[ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" == bpf_fs ]] ||
			skip "/sys/fs/bpf is still not a bpf filesystem after mounting"
	fi
	ip netns list >/dev/null 2>&1 || skip "no network namespace support"
}

# ---- cleanup -------------------------------------------------------------------

# Register a command to run at cleanup, before processes and namespaces go.
on_cleanup() { # CMD...
	VGL_CLEANUPS+=("$(printf '%q ' "$@")")
}

# Stop one recorded PID: SIGTERM, up to 5 s, then SIGKILL.
_stop_pid() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		warn "pid $pid ignored SIGTERM; killing"
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}

stop_pid() { # PID: stop a process started with start_bg and forget it
	local pid=$1 i
	_stop_pid "$pid"
	for i in "${!VGL_PIDS[@]}"; do
		[[ "${VGL_PIDS[$i]}" == "$pid" ]] && unset 'VGL_PIDS[i]'
	done
	return 0
}

cleanup() {
	local rc=$? i ns dir pids
	trap - EXIT INT TERM
	for ((i = ${#VGL_CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${VGL_CLEANUPS[$i]}" >/dev/null 2>&1 || true
	done
	# Newest first: clients and servers before vigild.
	pids=("${VGL_PIDS[@]}")
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		_stop_pid "${pids[$i]}"
	done
	for dir in "${VGL_PIN_DIRS[@]}"; do
		# Only ever our own /sys/fs/bpf/vigil-test-$VGL_ID-* directories.
		[[ "$dir" == /sys/fs/bpf/vigil-test-"$VGL_ID"-* ]] && rm -rf -- "$dir"
	done
	for ns in "${VGL_NETNS[@]}"; do
		ip netns delete "$ns" 2>/dev/null || true
	done
	_release_nets
	[[ -n "$VGL_TMP" && -d "$VGL_TMP" ]] && rm -rf -- "$VGL_TMP"
	exit "$rc"
}

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

VGL_TMP=$(mktemp -d "/tmp/vigil-$VGL_ID.XXXXXX") || die "mktemp failed"

# ---- polling -------------------------------------------------------------------

_now_us() { echo "${EPOCHREALTIME/./}"; }

# Run CMD every 0.1 s until it succeeds or TIMEOUT_S (whole) seconds pass.
wait_until() { # TIMEOUT_S CMD...
	local deadline
	deadline=$(($(_now_us) + $1 * 1000000))
	shift
	while true; do
		"$@" && return 0
		(($(_now_us) >= deadline)) && return 1
		sleep 0.1
	done
}

wait_file() { # PATH TIMEOUT_S
	wait_until "$2" test -e "$1"
}

# ---- subnets -------------------------------------------------------------------

# alloc_net hands out a subnet number N that no other test uses; the test then
# owns the links 10.N.K.0/24 and fd00:N:K::/64 (K = 0..255: 10.N.0.0/16,
# fd00:N::/32) and the virtual addresses 10.96.N.0/24 and fd00:96:N::/48.
# N runs through VGL_NET_FIRST..VGL_NET_LAST (100-250, so 10.N never meets
# 10.96) from a counter in $VGL_NET_STATE.next, round robin, under flock
# $VGL_NET_STATE.lock. Each N handed out is recorded with the test's PID in
# $VGL_NET_STATE until cleanup releases it (or the PID is gone: a killed run
# frees its numbers). A number is skipped while a live test holds it or while
# an address on any interface of the root or any named network namespace
# overlaps one of its ranges (a leftover namespace, a bench run, a hand-made
# link). Sets NET. Scripts that do not clean up through lib.sh must not use it.
VGL_NET_STATE=${VGL_NET_STATE:-/tmp/vigil-test-nets}
VGL_NET_FIRST=100
VGL_NET_LAST=250
VGL_NETS=() # numbers this test holds

# Every IPv4 and IPv6 address (ADDR/LEN) on an interface of the root or a
# named namespace, one per line.
_addrs_in_use() {
	local ns
	{
		ip -o addr show
		for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
			ip -n "$ns" -o addr show 2>/dev/null
		done
	} | awk '$3 == "inet" || $3 == "inet6" { print $4 }'
}

# Numbers N among the candidates (stdin, one a line) whose ranges no address
# in ADDRS overlaps. IPv4: prefixes overlap when they agree on the shorter
# length; IPv6: the ranges are fd00:N:: and fd00:96:N::, as ip prints them.
_nets_free() { # ADDRS_FILE
	awk -v addrs="$1" '
	function v4(a,   p) { split(a, p, "."); return ((p[1] * 256 + p[2]) * 256 + p[3]) * 256 + p[4] }
	function agree(x, y, len,   d) { d = 2 ^ (32 - len); return int(x / d) == int(y / d) }
	BEGIN {
		while ((getline line < addrs) > 0) {
			split(line, f, "/")
			if (f[1] ~ /:/) { split(f[1], g, ":"); if (g[1] == "fd00") six[g[2] == "96" ? "96:" g[3] : g[2]] = 1 }
			else { n4++; a4[n4] = v4(f[1]); l4[n4] = f[2] + 0 }
		}
	}
	{
		n = $1; own = v4("10." n ".0.0"); vip = v4("10.96." n ".0"); busy = (n in six) || (("96:" n) in six)
		for (i = 1; i <= n4 && !busy; i++)
			busy = agree(a4[i], own, l4[i] < 16 ? l4[i] : 16) || agree(a4[i], vip, l4[i] < 24 ? l4[i] : 24)
		if (!busy) print n
	}'
}

alloc_net() {
	local fd next n held addrs="$VGL_TMP/addrs.in-use" i
	exec {fd}>>"$VGL_NET_STATE.lock" || die "alloc_net: cannot open $VGL_NET_STATE.lock"
	flock -w 30 "$fd" || die "alloc_net: $VGL_NET_STATE.lock still held after 30 s"
	touch "$VGL_NET_STATE"
	# Forget the numbers of tests that are gone.
	held=$(while read -r n pid; do
		[[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$n $pid"
	done <"$VGL_NET_STATE")
	printf '%s\n' "$held" | sed '/^$/d' >"$VGL_NET_STATE"
	next=$(cat "$VGL_NET_STATE.next" 2>/dev/null)
	[[ "$next" =~ ^[0-9]+$ ]] && ((next >= VGL_NET_FIRST && next <= VGL_NET_LAST)) || next=$VGL_NET_FIRST
	_addrs_in_use >"$addrs"
	NET=""
	# The candidates from the counter on, wrapping round once.
	for n in $(for ((i = 0; i <= VGL_NET_LAST - VGL_NET_FIRST; i++)); do
		echo $(((next - VGL_NET_FIRST + i) % (VGL_NET_LAST - VGL_NET_FIRST + 1) + VGL_NET_FIRST))
	done | awk -v held="$VGL_NET_STATE" 'BEGIN { while ((getline l < held) > 0) { split(l, f, " "); h[f[1]] = 1 } }
		!($1 in h)' | _nets_free "$addrs"); do
		NET=$n
		break
	done
	if [[ -n "$NET" ]]; then
		echo "$NET $$" >>"$VGL_NET_STATE"
		echo $((NET == VGL_NET_LAST ? VGL_NET_FIRST : NET + 1)) >"$VGL_NET_STATE.next"
		VGL_NETS+=("$NET")
	fi
	exec {fd}>&-
	[[ -n "$NET" ]] || die "alloc_net: every subnet number $VGL_NET_FIRST-$VGL_NET_LAST is held or overlaps an address in use"
	log "subnet $NET: 10.$NET.0.0/16, fd00:$NET::/32, VIPs 10.96.$NET.0/24, fd00:96:$NET::/48"
}

# Give back the numbers this test holds (from cleanup).
_release_nets() {
	local fd n
	((${#VGL_NETS[@]})) || return 0
	exec {fd}>>"$VGL_NET_STATE.lock" || return 0
	flock -w 10 "$fd" || true
	for n in "${VGL_NETS[@]}"; do
		sed -i "/^$n $$\$/d" "$VGL_NET_STATE" 2>/dev/null
	done
	exec {fd}>&-
	VGL_NETS=()
}

# ---- table-driven tests ---------------------------------------------------------

# A test whose cases each need a world of their own (a fault leaves its
# backend dead or ejected) names them once, after sourcing the libs, and then
# runs the case VGL_CASE:
#   run_cases ipv4 ipv6
#   case $VGL_CASE in ... esac
# In the test's process run_cases runs the script again once per case, with
# VGL_CASE=CASE in the environment (so with a VGL_ID, subnet, namespaces and
# cleanup of its own), reports each case and exits: 1 if a case failed, else
# 77 if one skipped (it checked nothing), else 0. In a case's process it
# returns at once. VGL_CASES="A B" runs only those cases.
run_cases() { # CASE...
	local c rc want failed=() skipped=()
	[[ -n "$VGL_CASE" ]] && return 0
	for c in ${VGL_CASES:-}; do
		for want in "$@"; do [[ "$c" == "$want" ]] && continue 2; done
		die "no case '$c' (cases: $*)"
	done
	for c in ${VGL_CASES:-"$@"}; do
		log "---- case $c"
		VGL_CASE=$c bash "$0"
		rc=$?
		case $rc in
		0) log "case $c passed" ;;
		"$VGL_SKIP") log "case $c skipped"; skipped+=("$c") ;;
		*) warn "FAIL: case $c (exit $rc)"; failed+=("$c") ;;
		esac
	done
	((${#failed[@]} == 0)) || { warn "failed cases: ${failed[*]}"; exit 1; }
	((${#skipped[@]} == 0)) || skip "skipped cases: ${skipped[*]}"
	log "all cases passed: ${VGL_CASES:-$*}"
	exit 0
}

# ---- namespaces and links --------------------------------------------------------

# Create namespace "$VGL_ID-NAME" with lo up; sets NETNS to its full name.
netns_create() { # NAME
	NETNS="$VGL_ID-$1"
	ip netns add "$NETNS" || die "ip netns add $NETNS failed"
	VGL_NETNS+=("$NETNS")
	ip -n "$NETNS" link set lo up || die "lo up in $NETNS failed"
}

# Run a command inside a namespace.
ns_exec() { # NS CMD...
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# Link two namespaces with a veth pair named veth0 in both (created directly
# inside them, so nothing appears in the root namespace):
#   NS1: 10.NET.0.1/24 fd00:NET::1/64   NS2: 10.NET.0.2/24 fd00:NET::2/64
veth_pair() { # NS1 NS2 NET
	local ns1=$1 ns2=$2 net=$3
	ip link add veth0 netns "$ns1" type veth peer name veth0 netns "$ns2" ||
		die "veth between $ns1 and $ns2 failed"
	if ! { ip -n "$ns1" addr add "10.$net.0.1/24" dev veth0 &&
		ip -n "$ns2" addr add "10.$net.0.2/24" dev veth0 &&
		ip -n "$ns1" addr add "fd00:$net::1/64" dev veth0 nodad &&
		ip -n "$ns2" addr add "fd00:$net::2/64" dev veth0 nodad &&
		ip -n "$ns1" link set veth0 up &&
		ip -n "$ns2" link set veth0 up; }; then
		die "addressing veth0 in $ns1/$ns2 failed"
	fi
}

# The usual topology: namespaces "cli" and "srv" joined by veth subnet NET
# (from alloc_net). Sets CLI_NS, SRV_NS, SRV4 (10.NET.0.2), SRV6 (fd00:NET::2).
setup_topology() { # NET
	local net=$1
	netns_create cli
	CLI_NS=$NETNS
	netns_create srv
	SRV_NS=$NETNS
	veth_pair "$CLI_NS" "$SRV_NS" "$net"
	SRV4="10.$net.0.2"
	SRV6="fd00:$net::2"
	log "topology: $CLI_NS (10.$net.0.1, fd00:$net::1) <-> $SRV_NS ($SRV4, $SRV6)"
}

# The world of a monitor test: a subnet of its own, namespaces cli and srv
# (setup_topology), vigild watching the backend EP (SRV4:PORT, PORT is
# VGL_PORT) and the local port PORT, testsrv on EP with the options given.
mon_world() { # [testsrv options...]
	PORT=$VGL_PORT
	alloc_net
	setup_topology "$NET"
	EP="$SRV4:$PORT"
	write_config --backend "$EP" --local-port "$PORT"
	start_vigild "$VGL_CONFIG"
	start_testsrv "$SRV_NS" "$SRV4" "$PORT" "$@"
}

# ---- processes -------------------------------------------------------------------

# Start CMD in the background with output to a log file; records the PID.
# Sets BG_PID and BG_LOG (globals, so do not call it in $(...)).
start_bg() { # CMD...
	VGL_BG_SEQ=$((VGL_BG_SEQ + 1))
	BG_LOG="$VGL_TMP/bg.$VGL_BG_SEQ.log"
	"$@" >"$BG_LOG" 2>&1 &
	BG_PID=$!
	VGL_PIDS+=("$BG_PID")
}

# Start testsrv in NS and wait until it listens. Sets SRV_PID.
# Scheduling stalls, measured apart from vigild (run it with start_bg): sleeps
# PERIOD_MS (1-999) in a loop (read -t on a FIFO nobody writes: no fork per
# round) and writes every oversleep above 20 ms to OUT as "start_us stall_us"
# (start: when the sleep should have ended, so start + stall is when it did).
# When this loop does not run, neither do vigild nor the servers: this VM has
# such stalls several times a minute under load; they delay an ejection by up
# to their length and explain latency outliers. On a quiet machine OUT stays
# empty.
stall_monitor() { # FIFO OUT PERIOD_MS
	local fd t0 t1 d period_us=$(($3 * 1000)) secs
	secs=$(printf '0.%03d' "$3")
	exec {fd}<>"$1"
	while :; do
		t0=${EPOCHREALTIME/./}
		read -r -t "$secs" -u "$fd" _
		t1=${EPOCHREALTIME/./}
		d=$((t1 - t0 - period_us))
		((d > 20000)) && echo "$((t0 + period_us)) $d"
	done >"$2"
}

start_testsrv() { # NS ADDR PORT [testsrv options...]
	local ns=$1 addr=$2 port=$3 ready
	shift 3
	ready="$VGL_TMP/testsrv.$port.$RANDOM.ready"
	start_bg ip netns exec "$ns" "$TESTSRV" -l "$addr" -p "$port" --ready-file "$ready" "$@"
	SRV_PID=$BG_PID
	if ! wait_until 5 _ready_or_dead "$ready" "$SRV_PID" || [[ ! -e "$ready" ]]; then
		cat "$BG_LOG" >&2
		die "testsrv on $addr port $port in $ns did not start"
	fi
}

_ready_or_dead() { # FILE PID: true once FILE exists or PID has exited
	[[ -e "$1" ]] || ! kill -0 "$2" 2>/dev/null
}

# Run testcli in NS (bounded by timeout even though testcli bounds itself);
# prints its summary line. Sets CLI_OUT to the summary.
run_testcli() { # NS testcli options...
	local ns=$1
	shift
	CLI_OUT=$(timeout -k 5 300 ip netns exec "$ns" "$TESTCLI" "$@" 2>"$VGL_TMP/testcli.err")
	log "testcli $*: $CLI_OUT"
	if [[ -s "$VGL_TMP/testcli.err" ]]; then
		sed 's/^/  /' "$VGL_TMP/testcli.err" >&2
	fi
}

# Value of key K in testcli's summary line ("ok=N refused=N ...").
cli_get() { # KEY [SUMMARY]
	local kv
	for kv in ${2:-$CLI_OUT}; do
		[[ "$kv" == "$1="* ]] && { echo "${kv#*=}"; return 0; }
	done
	echo "absent"
}

# ---- vigild ----------------------------------------------------------------------

# Write a vigild config; sets VGL_CONFIG and VGL_PIN_DIR (a fresh
# /sys/fs/bpf/vigil-test-$VGL_ID-N per call).
#   write_config [--backend EP]... [--prefix P]... [--local-port N]... [--watch-all]
write_config() {
	local backends=() prefixes=() ports=() watch_all=false list item
	while (($# > 0)); do
		case $1 in
		--backend) backends+=("$2"); shift 2 ;;
		--prefix) prefixes+=("$2"); shift 2 ;;
		--local-port) ports+=("$2"); shift 2 ;;
		--watch-all) watch_all=true; shift ;;
		*) die "write_config: unknown option $1" ;;
		esac
	done
	VGL_PIN_DIR="/sys/fs/bpf/vigil-test-$VGL_ID-${#VGL_PIN_DIRS[@]}"
	VGL_PIN_DIRS+=("$VGL_PIN_DIR")
	VGL_CONFIG="$VGL_TMP/vigil-${#VGL_PIN_DIRS[@]}.yaml"
	{
		echo "daemon:"
		echo "  pin_dir: $VGL_PIN_DIR"
		echo "  log_level: info"
		echo "  watch_all: $watch_all"
		echo "watch:"
		list=""
		for item in "${backends[@]}"; do list+="${list:+, }\"$item\""; done
		echo "  backends: [$list]"
		list=""
		for item in "${prefixes[@]}"; do list+="${list:+, }\"$item\""; done
		echo "  prefixes: [$list]"
		list=""
		for item in "${ports[@]}"; do list+="${list:+, }$item"; done
		echo "  local_ports: [$list]"
		metrics_yaml
	} >"$VGL_CONFIG"
}

# Start vigild on CONFIG (default VGL_CONFIG) and wait up to 10 s for its
# ready file; on failure print its log and fail. Sets VIGILD_PID, VIGILD_LOG.
start_vigild() { # [CONFIG]
	local config=${1:-$VGL_CONFIG} ready="$VGL_TMP/vigild.$RANDOM.ready"
	[[ -n "$config" && -r "$config" ]] || die "start_vigild: no config"
	start_bg "$VIGILD" -c "$config" --ready-file "$ready"
	VIGILD_PID=$BG_PID
	VIGILD_LOG=$BG_LOG
	if ! wait_until 10 _ready_or_dead "$ready" "$VIGILD_PID" || [[ ! -e "$ready" ]]; then
		warn "vigild did not become ready within 10 s; config:"
		sed 's/^/  /' "$config" >&2
		warn "vigild log:"
		sed 's/^/  /' "$VIGILD_LOG" >&2
		die "vigild failed to start"
	fi
	log "vigild ready (pid $VIGILD_PID, pins in $VGL_PIN_DIR)"
}

# Print vigilctl's JSON stats for the current pin dir; 1 on failure.
vigil_stats() {
	local out
	if ! out=$("$VIGILCTL" --pin-dir "$VGL_PIN_DIR" stats --json 2>"$VGL_TMP/vigilctl.err"); then
		warn "vigilctl stats failed:"
		sed 's/^/  /' "$VGL_TMP/vigilctl.err" >&2
		return 1
	fi
	if ! jq -e . >/dev/null 2>&1 <<<"$out"; then
		warn "vigilctl printed invalid JSON: $out"
		return 1
	fi
	printf '%s\n' "$out"
}

# Print stats JSON compactly, one line per backend/local entry (diagnostics).
dump_stats() { # JSON
	warn "stats:"
	jq -c '.backends[]?, .local[]?, {inflight}' <<<"$1" | sed 's/^/  /' >&2
}

# Print the vigild log (for diagnostics after a failure).
dump_vigild_log() {
	[[ -n "$VIGILD_LOG" && -r "$VIGILD_LOG" ]] || return 0
	warn "vigild log (last 30 lines):"
	tail -n 30 "$VIGILD_LOG" | sed 's/^/  /' >&2
}

# ---- JSON ------------------------------------------------------------------------

# jq FILTER over JSON text; prints raw output.
json_get() { # JSON FILTER
	jq -r "$2" <<<"$1"
}

# Field of a backend entry: PATH is a jq path such as .established or
# .request_latency_us.buckets[15]. Prints "absent" when the endpoint has no
# entry, "null" when the field is missing.
backend_get() { # JSON ENDPOINT PATH
	jq -r --arg ep "$2" \
		"[.backends[]? | select(.endpoint == \$ep)] |
		 if length == 0 then \"absent\" else (.[0] | $3) end" <<<"$1"
}

# Field of a local-port entry, like backend_get.
local_get() { # JSON PORT PATH
	jq -r --argjson port "$2" \
		"[.local[]? | select(.port == \$port)] |
		 if length == 0 then \"absent\" else (.[0] | $3) end" <<<"$1"
}

# Poll vigil_stats until backend_get/local_get (or a plain jq filter) yields
# EXPECTED, for at most TIMEOUT_S (default 5) seconds. Leaves the last value
# in WAIT_LAST; returns 1 on timeout without counting a failure.
_stat_is() { # EXPECTED getter args...
	local expected=$1 json
	shift
	json=$(vigil_stats) || return 1
	WAIT_LAST=$("$@" "$json")
	[[ "$WAIT_LAST" == "$expected" ]]
}
_backend_getter() { backend_get "$3" "$1" "$2"; }
_local_getter() { local_get "$3" "$1" "$2"; }
_json_getter() { json_get "$2" "$1"; }

wait_backend() { # ENDPOINT PATH EXPECTED [TIMEOUT_S]
	wait_until "${4:-5}" _stat_is "$3" _backend_getter "$1" "$2" ||
		{ warn "waited ${4:-5} s for backend $1 $2 == $3; last: $WAIT_LAST"; return 1; }
}
wait_local() { # PORT PATH EXPECTED [TIMEOUT_S]
	wait_until "${4:-5}" _stat_is "$3" _local_getter "$1" "$2" ||
		{ warn "waited ${4:-5} s for local port $1 $2 == $3; last: $WAIT_LAST"; return 1; }
}
wait_json() { # FILTER EXPECTED [TIMEOUT_S]
	wait_until "${3:-5}" _stat_is "$2" _json_getter "$1" ||
		{ warn "waited ${3:-5} s for $1 == $2; last: $WAIT_LAST"; return 1; }
}
WAIT_LAST=""

# Number of TCP connections in NS, other than TIME_WAIT and listeners, whose
# local or remote port is PORT.
tcp_conns() { # NS PORT
	ns_exec "$1" ss -Htn state all "( sport = :$2 or dport = :$2 )" |
		awk '$1 != "TIME-WAIT" && $1 != "LISTEN"' | wc -l
}

_no_conns() { # PORT NS...
	local port=$1 ns
	shift
	for ns in "$@"; do
		[[ $(tcp_conns "$ns" "$port") -eq 0 ]] || return 1
	done
}

# Wait until no connection on PORT is open (TIME-WAIT aside) in any NS;
# on timeout print what is left and return 1.
wait_conns_closed() { # TIMEOUT_S PORT NS...
	local timeout=$1 port=$2 ns
	shift 2
	wait_until "$timeout" _no_conns "$port" "$@" && return 0
	for ns in "$@"; do
		warn "connections on port $port still open in $ns after $timeout s:"
		ns_exec "$ns" ss -tan | awk '$1 != "TIME-WAIT"' | head -n 20 >&2
	done
	return 1
}
