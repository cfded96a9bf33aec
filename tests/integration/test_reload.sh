#!/bin/bash
# Config reload (SIGHUP) of a running vigild, socket datapath, 5 backends.
#   1. web = b1 b2 b3; b2 is drained (vigilctl drain) and b3 killed until it
#      is ejected (60 s ejection: it stays out for the whole test).
#   2. HUP with web = b1 b2 b3 b4 and a new service api = b5 b1, under load:
#      same vigild PID, no failed request across the reload, b4 and api
#      appear and serve, b2 still drained, b3 still ejected (same ejection
#      count), b5 watched. One summary line in the log.
#   3. HUP with an invalid file, with a pin_dir change (restart-only), with an
#      XDP interface that does not exist, with a cgroup that is not cgroup v2:
#      each is logged with its reason and "keeping the running config", and
#      services, backends, states and set versions are unchanged.
#   4. HUP with web = b2 b3 b4, under load: b1 is gone from web (vigilctl,
#      new connections) but still in api, and serves api.
#   5. HUP with web on a new VIP and no api: api, b1 and b5 are gone from
#      vigilctl and get no new connections, b5 is no longer watched (a direct
#      connect to it is not counted; one to b4 is), the drain of b2 (kept by
#      VIP in the admin map) follows web to its new VIP, which serves, while
#      the old VIP no longer does.
#   6. b3 was ejected once in all (never re-admitted and ejected again), and
#      vigild still stops cleanly.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
fo_require_env

fo_world 5
VIP2="10.96.$NET.20"
VIP3="10.96.$NET.11"

fo_new_config
# The config vigild runs with, rewritten in place before every HUP from the
# services queued in SVC by svc_web and svc_api; options go to fo_conf.
# eject_base_ms 60000: an ejected backend stays out for the whole test.
SVC=()
write_config() { # [fo_conf options...]
	fo_conf --rewrite --detect "eject_base_ms: 60000" --calm "$@" "${SVC[@]}"
	SVC=()
}
svc_web() { SVC+=(--service web "${WEB_VIP:-$VIP}:80" --backends "$@"); } # BACKEND...
svc_api() { SVC+=(--service api "$VIP2:80" --backends "${EP[5]}" "${EP[1]}"); }

# ---- helpers ------------------------------------------------------------------------

# What a reload must not change when it is refused.
snapshot() {
	vctl backends --json | jq -c '[.backends[] | {service, vip, backend, role, state, admin,
		weight, ejections, selected}] | sort_by(.service, .backend)'
	vctl services --json | jq -c '[.services[] | {name, vip, datapath, primaries, backups,
		serving, selectable, set_version}] | sort_by(.name)'
}

# vigild is the process started in step 1 (same PID and start time), alive.
assert_alive() { # LABEL
	assert_eq "$1: vigild still the same running process (pid start-time)" "$ID0" \
		"$(proc_identity "$VIGILD_PID")"
}

# Short new-connection-per-request load on VIP (default the web VIP). The 3 s
# timeout outlasts a SYN retransmission: what counts as failed is a refused,
# reset or unserved request, not a SYN this VM lost while stalled.
load_vip() { # LABEL [VIP]
	fo_loadgen -a "${2:-$VIP}" -p 80 -c 4 -d 1000 -t 3000 -s 1 || die "$1: loadgen failed"
}

# Connect straight to an endpoint from the client namespace (no VIP, no
# cgroup): counted by the monitor only if the endpoint is watched.
direct_connects() { # EP COUNT
	run_testcli "$CLI_NS" -a "${1%:*}" -p "${1##*:}" -n "$2" -c 1
}

# HUP with the config just written, under load: same vigild, the log's
# summary line matches SUMMARY, no request fails across it.
reload_under_load() { # LABEL SUMMARY
	fo_loadgen_bg -a "$VIP" -p 80 -c 4 -d 3000 -t 1000 -s 1
	sleep 1
	hup_expect "config reloaded"
	assert_true "summary of $1: $2" grep -qF "$2" <<<"$HUP_LINE"
	fo_loadgen_wait "$LG_PID" "$LG_LOG" 10 || die "loadgen across $1 did not finish"
	log "loadgen across $1: $LG_OUT"
	assert_eq "requests failed across $1" 0 "$(lg_get failed)"
	assert_alive "after $1"
}

refused_unchanged() { # LABEL PATTERN
	local before after
	before=$(snapshot)
	hup_expect "$2"
	assert_true "$1: logged as keeping the running config" \
		grep -q "keeping the running config" <<<"$HUP_LINE"
	assert_alive "$1"
	after=$(snapshot)
	assert_eq "$1: services and backends unchanged" "$before" "$after"
}

# ---- 1: web = b1 b2 b3, b2 drained, b3 ejected ----------------------------------------------
svc_web "${EP[1]}" "${EP[2]}" "${EP[3]}"
write_config
start_vigild "$VGL_CONFIG"
ID0=$(proc_identity "$VIGILD_PID") || die "vigild not running: $ID0"
log "vigild pid and start time: $ID0"
load_vip "baseline"
assert_eq "baseline failed" 0 "$(lg_get failed)"
for i in 1 2 3; do assert_ge "baseline served by b$i" 1 "$(lg_get "served_b$i")"; done

