#!/bin/bash
# XDP datapath end to end, healthy path: client host -> LB host (XDP NAT) ->
# backends, IPv4 and IPv6. A real load generator in the client namespace
# talks to the VIPs; testsrv answers "OK NAME" from each backend address.
# Asserts: every request succeeds (the replies come back from the VIP, so
# the reverse NAT works), the two equal-weight primaries each get 30-70 % of
# the new connections and the backup none, a kept-alive connection stays on
# one backend, the backends see the client's own address (NAT mode, no SNAT),
# packets the load balancer does not handle (ICMP, TCP to the LB host itself)
# pass untouched; the same spread and counts for an IPv6 VIP with IPv6
# backends (the families are a table); the
# program sends nearly every rewritten packet out itself (XDP_TX/REDIRECT);
# a vigild restart under load fails no request and replaces the program.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
# shellcheck source=tests/lib_xdp.sh
source "$(dirname "$0")/../lib_xdp.sh"
xdp_require_env
command -v python3 >/dev/null || skip "python3 not installed (UDP echo through the XDP interface)"

xdp_world 3
for i in 1 2 3; do
	fo_server $((i + 3)) "${B6[i]}" "$PORT" "v6b$i"
done

fo_conf --xdp \
	--service web "$VIP4:80" --backends "${EP[1]}" "${EP[2]}" --backups "${EP[3]}" \
	--service web6 "[$VIP6]:80" --set "table_size: 251" \
	--backends "[${B6[1]}]:$PORT" "[${B6[2]}]:$PORT" --backups "[${B6[3]}]:$PORT"
xdp_start_vigild
assert_eq "web datapath" xdp "$(service_field web datapath)"
# A host with only the packet datapath does not load the socket load balancer
# (no connect4 link pinned); vigilctl's maps are there all the same.
assert_true "socket LB not loaded (no connect4 link pin)" test ! -e "$VGL_PIN_DIR/links/connect4"
assert_eq "web6 table_size" 251 "$(service_field web6 table_size)"

# ---- (a, g) spread and reverse NAT, per family -----------------------------------------
# family | VIP | backend names | primaries
NF=$(xdp_counter 3)
for f in "ipv4|$VIP4|b|${EP[1]} ${EP[2]}" "ipv6|$VIP6|v6b|[${B6[1]}]:$PORT [${B6[2]}]:$PORT"; do
	IFS='|' read -r fam vip b eps <<<"$f"
	xlg -a "$vip" -p 80 -c 4 -d 2000 -t 1000 || die "$fam loadgen failed"
	req=$(lg_get requests)
	log "xdp_e2e $fam requests=$req rate=$((req / 2))/s share_${b}1=$(share_of "${b}1")%" \
		"share_${b}2=$(share_of "${b}2")% served_${b}3=$(lg_get "served_${b}3")"
	assert_lg "$fam" 'requests>=200' failed=0 "served_${b}3=0"
	assert_spread "$fam" "${b}1" "${b}2"
	# The LB saw every connection: SYNs forwarded and SYN-ACKs returned.
	att=0 est=0
	for ep in $eps; do
		n=$(stat_of "$ep" connect_attempts) || die "no stats for $ep"
		att=$((att + n))
		n=$(stat_of "$ep" established) || die "no stats for $ep"
		est=$((est + n))
	done
	log "$fam passive health: connect attempts $att, established $est (loadgen made $req" \
		"connections); ${b}1 connect p50 $(backend_get "$(vigil_stats)" "${eps%% *}" .connect_latency_us.p50) us"
	assert_ge "$fam SYNs the LB forwarded" "$req" "$att"
	assert_ge "$fam SYN-ACKs the LB returned" "$req" "$est"
	log "xdp counters: $(xdp_counters_line)"
	assert_ge "$fam XDP new flows" $((NF + req)) "$(xdp_counter 3)"
	NF=$(xdp_counter 3)
done

# ---- kept-alive connections stay put; the backends see the client --------------------
xlg_bg -a "$VIP4" -p 80 -c 1 -k -d 1500 -t 1000 -s 2
ONE_PID=$LG_PID ONE_LOG=$LG_LOG
# A function, so that the port is looked up again on every poll.
has_client_port() { [[ -n "$(client_port_of "$1" "$2")" ]]; } # PID PORT
wait_until 2 has_client_port "$ONE_PID" 80 || die "the keep-alive client has no connection after 2 s"
CPORT=$(client_port_of "$ONE_PID" 80)
PEERS=$(ns_exec "$SRV_NS" ss -Htn state established "( dport = :$CPORT )" | awk '{print $4}')
log "kept-alive connection from port $CPORT; seen by the backend as: $PEERS"
assert_eq "backend sees the client address" "$CLI4:$CPORT" "$PEERS"
fo_loadgen_wait "$ONE_PID" "$ONE_LOG" 10 || die "keep-alive loadgen did not finish"
log "keep-alive loadgen: $LG_OUT"
assert_eq "keep-alive failed" 0 "$(lg_get failed)"
NAMES=$(grep -o 'served_[a-z0-9]*' <<<"$LG_OUT" | wc -l)
assert_eq "backends serving one kept-alive connection" 1 "$NAMES"

