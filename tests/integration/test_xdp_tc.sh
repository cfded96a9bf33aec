#!/bin/bash
# The load balancer on the tc hook (xdp.hook: tc): client host -> LB host (tc
# clsact ingress NAT, bpf_redirect / bpf_redirect_neigh) -> backends, with
# senders that keep TX checksum offload on, i.e. whose TCP segments reach the
# LB with a partial checksum (CHECKSUM_PARTIAL, as from a container on the
# LB host). One backend (b1) sits behind a TUN link, which has no offload:
# the checksum of every segment routed into it is computed for real from
# what the LB wrote, so a wrongly updated partial checksum shows up there as
# a TCP checksum error and a failed connection.
# Asserts: vigild says it attached to both interfaces' clsact ingress; every
# request succeeds, spread over b1 (behind the TUN link) and b2; b1's
# namespace counts no TCP checksum errors; the program sends the packets out
# itself (fwd_direct); killing b2 ejects it (the passive health of the tc
# entry feeds the fast path) and later requests all reach b1; the clsact
# filter goes away with `vigild --unpin`.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
# shellcheck source=tests/lib_xdp.sh
source "$(dirname "$0")/../lib_xdp.sh"
xdp_require_env
xdp_require_tun

XDP_HOOK=tc
XDP_HOST_CSUM_OFFLOAD=1
alloc_net
PORT=$VGL_PORT
xdp_topology "$NET" 2
fo_server 2 "${B4[2]}" "$PORT" b2
xdp_tun_backend "$NET" 0
B4[1]=$TUN4
start_testsrv "$TUN_NS" "${B4[1]}" "$PORT" -n b1
FO_SRV_PIDS[1]=$SRV_PID
EP=("" "${B4[1]}:$PORT" "${B4[2]}:$PORT")

fo_conf --xdp --detect "eject_base_ms: 20000" --calm \
	--service web "$VIP4:80" --backends "${EP[1]}" "${EP[2]}" --set "probe: {timeout_ms: 300}"
start_vigild "$VGL_CONFIG"
if ! wait_until 5 grep -q "tc load balancer attached to xls ingress" "$VIGILD_LOG"; then
	dump_vigild_log
	die "vigild did not attach the tc program to xls"
fi
assert_true "attached to xlc ingress" grep -q "tc load balancer attached to xlc ingress" \
	"$VIGILD_LOG"
assert_true "clsact filter on xlc" \
	sh -c "tc -n '$LB_NS' filter show dev xlc ingress | grep -q vigil_tc_lb"

# ---- healthy path, partial checksums ---------------------------------------------------
ERR0=$(tcp_csum_errors "$TUN_NS")
xlg -a "$VIP4" -p 80 -c 4 -d 2000 -t 1000 -s 1 || die "loadgen failed"
REQ=$(lg_get requests)
assert_ge "requests" 200 "$REQ"
assert_eq "failed" 0 "$(lg_get failed)"
assert_ge "served by b1 (behind the TUN link)" $((REQ / 5)) "$(lg_get served_b1)"
assert_ge "served by b2" $((REQ / 5)) "$(lg_get served_b2)"
assert_eq "TCP checksum errors at b1" "$ERR0" "$(tcp_csum_errors "$TUN_NS")"
log "xdp counters: $(xdp_counters_line)"
REWRITTEN=$(($(xdp_counter 1) + $(xdp_counter 2)))
assert_ge "packets the tc program sent out itself (90 % of $REWRITTEN)" \
	$((REWRITTEN * 9 / 10)) "$(xdp_counter 8)"

# ---- a killed backend is ejected through the tc entry's passive health ------------------
fo_kill_server 2
log "killed b2 (${EP[2]})"
xlg_bg -a "$VIP4" -p 80 -c 2 -d 2000 -t 1000 -s 1
LG1_PID=$LG_PID LG1_LOG=$LG_LOG
if wait_backend_field web "${EP[2]}" state ejected 5; then
	log "ok: b2 ejected ($(events_of "${EP[2]}" ejected | head -n1 | jq -r .rule))"
else
	VGL_FAILS=$((VGL_FAILS + 1))
fi
fo_loadgen_wait "$LG1_PID" "$LG1_LOG" 15 || die "loadgen did not finish"
# Everything goes through the python TUN relay now: one worker and a longer
# timeout, so that the relay's own delays on a busy host are not counted.
xlg -a "$VIP4" -p 80 -c 1 -d 1000 -t 3000 -s 1 || die "post-fault loadgen failed"
assert_eq "after the ejection: failed" 0 "$(lg_get failed)"
assert_eq "after the ejection: all served by b1" "$(lg_get requests)" "$(lg_get served_b1)"

fo_show

# ---- detach -------------------------------------------------------------------------------
fo_stop_vigild 5 || die "vigild did not stop within 5 s of SIGTERM"
assert_eq "vigild exit status after SIGTERM" 0 "$VIGILD_RC"
assert_true "vigild --unpin" "$VIGILD" -c "$VGL_CONFIG" --unpin
assert_true "clsact filter gone after --unpin" \
	sh -c "! tc -n '$LB_NS' filter show dev xlc ingress | grep -q vigil_tc_lb"

((VGL_FAILS == 0)) || dump_vigild_log
finish
