#!/bin/bash
# (g) Churn: 2,000 short connections, 50 at a time, are all counted, and once
# every connection is closed on both sides no in-flight entry is left.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
require_env

N=2000
PORT=$VGL_PORT
setup_topology 207
EP="$SRV4:$PORT"
write_config --backend "$EP" --local-port "$PORT"
start_vigild "$VGL_CONFIG"
start_testsrv "$SRV_NS" "$SRV4" "$PORT"

run_testcli "$CLI_NS" -a "$SRV4" -p "$PORT" -n "$N" -c 50 -r 1
assert_eq "testcli ok" "$N" "$(cli_get ok)"

# Both ends closed: nothing but TIME-WAIT and the listener left.
wait_conns_closed 10 "$PORT" "$CLI_NS" "$SRV_NS" || die "connections did not close"

wait_backend "$EP" .established "$N"
wait_json .inflight 0 5
S=$(vigil_stats) || die "no stats"
assert_eq "connect_attempts" "$N" "$(backend_get "$S" "$EP" .connect_attempts)"
assert_eq "established" "$N" "$(backend_get "$S" "$EP" .established)"
assert_eq "requests" "$N" "$(backend_get "$S" "$EP" .requests)"
assert_eq "refused" 0 "$(backend_get "$S" "$EP" .refused)"
assert_eq "timeouts" 0 "$(backend_get "$S" "$EP" .timeouts)"
assert_eq "local accepted" "$N" "$(local_get "$S" "$PORT" .accepted)"
assert_eq "inflight" 0 "$(json_get "$S" .inflight)"

((VGL_FAILS == 0)) || { dump_stats "$S"; dump_vigild_log; }
finish
