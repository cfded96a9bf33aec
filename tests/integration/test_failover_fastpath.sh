#!/bin/bash
# The kernel fast path alone: vigild is frozen (SIGSTOP) before a primary is
# killed, so nothing in userspace reacts. The monitor counts the refused
# connects in the kernel and, at consecutive_failures (3), marks the backend
# down; the socket load balancer skips it from the next connect() on.
# Asserts: few failed connects (threshold + the connects that chose the
# backend before it was marked down), none to it afterwards, a later client
# sees only the live primary, vigilctl still shows it healthy (vigild did not
# act). After SIGCONT, vigild ejects it (rule fast_path). Finally vigild is
# frozen again and stopped the way cleanup does it (SIGCONT + SIGTERM).
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
fo_require_env

THRESHOLD=3
WORKERS=4

fo_world 3
# eject_base_ms 20000: stays ejected once vigild acts
fo_conf --detect "eject_base_ms: 20000" --calm \
	--service web "$VIP_EP" --backends "${EP[1]}" "${EP[2]}" --backups "${EP[3]}" \
	--set "detection: {consecutive_failures: $THRESHOLD}"
start_vigild "$VGL_CONFIG"

fo_loadgen -a "$VIP" -p 80 -c "$WORKERS" -d 1000 -t 1000 -s 1 || die "baseline loadgen failed"
assert_lg baseline failed=0 'served_b1>=1'

# ---- vigild frozen, b1 dies -----------------------------------------------------------
kill -STOP "$VIGILD_PID"
assert_eq "vigild stopped (ps state)" T "$(ps -o state= -p "$VIGILD_PID" | tr -d ' ')"
log "vigild (pid $VIGILD_PID) frozen with SIGSTOP"
FAULT_LOAD=(fo_loadgen_bg -a "$VIP" -p 80 -c "$WORKERS" -d 3000 -t 1000 -s 1)
fault_under_load 1 "${EP[1]}" b1 fo_kill_server 1
sleep 0.5
# The kernel marks b1 down only at the THRESHOLD-th consecutive failure.
kill_checks "${EP[1]}" b1 1 "$THRESHOLD" "$WORKERS" 10
assert_lg "across the kill" 'served_b2>=1' served_b3=0

fo_loadgen -a "$VIP" -p 80 -c "$WORKERS" -d 1000 -t 1000 -s 1 || die "second loadgen failed"
assert_lg "vigild frozen, later client:" failed=0 served_b1=0 served_b3=0 'served_b2>=1'
# Nothing in userspace knew: the published state is unchanged.
assert_eq "b1 state published while vigild is frozen" healthy "$(backend_field web "${EP[1]}" state)"
assert_eq "history while vigild is frozen" 0 "$(vctl events --json | wc -l)"

# ---- vigild thawed ----------------------------------------------------------------------
kill -CONT "$VIGILD_PID"
log "vigild resumed"
expect_ejection web "${EP[1]}" 3 fast_path
assert_ge "kernel consecutive failures in the evidence" "$THRESHOLD" "$(jq -r .evidence.failures <<<"$EJ")"
fo_show
fo_show_events

# ---- a frozen vigild is stopped the way cleanup does it -------------------------------
kill -STOP "$VIGILD_PID"
if fo_stop_vigild 3; then
	log "ok: frozen vigild stopped by SIGCONT + SIGTERM (exit $VIGILD_RC)"
	assert_eq "vigild exit status" 0 "$VIGILD_RC"
else
	warn "FAIL: frozen vigild still running 3 s after SIGCONT + SIGTERM"
	VGL_FAILS=$((VGL_FAILS + 1))
fi

((VGL_FAILS == 0)) || dump_vigild_log
finish
