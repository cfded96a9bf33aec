#!/bin/bash
# XDP datapath, one service with an IPv4 and an IPv6 VIP and backends of both
# families: client host -> LB host (XDP) -> 2 IPv4 + 2 IPv6 backends.
# The rewrite cannot turn an IPv4 packet into an IPv6 one, so each VIP's
# Maglev table must hold only backends of its own family.
# Asserts, per VIP: every request succeeds, served only by backends of the
# VIP's family, each of them with 30-70 % of the connections; and the XDP
# program dropped nothing for want of a usable backend.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
# shellcheck source=tests/lib_xdp.sh
source "$(dirname "$0")/../lib_xdp.sh"
xdp_require_env

alloc_net
PORT=$VGL_PORT
xdp_topology "$NET" 2
fo_server 1 "${B4[1]}" "$PORT" v4a
fo_server 2 "${B4[2]}" "$PORT" v4b
fo_server 3 "${B6[1]}" "$PORT" v6a
fo_server 4 "${B6[2]}" "$PORT" v6b

fo_conf --xdp --service dual "$VIP4:80 [$VIP6]:80" --set "table_size: 16381" \
	--backends "${B4[1]}:$PORT" "[${B6[1]}]:$PORT" "${B4[2]}:$PORT" "[${B6[2]}]:$PORT"
xdp_start_vigild

check_vip() { # VIP OWN_A OWN_B OTHER_A OTHER_B
	xlg -a "$1" -p 80 -c 4 -d 1500 -t 2000 -s 1 || die "loadgen to $1 failed"
	log "xdp_dualstack $1 requests=$(lg_get requests) failed=$(lg_get failed)" \
		"share_$2=$(share_of "$2")% share_$3=$(share_of "$3")%"
	assert_lg "$1 (other family: $4 $5):" failed=0 "served_$4=0" "served_$5=0"
	assert_spread "$1" "$2" "$3"
}
check_vip "$VIP4" v4a v4b v6a v6b
check_vip "$VIP6" v6a v6b v4a v4b
log "xdp counters: $(xdp_counters_line)"
assert_eq "XDP drops (no usable backend)" 0 "$(xdp_counter 7)"

vctl services 2>&1 | sed 's/^/  /'
# Each backend once, though its record is kept under both VIPs.
assert_eq "vigilctl backends: 4 rows" 4 "$(vctl backends --json | jq '.backends | length')"
assert_eq "vigilctl status: 4 backends" 4 "$(vctl status --json | jq .backends.total)"
((VGL_FAILS == 0)) || dump_vigild_log
finish