# ---- packets that are not for a service pass untouched --------------------------------
P_NOT_TCP=$(xdp_counter 6) P_OTHER=$(xdp_counter 0)
# UDP (not TCP) to the LB host: a python3 echo server there, a client here.
start_bg ip netns exec "$LB_NS" timeout 10 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
open(sys.argv[3], "w").close()
for _ in range(2):
    d, a = s.recvfrom(100)
    s.sendto(d, a)' "10.$NET.1.1" "$PORT" "$VGL_TMP/udp.ready"
wait_file "$VGL_TMP/udp.ready" 5 || die "UDP echo server did not start"
UDP_REPLY=$(ns_exec "$CLI_NS" timeout 5 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
for i in range(2):
    s.sendto(b"udp-%d" % i, (sys.argv[1], int(sys.argv[2])))
    print(s.recvfrom(100)[0].decode(), end=" ")' "10.$NET.1.1" "$PORT")
assert_eq "UDP echo through the XDP interface" "udp-0 udp-1 " "$UDP_REPLY"
start_testsrv "$LB_NS" "10.$NET.1.1" "$PORT" -n lbhost
xlg -a "10.$NET.1.1" -p "$PORT" -c 1 -d 300 -t 1000 || die "loadgen to the LB host failed"
assert_eq "TCP to the LB host itself (not a VIP) failed" 0 "$(lg_get failed)"
assert_ge "TCP to the LB host itself served" 1 "$(lg_get served_lbhost)"
assert_ge "XDP pass_not_tcp grew (UDP, ARP)" $((P_NOT_TCP + 2)) "$(xdp_counter 6)"
assert_ge "XDP pass_other grew (TCP not for a VIP)" $((P_OTHER + 1)) "$(xdp_counter 0)"

# ---- all of it -------------------------------------------------------------------------
log "xdp counters: $(xdp_counters_line)"
log "xdp drops: $(xdp_drops_line)"
assert_eq "XDP drops (no backend)" 0 "$(xdp_counter 7)"
assert_eq "XDP drop reason no_backend" 0 "$(xdp_drops no_backend)"
assert_eq "XDP drop reason redirect_miss" 0 "$(xdp_drops redirect_miss)"
# The program sends packets out itself (FIB lookup, XDP_TX/XDP_REDIRECT);
# only packets to a next hop without a neighbour entry yet go via the kernel.
REWRITTEN=$(($(xdp_counter 1) + $(xdp_counter 2)))
assert_ge "packets sent out by XDP itself (90 % of $REWRITTEN rewritten)" \
	$((REWRITTEN * 9 / 10)) "$(xdp_counter 8)"

# ---- vigild restarts under load: the pinned links keep forwarding -----------------
xlg_bg -a "$VIP4" -p 80 -c 2 -d 3000 -t 1000 -s 1
LG1_PID=$LG_PID LG1_LOG=$LG_LOG
PROG0=$(bpftool -j link show pinned "$VGL_PIN_DIR/links/xdp-xlc" | jq .prog_id)
sleep 0.5
fo_stop_vigild || die "vigild did not stop"
assert_eq "vigild exit status after SIGTERM" 0 "$VIGILD_RC"
sleep 0.3
xdp_start_vigild
PROG1=$(bpftool -j link show pinned "$VGL_PIN_DIR/links/xdp-xlc" | jq .prog_id)
fo_loadgen_wait "$LG1_PID" "$LG1_LOG" 15 || die "loadgen did not finish"
log "restart under load: $LG_OUT; program $PROG0 -> $PROG1"
assert_eq "requests failed across the vigild restart" 0 "$(lg_get failed)"
# Both must be program ids: "null" (no link) against a number differs too.
assert_true "program ids under the link before and after ($PROG0, $PROG1)" \
	grep -qxE '[0-9]+ [0-9]+' <<<"$PROG0 $PROG1"
assert_true "the restart replaced the program under the link" test "$PROG0" != "$PROG1"

fo_show
((VGL_FAILS == 0)) || dump_vigild_log
finish
