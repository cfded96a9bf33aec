#!/bin/bash
# make bench, part 4: vigil feeding load balancers it does not run
# (docs/integrations.md). The same testbed as the failover bench, with the
# load balancer in the client namespace:
#
#   client netns: loadgen -> LB on 127.0.0.1 (HAProxy 2.6 mode tcp, or nginx
#                 stream), vigild's probes
#        | veth
#   server netns: testsrv b1, b2 (primaries), b3 (backup)
#
# Systems (SYSTEMS), the HAProxy ones all with HAProxy's defaults otherwise
# (timeout connect 5s, retries 3, no redispatch) so only the health
# checking differs:
#   haproxy-default  HAProxy with its default checks (check inter 2s fall 3 rise 2)
#   haproxy-fast     HAProxy with 100 ms checks (inter 100ms fastinter 100ms fall 2)
#   haproxy+vigil    HAProxy without checks, fed by vigild (haproxy: section)
#   haproxy-fast/rd, haproxy+vigil/rd   the same two with option redispatch
#                    (a retry goes to another server); vigild with
#                    haproxy.shutdown_sessions false (its own teardown of the
#                    server's connections lets HAProxy redispatch them)
#   nginx-passive    nginx alone, passive checks max_fails=1 fail_timeout=10s
#   nginx+vigil      the same nginx, its upstream include written by vigild
# Faults (FAULTS): kill (SIGKILL of b1's server), blackhole (nftables drops
# every packet to b1). Each case: BEFORE_MS of load (new connection per
# request, WORKERS clients), the fault, AFTER_MS more; REPEATS runs each
# (default one: "failed requests from one run"). Before each case's load,
# IDLE_MS without any client: the connections the servers then receive are
# health-check traffic (counted with an nftables rule on SYNs).
#
# Then the cost of an nginx reload (RELOADS SIGHUPs under load): time to a
# new worker, time until the old one exits, the master's CPU time, and the
# requests that failed meanwhile.
#
# Prints every figure docs/integrations.md quotes, and the targets: HAProxy
# + vigil fails >= 10x fewer requests than HAProxy's default checks and no
# more than its 100 ms checks, with no health-check traffic while healthy.
# The 100 ms checks' peer is the strongest configuration a careful operator
# runs: both with option redispatch (haproxy-fast/rd against
# haproxy+vigil/rd); the pair without redispatch is printed beside it.
# Asserts nothing. Output also in OUT (default docs/bench/lb-feed-<commit>.txt;
# OUT= writes none). Root; run under the project's lock:
#   flock /tmp/vigil-net.lock scripts/bench-lb-feed.sh
BENCH_NAME=bench-lb-feed
# shellcheck source=scripts/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"
set +e
need_root "creates namespaces, loads BPF programs"
need_tools haproxy nginx nft jq python3 awk
need_built "$BUILD/vigild" "$BUILD/vigilctl" "$BUILD/tools/loadgen" "$BUILD/tools/testsrv"
[[ "$BUILD" == /* ]] || BUILD=$PWD/$BUILD
WORKERS=${WORKERS:-50}
PAUSE_MS=${PAUSE_MS:-2}
TIMEOUT_MS=${TIMEOUT_MS:-2000}
BEFORE_MS=${BEFORE_MS:-2000}
AFTER_MS=${AFTER_MS:-12000}   # covers HAProxy's default checks on a blackhole (~9 s)
IDLE_MS=${IDLE_MS:-3000}
REPEATS=${REPEATS:-1}
RELOADS=${RELOADS:-10}
SYSTEMS=${SYSTEMS-"haproxy-default haproxy-fast haproxy+vigil haproxy-fast/rd haproxy+vigil/rd nginx-passive nginx+vigil"}
FAULTS=${FAULTS-"kill blackhole"}
COMMIT=$(git rev-parse --short HEAD 2>/dev/null) || COMMIT=unknown
[[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]] && COMMIT+=-dirty
OUT=${OUT-docs/bench/lb-feed-$COMMIT.txt}

# shellcheck source=tests/lib.sh
source tests/lib.sh
# shellcheck source=tests/lib_failover.sh
source tests/lib_failover.sh
# shellcheck source=tests/lib_lb.sh
source tests/lib_lb.sh
set -uo pipefail
fo_require_env
lb_require_env
W=$VGL_TMP
if [[ -n "$OUT" ]]; then
	mkdir -p -- "$(dirname -- "$OUT")" || die "cannot create the directory of $OUT"
	exec {SAVED_OUT}>&1 {SAVED_ERR}>&2
	exec > >(tee -- "$OUT") 2>&1
	TEE_PID=$!
fi

# ---- testbed --------------------------------------------------------------------------

backend_answers() { # I
	ns_exec "$CLI_NS" timeout 1 bash -c \
		"exec 3<>/dev/tcp/${B4[$1]}/$PORT && echo GET >&3 && read -r l <&3 && [[ \$l == 'OK b$1' ]]" 2>/dev/null
}
all_answer() { backend_answers 1 && backend_answers 2 && backend_answers 3; }
server_start() { fo_server "$1" "${B4[$1]}" "$PORT" "b$1"; disown "${FO_SRV_PIDS[$1]}"; }

fo_world 3
# The kill fault SIGKILLs a server: disowned, bash prints no job notice.
for i in 1 2 3; do disown "${FO_SRV_PIDS[i]}"; done
ns_exec "$CLI_NS" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65000" ||
	die "client sysctls failed"
wait_until 3 all_answer || die "backends do not answer"
# SYNs reaching the servers: client connections, health checks, probes.
ns_exec "$SRV_NS" nft -f - <<EOF || die "nft failed"
table inet vigil_bench_syn {
	chain input {
		type filter hook input priority -10; policy accept;
		tcp dport $PORT tcp flags & (syn | ack) == syn counter
	}
}
EOF
syn_count() {
	ns_exec "$SRV_NS" nft list table inet vigil_bench_syn |
		awk '{ for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }'
}

inject() { # FAULT: sets F_MONO_NS, F_WALL_NS
	case $1 in
	kill) F_WALL_NS=$(now_wall_ns); kill -USR1 "$LG_PID"; kill -KILL "${FO_SRV_PIDS[1]}" ;;
	blackhole)
		fo_blackhole vigil_bench_bh "${B4[1]}" "$PORT" || die "nft failed"
		F_WALL_NS=$(now_wall_ns)
		kill -USR1 "$LG_PID"
		;;
	esac
}
restore() { # FAULT
	case $1 in
	kill) stop_pid "${FO_SRV_PIDS[1]}"; server_start 1 ;;
	blackhole) fo_unblackhole vigil_bench_bh ;;
	esac
	wait_until 5 all_answer || die "backends do not answer after restoring the $1 fault"
}

# ---- the systems ----------------------------------------------------------------------

RD_DEFAULTS=$'    timeout connect 5s\n    retries 3\n    option redispatch 1'
FAST_CHECKS="check inter 100ms fastinter 100ms fall 2 rise 2"
NG_OPTS="max_fails=1 fail_timeout=10s"

vigil_conf() { # SYSTEM
	local shutdown=true
	[[ $1 == */rd ]] && shutdown=false
	fo_new_config
	{
		daemon_head info "$CLI_NS"
		echo "detection: {slow_floor_ms: 1000, stuck_request_floor_ms: 2000}"
		if [[ $1 == haproxy* ]]; then
			printf 'haproxy:\n  socket: %s\n  backends: [web]\n  shutdown_sessions: %s\n' \
				"$HP_SOCK" "$shutdown"
		else
			printf 'services:\n  - name: web\n    datapath: none\n'
			printf '    backends: ["%s", "%s"]\n    backups: ["%s"]\n' "${EP[1]}" "${EP[2]}" "${EP[3]}"
			printf 'nginx:\n  pid_file: %s\n  upstreams: [{service: web, file: %s, options: "%s"}]\n' \
				"$NG_PIDFILE" "$NG_INCLUDE" "$NG_OPTS"
		fi
	} >"$VGL_CONFIG"
}