vctl drain web "${EP[2]}" >/dev/null || die "vigilctl drain failed"
assert_true "b2 drained" wait_backend_field web "${EP[2]}" admin draining 3
fo_kill_server 3
fo_loadgen_bg -a "$VIP" -p 80 -c 4 -d 1500 -t 1000 -s 1
assert_true "b3 ejected once killed" wait_backend_field web "${EP[3]}" state ejected 5
fo_loadgen_wait "$LG_PID" "$LG_LOG" 10 || die "loadgen did not finish"
EJ3=$(backend_field web "${EP[3]}" ejections)
log "b3 ejected ($EJ3 ejection(s)), rule $(backend_field web "${EP[3]}" rule)"
fo_show

# ---- 2: add b4 and a service, under load -------------------------------------------------------
svc_web "${EP[1]}" "${EP[2]}" "${EP[3]}" "${EP[4]}"
svc_api
write_config
reload_under_load "the reload" "2 services (1 added, 0 removed, 1 changed), backends 3 added, 0 removed"

assert_true "b4 listed and healthy" wait_backend_field web "${EP[4]}" state healthy 3
assert_eq "b4 selected" true "$(backend_field web "${EP[4]}" selected)"
assert_true "service api listed" wait_service_field api vip "$VIP2:80" 3
assert_eq "api backend b5 healthy" healthy "$(backend_field api "${EP[5]}" state)"
assert_eq "api backend b1 healthy" healthy "$(backend_field api "${EP[1]}" state)"
assert_eq "b2 still drained" draining "$(backend_field web "${EP[2]}" admin)"
assert_eq "b3 still ejected" ejected "$(backend_field web "${EP[3]}" state)"
assert_eq "b3 ejection count kept" "$EJ3" "$(backend_field web "${EP[3]}" ejections)"
assert_eq "b1 still healthy" healthy "$(backend_field web "${EP[1]}" state)"
fo_show

load_vip "web after adding"
assert_eq "web after adding: failed" 0 "$(lg_get failed)"
assert_ge "web after adding: served by b4 (new)" 1 "$(lg_get served_b4)"
assert_ge "web after adding: served by b1" 1 "$(lg_get served_b1)"
assert_eq "web after adding: served by b2 (drained)" 0 "$(lg_get served_b2)"
assert_eq "web after adding: served by b3 (ejected)" 0 "$(lg_get served_b3)"
load_vip "api after adding" "$VIP2"
assert_eq "api: failed" 0 "$(lg_get failed)"
assert_ge "api: served by b5" 1 "$(lg_get served_b5)"
assert_ge "api: served by b1" 1 "$(lg_get served_b1)"
A5=$(stat_of "${EP[5]}" connect_attempts) || die "b5 not in the stats: not watched"
assert_ge "b5 watched: connects counted" 1 "$A5"

# ---- 3: refused reloads change nothing -------------------------------------------------------------
GOOD=$(cat "$VGL_CONFIG")

# A missing port: the file:line error, and nothing else happens.
svc_web "${EP[1]}" "${B4[2]}"
write_config
refused_unchanged "invalid file" "reload refused"
assert_true "invalid file: error names file and line" \
	grep -qE "$(basename "$VGL_CONFIG"):[0-9]+: services\[0\]\.backends\[1\].*missing port" <<<"$HUP_LINE"

printf '%s\n' "$GOOD" | sed "s|pin_dir: $VGL_PIN_DIR|pin_dir: $VGL_PIN_DIR-moved|" >"$VGL_CONFIG"
refused_unchanged "pin_dir change" "reload of .* refused"
assert_true "pin_dir change: says a restart is needed" \
	grep -q "daemon.pin_dir changed.*restart vigild" <<<"$HUP_LINE"
assert_true "pin_dir change: nothing pinned at the new place" test ! -e "$VGL_PIN_DIR-moved"

svc_web "${EP[1]}" "${EP[2]}" "${EP[3]}" "${EP[4]}"
svc_api
SVC+=(--service edge "10.96.$NET.30:80" --backends "${EP[4]}" --set "datapath: xdp")
write_config --top "xdp: {interfaces: [vglnosuch0]}"
refused_unchanged "missing XDP interface" "reload of .* failed"
assert_true "missing XDP interface: named" grep -q "vglnosuch0: no such interface" <<<"$HUP_LINE"
assert_eq "missing XDP interface: service edge not added" absent "$(service_field edge name)"

printf '%s\n' "$GOOD" | sed "s|cgroup: $FO_CGROUP|cgroup: $VGL_TMP|" >"$VGL_CONFIG"
refused_unchanged "cgroup not v2" "reload refused: .*lb.cgroup"
assert_true "cgroup not v2: named" grep -q "not a cgroup v2 directory" <<<"$HUP_LINE"

