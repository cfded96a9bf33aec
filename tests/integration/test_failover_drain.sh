#!/bin/bash
# Administrative drain (vigilctl drain/undrain) of one of 3 primaries.
#   1. Keep-alive clients are connected to every backend; 'vigilctl drain web
#      B2' takes b2 out of selection (share 0, admin draining) but its
#      existing connections keep working: no request fails and b2 keeps
#      answering on them. New connections avoid b2. 'undrain' restores it.
#   2. The drain is kept across a vigild restart (same config and pin dir):
#      the restarted vigild shows b2 draining and keeps it out.
#   3. With vigild stopped, 'vigilctl drain' still works: it rewrites the
#      datapath set itself, so new connections avoid the drained backend
#      while no daemon runs; a vigild started afterwards keeps the drain.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
fo_require_env

fo_world 3
fo_conf --calm --service web "$VIP_EP" --backends "${EP[1]}" "${EP[2]}" "${EP[3]}"
start_vigild "$VGL_CONFIG"


# Run vigilctl, log its output, count a failure if it fails.
ctl() { # vigilctl args...
	local out rc
	out=$(vctl "$@" 2>&1)
	rc=$?
	log "vigilctl $*: $out (exit $rc)"
	assert_eq "vigilctl $1 exit" 0 "$rc"
}

# A short new-connection-per-request load; sets LG_OUT.
probe_load() { # LABEL
	fo_loadgen -a "$VIP" -p 80 -c 4 -d 1000 -t 2000 -s 1 || die "$1: loadgen failed"
	assert_eq "$1: failed" 0 "$(lg_get failed)"
}

# ---- 1: drain with kept-alive connections open --------------------------------------
fo_loadgen_bg -a "$VIP" -p 80 -c 12 -d 8000 -t 3000 -k -s 2
KA_PID=$LG_PID KA_LOG=$LG_LOG
wait_until 5 estab_at_least 1 "${EP[2]}" || die "none of the 12 keep-alive connections went to b2"
sleep 0.5
KA_B2=$(estab_to "${EP[2]}")
log "keep-alive connections: b1 $(estab_to "${EP[1]}"), b2 $KA_B2, b3 $(estab_to "${EP[3]}")"

ctl drain web "${EP[2]}"
assert_true "b2 admin draining" wait_backend_field web "${EP[2]}" admin draining 3
assert_eq "b2 share while draining" 0 "$(backend_field web "${EP[2]}" share)"
assert_eq "b2 health state while draining" healthy "$(backend_field web "${EP[2]}" state)"
log "drain change: $(events_of "${EP[2]}" | tail -n1 | jq -c '{from, to, rule}')"
drain_recorded() { [[ $(events_of "${EP[2]}" | tail -n1 | jq -c '{from, to, rule}') == \
	'{"from":"none","to":"draining","rule":"admin"}' ]]; }
assert_true "drain recorded as admin none -> draining" wait_until 3 drain_recorded
assert_true "drain logged as admin none -> draining" \
	grep -q "backend ${EP[2]}: admin none -> draining" "$VIGILD_LOG"
REQ2=$(stat_of "${EP[2]}" requests) || die "no stats for b2"
probe_load "while draining"
assert_eq "while draining: new connections to b2" 0 "$(lg_get served_b2)"
assert_ge "while draining: new connections to b1" 1 "$(lg_get served_b1)"
assert_ge "while draining: new connections to b3" 1 "$(lg_get served_b3)"
REQ2_LATER=$(stat_of "${EP[2]}" requests) || die "no stats for b2"
log "b2 answered $((REQ2_LATER - REQ2)) requests on its $KA_B2 kept-alive connections while draining"
assert_ge "b2 requests on existing connections while draining" 1 $((REQ2_LATER - REQ2))
assert_eq "b2 kept-alive connections untouched" "$KA_B2" "$(estab_to "${EP[2]}")"

ctl undrain web "${EP[2]}"
assert_true "b2 admin none after undrain" wait_backend_field web "${EP[2]}" admin none 3
assert_true "b2 share after undrain" test "$(backend_field web "${EP[2]}" share)" != 0
probe_load "after undrain"
assert_ge "after undrain: new connections to b2" 1 "$(lg_get served_b2)"

fo_loadgen_wait "$KA_PID" "$KA_LOG" 15 || die "keep-alive loadgen did not finish"
log "keep-alive loadgen across drain/undrain: $LG_OUT"
assert_eq "keep-alive requests failed across drain/undrain" 0 "$(lg_get failed)"
assert_ge "keep-alive requests served by b2" 1 "$(lg_get served_b2)"

# ---- 2: the drain survives a vigild restart --------------------------------------------
ctl drain web "${EP[2]}"
fo_stop_vigild 5 || die "vigild did not stop"
assert_eq "vigild exit status" 0 "$VIGILD_RC"
start_vigild "$VGL_CONFIG"
assert_true "b2 draining after the restart" wait_backend_field web "${EP[2]}" admin draining 3
assert_eq "b2 share after the restart" 0 "$(backend_field web "${EP[2]}" share)"
probe_load "after the restart"
assert_eq "after the restart: new connections to b2" 0 "$(lg_get served_b2)"

# ---- 3: drain with vigild stopped ---------------------------------------------------------
ctl undrain web "${EP[2]}"
assert_true "b2 back in service" wait_backend_field web "${EP[2]}" admin none 3
fo_stop_vigild 5 || die "vigild did not stop"
assert_eq "vigild exit status (second stop)" 0 "$VIGILD_RC"
ctl drain web "${EP[3]}"
vctl backends | sed 's/^/  /'
# vigilctl reads the maps directly: what it shows must be what the datapath
# now does, daemon or not.
assert_eq "b3 admin shown with vigild stopped" draining "$(backend_field web "${EP[3]}" admin)"
assert_eq "b3 share shown with vigild stopped" 0 "$(backend_field web "${EP[3]}" share)"
assert_eq "selectable backends shown with vigild stopped" 2 "$(service_field web selectable)"
probe_load "vigild stopped"
assert_eq "vigild stopped: new connections to b3 (drained)" 0 "$(lg_get served_b3)"
assert_ge "vigild stopped: new connections to b2 (undrained before the stop)" 1 "$(lg_get served_b2)"
start_vigild "$VGL_CONFIG"
assert_true "b3 still draining once vigild is back" wait_backend_field web "${EP[3]}" admin draining 3
assert_eq "b2 not draining once vigild is back" none "$(backend_field web "${EP[2]}" admin)"
probe_load "vigild back"
assert_eq "vigild back: new connections to b3" 0 "$(lg_get served_b3)"
assert_ge "vigild back: new connections to b2" 1 "$(lg_get served_b2)"

fo_show
fo_show_events
((VGL_FAILS == 0)) || dump_vigild_log
finish
