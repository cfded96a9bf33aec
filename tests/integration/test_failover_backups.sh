#!/bin/bash
# Backups take over when every primary is gone, and hand back when the
# primaries return: 2 primaries + 1 backup behind a VIP, clients opening a
# new connection per request.
#   1. Both primaries' testsrv are SIGKILLed: the kernel fast path marks
#      them down after 3 refusals each and connect() falls back to the backup
#      at once (at most 2 x (3 + workers - 1) failed requests); both are
#      ejected, the service switches to its backup (vigilctl services:
#      serving "backups", a "backups" change in the history) and new
#      connections reach only the backup, without failures.
#   2. The primaries are restarted: the probes (TCP connects from the client
#      namespace) re-admit them (probe_ok), the service serves its primaries
#      again (a "primaries" change) and new connections leave the backup.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
fo_require_env

fo_world 3
# Short ejections so that restarted primaries come back within the test:
# 300 ms, 600 ms, ... at most 1.5 s, then 3 probe successes 200 ms apart.
fo_conf --detect "eject_base_ms: 300" --detect "eject_max_ms: 1500" --calm \
	--service web "$VIP_EP" --backends "${EP[1]}" "${EP[2]}" --backups "${EP[3]}" \
	--set "probe: {timeout_ms: 300}"
start_vigild "$VGL_CONFIG"

fo_loadgen -a "$VIP" -p 80 -c 4 -d 1000 -t 1000 -s 1 || die "baseline loadgen failed"
assert_lg baseline failed=0 served_b3=0
assert_eq "baseline serving" primaries "$(service_field web serving)"

# ---- 1: every primary dies ---------------------------------------------------------
kill_primaries() {
	kill -KILL "${FO_SRV_PIDS[1]}" "${FO_SRV_PIDS[2]}"
	stop_pid "${FO_SRV_PIDS[1]}"
	stop_pid "${FO_SRV_PIDS[2]}"
}
FAULT_LOAD=(fo_loadgen_bg -a "$VIP" -p 80 -c 4 -d 3000 -t 1000 -s 1)
fault_under_load 0.5 "${EP[1]}" b1 kill_primaries
assert_true "service switched to its backup" wait_service_field web serving backups 5
SW=$(events_of - backups | head -n1)
log "switch to backups: $SW"
SW_NS=$(jq -r .wall_ns <<<"$SW")
SW_MS=none
[[ "$SW_NS" =~ ^[0-9]+$ ]] && SW_MS=$(((SW_NS - FAULT_NS) / 1000000))
log "backups serving $SW_MS ms after the kill"
assert_le "kill to backups serving ms" 1000 "$SW_MS"
assert_eq "switch rule" backups "$(jq -r .rule <<<"$SW")"
for ep in "${EP[1]}" "${EP[2]}"; do
	log "ejection of $ep: $(events_of "$ep" ejected | head -n1 | jq -c '{rule, evidence}')"
done
fault_load_end 10
# Each dead primary costs its fast-path threshold plus the connects that
# chose it before it was marked down (one per other worker): 2 x (3 + 3).
# Once both are down in the kernel the very next connect() takes the backup
# (fallback tier of the set), without waiting for vigild.
assert_lg "across the fault (failed_after: 2 primaries x (3 + 3))" 'failed_after<=12' 'served_b3>=1'

vctl services --json | jq -c '.services[]' | sed 's/^/  /'
assert_eq "services: serving" backups "$(service_field web serving)"
assert_eq "services: selectable" 1 "$(service_field web selectable)"
assert_eq "backup share" 1 "$(backend_field web "${EP[3]}" share)"
fo_loadgen -a "$VIP" -p 80 -c 4 -d 1000 -t 1000 -s 1 || die "loadgen on backups failed"
assert_lg "on backups:" failed=0 served_b1=0 served_b2=0 'served_b3>=1'
fo_show

# ---- 2: the primaries come back ----------------------------------------------------
RESTART_NS=$(now_wall_ns)
fo_server 1 "${B4[1]}" "$PORT" b1
fo_server 2 "${B4[2]}" "$PORT" b2
log "restarted both primaries"
# Worst case: an ejection of eject_max_ms (1.5 s) just begun, then 3 probes.
assert_true "b1 re-admitted" wait_backend_field web "${EP[1]}" state healthy 6
assert_true "b2 re-admitted" wait_backend_field web "${EP[2]}" state healthy 6
assert_true "service serves its primaries again" wait_service_field web serving primaries 3
for ep in "${EP[1]}" "${EP[2]}"; do
	OK=$(events_of "$ep" healthy | tail -n1)
	OK_NS=$(jq -r .wall_ns <<<"$OK")
	log "re-admission of $ep: rule $(jq -r .rule <<<"$OK"), evidence $(jq -c .evidence <<<"$OK")," \
		"$(((OK_NS - RESTART_NS) / 1000000)) ms after the restart;" \
		"$(events_of "$ep" ejected | wc -l) ejections in all"
	assert_eq "re-admission rule of $ep" probe_ok "$(jq -r .rule <<<"$OK")"
done
BACK=$(events_of - primaries | tail -n1)
log "switch back: $BACK"
assert_eq "switch-back rule" primaries "$(jq -r .rule <<<"$BACK")"

fo_loadgen -a "$VIP" -p 80 -c 4 -d 1000 -t 1000 -s 1 || die "loadgen after re-admission failed"
assert_lg "after re-admission:" failed=0 'served_b1>=1' 'served_b2>=1' served_b3=0

fo_show
fo_show_events
((VGL_FAILS == 0)) || dump_vigild_log
finish
