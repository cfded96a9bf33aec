#!/bin/bash
# Failover on a killed backend: 2 primaries + 1 backup behind a VIP, clients
# open a new connection per request through vigil's socket load balancer.
# The testsrv of one primary is SIGKILLed under load: its connects are
# refused, the kernel fast path marks it down after consecutive_failures (3)
# refusals and vigild ejects it. Asserts: ejected by fast_path or
# consecutive_failures, no connection attempt reaches it once ejected,
# failures of requests started after the fault <= 3 plus the connects racing
# with the 3rd failure (in-flight ones are reported apart), and a later
# client sees only the live primary.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
fo_require_env

NET=240
VIP=10.96.40.10
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
  eject_base_ms: 20000          # stays ejected for the whole test (no probes)
  # Not under test here: keep the latency rules above the scheduling stalls
  # of a loaded 2-core VM (a healthy testsrv can miss its CPU for 400 ms).
  slow_floor_ms: 1000
  stuck_request_floor_ms: 2000
services:
  - name: web
    vip: "$VIP:80"
    backends: ["${EP[1]}", "${EP[2]}"]
    backups: ["${EP[3]}"]
    detection: {consecutive_failures: $THRESHOLD}
    probe: {timeout_ms: 300}
EOF
} >"$VGL_CONFIG"
fo_start_vigild "$VGL_CONFIG"

# ---- healthy baseline --------------------------------------------------------------
fo_loadgen -a "$VIP" -p 80 -c "$WORKERS" -d 1000 -t 1000 -s 1 || die "baseline loadgen failed"
assert_eq "baseline failed" 0 "$(lg_get failed)"
assert_ge "baseline served_b1" 1 "$(lg_get served_b1)"
assert_ge "baseline served_b2" 1 "$(lg_get served_b2)"
assert_eq "baseline served_b3 (backup idle)" 0 "$(lg_get served_b3)"

# ---- fault ---------------------------------------------------------------------------
fo_loadgen_bg -a "$VIP" -p 80 -c "$WORKERS" -d 5000 -t 1000 -s 1
LG1_PID=$LG_PID LG1_LOG=$LG_LOG
sleep 1.5
ATT_BEFORE=$(stat_of "${EP[1]}" connect_attempts) || die "no stats for b1"
ERR_BEFORE=$(stat_of "${EP[1]}" errors) || die "no stats for b1"
# Without connects to b1 before the fault, "none after the ejection" below
# would hold for a backend that was never used.
assert_ge "connect attempts to b1 before the kill" 1 "$ATT_BEFORE"
# Mark the fault in loadgen first, so every failure is counted as in flight
# (request started before) or after; then kill b1 at once.
FAULT_NS=$(now_wall_ns)
mark_fault "$LG1_PID"
kill -KILL "${FO_SRV_PIDS[1]}"
stop_pid "${FO_SRV_PIDS[1]}"
log "killed b1 (${EP[1]}) with SIGKILL; errors to it before: $ERR_BEFORE"

if wait_backend_field web "${EP[1]}" state ejected 5; then
	log "ok: b1 ejected"
else
	VGL_FAILS=$((VGL_FAILS + 1))
fi
EJ=$(events_of "${EP[1]}" ejected | head -n1)
log "ejection event: $EJ"
RULE=$(jq -r .rule <<<"$EJ")
assert_true "ejection rule $RULE is fast_path or consecutive_failures" \
	grep -qxE 'fast_path|consecutive_failures' <<<"$RULE"
EJ_NS=$(jq -r .wall_ns <<<"$EJ" 2>/dev/null)
DETECT_MS=none
[[ "$EJ_NS" =~ ^[0-9]+$ ]] && DETECT_MS=$(((EJ_NS - FAULT_NS) / 1000000))
log "detection: ejected $DETECT_MS ms after the kill (evidence $(jq -c .evidence <<<"$EJ"))"
assert_le "fault to ejection ms" 2000 "$DETECT_MS"

# Once ejected, the load generator (still running) never tries b1 again.
ATT_EJECTED=$(stat_of "${EP[1]}" connect_attempts) || die "no stats for b1"
ERR_EJECTED=$(stat_of "${EP[1]}" errors) || die "no stats for b1"
sleep 2
ATT_LATER=$(stat_of "${EP[1]}" connect_attempts) || die "no stats for b1"
ERR_LATER=$(stat_of "${EP[1]}" errors) || die "no stats for b1"
log "b1 connect attempts: $ATT_EJECTED at ejection, $ATT_LATER 2 s later;" \
	"errors (refused+timeouts+resets): $ERR_BEFORE before, $ERR_EJECTED at ejection, $ERR_LATER later"
assert_eq "connect attempts to b1 after ejection" "$ATT_EJECTED" "$ATT_LATER"
# Every connection to b1 after the kill fails. The fast path marks it down at
# the 3rd failure; only connects that chose b1 before that (at most one per
# other worker) can fail after it: at most THRESHOLD + WORKERS - 1.
assert_le "failed connections to b1 in all" $((THRESHOLD + WORKERS - 1)) $((ERR_LATER - ERR_BEFORE))
# Both rules allowed above need THRESHOLD consecutive failures the monitor saw.
assert_ge "failed connections to b1 the monitor counted (ejection threshold)" "$THRESHOLD" \
	$((ERR_LATER - ERR_BEFORE))

fo_loadgen_wait "$LG1_PID" "$LG1_LOG" 15 || die "loadgen did not finish"
log "loadgen under fault: $LG_OUT"
log "failures: in flight at the kill $(lg_get failed_inflight), started after it" \
	"$(lg_get failed_after), last one $(lg_get last_fail_ms) ms after the kill"
# The fast path marks b1 down at the 3rd failure; a connect that chose b1
# before that (another worker, at the same moment) fails too. So the bound is
# THRESHOLD + WORKERS - 1; above THRESHOLD is reported.
if (($(lg_get failed_after) > THRESHOLD)); then
	warn "NOTE: $(lg_get failed_after) failures after the kill > threshold $THRESHOLD: connects" \
		"that chose b1 before the 3rd failure marked it down (concurrent workers)"
fi
assert_le "failed requests started after the fault (threshold + workers - 1)" \
	$((THRESHOLD + WORKERS - 1)) "$(lg_get failed_after)"
assert_ge "requests served by b2 under fault" 100 "$(lg_get served_b2)"
assert_eq "requests served by the backup" 0 "$(lg_get served_b3)"

# ---- after detection: only the live primary ----------------------------------
fo_loadgen -a "$VIP" -p 80 -c "$WORKERS" -d 1000 -t 1000 -s 1 || die "post-detection loadgen failed"
assert_eq "post-detection failed" 0 "$(lg_get failed)"
assert_eq "post-detection served_b1" 0 "$(lg_get served_b1)"
assert_eq "post-detection served_b3 (backup)" 0 "$(lg_get served_b3)"
assert_ge "post-detection served_b2" 1 "$(lg_get served_b2)"
assert_eq "b2 state" healthy "$(backend_field web "${EP[2]}" state)"
assert_eq "b1 share" 0 "$(backend_field web "${EP[1]}" share)"
assert_eq "service serving" primaries "$(service_field web serving)"

fo_show
fo_show_events
((VGL_FAILS == 0)) || dump_vigild_log
finish
