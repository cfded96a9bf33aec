#!/bin/bash
# vigil feeding HAProxy (docs/integrations.md), table-driven over the faults:
# a real HAProxy in the client namespace balances "listen web" over b1, b2
# (primaries) and b3 (backup) in the server namespace; vigild runs beside it
# with only a haproxy: section naming the backend, so the service "web", its
# three backends and their addresses come from HAProxy's own `show servers
# state`, and the monitor watches HAProxy's connections to them.
#   kill       b1's server is SIGKILLed under load; HAProxy has no checks.
#              Then HAProxy is restarted while b1 is still ejected: vigil
#              re-applies "health down" to the new HAProxy.
#   blackhole  every packet to b1 is dropped under load; HAProxy runs its own
#              checks (inter 2s fall 3): vigil marks b1 down long before
#              they would.
#   admin      vigild starts before HAProxy (the service appears once
#              HAProxy answers) and is reloaded (the service stays); then
#              vigilctl drain / disable / enable b2 become HAProxy's
#              drain / maint / ready.
# Asserts (read back through HAProxy's runtime API): the faulty server is
# down in HAProxy, the load moved (no connection to it once ejected, the
# others served), the push counted in vigilctl stats, and after healing
# vigil's probes re-admit it and HAProxy has it up and serving again.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
# shellcheck source=tests/lib_lb.sh
source "$(dirname "$0")/../lib_lb.sh"
run_cases kill blackhole admin
fo_require_env
lb_require_env

fo_world 3
HP_CFG=$VGL_TMP/haproxy.cfg
if [[ $VGL_CASE == blackhole ]]; then
	hp_config "check inter 2s fall 3 rise 2" >"$HP_CFG"
else
	hp_config >"$HP_CFG"
fi
# admin: vigild starts first, HAProxy later; its service appears once
# HAProxy answers.
[[ $VGL_CASE == admin ]] || hp_start "$HP_CFG"

lb_vigil_config <<CONF
haproxy:
  socket: $HP_SOCK
  backends: [web]
  resync_ms: 200
CONF
start_vigild "$VGL_CONFIG"
if [[ $VGL_CASE == admin ]]; then
	sleep 0.5
	assert_eq "no service before HAProxy answers" absent "$(service_field web name)"
	hp_start "$HP_CFG"
fi

# ---- the service comes from HAProxy's servers -----------------------------------
wait_backend_field web "${EP[3]}" role backup 5 || die "vigil has no service web from HAProxy"
assert_eq "datapath of the service made from HAProxy's backend" none "$(service_field web datapath)"
assert_eq "b1 listed" primary "$(backend_field web "${EP[1]}" role)"
assert_eq "b2 listed" primary "$(backend_field web "${EP[2]}" role)"

lb_loadgen_args
lb_loadgen -d 1000 || die "baseline loadgen failed"
assert_lg baseline failed=0 'served_b1>=1' 'served_b2>=1' served_b3=0
# b3 is HAProxy's backup: nothing connects to it while b1 and b2 serve, and
# vigil probes nothing healthy (a backend never connected to has no entry).
# In the blackhole case HAProxy's own checks do.
B3_ATT=$(stat_of "${EP[3]}" connect_attempts 2>/dev/null) || B3_ATT=0
[[ $VGL_CASE == blackhole ]] ||
	assert_eq "connections to the idle backup (no health checks from vigil)" 0 "$B3_ATT"

feed_field() { lb_feed_field haproxy "$1"; }
_feed_above() { (($(feed_field "$1") > $2)); } # FIELD N

# ---- faults -----------------------------------------------------------------------
heal_and_readmit() { # HEAL_CMD...
	"$@" || die "healing failed: $*"
	wait_backend_field web "${EP[1]}" state healthy 15 || die "b1 not re-admitted by vigil"
	wait_hp_field b1 srv_op_state 2 5 || VGL_FAILS=$((VGL_FAILS + 1))
	lb_loadgen -d 1000 || die "loadgen after healing failed"
	assert_lg "after re-admission" failed=0 'served_b1>=1' 'served_b2>=1'
	assert_true "vigil's log names the health up push" \
		grep -q "haproxy: set server web/b1 health up .*acknowledged" "$VIGILD_LOG"
}

