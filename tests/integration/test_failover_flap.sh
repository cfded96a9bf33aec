#!/bin/bash
# Ejection back-off: the n-th ejection of a backend lasts n x eject_base_ms
# (800 ms here), and a backend that flaps keeps that memory.
#   1. A primary is killed: ejected (fast path), then each probe after the
#      ejection time fails (refused) and ejects it again, for longer: the
#      time from "ejected" to "probing" (eject_expired) grows 800, 1600,
#      2400 ms, ...
#   2. It is restarted and re-admitted by the probes, then killed again at
#      once (it flaps): the new ejection is longer than the first ones,
#      because a backend healthy for less than eject_max_ms keeps its count.
# Durations come from the history's CLOCK_MONOTONIC stamps (mono_ns). A
# record is stamped when vigild publishes it, normally right after the
# decision, but this VM stops running vigild (every process in fact) for
# 100-450 ms several times a second: a stamp, or the tick that ends an
# ejection, can be late by that much. Hence the base of 800 ms rather than
# 300 (consecutive ejections must differ by more than such a stall to be
# ordered) and a slack of 450 ms on the lower bounds.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
fo_require_env

BASE_MS=800
SLACK_MS=450

fo_world 2
fo_conf --detect "eject_base_ms: $BASE_MS" --detect "eject_max_ms: 10000" --calm \
	--service web "$VIP_EP" --backends "${EP[1]}" "${EP[2]}" --set "probe: {timeout_ms: 300}"
start_vigild "$VGL_CONFIG"

# Light load for the whole test: it is what detects the kills.
fo_loadgen_bg -a "$VIP" -p 80 -c 2 -d 30000 -t 1000 -s 5
LG_ALL=$LG_PID

# Print "EJECTED_SEQ DURATION_MS" for every ejection of EP that was followed
# by probing: the time it stayed ejected.
ejection_durations() { # EP
	vctl events --json | jq -rs --arg ep "$1" '
		[.[] | select(.backend == $ep)] as $ev
		| range(0; ($ev | length) - 1) as $i
		| select($ev[$i].to == "ejected" and $ev[$i + 1].to == "probing")
		| "\($ev[$i].seq) \((($ev[$i + 1].mono_ns - $ev[$i].mono_ns) / 1000000) | floor)"'
}
# shellcheck disable=SC2317 # called through wait_until
durations_at_least() { # EP N
	(($(ejection_durations "$1" | wc -l) >= $2))
}

# ---- 1: a dead backend keeps failing its probes -----------------------------------
kill -KILL "${FO_SRV_PIDS[1]}"
stop_pid "${FO_SRV_PIDS[1]}"
log "killed b1"
assert_true "b1 ejected" wait_backend_field web "${EP[1]}" state ejected 5
# 800 + 1600 ms of ejections, plus probes and scheduling.
assert_true "two ejections of b1 ended in probing" wait_until 8 durations_at_least "${EP[1]}" 2
mapfile -t D < <(ejection_durations "${EP[1]}" | awk '{print $2}')
log "b1 ejection durations (ms): ${D[*]} (eject_base_ms $BASE_MS: n x $BASE_MS expected)"
log "b1 changes: $(events_of "${EP[1]}" | jq -r '"\(.from)->\(.to):\(.rule)"' | tr '\n' ' ')"
assert_ge "1st ejection ms" $((BASE_MS - SLACK_MS)) "${D[0]:-0}"
assert_true "2nd ejection (${D[1]:-?} ms) longer than the 1st (${D[0]:-?} ms)" test "${D[1]:-0}" -gt "${D[0]:-0}"
assert_ge "2nd ejection ms (2 x $BASE_MS)" $((2 * BASE_MS - SLACK_MS)) "${D[1]:-0}"
assert_eq "re-ejections after failed probes" probe_failed \
	"$(events_of "${EP[1]}" ejected | sed -n 2p | jq -r .rule)"

# ---- 2: it comes back, then fails again ------------------------------------------------
fo_server 1 "${B4[1]}" "$PORT" b1
log "restarted b1"
assert_true "b1 re-admitted" wait_backend_field web "${EP[1]}" state healthy 8
N_BEFORE=$(backend_field web "${EP[1]}" ejections)
log "b1 re-admitted by $(events_of "${EP[1]}" healthy | tail -n1 | jq -c '{rule, evidence: .evidence.probes}') after $N_BEFORE ejections"
sleep 0.5 # it serves again for a moment
kill -KILL "${FO_SRV_PIDS[1]}"
stop_pid "${FO_SRV_PIDS[1]}"
log "killed b1 again"
assert_true "b1 ejected again" wait_backend_field web "${EP[1]}" state ejected 5
N_AFTER=$(backend_field web "${EP[1]}" ejections)
assert_eq "ejection count kept across the flap" $((N_BEFORE + 1)) "$N_AFTER"
# The ejection right after the flap: the first one after the re-admission.
FLAP_SEQ=$(events_of "${EP[1]}" healthy | tail -n1 | jq -r .seq)
# shellcheck disable=SC2317 # called through wait_until
flap_ended() { [[ -n $(ejection_durations "${EP[1]}" | awk -v s="$FLAP_SEQ" '$1 > s') ]]; }
assert_true "the new ejection ended in probing" wait_until $((N_AFTER * BASE_MS / 1000 + 3)) flap_ended
FLAP_MS=$(ejection_durations "${EP[1]}" | awk -v s="$FLAP_SEQ" '$1 > s {print $2; exit}')
mapfile -t D2 < <(ejection_durations "${EP[1]}" | awk '{print $2}')
log "all b1 ejection durations (ms): ${D2[*]}; after the flap: ${FLAP_MS:-none} ms (ejection #$N_AFTER)"
assert_true "ejection after the flap (${FLAP_MS:-?} ms) longer than the first (${D[0]:-?} ms)" \
	test "${FLAP_MS:-0}" -gt "${D[0]:-0}"
assert_ge "ejection after the flap ms ($N_AFTER x $BASE_MS)" $((N_AFTER * BASE_MS - SLACK_MS)) "${FLAP_MS:-0}"
assert_eq "b2 stayed healthy" healthy "$(backend_field web "${EP[2]}" state)"
assert_eq "b2 ejections" 0 "$(backend_field web "${EP[2]}" ejections)"

stop_pid "$LG_ALL"
fo_show
fo_show_events
((VGL_FAILS == 0)) || dump_vigild_log
finish
