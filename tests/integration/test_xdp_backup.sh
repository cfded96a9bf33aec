#!/bin/bash
# XDP datapath, every primary fails: client host -> LB host (XDP) -> 2
# primaries + 1 backup. Under load both primaries' testsrv are SIGKILLed;
# each is ejected by the XDP passive monitor's refused SYNs (fast path) and
# the service switches to its backup.
# Asserts: both primaries ejected, 'vigilctl services' shows the service
# serving from backups (and a primaries -> backups change) within 1 s; not
# one request started after the fault fails (new connection per request, 2 s
# timeout): once the fast path has marked both primaries down the program
# sends new flows to the backup itself, and a connect a dead primary refused
# before that is rescued (RST withheld, SYN retransmit to a live backend);
# the backup serves everything afterwards (served_b3 grows), and once one
# primary is restarted it is re-admitted by probes, stays healthy (no
# re-ejection without a new failure) and the service serves from its
# primaries again.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
# shellcheck source=tests/lib_xdp.sh
source "$(dirname "$0")/../lib_xdp.sh"
xdp_require_env

xdp_world 3
# Probes start 1.5 s after an ejection.
fo_conf --xdp --detect "eject_base_ms: 1500" --detect "probe_interval_ms: 200" \
	--detect "probe_successes: 3" --calm \
	--service web "$VIP4:80" --backends "${EP[1]}" "${EP[2]}" --backups "${EP[3]}" \
	--set "probe: {timeout_ms: 300}"
xdp_start_vigild

xlg -a "$VIP4" -p 80 -c 4 -d 1000 -t 1000 -s 1 || die "baseline loadgen failed"
assert_lg baseline failed=0 served_b3=0
assert_eq "serving before the fault" primaries "$(service_field web serving)"

# ---- both primaries die under load ------------------------------------------------------
kill_primaries() { fo_kill_server 1 && fo_kill_server 2; }
# 8 clients: a rescued client parks for its SYN retransmission timeout, so
# with too few the second primary would get its third refusal (and its
# ejection) only then (docs/xdp.md, "Rescue of a connect").
FAULT_LOAD=(xlg_bg -a "$VIP4" -p 80 -c "${XDP_FAULT_WORKERS:-8}" -d 3000 -t 2000 -s 1)
FAULT_MARK_AFTER=${FAULT_MARK_AFTER:-1} # scripts/bench-xdp-rescue.sh: 0
fault_under_load 0.8 "${EP[1]}" b1 kill_primaries
for i in 1 2; do
	wait_backend_field web "${EP[i]}" state ejected 5 || VGL_FAILS=$((VGL_FAILS + 1))
done
wait_service_field web serving backups 5 || VGL_FAILS=$((VGL_FAILS + 1))
SW=$(vctl events --json 2>/dev/null | jq -c 'select(.backend == "-" and .to == "backups")' | head -n1)
log "switch to backups: $SW"
SW_NS=$(jq -r .wall_ns <<<"$SW" 2>/dev/null)
SWITCH_MS=none
[[ "$SW_NS" =~ ^[0-9]+$ ]] && SWITCH_MS=$(((SW_NS - FAULT_NS) / 1000000))
assert_le "fault to backups ms" 1000 "$SWITCH_MS"
vctl services 2>&1 | sed 's/^/  /'
assert_eq "services --json: serving" backups "$(service_field web serving)"

fault_load_end 15
log "xdp_backup switch_ms=$SWITCH_MS failed_after=$(lg_get failed_after)" \
	"last_fail_ms=$(lg_get last_fail_ms) max_ok_ms=$(lg_get max_ok_ms)" \
	"served_b3=$(lg_get served_b3) rescued=$(xdp_counter 10)" \
	"rst_withheld=$(xdp_drops rst_withheld)"
assert_lg "across the fault:" failed_after=0 'served_b3>=1'

xlg -a "$VIP4" -p 80 -c 4 -d 1000 -t 1000 -s 1 || die "backup loadgen failed"
assert_lg "on backup:" failed=0 "served_b3=$(lg_get requests)" 'served_b3>=100'
B3_SERVED=$(lg_get served_b3)

# ---- a primary comes back ------------------------------------------------------------------
fo_server 1 "${B4[1]}" "$PORT" b1
RESTART_NS=$(now_wall_ns)
log "restarted b1"
if wait_backend_field web "${EP[1]}" state healthy 10; then
	log "ok: b1 re-admitted"
else
	VGL_FAILS=$((VGL_FAILS + 1))
fi
wait_service_field web serving primaries 5 || VGL_FAILS=$((VGL_FAILS + 1))
BACK=$(vctl events --json 2>/dev/null | jq -c 'select(.backend == "-" and .to == "primaries")' | head -n1)
BACK_NS=$(jq -r .wall_ns <<<"$BACK" 2>/dev/null)
[[ "$BACK_NS" =~ ^[0-9]+$ ]] && log "xdp_backup primaries_again_ms=$(((BACK_NS - RESTART_NS) / 1000000)) after the restart"
sleep 0.5
# Re-admitted means the old failure is forgotten: no ejection after probe_ok.
AFTER=$(events_of "${EP[1]}" | jq -c --argjson t "$RESTART_NS" 'select(.wall_ns > $t)')
log "b1 changes since the restart:"
# shellcheck disable=SC2001 # indent every line
sed 's/^/  /' <<<"$AFTER"
OK_SEQ=$(jq -r 'select(.rule == "probe_ok") | .seq' <<<"$AFTER" | head -n1)
REEJ=$(jq -c --argjson s "${OK_SEQ:-0}" 'select(.seq > $s and .to == "ejected")' <<<"$AFTER")
assert_eq "b1 ejected again after probe_ok" "" "$REEJ"
assert_eq "b1 state" healthy "$(backend_field web "${EP[1]}" state)"
xlg -a "$VIP4" -p 80 -c 4 -d 1000 -t 1000 -s 1 || die "post-recovery loadgen failed"
assert_lg "primaries again:" failed=0 served_b3=0 "served_b1=$(lg_get requests)"
log "backup served $B3_SERVED requests in its 1 s run; b1 serves again"

fo_show
fo_show_events
((VGL_FAILS == 0)) || dump_vigild_log
finish
