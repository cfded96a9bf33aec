#!/bin/bash
# (b) Connects to a closed port of a watched backend are counted as refused
# (RST while SYN_SENT), never as established or timed out.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
require_env

N=20
PORT=$VGL_PORT
alloc_net
setup_topology "$NET"
EP="$SRV4:$PORT"
write_config --backend "$EP"
start_vigild "$VGL_CONFIG"
# No server listens on $PORT in the server namespace.

run_testcli "$CLI_NS" -a "$SRV4" -p "$PORT" -n "$N" -c 5 -r 1
assert_cli testcli refused="$N"

wait_backend "$EP" .refused "$N"
S=$(vigil_stats) || die "no stats"
assert_backend "$S" "$EP" connect_attempts="$N" refused="$N" established=0 timeouts=0 requests=0
assert_eq "inflight" 0 "$(json_get "$S" .inflight)"

((VGL_FAILS == 0)) || { dump_stats "$S"; dump_vigild_log; }
finish
