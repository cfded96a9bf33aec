#!/bin/bash
# Restart reconciliation of the monitor's open/close counters
# (user/vigild/sock_census.c): sockets that closed while no monitor hook ran
# left their requests counted open, which would look like requests waiting
# since the start; vigild lists the tracked sockets that exist when it starts
# and discounts the rest, so they cause no ejection. Made for real: five
# requests to b1 (its server holds every reply for 120 s, its kernel
# acknowledges them: stalled, not stuck, once past stall_floor_ms) are sent
# under a first vigild, which is then killed; its monitor links are unpinned
# (the hooks go), the clients of four of them exit (their closes unseen), and
# a second vigild starts with stall_floor_ms 500: without the census it would
# count 5 stalled requests (>= consecutive_failures 3) and eject b1 (rule
# stalled). With it: 4 discounted, the fifth (its socket still open and
# waiting) counted, b1 healthy, vigilctl tracking 1 socket.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
fo_require_env
command -v python3 >/dev/null || skip "python3 not installed (the clients)"

fo_world 2
fo_kill_server 1
fo_server 1 "${B4[1]}" "$PORT" b1 -d 120000
conf() { # STALL_FLOOR_MS [--rewrite]
	fo_conf "${@:2}" --detect "slow_floor_ms: 1000" --detect "stall_floor_ms: $1" \
		--service web "$VIP_EP" --backends "${EP[1]}" "${EP[2]}" \
		--set "detection: {consecutive_failures: 3}"
}
# N connections to b1, each sending one request and waiting for the reply.
clients() { # N
	start_bg ip netns exec "$CLI_NS" python3 -c '
import socket, sys, time
socks = [socket.create_connection((sys.argv[1], int(sys.argv[2]))) for _ in range(int(sys.argv[3]))]
for s in socks:
    s.sendall(b"x\n")
time.sleep(120)' "${B4[1]}" "$PORT" "$1"
}
waiting() { (($(vigil_stats | jq .inflight) >= $1)); }

# ---- requests waiting under a first vigild -------------------------------------------
conf 60000
start_vigild "$VGL_CONFIG"
clients 4
DEAD_PID=$BG_PID
clients 1
wait_until 5 estab_at_least 5 "${EP[1]}" || die "the 5 connections to ${EP[1]} did not establish"
wait_until 5 waiting 5 || die "vigilctl does not see the 5 tracked sockets"

# ---- its hooks gone, four clients gone with them ----------------------------------------
kill -KILL "$VIGILD_PID"
stop_pid "$VIGILD_PID"
rm -f "$VGL_PIN_DIR"/links/monitor-*
log "vigild (pid $VIGILD_PID) killed, its monitor links unpinned"
stop_pid "$DEAD_PID"
wait_until 5 eval '! estab_at_least 5 "${EP[1]}"' || die "the 4 clients' connections did not close"

# ---- restart -----------------------------------------------------------------------------
conf 500 --rewrite
start_vigild "$VGL_CONFIG"
assert_true "vigild discounts the 4 closed sockets' requests" \
	grep -q "discounted 4 connects and requests counted open whose sockets closed" "$VIGILD_LOG"
# Beyond stall_floor_ms (500 ms) and many ticks.
sleep 2
assert_eq "b1 state" healthy "$(backend_field web "${EP[1]}" state)"
assert_eq "ejections of b1 in the history" 0 "$(events_of "${EP[1]}" ejected | wc -l)"
assert_eq "tracked sockets (the open one)" 1 "$(vigil_stats | jq .inflight)"
assert_true "its connection is still open" estab_at_least 1 "${EP[1]}"
fo_show
fo_show_events
((VGL_FAILS == 0)) || dump_vigild_log
finish
