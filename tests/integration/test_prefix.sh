#!/bin/bash
# (h) A prefix watch (no exact backends) counts connects to any port of any
# address inside the prefix, one backend entry per endpoint.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
require_env

alloc_net
setup_topology "$NET"
write_config --prefix "10.$NET.0.0/24"
start_vigild "$VGL_CONFIG"
# port | connects
for c in "$VGL_PORT 5" "$((VGL_PORT + 1)) 7"; do
	read -r port n <<<"$c"
	start_testsrv "$SRV_NS" "$SRV4" "$port"
	run_testcli "$CLI_NS" -a "$SRV4" -p "$port" -n "$n" -c 5 -r 1
	assert_cli "testcli (port $port)" ok="$n"
done
for c in "$VGL_PORT 5" "$((VGL_PORT + 1)) 7"; do
	read -r port n <<<"$c"
	wait_backend "$SRV4:$port" .requests "$n"
	S=$(vigil_stats) || die "no stats"
	assert_backend "$S" "$SRV4:$port" connect_attempts="$n" established="$n" requests="$n"
done

((VGL_FAILS == 0)) || { dump_stats "$S"; dump_vigild_log; }
finish