lb_up() { # SYSTEM
	case $1 in
	haproxy-default) hp_config "check inter 2s fall 3 rise 2" >"$W/hp.cfg"; hp_start "$W/hp.cfg" ;;
	haproxy-fast) hp_config "$FAST_CHECKS" >"$W/hp.cfg"; hp_start "$W/hp.cfg" ;;
	haproxy-fast/rd) hp_config "$FAST_CHECKS" "$RD_DEFAULTS" >"$W/hp.cfg"; hp_start "$W/hp.cfg" ;;
	haproxy+vigil*)
		if [[ $1 == */rd ]]; then hp_config "" "$RD_DEFAULTS"; else hp_config; fi >"$W/hp.cfg"
		hp_start "$W/hp.cfg"
		vigil_conf "$1"
		start_vigild "$VGL_CONFIG" >/dev/null
		wait_backend_field web "${EP[3]}" role backup 5 || die "vigild made no service from HAProxy"
		;;
	nginx-passive) ng_static_include "$NG_OPTS"; ng_config >"$W/ng.cfg"; ng_start "$W/ng.cfg" ;;
	nginx+vigil)
		rm -f -- "$NG_INCLUDE"
		vigil_conf "$1"
		start_vigild "$VGL_CONFIG" >/dev/null
		wait_file "$NG_INCLUDE" 5 || die "vigild wrote no include"
		ng_config >"$W/ng.cfg"
		ng_start "$W/ng.cfg"
		;;
	esac
}