load_vip "web after the refused reloads"
assert_eq "after refused reloads: failed" 0 "$(lg_get failed)"
assert_ge "after refused reloads: served by b4" 1 "$(lg_get served_b4)"
assert_eq "after refused reloads: served by b2 (drained)" 0 "$(lg_get served_b2)"
assert_alive "after the refused reloads"

# ---- 4: remove b1 from web (it stays in api), under load ---------------------------------------------------
svc_web "${EP[2]}" "${EP[3]}" "${EP[4]}"
svc_api
write_config
reload_under_load "the removal" "2 services (0 added, 0 removed, 1 changed), backends 0 added, 1 removed"
fo_show
assert_eq "b1 gone from web in vigilctl backends" absent "$(backend_field web "${EP[1]}" state)"
assert_eq "b1 still in api" healthy "$(backend_field api "${EP[1]}" state)"
assert_eq "web primaries" 3 "$(service_field web primaries)"
assert_eq "b2 still drained" draining "$(backend_field web "${EP[2]}" admin)"
assert_eq "b3 still ejected" ejected "$(backend_field web "${EP[3]}" state)"
load_vip "web after removing b1"
assert_eq "web after removing b1: failed" 0 "$(lg_get failed)"
assert_eq "web after removing b1: served by b1" 0 "$(lg_get served_b1)"
assert_ge "web after removing b1: served by b4" 1 "$(lg_get served_b4)"
load_vip "api after removing b1 from web" "$VIP2"
assert_eq "api: failed" 0 "$(lg_get failed)"
assert_ge "api: still served by b1" 1 "$(lg_get served_b1)"

# ---- 5: web on a new VIP, api removed -------------------------------------------------------------------
WEB_VIP=$VIP3 svc_web "${EP[2]}" "${EP[3]}" "${EP[4]}"
write_config
hup_expect "config reloaded"
assert_true "summary: api removed, web changed" \
	grep -q "1 services (0 added, 1 removed, 1 changed), backends 0 added, 2 removed" <<<"$HUP_LINE"
assert_alive "after removing api"
vctl services --json | jq -c '.services[]' | sed 's/^/  /'
fo_show
assert_true "web on its new VIP" wait_service_field web vip "$VIP3:80" 3
assert_eq "service api gone from vigilctl services" absent "$(service_field api name)"
assert_eq "api backend b5 gone from vigilctl backends" absent "$(backend_field api "${EP[5]}" state)"
assert_eq "api backend b1 gone from vigilctl backends" absent "$(backend_field api "${EP[1]}" state)"
assert_eq "backend records left: web's 3 on its new VIP" "3 $VIP3:80" \
	"$(vctl backends --json | jq -r '[.backends[].vip] | "\(length) \(unique | join(","))"')"
assert_eq "b2 still drained under the new VIP" draining "$(backend_field web "${EP[2]}" admin)"
assert_eq "b3 still ejected under the new VIP" ejected "$(backend_field web "${EP[3]}" state)"

load_vip "new VIP" "$VIP3"
assert_eq "new VIP: failed" 0 "$(lg_get failed)"
assert_ge "new VIP: served by b4" 1 "$(lg_get served_b4)"
assert_eq "new VIP: served by b2 (drained)" 0 "$(lg_get served_b2)"
fo_loadgen -a "$VIP" -p 80 -c 2 -d 500 -t 300 -s 1 || die "loadgen to the old VIP failed"
assert_eq "old VIP: requests answered" 0 "$(lg_get ok)"
fo_loadgen -a "$VIP2" -p 80 -c 2 -d 500 -t 300 -s 1 || die "loadgen to the removed VIP failed"
assert_eq "removed api VIP: requests answered" 0 "$(lg_get ok)"

# The watch maps follow: b5 (only in api) is no longer watched, b4 is.
# b5's entry may be gone (unwatched) or kept: "absent" is a value here, and
# it must not change either.
S=$(vigil_stats) || die "no stats"
A5=$(backend_get "$S" "${EP[5]}" .connect_attempts)
A4=$(stat_of "${EP[4]}" connect_attempts) || die "no stats for b4"
direct_connects "${EP[5]}" 3
assert_eq "direct connects to b5 answered" 3 "$(cli_get ok)"
direct_connects "${EP[4]}" 3
assert_eq "direct connects to b4 answered" 3 "$(cli_get ok)"
assert_true "b4 connects counted" wait_backend "${EP[4]}" .connect_attempts $((A4 + 3)) 3
S=$(vigil_stats) || die "no stats"
assert_eq "b5 connects not counted (unwatched)" "$A5" "$(backend_get "$S" "${EP[5]}" .connect_attempts)"

# ---- 6: never re-admitted; a clean stop after the reloads ------------------------------------------------
assert_eq "b3 ejections in the history" 1 "$(events_of "${EP[3]}" ejected | wc -l)"
assert_eq "b3 re-admissions in the history" 0 "$(events_of "${EP[3]}" healthy | wc -l)"
fo_stop_vigild 5 || die "vigild did not stop"
assert_eq "vigild exit status" 0 "$VIGILD_RC"

fo_show_events
((VGL_FAILS == 0)) || dump_vigild_log
finish
