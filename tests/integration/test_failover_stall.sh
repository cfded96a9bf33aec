#!/bin/bash
# A stall is not a death (docs/detection.md, "A stall is not a death"): a
# server process that stops (SIGSTOP: a GC pause, a debugger) still has its
# kernel acknowledge every request, so vigil takes it out for new
# connections only and every request in flight completes once it runs again;
# a short stall and a connection spike on healthy backends eject nothing.
# Default detection settings throughout: these are the defaults under test.
#   A. b1 stopped for 300 ms under load (new connection per request):
#      nothing ejected, no failed request.
#   B. a 10x connection spike (4 workers, then 40 more for 2 s, a new
#      connection per request) on healthy backends: nothing ejected, no
#      failed request.
#   C. b1 stopped for 1 s (new connection per request, 2 s client timeout):
#      b1 ejected by rule "stalled", its connections not torn down (the
#      tear-down destroys none), no failed request.
#   D. k1 stopped for 1 s behind kept-alive connections: the same, and the
#      very connections to k1 live on and serve again after the stall.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
fo_require_env

fo_world 3 none
fo_servers_two_ports "$PORT" $((PORT + 1)) # service conn (A, B, C), service keep (D)
# The spike opens thousands of connections in 2 s from one namespace.
ns_exec "$CLI_NS" sysctl -qw net.ipv4.tcp_tw_reuse=1 || die "tcp_tw_reuse in $CLI_NS failed"

fo_conf --service conn "$VIP:80" --backends "$A1" "$A2" --backups "$A3" \
	--set "probe: {timeout_ms: 300}" \
	--service keep "$VIP:81" --backends "$K1" "$K2" --backups "$K3" \
	--set "probe: {timeout_ms: 300}"
start_vigild "$VGL_CONFIG"

# Stop process PID for MS milliseconds.
pause_process() { # PID MS
	kill -STOP "$1" || die "cannot stop pid $1"
	sleep "$(printf '%d.%03d' $(($2 / 1000)) $(($2 % 1000)))"
	kill -CONT "$1" || die "cannot resume pid $1"
}

ejections() { vctl events --json 2>/dev/null | jq -c 'select(.to == "ejected")'; }
fast_path_downs() { grep -c 'failure kind=fast_path_down' "$VIGILD_LOG"; }

# Nothing ejected and nothing marked down by the kernel fast path so far.
assert_nothing_ejected() { # LABEL
	local ej
	ej=$(ejections)
	[[ -z "$ej" ]] || log "$1: ejections: $ej"
	assert_eq "$1: ejections" 0 "$(grep -c . <<<"$ej")"
	assert_eq "$1: backends the kernel fast path marked down" 0 "$(fast_path_downs)"
}

# The first ejection of EP is by rule stalled, and its tear-down destroyed
# nothing (only connections with unacknowledged data would go: none).
assert_stalled_kept() { # LABEL EP
	local ej line
	ej=$(events_of "$2" ejected | head -n1)
	log "$1: ejection of $2: $ej"
	assert_eq "$1: rule of the ejection of $2" stalled "$(jq -r .rule <<<"$ej" 2>/dev/null)"
	assert_eq "$1: later tear-downs of $2 (ejected -> ejected)" 0 \
		"$(events_of "$2" | jq -c 'select(.from == "ejected" and .to == "ejected")' | grep -c .)"
	wait_until 3 grep -q "tore down [0-9]* connections to $2 " "$VIGILD_LOG"
	line=$(grep "tore down [0-9]* connections to $2 " "$VIGILD_LOG" | head -n1)
	log "$1: vigild: $line"
	assert_true "$1: tear-down of $2 only for unacknowledged data" \
		grep -q "kind unacknowledged only" <<<"$line"
	assert_true "$1: tear-down of $2 destroyed no connection" \
		grep -q "tore down 0 connections" <<<"$line"
}

