#!/bin/bash
# (a) N successful connects to a watched IPv4 backend are counted exactly, on
# the client side (backend entry) and the server side (local port entry).
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
require_env

N=50
PORT=$VGL_PORT
setup_topology 201
EP="$SRV4:$PORT"
write_config --backend "$EP" --local-port "$PORT"
start_vigild "$VGL_CONFIG"
start_testsrv "$SRV_NS" "$SRV4" "$PORT"

run_testcli "$CLI_NS" -a "$SRV4" -p "$PORT" -n "$N" -c 10 -r 1
assert_eq "testcli ok" "$N" "$(cli_get ok)"

wait_backend "$EP" .requests "$N"
wait_local "$PORT" .responses "$N"
S=$(vigil_stats) || die "no stats"
assert_eq "connect_attempts" "$N" "$(backend_get "$S" "$EP" .connect_attempts)"
assert_eq "established" "$N" "$(backend_get "$S" "$EP" .established)"
assert_eq "requests" "$N" "$(backend_get "$S" "$EP" .requests)"
assert_eq "refused" 0 "$(backend_get "$S" "$EP" .refused)"
assert_eq "timeouts" 0 "$(backend_get "$S" "$EP" .timeouts)"
assert_eq "connect_latency_us.count" "$N" "$(backend_get "$S" "$EP" .connect_latency_us.count)"
assert_eq "request_latency_us.count" "$N" "$(backend_get "$S" "$EP" .request_latency_us.count)"
assert_eq "local accepted" "$N" "$(local_get "$S" "$PORT" .accepted)"
assert_eq "local responses" "$N" "$(local_get "$S" "$PORT" .responses)"
# testcli sends "GET\n" (4 bytes) and testsrv replies "OK\n" (3 bytes).
assert_eq "bytes_sent" $((4 * N)) "$(backend_get "$S" "$EP" .bytes_sent)"
assert_eq "bytes_rcvd" $((3 * N)) "$(backend_get "$S" "$EP" .bytes_rcvd)"
assert_eq "local bytes_rcvd" $((4 * N)) "$(local_get "$S" "$PORT" .bytes_rcvd)"
assert_eq "local bytes_sent" $((3 * N)) "$(local_get "$S" "$PORT" .bytes_sent)"

((VGL_FAILS == 0)) || { dump_stats "$S"; dump_vigild_log; }
finish