# After the fault (FAULT_LOAD running): b1 ejected by RULES, down in HAProxy,
# and a load started after that never reaches it. HAProxy itself retries the
# sessions it had sent to b1 before the push (retries 3, 1 s apart, no
# redispatch; "shutdown sessions" does not reach a session waiting for its
# retry), so connections are counted during a load 4 s after the fault, when
# those retries are over and vigil's first probe (eject_base_ms) is not due.
fault_checks() { # RULES
	expect_ejection web "${EP[1]}" 5 "$1"
	wait_hp_field b1 srv_op_state 0 2 || VGL_FAILS=$((VGL_FAILS + 1))
	log "HAProxy: $(hp_cmd 'show servers state web' | grep ' b1 ')"
	assert_true "vigil's log names the push" \
		grep -q "haproxy: set server web/b1 health down .*acknowledged" "$VIGILD_LOG"
	fault_load_end 15
	assert_lg "under fault" 'served_b2>=100' 'failed_after<=16'
	sleep_until_after_fault 4
	ATT_EJECTED=$(stat_of "${EP[1]}" connect_attempts) || die "no stats for b1"
	lb_loadgen -d 1000 || die "loadgen after the ejection failed"
	assert_lg "after the ejection" failed=0 served_b1=0 'served_b2>=100'
	[[ $VGL_CASE == blackhole ]] || # HAProxy's own checks connect there
		assert_eq "connect attempts to b1 during that load" "$ATT_EJECTED" \
			"$(stat_of "${EP[1]}" connect_attempts)"
	assert_ge "pushes counted" 1 "$(feed_field pushes)"
	assert_eq "HAProxy reachable" true "$(feed_field reachable)"
}

case $VGL_CASE in
kill)
	FAULT_LOAD=(fo_loadgen_bg "${LG[@]}" -d 3000)
	fault_under_load 1 "${EP[1]}" b1 fo_kill_server 1
	fault_checks 'fast_path|consecutive_failures'
	assert_true "sessions of a hard failure shut down" \
		grep -q "haproxy: shutdown sessions server web/b1 .*acknowledged" "$VIGILD_LOG"
	# HAProxy restarts while b1 is out: the new one starts with b1 up, vigil
	# sees it on its next read and pushes b1 down again. HAProxy stays
	# stopped (no runtime socket) until vigil has counted a failed read, so
	# the count does not depend on vigil reading inside a restart's window.
	REAPPLIED=$(feed_field reapplied)
	UNREACHABLE=$(feed_field unreachable)
	hp_stop
	wait_until 5 _feed_above unreachable "$UNREACHABLE" ||
		warn "vigil counted no failed read of the stopped HAProxy in 5 s"
	assert_ge "HAProxy unreachable counted while it was stopped" $((UNREACHABLE + 1)) \
		"$(feed_field unreachable)"
	assert_eq "HAProxy reachable while it was stopped" false "$(feed_field reachable)"
	hp_start "$HP_CFG"
	wait_hp_field b1 srv_op_state 0 3 || VGL_FAILS=$((VGL_FAILS + 1))
	assert_ge "re-applied pushes after HAProxy's restart" $((REAPPLIED + 1)) "$(feed_field reapplied)"
	heal_and_readmit fo_server 1 "${B4[1]}" "$PORT" b1
	;;
blackhole)
	FAULT_LOAD=(fo_loadgen_bg "${LG[@]}" -d 3000)
	fault_under_load 1 "${EP[1]}" b1 fo_blackhole vgl_bh "${B4[1]}" "$PORT"
	fault_checks 'stuck_connect|stuck_request|consecutive_failures'
	heal_and_readmit fo_unblackhole vgl_bh
	;;
admin)
	# A config reload keeps the service made from HAProxy's servers.
	hup_expect "config reloaded"
	assert_eq "b2 still listed after a reload" primary "$(backend_field web "${EP[2]}" role)"
	for step in "drain 8" "disable 1" "enable 0"; do
		read -r cmd flags <<<"$step"
		vctl "$cmd" web "${EP[2]}" >/dev/null || die "vigilctl $cmd failed"
		wait_hp_field b2 srv_admin_state "$flags" 3 || VGL_FAILS=$((VGL_FAILS + 1))
		assert_true "vigil's log names the state push after $cmd" \
			grep -q "haproxy: set server web/b2 state .*acknowledged" "$VIGILD_LOG"
	done
	lb_loadgen -d 1000 || die "loadgen after enable failed"
	assert_lg "after enable" failed=0 'served_b2>=1'
	;;
*) die "unknown case $VGL_CASE" ;;
esac

fo_show
log "feed counters: $(vigil_stats | jq -c '.feeds.haproxy | del(.sent_us.buckets, .acked_us.buckets)')"
((VGL_FAILS == 0)) || dump_vigild_log
finish
