#!/bin/bash
# (f) Traffic to an endpoint that is not in the config (another port on the
# same server) is not counted, and the watched endpoint is unaffected.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
require_env

N_OTHER=10
N=5
PORT=$VGL_PORT
OTHER_PORT=$((PORT + 1))
setup_topology 206
EP="$SRV4:$PORT"
OTHER_EP="$SRV4:$OTHER_PORT"
write_config --backend "$EP" --local-port "$PORT"
start_vigild "$VGL_CONFIG"
start_testsrv "$SRV_NS" "$SRV4" "$PORT"
start_testsrv "$SRV_NS" "$SRV4" "$OTHER_PORT"

# Unwatched traffic first (successful, refused-free), then the watched one;
# once the watched counts are in, the unwatched ones would be too.
run_testcli "$CLI_NS" -a "$SRV4" -p "$OTHER_PORT" -n "$N_OTHER" -c 5 -r 1
assert_eq "testcli ok (unwatched)" "$N_OTHER" "$(cli_get ok)"
run_testcli "$CLI_NS" -a "$SRV4" -p "$PORT" -n "$N" -c 5 -r 1
assert_eq "testcli ok (watched)" "$N" "$(cli_get ok)"

wait_backend "$EP" .requests "$N"
wait_local "$PORT" .responses "$N"
S=$(vigil_stats) || die "no stats"
assert_eq "unwatched backend entry" absent "$(backend_get "$S" "$OTHER_EP" .connect_attempts)"
assert_eq "unwatched local port entry" absent "$(local_get "$S" "$OTHER_PORT" .accepted)"
assert_eq "watched connect_attempts" "$N" "$(backend_get "$S" "$EP" .connect_attempts)"
assert_eq "watched established" "$N" "$(backend_get "$S" "$EP" .established)"
assert_eq "watched requests" "$N" "$(backend_get "$S" "$EP" .requests)"
assert_eq "watched local accepted" "$N" "$(local_get "$S" "$PORT" .accepted)"
assert_eq "no other backend entries" "$EP" "$(json_get "$S" '[.backends[].endpoint] | join(",")')"

((VGL_FAILS == 0)) || { dump_stats "$S"; dump_vigild_log; }
finish
