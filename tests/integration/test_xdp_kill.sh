#!/bin/bash
# XDP datapath, killed backend: client host -> LB host (XDP) -> 2 primaries +
# 1 backup. Before the fault, six single-connection keep-alive clients are
# spread over the primaries (which backend serves each is read from the
# server sockets). Under short-connection load, one primary's testsrv is
# SIGKILLed: its SYNs are refused, the XDP passive monitor counts the RSTs
# and marks it down after consecutive_failures (3), vigild ejects it.
# Asserts: ejected by fast_path or consecutive_failures; no SYN reaches it
# once ejected; failed requests started after the fault <= 3 for the
# short-connection client, plus at most one per other worker (SYNs already
# forwarded when the third RST comes back); a later client sees only the
# live primary; and every keep-alive connection on the surviving primary
# goes on, on the same TCP connection, without a single failure (established
# flows to healthy backends are never moved by another backend's failure).
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
# shellcheck source=tests/lib_xdp.sh
source "$(dirname "$0")/../lib_xdp.sh"
xdp_require_env

NET=251
PORT=$VGL_PORT
THRESHOLD=3
N_KA=6
WORKERS=4

xdp_topology "$NET" 3
fo_servers 3 "$PORT"

fo_new_config
{
	xdp_config_head
	cat <<EOF
detection:
  eject_base_ms: 20000          # stays ejected for the whole test
  slow_floor_ms: 1000           # latency rules are not under test here
  stuck_request_floor_ms: 2000
services:
  - name: web
    vip: "$VIP4:80"
    datapath: xdp
    backends: ["${EP[1]}", "${EP[2]}"]
    backups: ["${EP[3]}"]
    detection: {consecutive_failures: $THRESHOLD}
    probe: {timeout_ms: 300}
EOF
} >"$VGL_CONFIG"
xdp_start_vigild

# ---- baseline ------------------------------------------------------------------------
xlg -a "$VIP4" -p 80 -c 4 -d 1000 -t 1000 -s 1 || die "baseline loadgen failed"
assert_eq "baseline failed" 0 "$(lg_get failed)"
assert_ge "baseline served_b1" 1 "$(lg_get served_b1)"
assert_ge "baseline served_b2" 1 "$(lg_get served_b2)"
assert_eq "baseline served_b3 (backup idle)" 0 "$(lg_get served_b3)"

# ---- keep-alive clients, placed before the fault -----------------------------------------
xdp_keepalive_clients "$N_KA" -d 8000 -t 2000 -s 5
# The victim: the backend of the first keep-alive client, unless it holds all
# of them (then the other), so the survivor always holds at least one.
VICTIM=1
[[ "${KA_BACKEND[1]}" == "${B4[2]}" ]] && VICTIM=2
ON_VICTIM=$(ka_on "${B4[VICTIM]}")
((ON_VICTIM == N_KA)) && VICTIM=$((3 - VICTIM)) && ON_VICTIM=0
SURVIVOR=$((3 - VICTIM))
log "victim b$VICTIM (${EP[VICTIM]}) holds $ON_VICTIM keep-alive connections," \
	"survivor b$SURVIVOR holds $((N_KA - ON_VICTIM))"

# ---- fault ------------------------------------------------------------------------------
xlg_bg -a "$VIP4" -p 80 -c "$WORKERS" -d 4000 -t 1000 -s 1
LG1_PID=$LG_PID LG1_LOG=$LG_LOG
sleep 1
ATT_BEFORE=$(stat_of "${EP[VICTIM]}" connect_attempts) || die "no stats for b$VICTIM"
ERR_BEFORE=$(stat_of "${EP[VICTIM]}" errors) || die "no stats for b$VICTIM"
# The victim must have had SYNs before the fault, or "none after the
# ejection" proves nothing.
assert_ge "SYNs forwarded to b$VICTIM before the kill" 1 "$ATT_BEFORE"
FAULT_NS=$(now_wall_ns)
mark_fault "$LG1_PID" "${KA_PID[@]:1}"
fo_kill_server "$VICTIM"
log "killed b$VICTIM (${EP[VICTIM]}) with SIGKILL"

if wait_backend_field web "${EP[VICTIM]}" state ejected 5; then
	log "ok: b$VICTIM ejected"
else
	VGL_FAILS=$((VGL_FAILS + 1))
fi
EJ=$(events_of "${EP[VICTIM]}" ejected | head -n1)
RULE=$(jq -r .rule <<<"$EJ")
assert_true "ejection rule $RULE is fast_path or consecutive_failures" \
	grep -qxE 'fast_path|consecutive_failures' <<<"$RULE"
EJ_NS=$(jq -r .wall_ns <<<"$EJ" 2>/dev/null)
DETECT_MS=none
[[ "$EJ_NS" =~ ^[0-9]+$ ]] && DETECT_MS=$(((EJ_NS - FAULT_NS) / 1000000))
log "detection: ejected $DETECT_MS ms after the kill (evidence $(jq -c .evidence <<<"$EJ"))"
assert_le "fault to ejection ms" 1000 "$DETECT_MS"