lb_down() { # SYSTEM
	if [[ $1 == *vigil* ]]; then
		vctl events --json >"$W/events" 2>/dev/null
		vctl stats --json >"$W/stats" 2>/dev/null
		cp -- "$VIGILD_LOG" "$W/vigild.log"
		stop_pid "$VIGILD_PID"
		[[ "$VGL_PIN_DIR" == /sys/fs/bpf/vigil-test-"$VGL_ID"-* ]] && rm -rf -- "$VGL_PIN_DIR"
	fi
	[[ $1 == haproxy* ]] && { cp -- "$HP_LOG" "$W/lb.log"; hp_stop; }
	[[ $1 == nginx* ]] && ng_stop
	return 0
}

# Fault to "out of the load balancer's choice", ms: vigil's ejection plus
# the push (HAProxy's answer, or nginx's reload signal); HAProxy alone: its
# "Server web/b1 is DOWN" line (polled, within 10 ms); nginx alone: no such
# record ("-").
detect_ms() { # SYSTEM
	local ej push
	if [[ $1 == *vigil* ]]; then
		ej=$(jq -r --arg b "${EP[1]}" --argjson t "$F_WALL_NS" \
			'select(.backend == $b and .to == "ejected" and .wall_ns >= $t) | .wall_ns' "$W/events" | head -n1)
		[[ -n "$ej" ]] || { echo -; return; }
		if [[ $1 == haproxy* ]]; then
			push=$(grep -m1 "set server web/b1 health down" "$W/vigild.log" |
				sed -n 's/.*acknowledged after \([0-9]*\) us.*/\1/p')
		else
			push=$(jq -r '.feeds.nginx.sent_us.p50 // 0' "$W/stats")
		fi
		awk -v e="$ej" -v t="$F_WALL_NS" -v p="${push:-0}" 'BEGIN { printf "%.1f", (e - t) / 1e6 + p / 1000 }'
	elif [[ $1 == haproxy* ]]; then
		awk -v t="$F_WALL_NS" '$1 >= t / 1e9 && /b1 is DOWN/ { printf "%.1f", ($1 - t / 1e9) * 1000; found = 1; exit }
			END { if (!found) print "-" }' "$W/down.times"
	else
		echo -
	fi
}

# HAProxy's view of b1 every 10 ms (HAProxy alone), as "EPOCH b1 is DOWN".
hp_watch() {
	while :; do
		[[ "$(hp_server_field b1 srv_op_state 2>/dev/null)" == 0 ]] && echo "$EPOCHREALTIME b1 is DOWN"
		sleep 0.01
	done
}

declare -A R

