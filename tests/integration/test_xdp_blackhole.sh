#!/bin/bash
# XDP datapath, black-holed backend: client host -> LB host (XDP) -> 2
# primaries + 1 backup. Keep-alive clients are placed on both primaries,
# then under short-connection load every packet to one primary is dropped
# in the server namespace (nft). Its SYNs get no answer: the XDP program
# records each forwarded SYN in the in-flight map, vigild finds them stuck
# (older than stuck_connect_floor_ms, 50 ms) and ejects it with
# tear_down, which makes the XDP program move its established flows on their
# next packet (VIGIL_XB_RESELECT).
# Asserts: ejected by stuck_connect (or consecutive_failures/fast_path)
# within 1 s of the fault; no SYN reaches it once ejected; every failure of
# the short-connection client started before the ejection; a client started
# after it sees only the live primary; a kept-alive connection on the victim
# fails fast when its next retransmission is moved (reset by the survivor,
# long before its own 5 s timeout) and reconnects to the survivor; kept-alive
# connections on the survivor never fail; the survivor stays healthy.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
# shellcheck source=tests/lib_xdp.sh
source "$(dirname "$0")/../lib_xdp.sh"
xdp_require_env
command -v nft >/dev/null || skip "nft not installed (needed to black-hole a backend)"

NET=252
PORT=$VGL_PORT
N_KA=6
WORKERS=4
TIMEOUT_MS=1000
KA_TIMEOUT_MS=5000

xdp_topology "$NET" 3
fo_servers 3 "$PORT"

fo_new_config
{
	xdp_config_head
	cat <<EOF
detection:
  eject_base_ms: 20000          # stays ejected for the whole test
  slow_floor_ms: 1000           # latency outliers are not under test here
  stuck_request_floor_ms: 2000
services:
  - name: web
    vip: "$VIP4:80"
    datapath: xdp
    backends: ["${EP[1]}", "${EP[2]}"]
    backups: ["${EP[3]}"]
    probe: {timeout_ms: 300}
EOF
} >"$VGL_CONFIG"
xdp_start_vigild

xlg -a "$VIP4" -p 80 -c 4 -d 1000 -t 1000 -s 1 || die "baseline loadgen failed"
assert_eq "baseline failed" 0 "$(lg_get failed)"

# ---- keep-alive clients ------------------------------------------------------------------
xdp_keepalive_clients "$N_KA" -d 12000 -t "$KA_TIMEOUT_MS" -s 5
VICTIM=1
[[ "${KA_BACKEND[1]}" == "${B4[2]}" ]] && VICTIM=2
ON_VICTIM=$(ka_on "${B4[VICTIM]}")
((ON_VICTIM == N_KA)) && VICTIM=$((3 - VICTIM)) && ON_VICTIM=0
SURVIVOR=$((3 - VICTIM))
log "victim b$VICTIM (${EP[VICTIM]}) holds $ON_VICTIM keep-alive connections"
RESEL_BEFORE=$(xdp_counter 4)

# ---- fault -----------------------------------------------------------------------------------
xlg_bg -a "$VIP4" -p 80 -c "$WORKERS" -d 4000 -t "$TIMEOUT_MS" -s 5
LG1_PID=$LG_PID LG1_LOG=$LG_LOG
sleep 1
ATT_BEFORE=$(stat_of "${EP[VICTIM]}" connect_attempts) || die "no stats for b$VICTIM"
# The victim must have had SYNs before the fault, or "none after the
# ejection" proves nothing.
assert_ge "SYNs forwarded to b$VICTIM before the black hole" 1 "$ATT_BEFORE"
FAULT_NS=$(now_wall_ns)
mark_fault "$LG1_PID" "${KA_PID[@]:1}"
fo_blackhole "vigil_bh_$VGL_ID" "${B4[VICTIM]}" "$PORT" || die "nft black hole failed"
log "black-holed b$VICTIM (${EP[VICTIM]})"

if wait_backend_field web "${EP[VICTIM]}" state ejected 5; then
	log "ok: b$VICTIM ejected"
else
	VGL_FAILS=$((VGL_FAILS + 1))
fi
EJ=$(events_of "${EP[VICTIM]}" ejected | head -n1)
RULE=$(jq -r .rule <<<"$EJ")
assert_true "ejection rule $RULE is stuck_connect, consecutive_failures or fast_path" \
	grep -qxE 'stuck_connect|consecutive_failures|fast_path' <<<"$RULE"
EJ_NS=$(jq -r .wall_ns <<<"$EJ" 2>/dev/null)
DETECT_MS=none
[[ "$EJ_NS" =~ ^[0-9]+$ ]] && DETECT_MS=$(((EJ_NS - FAULT_NS) / 1000000))
log "detection: ejected $DETECT_MS ms after the black hole (evidence $(jq -c .evidence <<<"$EJ"))"
assert_le "fault to ejection ms" 1000 "$DETECT_MS"

