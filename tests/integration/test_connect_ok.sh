#!/bin/bash
# (a, e) N successful connects to a watched backend are counted exactly, on
# the client side (backend entry) and the server side (local port entry),
# for each address family: table-driven over IPv4 ("10.N.0.2:PORT") and IPv6
# ("[fd00:N::2]:PORT"), one server port per family in one world.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
require_env
[[ -e /proc/net/if_inet6 ]] || skip "kernel without IPv6"

N=50
alloc_net
setup_topology "$NET"
# family | server address | port | endpoint
FAMILIES=(
	"ipv4|$SRV4|$VGL_PORT|$SRV4:$VGL_PORT"
	"ipv6|$SRV6|$((VGL_PORT + 1))|[$SRV6]:$((VGL_PORT + 1))"
)
CONF=()
for f in "${FAMILIES[@]}"; do
	IFS='|' read -r _ addr port ep <<<"$f"
	CONF+=(--backend "$ep" --local-port "$port")
done
write_config "${CONF[@]}"
start_vigild "$VGL_CONFIG"

for f in "${FAMILIES[@]}"; do
	IFS='|' read -r fam addr port ep <<<"$f"
	log "---- $fam: $ep"
	start_testsrv "$SRV_NS" "$addr" "$port"
	run_testcli "$CLI_NS" -a "$addr" -p "$port" -n "$N" -c 10 -r 1
	assert_cli "$fam testcli" ok="$N"

	wait_backend "$ep" .requests "$N"
	wait_local "$port" .responses "$N"
	S=$(vigil_stats) || die "no stats"
	# testcli sends "GET\n" (4 bytes) and testsrv replies "OK\n" (3 bytes).
	assert_backend "$S" "$ep" connect_attempts="$N" established="$N" requests="$N" \
		refused=0 timeouts=0 connect_latency_us.count="$N" request_latency_us.count="$N" \
		bytes_sent=$((4 * N)) bytes_rcvd=$((3 * N))
	assert_local "$S" "$port" accepted="$N" responses="$N" \
		bytes_rcvd=$((4 * N)) bytes_sent=$((3 * N))
done

((VGL_FAILS == 0)) || { dump_stats "$S"; dump_vigild_log; }
finish