run_case() { # SYSTEM FAULT REPEAT
	local sys=$1 fault=$2 key="$1,$2,$3" syn0 watch="" watch_log=""
	lb_up "$sys"
	syn0=$(syn_count)
	sleep "$(awk -v m="$IDLE_MS" 'BEGIN { print m / 1000 }')"
	R[$key,idle_syn_s]=$(awk -v a="$syn0" -v b="$(syn_count)" -v m="$IDLE_MS" 'BEGIN { printf "%.1f", (b - a) / (m / 1000) }')
	: >"$W/down.times"
	if [[ $sys == haproxy-* ]]; then
		start_bg hp_watch
		watch=$BG_PID watch_log=$BG_LOG
	fi
	fo_loadgen_bg -a 127.0.0.1 -p "$LB_PORT" -c "$WORKERS" -d $((BEFORE_MS + AFTER_MS)) \
		-t "$TIMEOUT_MS" -s "$PAUSE_MS"
	wait_until 5 _catches_usr1 "$LG_PID" || die "loadgen did not start"
	sleep "$(awk -v m="$BEFORE_MS" 'BEGIN { print m / 1000 }')"
	inject "$fault"
	fo_loadgen_wait "$LG_PID" "$LG_LOG" $((AFTER_MS / 1000 + 15)) || die "loadgen printed no result"
	if [[ -n "$watch" ]]; then
		stop_pid "$watch"
		cp -- "$watch_log" "$W/down.times"
	fi
	lb_down "$sys"
	restore "$fault"
	for f in requests failed_inflight failed_after last_fail_ms; do R[$key,$f]=$(lg_get "$f"); done
	R[$key,detect_ms]=$(detect_ms "$sys")
	printf '  %-16s %-9s %2d %8s %6s %6s %8s %9s %8s\n' "$sys" "$fault" "$3" "${R[$key,requests]}" \
		"${R[$key,failed_inflight]}" "${R[$key,failed_after]}" "${R[$key,last_fail_ms]}" \
		"${R[$key,detect_ms]}" "${R[$key,idle_syn_s]}"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'; }
vals() { # SYSTEM FAULT FIELD
	local r
	for ((r = 1; r <= REPEATS; r++)); do echo "${R[$1,$2,$r,$3]:-}"; done | sed '/^$/d'
}
med() { vals "$@" | median; }

# ---- nginx reload cost -------------------------------------------------------------------

# CPU time of PID in ns (the scheduler's own count, /proc/PID/schedstat).
cpu_ns() { read -r ns _ <"/proc/$1/schedstat"; echo "$ns"; }

reload_cost() {
	local i t0 t_new t_old old new p before after
	ng_static_include "$NG_OPTS"
	ng_config >"$W/ng.cfg"
	ng_start "$W/ng.cfg"
	fo_loadgen_bg -a 127.0.0.1 -p "$LB_PORT" -c "$WORKERS" -d $((RELOADS * 1000 + 2000)) \
		-t "$TIMEOUT_MS" -s "$PAUSE_MS"
	sleep 1
	: >"$W/reloads"
	for ((i = 1; i <= RELOADS; i++)); do
		old=$(ng_workers)
		before=$(cpu_ns "$NG_PID")
		t0=${EPOCHREALTIME/./}
		kill -HUP "$NG_PID"
		t_new="" t_old=""
		while [[ -z "$t_old" ]] && ((${EPOCHREALTIME/./} - t0 < 5000000)); do
			new=$(ng_workers)
			[[ -z "$t_new" ]] && for p in $new; do
				[[ " $old " == *" $p "* ]] || t_new=${EPOCHREALTIME/./}
			done
			if [[ -n "$t_new" ]]; then
				local gone=1
				for p in $old; do [[ -d /proc/$p ]] && gone=0; done
				((gone)) && t_old=${EPOCHREALTIME/./}
			fi
			sleep 0.001
		done
		after=$(cpu_ns "$NG_PID")
		echo "$(((${t_new:-$t0} - t0) / 1000)) $(((${t_old:-$t0} - t0) / 1000)) $(((after - before) / 1000))" >>"$W/reloads"
		sleep 0.8
	done
	fo_loadgen_wait "$LG_PID" "$LG_LOG" $((RELOADS + 20)) || die "loadgen printed no result"
	ng_stop
	RELOAD_LG=$LG_OUT
}

# ---- run -----------------------------------------------------------------------------------

T0=$EPOCHREALTIME
printf 'vigil load-balancer feed bench (scripts/bench-lb-feed.sh)\n'
printf 'commit %s, date %s, kernel %s, %s CPUs, load average at start %s\n' "$COMMIT" \
	"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(uname -r)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%s; %s\n' "$(haproxy -v | head -n1)" "$(nginx -v 2>&1)"
printf 'loadgen: WORKERS=%s PAUSE_MS=%s TIMEOUT_MS=%s, new connection per request; BEFORE_MS=%s AFTER_MS=%s IDLE_MS=%s REPEATS=%s\n' \
	"$WORKERS" "$PAUSE_MS" "$TIMEOUT_MS" "$BEFORE_MS" "$AFTER_MS" "$IDLE_MS" "$REPEATS"
printf 'testbed: client netns %s, servers b1 %s, b2 %s (primaries), b3 %s (backup)\n' "$CLI_NS" \
	"${EP[1]}" "${EP[2]}" "${EP[3]}"
printf '\nHAProxy (haproxy -db, normal scheduling policy; vigild at its default SCHED_RR 10):\n'
printf '  haproxy-default: %s\n' "check inter 2s fall 3 rise 2; timeout connect 5s, retries 3"
printf '  haproxy-fast:    %s\n' "$FAST_CHECKS; timeout connect 5s, retries 3"
printf '  haproxy+vigil:   %s\n' "no check; timeout connect 5s, retries 3; vigild: haproxy: {backends: [web]}"
printf '  .../rd:          %s\n' "the same with option redispatch 1 (vigild: haproxy.shutdown_sessions false)"
printf 'nginx (stream, 1 worker, proxy_connect_timeout 5s):\n'
printf '  nginx-passive:   server ... %s (static include)\n' "$NG_OPTS"
printf '  nginx+vigil:     the same, the include written by vigild (nginx: pid_file, reload_interval_ms 200)\n'

printf '\nruns (system, fault, repeat, then: requests failed_inflight failed_after last_fail_ms detect_ms idle_syn/s):\n'
for ((rep = 1; rep <= REPEATS; rep++)); do
	for fault in $FAULTS; do
		for sys in $SYSTEMS; do run_case "$sys" "$fault" "$rep"; done
	done
done

printf '\n==== results (medians over %s repeat(s)) ====\n' "$REPEATS"
printf 'failed_after: requests started after the fault that failed; failed_inflight: started before;\n'
printf 'detect_ms: fault to the server out of the load balancer'"'"'s choice (vigil: ejection + the push);\n'
printf 'idle_syn/s: connections the servers received per second with no client at all (health checks).\n\n'
printf '%-16s %-9s %8s %14s %12s %10s\n' system fault failed_after failed_inflight detect_ms idle_syn/s
for fault in $FAULTS; do
	for sys in $SYSTEMS; do
		printf '%-16s %-9s %8s %14s %12s %10s\n' "$sys" "$fault" "$(med "$sys" "$fault" failed_after)" \
			"$(med "$sys" "$fault" failed_inflight)" "$(med "$sys" "$fault" detect_ms)" \
			"$(med "$sys" "$fault" idle_syn_s)"
	done
done

printf '\ntargets (HAProxy + vigil):\n'
for fault in $FAULTS; do
	v=$(med haproxy+vigil "$fault" failed_after) d=$(med haproxy-default "$fault" failed_after)
	f=$(med haproxy-fast "$fault" failed_after)
	vr=$(med haproxy+vigil/rd "$fault" failed_after) fr=$(med haproxy-fast/rd "$fault" failed_after)
	[[ $v == - || $d == - || $f == - ]] && continue
	awk -v fault="$fault" -v v="$v" -v d="$d" -v f="$f" -v vr="$vr" -v fr="$fr" 'BEGIN {
		r = d / (v == 0 ? 1 : v)
		printf "  %-9s default checks / vigil = %s / %s = %.1fx (target >= 10x: %s)\n", fault, d, v, r,
			(r >= 10) ? "met" : "MISSED"
		printf "  %-9s with redispatch (the careful operator): vigil %s <= 100 ms checks %s: %s\n", "", vr, fr,
			(vr == "-" || fr == "-") ? "not run" : (vr + 0 <= fr + 0) ? "met" : "MISSED"
		printf "  %-9s (without redispatch: vigil %s, 100 ms checks %s)\n", "", v, f }'
