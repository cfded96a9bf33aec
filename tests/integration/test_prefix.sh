#!/bin/bash
# (h) A prefix watch (no exact backends) counts connects to any port of any
# address inside the prefix, one backend entry per endpoint.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
require_env

N1=5
N2=7
PORT1=$VGL_PORT
PORT2=$((VGL_PORT + 1))
setup_topology 208
EP1="$SRV4:$PORT1"
EP2="$SRV4:$PORT2"
write_config --prefix "10.208.0.0/24"
start_vigild "$VGL_CONFIG"
start_testsrv "$SRV_NS" "$SRV4" "$PORT1"
start_testsrv "$SRV_NS" "$SRV4" "$PORT2"

run_testcli "$CLI_NS" -a "$SRV4" -p "$PORT1" -n "$N1" -c 5 -r 1
assert_eq "testcli ok (port $PORT1)" "$N1" "$(cli_get ok)"
run_testcli "$CLI_NS" -a "$SRV4" -p "$PORT2" -n "$N2" -c 5 -r 1
assert_eq "testcli ok (port $PORT2)" "$N2" "$(cli_get ok)"

wait_backend "$EP1" .requests "$N1"
wait_backend "$EP2" .requests "$N2"
S=$(vigil_stats) || die "no stats"
assert_eq "$EP1 connect_attempts" "$N1" "$(backend_get "$S" "$EP1" .connect_attempts)"
assert_eq "$EP1 established" "$N1" "$(backend_get "$S" "$EP1" .established)"
assert_eq "$EP1 requests" "$N1" "$(backend_get "$S" "$EP1" .requests)"
assert_eq "$EP2 connect_attempts" "$N2" "$(backend_get "$S" "$EP2" .connect_attempts)"
assert_eq "$EP2 established" "$N2" "$(backend_get "$S" "$EP2" .established)"
assert_eq "$EP2 requests" "$N2" "$(backend_get "$S" "$EP2" .requests)"

((VGL_FAILS == 0)) || { dump_stats "$S"; dump_vigild_log; }
finish