# Once ejected, no SYN is forwarded to the victim (the XDP passive monitor
# counts every SYN it forwards as a connect attempt).
ATT_EJECTED=$(stat_of "${EP[VICTIM]}" connect_attempts) || die "no stats for b$VICTIM"
sleep 1.5
ATT_LATER=$(stat_of "${EP[VICTIM]}" connect_attempts) || die "no stats for b$VICTIM"
ERR_LATER=$(stat_of "${EP[VICTIM]}" errors) || die "no stats for b$VICTIM"
log "b$VICTIM connect attempts: $ATT_EJECTED at ejection, $ATT_LATER 1.5 s later;" \
	"errors (refused + resets) since the kill: $((ERR_LATER - ERR_BEFORE))"
assert_eq "SYNs forwarded to b$VICTIM after ejection" "$ATT_EJECTED" "$ATT_LATER"
# Both rules allowed above need THRESHOLD consecutive failures the monitor saw.
assert_ge "failed connects to b$VICTIM the XDP monitor counted (threshold)" "$THRESHOLD" \
	$((ERR_LATER - ERR_BEFORE))
# Where each keep-alive client is connected now (all still running).
xdp_keepalive_ports_now

fo_loadgen_wait "$LG1_PID" "$LG1_LOG" 15 || die "loadgen did not finish"
log "short-connection loadgen under fault: $LG_OUT"
log "xdp_kill failed_inflight=$(lg_get failed_inflight) failed_after=$(lg_get failed_after)" \
	"last_fail_ms=$(lg_get last_fail_ms) detect_ms=$DETECT_MS rule=$RULE"
# The fast path marks the backend down at the THRESHOLD-th refused SYN; SYNs
# the other workers sent before that RST came back fail too (at most one each).
BOUND=$((THRESHOLD + WORKERS - 1))
assert_le "failed requests started after the fault (threshold + other workers' SYNs)" \
	"$BOUND" "$(lg_get failed_after)"
assert_ge "requests served by b$SURVIVOR under fault" 100 "$(lg_get "served_b$SURVIVOR")"
assert_eq "requests served by the backup" 0 "$(lg_get served_b3)"

# ---- keep-alive clients --------------------------------------------------------------------
KA_FAILED_AFTER=0
for ((k = 1; k <= N_KA; k++)); do
	port_now=${KA_PORT_NOW[k]}
	fo_loadgen_wait "${KA_PID[k]}" "${KA_LOG[k]}" 15 || die "keep-alive loadgen $k did not finish"
	log "keep-alive client $k (${KA_BACKEND[k]}, port ${KA_PORT[k]} -> ${port_now:-closed}): $LG_OUT"
	KA_FAILED_AFTER=$((KA_FAILED_AFTER + $(lg_get failed_after)))
	if [[ "${KA_BACKEND[k]}" == "${B4[SURVIVOR]}" ]]; then
		assert_eq "keep-alive client $k on the survivor: failed" 0 "$(lg_get failed)"
		assert_eq "keep-alive client $k on the survivor: same connection" \
			"${KA_PORT[k]}" "$port_now"
		assert_eq "keep-alive client $k on the survivor: all served by b$SURVIVOR" \
			"$(lg_get requests)" "$(lg_get "served_b$SURVIVOR")"
		assert_ge "keep-alive client $k on the survivor: requests" 100 "$(lg_get requests)"
	else
		# Its connection died with the server; it reconnects to the survivor.
		assert_ge "keep-alive client $k on the victim: then served by b$SURVIVOR" 1 \
			"$(lg_get "served_b$SURVIVOR")"
	fi
done
log "xdp_kill keepalive_on_victim=$ON_VICTIM keepalive_failed_after=$KA_FAILED_AFTER"

# ---- after detection: only the live primary -------------------------------------------
xlg -a "$VIP4" -p 80 -c 4 -d 1000 -t 1000 -s 1 || die "post-detection loadgen failed"
assert_eq "post-detection failed" 0 "$(lg_get failed)"
assert_eq "post-detection served_b$VICTIM" 0 "$(lg_get "served_b$VICTIM")"
assert_eq "post-detection served_b3 (backup)" 0 "$(lg_get served_b3)"
assert_ge "post-detection served_b$SURVIVOR" 1 "$(lg_get "served_b$SURVIVOR")"
assert_eq "b$SURVIVOR state" healthy "$(backend_field web "${EP[SURVIVOR]}" state)"
assert_eq "service serving" primaries "$(service_field web serving)"
log "xdp counters: $(xdp_counters_line)"

fo_show
fo_show_events
((VGL_FAILS == 0)) || dump_vigild_log
finish
