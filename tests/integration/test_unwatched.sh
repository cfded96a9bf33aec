#!/bin/bash
# (f) Traffic to an endpoint that is not in the config (another port on the
# same server) is not counted, and the watched endpoint is unaffected.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
require_env

N_OTHER=10
N=5
mon_world
OTHER_PORT=$((PORT + 1))
OTHER_EP="$SRV4:$OTHER_PORT"
start_testsrv "$SRV_NS" "$SRV4" "$OTHER_PORT"

# Unwatched traffic first (successful, refused-free), then the watched one;
# once the watched counts are in, the unwatched ones would be too.
for c in "unwatched $OTHER_PORT $N_OTHER" "watched $PORT $N"; do
	read -r what port n <<<"$c"
	run_testcli "$CLI_NS" -a "$SRV4" -p "$port" -n "$n" -c 5 -r 1
	assert_cli "testcli ($what)" ok="$n"
done

wait_backend "$EP" .requests "$N"
wait_local "$PORT" .responses "$N"
S=$(vigil_stats) || die "no stats"
assert_backend "$S" "$OTHER_EP" connect_attempts=absent
assert_local "$S" "$OTHER_PORT" accepted=absent
assert_backend "$S" "$EP" connect_attempts="$N" established="$N" requests="$N"
assert_local "$S" "$PORT" accepted="$N"
assert_eq "no other backend entries" "$EP" "$(json_get "$S" '[.backends[].endpoint] | join(",")')"

((VGL_FAILS == 0)) || { dump_stats "$S"; dump_vigild_log; }
finish
