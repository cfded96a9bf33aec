#!/bin/bash
# The monitor outlives vigild: its tracepoint links are pinned under
# PIN_DIR/links/monitor-*, so after vigild is SIGKILLed the kernel fast path
# still counts a dead backend's refused connects and, at consecutive_failures
# (3), marks it down; the socket load balancer (pinned cgroup links) skips it.
# Asserts, under load through the socket LB: killing vigild (-9) fails no
# request; a primary killed afterwards costs at most threshold + workers - 1
# failed new connections (as with vigild running), gets no connect once down,
# its fast-path down flag is set in backend_health, and a later client sees
# only the live primary. A new vigild replaces the pinned links in place (new
# programs, same pins, the old links gone); 'vigild --unpin' removes them and
# the hooks detach. The heartbeat: vigilctl reports vigild running while it
# runs, and "not running ... state may be stale" (stderr; "vigild" in --json)
# after the SIGKILL and after a clean stop (SIGTERM).
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
fo_require_env
command -v bpftool >/dev/null || skip "bpftool not installed"

THRESHOLD=3
WORKERS=4
SET_STATE=monitor-inet_sock_set_state

fo_world 3
fo_conf --detect "eject_base_ms: 20000" --calm \
	--service web "$VIP_EP" --backends "${EP[1]}" "${EP[2]}" --backups "${EP[3]}" \
	--set "detection: {consecutive_failures: $THRESHOLD}"
start_vigild "$VGL_CONFIG"

# The heartbeat as vigilctl sees it: .vigild.running of services --json, and
# whether the table's stderr has the stale line.
heartbeat_checks() { # LABEL RUNNING(true|false)
	local err=$VGL_TMP/heartbeat.err
	assert_eq "$1: services --json .vigild.running" "$2" "$(vctl services --json | jq -c .vigild.running)"
	vctl services >/dev/null 2>"$err"
	if [[ $2 == true ]]; then
		assert_eq "$1: stale lines on stderr" 0 "$(grep -c 'state may be stale' "$err")"
	else
		assert_true "$1: stale line on stderr" grep -q 'vigilctl: vigild.*state may be stale' "$err"
	fi
	log "$1: stderr: $(cat "$err")"
}
heartbeat_checks "vigild running" true

# Program id behind a pinned link ("none" without one).
link_prog() { bpftool -j link show pinned "$VGL_PIN_DIR/links/$1" 2>/dev/null | jq -r '.prog_id // "none"'; }
link_id() { bpftool -j link show pinned "$VGL_PIN_DIR/links/$1" 2>/dev/null | jq -r '.id // "none"'; }
# The kernel fast path's down flag of backend EP (host:port, IPv4).
health_down() { # EP
	local ip=${1%:*} port=${1##*:}
	bpftool -j map dump pinned "$VGL_PIN_DIR/backend_health" 2>/dev/null | jq -r --arg ip "$ip" --argjson port "$port" '
		[.[] | select(.formatted.key.port == $port and
			(.formatted.key.addr[12:16] | map(tostring) | join(".")) == $ip) | .formatted.value.down] |
		if length == 0 then "absent" else (.[0] | tostring) end'
}

N_LINKS=$(find "$VGL_PIN_DIR/links" -name 'monitor-*' | wc -l)
assert_ge "pinned monitor links" 3 "$N_LINKS"
LINK0=$(link_id "$SET_STATE")
PROG0=$(link_prog "$SET_STATE")
log "monitor links: $N_LINKS pinned; $SET_STATE link $LINK0 prog $PROG0"

fo_loadgen -a "$VIP" -p 80 -c "$WORKERS" -d 1000 -t 1000 -s 1 || die "baseline loadgen failed"
assert_lg baseline failed=0 'served_b1>=1' 'served_b2>=1'

# ---- vigild killed under load, then b1 -------------------------------------------------
kill_vigild_then_server() { # IDX
	kill -KILL "$VIGILD_PID"
	stop_pid "$VIGILD_PID"
	log "vigild (pid $VIGILD_PID) killed with SIGKILL"
	sleep 0.5
	fo_kill_server "$1"
}
FAULT_LOAD=(fo_loadgen_bg -a "$VIP" -p 80 -c "$WORKERS" -d 4000 -t 1000 -s 1)
fault_under_load 1 "${EP[1]}" b1 kill_vigild_then_server 1
sleep 0.5
assert_eq "$SET_STATE still pinned with vigild gone" "$LINK0" "$(link_id "$SET_STATE")"
heartbeat_checks "vigild killed (-9)" false
kill_checks "${EP[1]}" b1 1 "$THRESHOLD" "$WORKERS" 10
assert_lg "across the kills" 'served_b2>=1' served_b3=0
assert_eq "fast-path down flag of b1 (backend_health)" 1 "$(health_down "${EP[1]}")"
assert_eq "fast-path down flag of b2" 0 "$(health_down "${EP[2]}")"

fo_loadgen -a "$VIP" -p 80 -c "$WORKERS" -d 1000 -t 1000 -s 1 || die "later loadgen failed"
assert_lg "vigild down, later client:" failed=0 served_b1=0 served_b3=0 'served_b2>=1'

# ---- a new vigild replaces the links in place ------------------------------------------
start_vigild "$VGL_CONFIG"
heartbeat_checks "vigild restarted" true
LINK1=$(link_id "$SET_STATE")
PROG1=$(link_prog "$SET_STATE")
log "after restart: $SET_STATE link $LINK1 prog $PROG1"
assert_true "a new link ($LINK0 -> $LINK1)" test "$LINK1" != "$LINK0" -a "$LINK1" != none
assert_true "a new program ($PROG0 -> $PROG1)" test "$PROG1" != "$PROG0" -a "$PROG1" != none
assert_eq "old link detached" 0 "$(bpftool -j link show 2>/dev/null | jq --argjson id "$LINK0" '[.[] | select(.id == $id)] | length')"
assert_eq "pinned monitor links after restart" "$N_LINKS" "$(find "$VGL_PIN_DIR/links" -name 'monitor-*' | wc -l)"
assert_true "vigild logs the replaced hooks" grep -q "hooks were still attached" "$VIGILD_LOG"

# ---- --unpin removes them -------------------------------------------------------------
fo_stop_vigild 5 || die "vigild did not stop"
heartbeat_checks "vigild stopped (SIGTERM)" false
assert_true "stopped: 'not running since' on stderr" grep -q 'not running since' "$VGL_TMP/heartbeat.err"
"$VIGILD" -c "$VGL_CONFIG" --unpin || die "vigild --unpin failed"
assert_eq "pin dir after --unpin" gone "$([[ -e "$VGL_PIN_DIR" ]] && echo present || echo gone)"
assert_eq "monitor link detached after --unpin" 0 "$(bpftool -j link show 2>/dev/null | jq --argjson id "$LINK1" '[.[] | select(.id == $id)] | length')"

((VGL_FAILS == 0)) || dump_vigild_log
finish
