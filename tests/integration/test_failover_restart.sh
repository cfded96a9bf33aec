#!/bin/bash
# A restart reconciles instead of resetting: a primary ejected (killed, with
# eject_base_ms 60000) stays ejected across a SIGKILL of vigild and a restart
# under load; the restart ejects no healthy backend (sockets waiting since
# before the start count from the start, not from their send); the history
# records "vigild_restarted" with what the new vigild found (1 backend out of
# service); no request fails across the restart.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
fo_require_env

THRESHOLD=3
WORKERS=4

fo_world 3
fo_conf --detect "eject_base_ms: 60000" --calm \
	--service web "$VIP_EP" --backends "${EP[1]}" "${EP[2]}" "${EP[3]}" \
	--set "detection: {consecutive_failures: $THRESHOLD}"
start_vigild "$VGL_CONFIG"

# ---- b1 ejected ---------------------------------------------------------------------
fo_kill_server 1
fo_loadgen -a "$VIP" -p 80 -c "$WORKERS" -d 1000 -t 1000 -s 1 || die "loadgen failed"
expect_ejection web "${EP[1]}" 5 'fast_path|consecutive_failures'
EJECTIONS0=$(backend_field web "${EP[1]}" ejections)
log "b1 ejected, ejections $EJECTIONS0"

# ---- vigild killed and restarted under load ----------------------------------------------
fo_loadgen_bg -a "$VIP" -p 80 -c "$WORKERS" -d 6000 -t 1000 -s 1
RLG_PID=$LG_PID RLG_LOG=$LG_LOG
sleep 1
kill -KILL "$VIGILD_PID"
stop_pid "$VIGILD_PID"
log "vigild (pid $VIGILD_PID) killed with SIGKILL"
sleep 0.5
start_vigild "$VGL_CONFIG"
# Longer than the stuck limits (stuck_request_floor_ms 2000) and several ticks.
sleep 3.5
fo_loadgen_wait "$RLG_PID" "$RLG_LOG" 15 || die "the load across the restart did not finish"
log "loadgen across the restart: $LG_OUT"
assert_lg "across the restart" failed=0 served_b1=0 'served_b2>=1' 'served_b3>=1'

assert_eq "b1 state after the restart" ejected "$(backend_field web "${EP[1]}" state)"
assert_eq "b1 ejections after the restart" "$EJECTIONS0" "$(backend_field web "${EP[1]}" ejections)"
assert_eq "b2 state after the restart" healthy "$(backend_field web "${EP[2]}" state)"
assert_eq "b3 state after the restart" healthy "$(backend_field web "${EP[3]}" state)"
assert_eq "ejections of b2 or b3 in the history" 0 \
	"$( (events_of "${EP[2]}" ejected; events_of "${EP[3]}" ejected) | wc -l)"
RESTART=$(vctl events --json | jq -c 'select(.rule == "vigild_restarted")' | tail -n1)
log "restart record: $RESTART"
assert_eq "restart record: backends out of service" 1 "$(jq -r .evidence.failures <<<"$RESTART")"
assert_true "vigild logs the restart" grep -q "vigild restarted: 1 backends out of service" "$VIGILD_LOG"
fo_show
fo_show_events
((VGL_FAILS == 0)) || dump_vigild_log
finish
