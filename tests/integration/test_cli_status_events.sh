#!/bin/bash
# vigilctl status and the filters of vigilctl events, against a running
# vigild with two services sharing a backend: web (b1 b2) and api (b2 b3 b4).
#   status: vigild running with its pid and uptime, the version, services
#   and their serving tier, backends by state and admin state, losses (0),
#   integrations ({}: no load balancer fed); after a SIGKILL: not
#   running. Table and --json.
#   events --service / --backend, alone, together, with --json and --follow:
#   exactly the records of that service / backend (admin changes made here:
#   drain web b1, disable api b3, drain api b2; then a "vigild restarted"
#   record, which belongs to no service and passes no filter); bad values
#   refused: a malformed backend (exit 2), an unknown service or backend
#   (exit 1), an empty or missing --service (exit 2).
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
fo_require_env

fo_world 4
WEB_VIP="10.96.$NET.10:80" API_VIP="10.96.$NET.20:80"
fo_conf --calm --service web "$WEB_VIP" --backends "${EP[1]}" "${EP[2]}" \
	--service api "$API_VIP" --backends "${EP[2]}" "${EP[3]}" "${EP[4]}"
start_vigild "$VGL_CONFIG"

OUT=$VGL_TMP/out ERR=$VGL_TMP/err
run() { # vigilctl ARGS...: exit status in RC, output in $OUT and $ERR
	timeout 10 "$VIGILCTL" --pin-dir "$VGL_PIN_DIR" "$@" >"$OUT" 2>"$ERR"
	RC=$?
}
st() { vctl status --json | jq -r "$1"; } # FILTER

# ---- status --------------------------------------------------------------------------
S=$(vctl status --json)
log "status --json: $S"
assert_eq "status: running" true "$(jq -r .vigild.running <<<"$S")"
assert_eq "status: pid" "$VIGILD_PID" "$(jq -r .vigild.pid <<<"$S")"
assert_true "status: uptime_s a whole number" grep -qE '^[0-9]+$' <<<"$(jq -r .uptime_s <<<"$S")"
assert_eq "status: version" "$("$VIGILD" --version | cut -d' ' -f2)" "$(jq -r .version <<<"$S")"
assert_eq "status: services, serving tiers" "2 2 0 0" \
	"$(jq -r '"\(.services) \(.serving.primaries) \(.serving.backups) \(.serving.fail_open)"' <<<"$S")"
assert_eq "status: backends total/healthy" "5 5" "$(jq -r '"\(.backends.total) \(.backends.healthy)"' <<<"$S")"
assert_eq "status: losses" 0 "$(jq -r .loss_total <<<"$S")"
assert_eq "status: integrations (none fed)" "{}" "$(jq -c .integrations <<<"$S")"

vctl drain web "${EP[1]}" >/dev/null || die "drain web b1 failed"
vctl disable api "${EP[3]}" >/dev/null || die "disable api b3 failed"
vctl drain api "${EP[2]}" >/dev/null || die "drain api b2 failed"
admin_seen() { (($(vctl events --json | jq -s 'map(select(.rule == "admin")) | length') >= 3)); }
assert_true "the three admin changes recorded" wait_until 3 admin_seen
assert_eq "status: draining, disabled" "2 1" "$(st '"\(.backends.draining) \(.backends.disabled)"')"
vctl status >"$OUT" 2>"$ERR"
log "status:"$'\n'"$(cat "$OUT")"
assert_true "status table: vigild running with pid" grep -qE "^vigild +running \(pid $VIGILD_PID, .*, up " "$OUT"
assert_true "status table: services" grep -qE "^services +2: 2 on primaries" "$OUT"
assert_true "status table: backends" grep -qE "^backends +5: 5 healthy, 0 ejected, 0 probing; admin: 2 draining, 1 disabled" "$OUT"
assert_true "status table: losses" grep -qE "^losses +none" "$OUT"
assert_true "status table: integrations" grep -qE "^integrations +none" "$OUT"

