#!/bin/bash
# (g) Churn: 2,000 short connections, 50 at a time, are all counted, and once
# every connection is closed on both sides no in-flight entry is left.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
require_env

N=2000
mon_world

run_testcli "$CLI_NS" -a "$SRV4" -p "$PORT" -n "$N" -c 50 -r 1
assert_cli testcli ok="$N"
# Both ends closed: nothing but TIME-WAIT and the listener left.
wait_conns_closed 10 "$PORT" "$CLI_NS" "$SRV_NS" || die "connections did not close"

wait_backend "$EP" .established "$N"
wait_json .inflight 0 5
S=$(vigil_stats) || die "no stats"
assert_backend "$S" "$EP" connect_attempts="$N" established="$N" requests="$N" refused=0 timeouts=0
assert_local "$S" "$PORT" accepted="$N"
assert_eq "inflight" 0 "$(json_get "$S" .inflight)"

((VGL_FAILS == 0)) || { dump_stats "$S"; dump_vigild_log; }
finish