done
idle=$(for fault in $FAULTS; do vals haproxy+vigil "$fault" idle_syn_s; done | awk '{ s += $1 } END { print s + 0 }')
printf '  health-check connections while healthy, haproxy+vigil: %s/s (target 0: %s)\n' "$idle" \
	"$(awk -v i="$idle" 'BEGIN { print i == 0 ? "met" : "MISSED" }')"
printf 'nginx + vigil / nginx passive alone, failed_after:'
for fault in $FAULTS; do
	printf ' %s %s / %s;' "$fault" "$(med nginx+vigil "$fault" failed_after)" "$(med nginx-passive "$fault" failed_after)"
done
printf '\n'

if ((RELOADS > 0)); then
	reload_cost
	printf '\nnginx reload cost (%s SIGHUPs under the same load, one worker):\n' "$RELOADS"
	col() { awk -v c="$1" '{ print $c }' "$W/reloads"; }
	printf '  SIGHUP -> new worker running:  p50 %s ms, max %s ms\n' "$(col 1 | median)" "$(col 1 | sort -g | tail -n1)"
	printf '  SIGHUP -> old worker exited:   p50 %s ms, max %s ms\n' "$(col 2 | median)" "$(col 2 | sort -g | tail -n1)"
	printf '  master CPU per reload:         p50 %s us, max %s us\n' "$(col 3 | median)" "$(col 3 | sort -g | tail -n1)"
	printf '  load across the reloads: %s\n' "$RELOAD_LG"
fi
printf '\nrun time %.0f s\n' "$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')"
if [[ -n "$OUT" ]]; then
	exec >&"$SAVED_OUT"
	exec 2>&"$SAVED_ERR"
	wait "$TEE_PID"
fi
