#!/bin/bash
# A vigild that only watches (no services: no state maps, no datapath) has a
# heartbeat too (it is the monitor's map): vigilctl reports it running, and
# after a SIGKILL "not running ... state may be stale" (stderr; "vigild" in
# --json), for stats and status alike.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
require_env

mon_world
assert_true "no state maps pinned (no services)" test ! -e "$VGL_PIN_DIR/services"
ctl() { "$VIGILCTL" --pin-dir "$VGL_PIN_DIR" "$@"; }

# .vigild of stats --json, status --json; the stale line of both tables.
heartbeat_checks() { # LABEL RUNNING(true|false)
	local err=$VGL_TMP/heartbeat.err cmd
	assert_eq "$1: stats --json .vigild.running" "$2" "$(ctl stats --json | jq -c .vigild.running)"
	assert_eq "$1: stats --json .vigild.heartbeat_known" true "$(ctl stats --json | jq -c .vigild.heartbeat_known)"
	assert_eq "$1: status --json .vigild.running" "$2" "$(ctl status --json | jq -c .vigild.running)"
	for cmd in stats status; do
		ctl "$cmd" >/dev/null 2>"$err"
		log "$1: $cmd stderr: $(cat "$err")"
		assert_eq "$1: $cmd: 'heartbeat unknown' on stderr" 0 "$(grep -c 'heartbeat unknown' "$err")"
		if [[ $2 == true ]]; then
			assert_eq "$1: $cmd: stale lines on stderr" 0 "$(grep -c 'state may be stale' "$err")"
		else
			assert_true "$1: $cmd: stale line on stderr" grep -q "vigild (pid $VIGILD_PID) not running since .*state may be stale" "$err"
		fi
	done
}

heartbeat_checks "vigild running" true
assert_eq "status --json: pid" "$VIGILD_PID" "$(ctl status --json | jq -r .vigild.pid)"
assert_eq "status --json: services" 0 "$(ctl status --json | jq -r .services)"
kill -KILL "$VIGILD_PID"
stop_pid "$VIGILD_PID"
log "vigild (pid $VIGILD_PID) killed with SIGKILL"
heartbeat_checks "vigild killed (-9)" false

((VGL_FAILS == 0)) || dump_vigild_log
finish
