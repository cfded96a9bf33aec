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

NET=246
VIP=10.96.46.10
PORT=$VGL_PORT
THRESHOLD=3
WORKERS=4

fo_topology "$NET" 3
fo_cgroup
fo_servers 3 "$PORT"

fo_new_config
{
	fo_config_head
	cat <<EOF
detection:
  eject_base_ms: 20000          # stays ejected once vigild acts
  slow_floor_ms: 1000           # not under test (scheduling noise)
  stuck_request_floor_ms: 2000  # not under test (scheduling noise)
services:
  - name: web
    vip: "$VIP:80"
    backends: ["${EP[1]}", "${EP[2]}"]
    backups: ["${EP[3]}"]
    detection: {consecutive_failures: $THRESHOLD}
EOF
} >"$VGL_CONFIG"
fo_start_vigild "$VGL_CONFIG"

fo_loadgen -a "$VIP" -p 80 -c "$WORKERS" -d 1000 -t 1000 -s 1 || die "baseline loadgen failed"
assert_eq "baseline failed" 0 "$(lg_get failed)"
assert_ge "baseline served_b1" 1 "$(lg_get served_b1)"

# ---- vigild frozen, b1 dies -----------------------------------------------------------
kill -STOP "$VIGILD_PID"
assert_eq "vigild stopped (ps state)" T "$(ps -o state= -p "$VIGILD_PID" | tr -d ' ')"
log "vigild (pid $VIGILD_PID) frozen with SIGSTOP"
fo_loadgen_bg -a "$VIP" -p 80 -c "$WORKERS" -d 3000 -t 1000 -s 1
LG1_PID=$LG_PID LG1_LOG=$LG_LOG
sleep 1
ATT_BEFORE=$(stat_of "${EP[1]}" connect_attempts) || die "no stats for b1"
ERR_BEFORE=$(stat_of "${EP[1]}" errors) || die "no stats for b1"
# b1 must have been in use, or "no connect once marked down" proves nothing.
assert_ge "connect attempts to b1 before the kill" 1 "$ATT_BEFORE"
mark_fault "$LG1_PID"
kill -KILL "${FO_SRV_PIDS[1]}"
stop_pid "${FO_SRV_PIDS[1]}"
log "killed b1 (${EP[1]})"
sleep 0.5
ATT=$(stat_of "${EP[1]}" connect_attempts) || die "no stats for b1"
sleep 1
ATT_LATER=$(stat_of "${EP[1]}" connect_attempts) || die "no stats for b1"
ERR_LATER=$(stat_of "${EP[1]}" errors) || die "no stats for b1"
log "b1 with vigild frozen: $((ERR_LATER - ERR_BEFORE)) failed connects in all;" \
	"connect attempts $ATT, 1 s later $ATT_LATER"
assert_eq "connect attempts to b1 once the kernel marked it down" "$ATT" "$ATT_LATER"
assert_le "failed connects to b1 (threshold + workers - 1)" $((THRESHOLD + WORKERS - 1)) \
	$((ERR_LATER - ERR_BEFORE))
# The kernel marks b1 down only at the THRESHOLD-th consecutive failure.
assert_ge "failed connects to b1 (at least the threshold)" "$THRESHOLD" $((ERR_LATER - ERR_BEFORE))
fo_loadgen_wait "$LG1_PID" "$LG1_LOG" 10 || die "loadgen did not finish"
log "loadgen across the kill: $LG_OUT"
log "failures: in flight at the kill $(lg_get failed_inflight), started after it" \
	"$(lg_get failed_after), last $(lg_get last_fail_ms) ms after the kill"
if (($(lg_get failed_after) > THRESHOLD)); then
	warn "NOTE: $(lg_get failed_after) failures after the kill > threshold $THRESHOLD: connects" \
		"that chose b1 before the 3rd failure marked it down (concurrent workers)"
fi
assert_le "failed requests after the kill (threshold + workers - 1)" $((THRESHOLD + WORKERS - 1)) \
	"$(lg_get failed_after)"
assert_ge "served by b2 across the kill" 1 "$(lg_get served_b2)"
assert_eq "served by the backup across the kill" 0 "$(lg_get served_b3)"

fo_loadgen -a "$VIP" -p 80 -c "$WORKERS" -d 1000 -t 1000 -s 1 || die "second loadgen failed"
assert_eq "vigild frozen, later client: failed" 0 "$(lg_get failed)"
assert_eq "vigild frozen, later client: served by b1" 0 "$(lg_get served_b1)"
assert_eq "vigild frozen, later client: served by the backup" 0 "$(lg_get served_b3)"
assert_ge "vigild frozen, later client: served by b2" 1 "$(lg_get served_b2)"
# Nothing in userspace knew: the published state is unchanged.
assert_eq "b1 state published while vigild is frozen" healthy "$(backend_field web "${EP[1]}" state)"
assert_eq "history while vigild is frozen" 0 "$(vctl events --json | wc -l)"

# ---- vigild thawed ----------------------------------------------------------------------
kill -CONT "$VIGILD_PID"
log "vigild resumed"
assert_true "b1 ejected once vigild runs" wait_backend_field web "${EP[1]}" state ejected 3
EJ=$(events_of "${EP[1]}" ejected | head -n1)
log "ejection: $EJ"
assert_eq "rule" fast_path "$(jq -r .rule <<<"$EJ")"
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