# A "vigild restarted" record (it names no service); the drains are not
# recorded again (the restart takes admin states from backend_info).
kill -KILL "$VIGILD_PID"
stop_pid "$VIGILD_PID"
assert_eq "status after SIGKILL: running" false "$(st .vigild.running)"
vctl status >"$OUT" 2>/dev/null
assert_true "status table after SIGKILL: not running" grep -qE "^vigild +not running since .*pid $VIGILD_PID exited" "$OUT"
start_vigild "$VGL_CONFIG"
restarts() { vctl events --json | jq -s 'map(select(.rule == "vigild_restarted")) | length'; }
restart_seen() { (($(restarts) >= 1)); }
assert_true "restart recorded" wait_until 3 restart_seen
sleep 0.3 # a few ticks: the admin map has been read
assert_eq "admin changes after the restart (none new)" 3 \
	"$(vctl events --json | jq -s 'map(select(.rule == "admin")) | length')"

# ---- events filters --------------------------------------------------------------------------
# "VIP BACKEND TO" per record of 'events --json ARGS...'.
ev() { vctl events --json "$@" | jq -r '"\(.vip) \(.backend) \(.to)"' | sort | tr '\n' ';'; }
ALL=$(vctl events --json | jq -s length)
log "history: $ALL records"; fo_show_events
assert_eq "--service web" "$WEB_VIP ${EP[1]} draining;" "$(ev --service web)"
assert_eq "--service api" "$API_VIP ${EP[2]} draining;$API_VIP ${EP[3]} disabled;" "$(ev --service api)"
assert_eq "--backend b2" "$API_VIP ${EP[2]} draining;" "$(ev --backend "${EP[2]}")"
assert_eq "--service web --backend b2 (a backend of web, no change)" "" "$(ev --service web --backend "${EP[2]}")"
assert_eq "--backend b3 --service api" "$API_VIP ${EP[3]} disabled;" "$(ev --backend "${EP[3]}" --service api)"
assert_eq "without a filter: the restart record too" 1 "$(restarts)"
run events --service web
assert_eq "table --service web: exit status" 0 "$RC"
assert_eq "table --service web: one line, b1" 1 "$(grep -c "${EP[1]}" "$OUT")"
assert_eq "table --service web: nothing else" 1 "$(wc -l <"$OUT")"

# --follow: the records so far, then new ones of api only.
FOLLOW=$VGL_TMP/follow
start_bg "$VIGILCTL" --pin-dir "$VGL_PIN_DIR" events --follow --json --service api
F_PID=$BG_PID F_LOG=$BG_LOG
followed() { (($(grep -c '"to":"none"' "$F_LOG") >= 1)); }
sleep 0.5
vctl undrain web "${EP[1]}" >/dev/null || die "undrain web b1 failed"
vctl undrain api "${EP[2]}" >/dev/null || die "undrain api b2 failed"
assert_true "--follow --service api: the undrain of api b2 streamed" wait_until 3 followed
sleep 0.3
stop_pid "$F_PID"
cp "$F_LOG" "$FOLLOW"
log "followed:"$'\n'"$(cat "$FOLLOW")"
assert_eq "--follow --service api: lines" 3 "$(wc -l <"$FOLLOW")"
assert_eq "--follow --service api: every line of api" 3 "$(jq -r .vip "$FOLLOW" | grep -cxF "$API_VIP")"
assert_eq "--follow --service api: the web undrain not shown" 0 "$(grep -c "${EP[1]}" "$FOLLOW")"

# ---- bad values ----------------------------------------------------------------------------------
run events --backend nonsense
assert_eq "--backend nonsense: exit status" 2 "$RC"
assert_true "--backend nonsense: says ADDRESS:PORT" grep -q "'nonsense' is not ADDRESS:PORT" "$ERR"
run events --service nosuch
assert_eq "--service nosuch: exit status" 1 "$RC"
assert_true "--service nosuch: named" grep -q "no such service 'nosuch'" "$ERR"
run events --backend 10.9.9.9:1
assert_eq "--backend unknown: exit status" 1 "$RC"
assert_true "--backend unknown: named" grep -q "no backend 10.9.9.9:1 in any service" "$ERR"
run events --service web --backend "${EP[3]}"
assert_eq "--backend of another service: exit status" 1 "$RC"
assert_true "--backend of another service: named" grep -q "no backend ${EP[3]} in service web" "$ERR"
run events --service ""
assert_eq "--service '': exit status" 2 "$RC"
run events --service
assert_eq "--service without a value: exit status" 2 "$RC"
assert_true "--service without a value: usage" grep -q "usage: vigilctl events" "$ERR"

((VGL_FAILS == 0)) || dump_vigild_log
finish
