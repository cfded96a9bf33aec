#!/bin/bash
# vigil feeding nginx (docs/integrations.md), table-driven: a real nginx
# (stream module) in the client namespace balances over b1, b2 (primaries)
# and b3 (backup), whose server lines vigild writes into the include file
# of the upstream (service "web", datapath none) and reloads nginx through
# the master PID in its pid file. nginx's passive checks are off
# (max_fails=0): with its default max_fails=1, nginx itself stops trying a
# refusing server after one failure, and vigil would never see the three it
# needs (docs/integrations.md, "nginx").
#   kill       b1's server is SIGKILLed under load
#   blackhole  every packet to b1 is dropped under load
#   coalesce   b2 is drained and undrained 8 times in a row with
#              reload_interval_ms 1000: nginx is reloaded at most twice
# Asserts (read back from nginx's side: the include file, and where the
# traffic goes): b1 is "down" in the file, nginx was reloaded (counted in
# vigilctl stats), a load started afterwards never reaches b1, and after
# healing vigil's probes re-admit b1 and the file and the traffic follow.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
# shellcheck source=tests/lib_lb.sh
source "$(dirname "$0")/../lib_lb.sh"
run_cases kill blackhole coalesce
fo_require_env
lb_require_env
INTERVAL_MS=200
[[ $VGL_CASE == coalesce ]] && INTERVAL_MS=1000

fo_world 3
lb_vigil_config <<CONF
services:
  - name: web
    datapath: none
    backends: ["${EP[1]}", "${EP[2]}"]
    backups: ["${EP[3]}"]
nginx:
  pid_file: $NG_PIDFILE
  reload_interval_ms: $INTERVAL_MS
  upstreams: [{service: web, file: $NG_INCLUDE, options: "max_fails=0"}]
CONF
start_vigild "$VGL_CONFIG"
# vigild writes the include at start (no nginx to reload yet); nginx reads it.
wait_file "$NG_INCLUDE" 5 || die "vigild did not write $NG_INCLUDE"
log "include written by vigild: $(tr '\n' '|' <"$NG_INCLUDE")"
NG_CFG=$VGL_TMP/nginx.conf
ng_config >"$NG_CFG"
ng_start "$NG_CFG"

lb_loadgen_args
feed_field() { lb_feed_field nginx "$1"; }
_include_has() { grep -qxF -- "$1" "$NG_INCLUDE"; }
# Poll until the include file has the line LINE; a failure if not.
expect_include() { # LINE TIMEOUT_S
	if wait_until "$2" _include_has "$1"; then
		log "ok: include has '$1'"
	else
		warn "FAIL: include lacks '$1' after $2 s: $(tr '\n' '|' <"$NG_INCLUDE")"
		VGL_FAILS=$((VGL_FAILS + 1))
	fi
}

lb_loadgen -d 1000 || die "baseline loadgen failed"
assert_lg baseline failed=0 'served_b1>=1' 'served_b2>=1' served_b3=0
expect_include "server ${EP[1]} weight=1 max_fails=0;" 1

fault_case() { # FAULT_CMD...
	local reloads
	reloads=$(feed_field pushes)
	FAULT_LOAD=(fo_loadgen_bg "${LG[@]}" -d 3000)
	fault_under_load 1 "${EP[1]}" b1 "$@"
	expect_ejection web "${EP[1]}" 5 'fast_path|consecutive_failures|stuck_connect|stuck_request'
	expect_include "server ${EP[1]} weight=1 down max_fails=0;" 2
	assert_true "vigil's log names the reload" grep -q "nginx: reloaded (SIGHUP to master" "$VIGILD_LOG"
	fault_load_end 15
	assert_lg "under fault" 'served_b2>=100' 'failed_after<=16'
	assert_ge "reloads counted" $((reloads + 1)) "$(feed_field pushes)"
	# The old workers finish the sessions they had; a load started later
	# goes to the new ones only.
	sleep_until_after_fault 4
	ATT_EJECTED=$(stat_of "${EP[1]}" connect_attempts) || die "no stats for b1"
	lb_loadgen -d 1000 || die "loadgen after the ejection failed"
	assert_lg "after the ejection" failed=0 served_b1=0 'served_b2>=100'
	assert_eq "connect attempts to b1 during that load" "$ATT_EJECTED" \
		"$(stat_of "${EP[1]}" connect_attempts)"
}

heal_and_readmit() { # HEAL_CMD...
	"$@" || die "healing failed: $*"
	wait_backend_field web "${EP[1]}" state healthy 15 || die "b1 not re-admitted by vigil"
	expect_include "server ${EP[1]} weight=1 max_fails=0;" 2
	sleep 0.5 # the reload's new worker takes over
	lb_loadgen -d 1000 || die "loadgen after healing failed"
	assert_lg "after re-admission" failed=0 'served_b1>=1' 'served_b2>=1'
}

case $VGL_CASE in
kill)
	fault_case fo_kill_server 1
	heal_and_readmit fo_server 1 "${B4[1]}" "$PORT" b1
	;;
blackhole)
	fault_case fo_blackhole vgl_bh "${B4[1]}" "$PORT"
	heal_and_readmit fo_unblackhole vgl_bh
	;;
coalesce)
	sleep 1.1 # a reload interval since the last reload
	RELOADS=$(feed_field pushes) COALESCED=$(feed_field coalesced)
	# 16 changes over ~1.5 s, each seen by vigild (it reads the admin map
	# every tick, 10 ms): one reload at once, then at most one a second.
	T_FLIPS=$EPOCHREALTIME
	for ((i = 0; i < 8; i++)); do
		vctl drain web "${EP[2]}" >/dev/null || die "vigilctl drain failed"
		sleep 0.05
		vctl undrain web "${EP[2]}" >/dev/null || die "vigilctl undrain failed"
		sleep 0.05
	done
	FLIP_S=$(awk -v a="$T_FLIPS" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", b - a + 1 }')
	sleep 1.2 # the reload the last flips waited for
	assert_le "reloads for 16 changes in ${FLIP_S} s (one at once, one per second)" \
		$((RELOADS + FLIP_S + 1)) "$(feed_field pushes)"
	assert_ge "changes folded into a due reload" $((COALESCED + 16 - FLIP_S - 1 - 4)) \
		"$(feed_field coalesced)"
	expect_include "server ${EP[2]} weight=1 max_fails=0;" 1
	lb_loadgen -d 1000 || die "loadgen after the flips failed"
	assert_lg "after the flips" failed=0 'served_b1>=1' 'served_b2>=1'
	;;
*) die "unknown case $VGL_CASE" ;;
esac

fo_show
log "feed counters: $(vigil_stats | jq -c '.feeds.nginx | del(.sent_us.buckets, .acked_us)')"
((VGL_FAILS == 0)) || { dump_vigild_log; tail -n 20 "$VGL_TMP/nginx-error.log" >&2; }
finish