# ---- A: a 300 ms stall ----------------------------------------------------------------
log "A: a1 stopped for 300 ms, new connection per request"
fo_loadgen_bg -a "$VIP" -p 80 -c 8 -d 3000 -t 2000 -s 1
sleep 1
pause_process "${FO_SRV_PIDS[1]}" 300
fo_loadgen_wait "$LG_PID" "$LG_LOG" 15 || die "loadgen A did not finish"
log "A: $LG_OUT"
assert_lg "A (300 ms stall)" failed=0 'served_a1>=1' 'served_a2>=1'
sleep 0.5 # a late decision would come within the stall limit
assert_nothing_ejected "A (300 ms stall)"

# ---- B: a 10x connection spike --------------------------------------------------------
log "B: 4 workers, then 40 more for 2 s, new connection per request"
fo_loadgen_bg -a "$VIP" -p 80 -c 4 -d 4000 -t 2000 -s 1
BASE_PID=$LG_PID BASE_LOG=$LG_LOG
sleep 1
fo_loadgen_bg -a "$VIP" -p 80 -c 40 -d 2000 -t 2000 -s 1
fo_loadgen_wait "$LG_PID" "$LG_LOG" 15 || die "loadgen B (spike) did not finish"
log "B spike: $LG_OUT"
assert_lg "B (spike)" failed=0 'requests>=1000'
SPIKE_REQ=$(lg_get requests)
fo_loadgen_wait "$BASE_PID" "$BASE_LOG" 15 || die "loadgen B (base) did not finish"
log "B base: $LG_OUT"
assert_lg "B (base)" failed=0
log "B: $SPIKE_REQ requests in the 2 s spike"
assert_nothing_ejected "B (10x connection spike)"

# ---- C: a 1 s stall, new connection per request --------------------------------------------
log "C: a1 stopped for 1 s, new connection per request (client timeout 2 s)"
FAULT_LOAD=(fo_loadgen_bg -a "$VIP" -p 80 -c 8 -d 4000 -t 2000 -s 1)
fault_under_load 1 "$A1" a1 pause_process "${FO_SRV_PIDS[1]}" 1000
fault_load_end 15
assert_lg "C (1 s stall)" failed=0 'served_a1>=1' 'served_a2>=1'
assert_stalled_kept C "$A1"

# ---- D: a 1 s stall behind kept-alive connections -------------------------------------------
log "D: k1 stopped for 1 s, kept-alive connections"
# The stalled rule needs 3 requests waiting on k1 (consecutive_failures): 24
# connections spread over two primaries leave fewer than 3 on k1 once in
# 50000 runs.
fo_loadgen_bg -a "$VIP" -p 81 -c 24 -d 4000 -t 2000 -k -s 1
KLG_PID=$LG_PID KLG_LOG=$LG_LOG
wait_until 5 estab_at_least 3 "$K1" || die "fewer than 3 of 24 kept-alive connections to $K1"
sleep 0.5
# The client ports of the connections to k1: the same sockets must live on.
k1_ports() { ns_exec "$CLI_NS" ss -Htn state established | awk -v p="$K1" '$4 == p { print $3 }' | sort; }
PORTS_BEFORE=$(k1_ports)
log "D: connections to $K1 before the stall: $(grep -c . <<<"$PORTS_BEFORE")"
REQ_K1=$(stat_of "$K1" requests) || die "no stats for $K1"
mark_fault "$KLG_PID"
pause_process "${FO_SRV_PIDS[4]}" 1000
sleep 0.5
PORTS_AFTER=$(k1_ports)
REQ_K1_LATER=$(stat_of "$K1" requests) || die "no stats for $K1"
assert_eq "D: connections to $K1 after the stall (the same sockets)" "$PORTS_BEFORE" "$PORTS_AFTER"
assert_ge "D: requests $K1 answered on them after the stall" 2 $((REQ_K1_LATER - REQ_K1))
fo_loadgen_wait "$KLG_PID" "$KLG_LOG" 15 || die "loadgen D did not finish"
log "D: $LG_OUT"
assert_lg "D (1 s stall, keep-alive)" failed=0 'served_k1>=1' 'served_k2>=1'
assert_stalled_kept D "$K1"

fo_show
fo_show_events
((VGL_FAILS == 0)) || dump_vigild_log
finish