ATT_EJECTED=$(stat_of "${EP[VICTIM]}" connect_attempts) || die "no stats for b$VICTIM"
# A client that starts now sees only the survivor.
xlg -a "$VIP4" -p 80 -c 4 -d 1000 -t "$TIMEOUT_MS" -s 1 || die "post-ejection loadgen failed"
assert_eq "post-ejection failed" 0 "$(lg_get failed)"
assert_eq "post-ejection served_b$VICTIM" 0 "$(lg_get "served_b$VICTIM")"
assert_ge "post-ejection served_b$SURVIVOR" 1 "$(lg_get "served_b$SURVIVOR")"
ATT_LATER=$(stat_of "${EP[VICTIM]}" connect_attempts) || die "no stats for b$VICTIM"
log "b$VICTIM connect attempts: $ATT_EJECTED at ejection, $ATT_LATER after another client's 1 s run"
assert_eq "SYNs forwarded to b$VICTIM after ejection" "$ATT_EJECTED" "$ATT_LATER"
xdp_keepalive_ports_now

fo_loadgen_wait "$LG1_PID" "$LG1_LOG" 15 || die "loadgen did not finish"
log "short-connection loadgen under fault: $LG_OUT"
LAST_FAIL=$(ms_int "$(lg_get last_fail_ms)")
log "xdp_blackhole detect_ms=$DETECT_MS rule=$RULE failed_inflight=$(lg_get failed_inflight)" \
	"failed_after=$(lg_get failed_after) last_fail_ms=$LAST_FAIL"
# A connect that timed out started before the ejection: the last failure
# is at most the ejection time plus one client timeout, plus scheduling
# slack (this VM stalls for up to 0.7 s under load; that no SYN reaches b1
# once it is ejected is asserted exactly below).
if [[ "$DETECT_MS" =~ ^[0-9]+$ ]]; then
	assert_le "last failure ms after the fault" $((DETECT_MS + TIMEOUT_MS + 1000)) "$LAST_FAIL"
else
	# Not quietly dropped: without an ejection time there is no bound.
	warn "FAIL: last failure ms after the fault: not checked, no ejection time"
	VGL_FAILS=$((VGL_FAILS + 1))
fi
assert_ge "requests served by b$SURVIVOR under fault" 100 "$(lg_get "served_b$SURVIVOR")"

for ((k = 1; k <= N_KA; k++)); do
	fo_loadgen_wait "${KA_PID[k]}" "${KA_LOG[k]}" 15 || die "keep-alive loadgen $k did not finish"
	log "keep-alive client $k (${KA_BACKEND[k]}, port ${KA_PORT[k]} -> ${KA_PORT_NOW[k]:-closed}): $LG_OUT"
	if [[ "${KA_BACKEND[k]}" == "${B4[SURVIVOR]}" ]]; then
		assert_eq "keep-alive client $k on the survivor: failed" 0 "$(lg_get failed)"
		assert_eq "keep-alive client $k on the survivor: same connection" \
			"${KA_PORT[k]}" "${KA_PORT_NOW[k]}"
	else
		# Its request got no answer; once the victim is ejected the next
		# retransmission is moved to the survivor, which resets it: the
		# client learns at once instead of at its own timeout.
		assert_le "keep-alive client $k on the victim: last failure ms (timeout $KA_TIMEOUT_MS)" \
			$((KA_TIMEOUT_MS - 1000)) "$(ms_int "$(lg_get last_fail_ms)")"
		assert_ge "keep-alive client $k on the victim: then served by b$SURVIVOR" 1 \
			"$(lg_get "served_b$SURVIVOR")"
	fi
done
RESEL=$(xdp_counter 4)
log "xdp_blackhole flows reselected: $((RESEL - RESEL_BEFORE)) (keep-alive flows on the victim: $ON_VICTIM)"
if ((ON_VICTIM > 0)); then
	assert_ge "flows moved off the victim" "$ON_VICTIM" $((RESEL - RESEL_BEFORE))
else
	# All keep-alive clients landed on one backend, now the survivor: there
	# is no flow to move (about 3 % of runs; the other checks still apply).
	log "no keep-alive connection on the victim: no flow to move, moved-flow check not applicable"
fi

assert_eq "b$SURVIVOR state" healthy "$(backend_field web "${EP[SURVIVOR]}" state)"
assert_eq "changes of b$SURVIVOR" "" "$(events_of "${EP[SURVIVOR]}")"
assert_eq "service serving" primaries "$(service_field web serving)"
log "xdp counters: $(xdp_counters_line)"

fo_show
fo_show_events
((VGL_FAILS == 0)) || dump_vigild_log
finish
