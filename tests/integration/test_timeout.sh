#!/bin/bash
# (c) Connects into a blackhole (SYNs dropped by nftables in the server
# namespace) abandoned by the client after 2.5 s (slack for a loaded machine) are counted as timeouts, and
# the kernel's SYN retransmit at 1 s as syn_retrans.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
require_env
command -v nft >/dev/null || die "nft not installed (run make deps)"

N=4
PORT=$VGL_PORT
alloc_net
setup_topology "$NET"
EP="$SRV4:$PORT"
TABLE="${VGL_ID}_blackhole"

# The table lives in the server namespace only; deleted explicitly at cleanup
# (deleting the namespace would drop it anyway).
if ! ns_exec "$SRV_NS" nft -f - <<NFT
table inet $TABLE {
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport $PORT drop
	}
}
NFT
then
	skip "cannot create an nftables table (kernel without nf_tables?)"
fi
on_cleanup ip netns exec "$SRV_NS" nft delete table inet "$TABLE"

write_config --backend "$EP"
start_vigild "$VGL_CONFIG"
# A listener behind the blackhole: without the drop rule it would accept.
start_testsrv "$SRV_NS" "$SRV4" "$PORT"

run_testcli "$CLI_NS" -a "$SRV4" -p "$PORT" -n "$N" -c "$N" -t 2500
assert_cli testcli timeout="$N"

wait_backend "$EP" .timeouts "$N"
S=$(vigil_stats) || die "no stats"
assert_backend "$S" "$EP" connect_attempts="$N" timeouts="$N" "syn_retrans>=$N" established=0 refused=0
assert_eq "inflight" 0 "$(json_get "$S" .inflight)"

ns_exec "$SRV_NS" nft delete table inet "$TABLE" || warn "could not delete nft table $TABLE"

((VGL_FAILS == 0)) || { dump_stats "$S"; dump_vigild_log; }
finish
