#!/bin/bash
# Mutation smoke test (make test-mutants): a guard for the tests themselves.
#
# Each mutant is one core behaviour switched off at build time: `make
# MUTANT=name` builds into build/mutant-name with -DVIGIL_MUTANT_NAME (user
# code and BPF programs), which enables the `#ifdef VIGIL_MUTANT_NAME` block in
# the product code. For every mutant this script builds it, runs the tests
# that guard the behaviour against the mutant build (each must FAIL) and
# against the normal build (each must PASS), and prints a table. A mutant
# that a guard does not notice means that guard does not test the behaviour.
#
#   tests/mutants.sh [-l] [MUTANT...]     (-l: list the table and exit)
#
# Guards (the fastest test that really covers the behaviour):
#   unit:SUITE[:TCASE]  the Check suite/test case (CK_RUN_SUITE/CK_RUN_CASE)
#                       of BUILD/unit-tests, without valgrind
#   bpf:BIN:T1,T2       BUILD/tests/bpf/BIN run with the named tests
#   int:TEST            tests/integration/run.sh TEST with RETRIES=0
# bpf and int guards create network namespaces: they run under
# flock $VIGIL_NET_LOCK (default /tmp/vigil-net.lock), unless that lock is
# already held by a parent process (flock /tmp/vigil-net.lock make
# test-mutants) or VIGIL_NET_LOCK_HELD=1.
#
# Verdicts: KILLED (every guard failed with the mutant, passed without),
# SURVIVED (no guard failed with it), PARTIAL (some guard passed with it),
# BROKEN (a guard did not pass on the normal build, or ran no test, or was
# skipped). Exit 0 only when every mutant was KILLED. Needs root (BPF,
# namespaces). Logs of every run are kept in a directory printed at the end.
set -u

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$dir/.." && pwd)
normal=${BUILD:-$root/build}
[[ $normal == /* ]] || normal=$root/$normal
lock=${VIGIL_NET_LOCK:-/tmp/vigil-net.lock}
jobs=${MAKE_JOBS:-2}

# name | what the mutant disables (where) | guards
MUTANTS=(
	"fastpath|kernel fast path: N hard failures never mark backend_health down (bpf/signals.h)|bpf:test_xdp_health:ipv4_rst_refused_fastpath int:test_failover_fastpath"
	"socklb_skip|the kernel's set choice (connect, both rescues, XDP backups) ignores the fast path's down flag (bpf/set_pick.h)|bpf:test_sock_lb:connect4_skips_down,connect6_skips_down_and_backups int:test_failover_fastpath"
	"stuck_connect|detector: connects pending past the limit do not count (user/lib/detector_rules.c)|unit:detector:hard_failures"
	"sockdestroy|SOCK_DESTROY skipped for matched sockets (user/vigild/sockdestroy.c)|int:test_sockdestroy"
	"teardown|vigild: a hard ejection does not tear connections down (user/vigild/failover.c)|int:test_failover_blackhole"
	"sock_iter|tear-down iterator: matched sockets are not destroyed (bpf/sock_iter.bpf.c)|int:test_failover_blackhole"
	"stall_kills|detector: a stalled backend's connections are all torn down (user/lib/detector_rules.c)|unit:detector:stall_not_death int:test_failover_stall int:test_xdp_requests"
	"sock_rescue|socket rescue: a connect never moves off its failed backend (bpf/sock_rescue.bpf.c)|bpf:test_sock_rescue:refused_connect_moves,refused_connect_targets int:test_sock_rescue"
	"xdp_reselect|XDP: a tracked flow keeps its ejected/draining/removed backend (bpf/lb_core.h)|bpf:test_xdp_conntrack:policy_reselect,policy_syn_repick,policy_removed"
	"xdp_requests|XDP: no request is tracked from the packets (bpf/xdp_requests.h)|bpf:test_xdp_requests:request_answered,client_retransmission,black_hole_summary int:test_xdp_requests"
	"rst_rescue|XDP: a backend's RST refusing a connect always reaches the client (bpf/lb_core.h)|bpf:test_xdp_rescue:rst_withheld_syn_resteered,rst_withheld_tc,rst_rescued_by_backup"
	"xdp_backups|XDP: no choice from the service's set when Maglev finds only down backends (bpf/lb_core.h)|bpf:test_xdp_rescue:all_primaries_down_backup,one_primary_down_no_backup"
	"syn_replay|vigild: SYNs waiting on an ejected backend are not replayed (user/vigild/failover.c)|int:test_xdp_fault"
	"backups|detector: backups never serve, fail open instead (user/lib/detector.c)|unit:detector:service_level int:test_failover_backups"
	"probe_readmit|detector: successful probes never re-admit (user/lib/detector.c)|unit:detector:probing_backoff"
	"maglev_weights|Maglev table ignores backend weights (user/lib/maglev.c)|unit:maglev:population"
	"lb_reapply|fed load balancers: a state HAProxy lost is never pushed again (user/lib/lbfeed.c)|unit:lbfeed:push"
)

field() { # ENTRY N
	local IFS='|'
	# shellcheck disable=SC2206 # split on | on purpose
	local f=($1)
	printf '%s' "${f[$2]}"
}

if [[ ${1:-} == -l ]]; then
	for m in "${MUTANTS[@]}"; do
		printf '%-15s %s\n%15s guards: %s\n' "$(field "$m" 0)" "$(field "$m" 1)" "" "$(field "$m" 2)"
	done
	exit 0
fi

selected=()
if (($# > 0)); then
	for want in "$@"; do
		found=""
		for m in "${MUTANTS[@]}"; do
			[[ $(field "$m" 0) == "$want" ]] && found=$m
		done
		[[ $found ]] || { echo "mutants.sh: no mutant $want (see -l)" >&2; exit 2; }
		selected+=("$found")
	done
else
	selected=("${MUTANTS[@]}")
fi

if [[ $(id -u) -ne 0 ]]; then
	echo "mutants.sh: needs root (BPF programs, network namespaces)" >&2
	exit 1
fi

logs=$(mktemp -d /tmp/vigil-mutants.XXXXXX) || exit 1
start_all=$SECONDS

# True when the flock on $lock is held by this process or one of its
# ancestors (flock(1) keeps the lock in its own process while the command
# runs): taking it again would wait for ourselves.
lock_held_by_us() {
	local ino holders p
	[[ ${VIGIL_NET_LOCK_HELD:-0} == 1 ]] && return 0
	ino=$(stat -c %i "$lock" 2>/dev/null) || return 1
	holders=" $(awk -v ino="$ino" '$2 == "FLOCK" { n = split($6, a, ":"); if (a[n] == ino) printf "%s ", $5 }' /proc/locks)"
	p=$$
	while [[ $p =~ ^[0-9]+$ ]] && ((p > 1)); do
		[[ $holders == *" $p "* ]] && return 0
		p=$(ps -o ppid= -p "$p" 2>/dev/null | tr -d ' ')
	done
	return 1
}

locked() { # CMD...: run CMD holding the network lock
	if lock_held_by_us; then
		"$@"
	else
		flock "$lock" "$@"
	fi
}

# Make targets a guard needs in build directory B.
targets_for() { # B GUARDS...
	local b=$1 g out=()
	shift
	for g in "$@"; do
		case $g in
		unit:*) out+=("$b/unit-tests") ;;
		bpf:*) out+=("$b/tests/bpf/$(cut -d: -f2 <<<"$g")") ;;
		int:*) out+=(all) ;;
		esac
	done
	printf '%s\n' "${out[@]}" | sort -u
}

build() { # B [MUTANT] GUARDS...: build what the guards need; log in $logs
	local b=$1 m=$2 log
	shift 2
	log=$logs/build-${m:-normal}.log
	# shellcheck disable=SC2046 # one target per line
	if ! make -C "$root" -j"$jobs" ${m:+MUTANT=$m} BUILD="$b" $(targets_for "$b" "$@") >"$log" 2>&1; then
		echo "mutants.sh: build ${m:-normal} failed:" >&2
		tail -n 30 "$log" >&2
		return 1
	fi
}

# Run guard G against build B; print PASS, FAIL or ERROR (ran nothing,
# skipped, or did not report), output in LOG.
run_guard() { # B G LOG
	local b=$1 g=$2 log=$3 kind arg cases rc n suite tcase
	kind=${g%%:*} arg=${g#*:}
	case $kind in
	unit)
		suite=${arg%%:*} tcase=""
		[[ $arg == *:* ]] && tcase=${arg#*:}
		env -u CK_RUN_CASE CK_RUN_SUITE="$suite" ${tcase:+CK_RUN_CASE="$tcase"} CK_FORK=yes \
			VIGIL_NO_VALGRIND=1 timeout -k 5 120 "$dir/unit/run.sh" "$b/unit-tests" >"$log" 2>&1
		rc=$?
		n=$(grep -oE 'Checks: [0-9]+' "$log" | tail -n1 | grep -oE '[0-9]+')
		if [[ -z $n || $n -eq 0 ]]; then echo ERROR
		elif ((rc == 0)); then echo PASS
		else echo FAIL; fi
		;;
	bpf)
		cases=${arg#*:}
		# shellcheck disable=SC2046 # the test names, comma-separated
		locked timeout -k 5 120 "$b/tests/bpf/${arg%%:*}" $(tr , ' ' <<<"$cases") >"$log" 2>&1
		rc=$?
		n=$(grep -cE '^(PASS|FAIL) ' "$log")
		if ((rc == 77)) || [[ $n -ne $(tr , '\n' <<<"$cases" | grep -c .) ]]; then echo ERROR
		elif ((rc == 0)); then echo PASS
		else echo FAIL; fi
		;;
	int)
		locked env -u VIGILD RETRIES=0 TEST_TIMEOUT="${MUTANT_TEST_TIMEOUT:-120}" BUILD="$b" \
			"$dir/integration/run.sh" "$arg" >"$log" 2>&1
		if grep -q "^PASS $arg " "$log"; then echo PASS
		elif grep -q "^FAIL $arg " "$log"; then echo FAIL
		else echo ERROR; fi
		;;
	*) echo ERROR ;;
	esac
}

declare -A normal_result=()
rows=()
bad=0

# A guard on the normal build runs once more when it fails, as make test's
# run.sh retries a failing test: these tests drive real traffic on a shared
# 2-core VM that stalls at times, and a failure of the normal build says
# nothing about a mutant. The first failure's tail is printed (stderr) and
# kept as normal.SLUG.first.log, so the retry never hides it; failing twice
# is BROKEN as before. Mutant runs are not retried: a retry could only turn
# a kill into a survival.
normal_guard() { # GUARD SLUG
	local r log=$logs/normal.$2.log
	r=$(run_guard "$normal" "$1" "$log")
	[[ $r == FAIL ]] || { echo "$r"; return; }
	mv "$log" "$logs/normal.$2.first.log"
	{
		echo "   $1 on the normal build: FAIL once, FLAKY if the retry passes; its tail:"
		tail -n 20 "$logs/normal.$2.first.log" | sed 's/^/     /'
	} >&2
	run_guard "$normal" "$1" "$log"
}

echo "== normal build ($normal)"
all_guards=()
for m in "${selected[@]}"; do
	read -ra g <<<"$(field "$m" 2)"
	all_guards+=("${g[@]}")
done
build "$normal" "" "${all_guards[@]}" || exit 1

for m in "${selected[@]}"; do
	name=$(field "$m" 0)
	read -ra guards <<<"$(field "$m" 2)"

	mb=$root/build/mutant-$name
	t0=$SECONDS
	echo "== mutant $name: $(field "$m" 1)"
	if ! build "$mb" "$name" "${guards[@]}"; then
		rows+=("$name|${guards[*]}|-|-|BROKEN (build)|$((SECONDS - t0))")
		bad=1
		continue
	fi
	with=() without=() killed=0 passed_with=0 broken=0
	for g in "${guards[@]}"; do
		slug=${g//[:,\/]/_}
		r=$(run_guard "$mb" "$g" "$logs/$name.$slug.mutant.log")
		with+=("$r")
		echo "   $g with the mutant: $r (expected FAIL)"
		if [[ -z ${normal_result[$g]:-} ]]; then
			normal_result[$g]=$(normal_guard "$g" "$slug")
			echo "   $g on the normal build: ${normal_result[$g]} (expected PASS)"
		fi
		without+=("${normal_result[$g]}")
		case $r in
		FAIL) killed=$((killed + 1)) ;;
		PASS) passed_with=$((passed_with + 1)) ;;
		*) broken=1; tail -n 20 "$logs/$name.$slug.mutant.log" | sed 's/^/     /' ;;
		esac
		if [[ ${normal_result[$g]} != PASS ]]; then
			broken=1
			tail -n 20 "$logs/normal.$slug.log" | sed 's/^/     /'
		fi
	done
	if ((broken)); then verdict=BROKEN
	elif ((killed == ${#guards[@]})); then verdict=KILLED
	elif ((killed == 0)); then verdict=SURVIVED
	else verdict=PARTIAL; fi
	[[ $verdict == KILLED ]] || bad=1
	rows+=("$name|${guards[*]}|${with[*]}|${without[*]}|$verdict|$((SECONDS - t0))")
done

echo
printf '%-15s %-72s %-10s %-10s %-9s %s\n' MUTANT GUARDS WITH WITHOUT VERDICT SECS
for r in "${rows[@]}"; do
	IFS='|' read -r a b c d e f <<<"$r"
	printf '%-15s %-72s %-10s %-10s %-9s %s\n' "$a" "$b" "${c// //}" "${d// //}" "$e" "$f"
done
echo "mutants: ${#rows[@]} run in $((SECONDS - start_all)) s; logs in $logs"
if ((bad)); then
	echo "mutants: FAILED: a mutant survived or a guard is broken on the normal build"
	exit 1
fi
echo "mutants: all killed"
