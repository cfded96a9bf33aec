#!/bin/bash
# (b) Connects to a closed port of a watched backend are counted as refused
# (RST while SYN_SENT), never as established or timed out.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
require_env

N=20
PORT=$VGL_PORT
setup_topology 202
EP="$SRV4:$PORT"
write_config --backend "$EP"
start_vigild "$VGL_CONFIG"
# No server listens on $PORT in the server namespace.

run_testcli "$CLI_NS" -a "$SRV4" -p "$PORT" -n "$N" -c 5 -r 1
assert_eq "testcli refused" "$N" "$(cli_get refused)"

wait_backend "$EP" .refused "$N"
S=$(vigil_stats) || die "no stats"
assert_eq "connect_attempts" "$N" "$(backend_get "$S" "$EP" .connect_attempts)"
assert_eq "refused" "$N" "$(backend_get "$S" "$EP" .refused)"
assert_eq "established" 0 "$(backend_get "$S" "$EP" .established)"
assert_eq "timeouts" 0 "$(backend_get "$S" "$EP" .timeouts)"
assert_eq "requests" 0 "$(backend_get "$S" "$EP" .requests)"
assert_eq "inflight" 0 "$(json_get "$S" .inflight)"

((VGL_FAILS == 0)) || { dump_stats "$S"; dump_vigild_log; }
finish
