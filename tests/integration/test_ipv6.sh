#!/bin/bash
# (e) Same as test_connect_ok over IPv6: endpoint "[fd00:205::2]:PORT".
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
require_env
[[ -e /proc/net/if_inet6 ]] || skip "kernel without IPv6"

N=50
PORT=$VGL_PORT
setup_topology 205
EP="[$SRV6]:$PORT"
write_config --backend "$EP" --local-port "$PORT"
start_vigild "$VGL_CONFIG"
start_testsrv "$SRV_NS" "$SRV6" "$PORT"

run_testcli "$CLI_NS" -a "$SRV6" -p "$PORT" -n "$N" -c 10 -r 1
assert_eq "testcli ok" "$N" "$(cli_get ok)"

wait_backend "$EP" .requests "$N"
wait_local "$PORT" .responses "$N"
S=$(vigil_stats) || die "no stats"
assert_eq "connect_attempts" "$N" "$(backend_get "$S" "$EP" .connect_attempts)"
assert_eq "established" "$N" "$(backend_get "$S" "$EP" .established)"
assert_eq "requests" "$N" "$(backend_get "$S" "$EP" .requests)"
assert_eq "refused" 0 "$(backend_get "$S" "$EP" .refused)"
assert_eq "timeouts" 0 "$(backend_get "$S" "$EP" .timeouts)"
assert_eq "local accepted" "$N" "$(local_get "$S" "$PORT" .accepted)"
assert_eq "local responses" "$N" "$(local_get "$S" "$PORT" .responses)"

((VGL_FAILS == 0)) || { dump_stats "$S"; dump_vigild_log; }
finish
