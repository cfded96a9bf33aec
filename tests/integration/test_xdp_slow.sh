#!/bin/bash
# XDP datapath, slow backends: client host -> LB host (XDP) -> 3 primaries,
# table-driven over where the slowness is (cases link and server).
#
# link: b3 lives behind a 20 ms link: its own namespace reached through a
# pair of TUN devices joined by a small python3 relay that holds every packet
# from b3 for 20 ms (this kernel has no netem; see xdp_tun_backend). Its
# SYN-ACKs (and everything else) come 20 ms late while b1/b2 answer in
# microseconds. With slow_min_samples lowered to 50 and slow_floor_ms to 10
# (detection overrides), asserts: b3 is ejected with rule slow, the evidence
# shows its p99 above 20 ms and the peers' median p99 far below, nothing else
# is ejected, no request failed (an outlier ejection moves no flow) and a
# later client is served by b1/b2 only.
#
# server: b1's server answers every request after 500 ms, b2's and b3's
# after 1 ms; the backend's TCP acknowledges requests at once. The XDP
# program sees the requests acknowledged and left unanswered (request
# tracking, bpf/xdp_requests.h). With the default detection settings
# (stall_floor_ms 400, below the server's latency; docs/detection.md),
# asserts: b1 is ejected by
# rule stalled (its oldest request waited longer than 400 ms, none of its
# requests answered meanwhile), b2 and b3 stay healthy, no request of the
# kept-alive clients failed (a stalled backend's flows stay, so its requests
# complete), its request latency was measured, and a later client is served
# by b2/b3 only. The time from the load's start to the ejection is printed
# (scripts/bench-xdp-detect.sh measures it).
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
# shellcheck source=tests/lib_xdp.sh
source "$(dirname "$0")/../lib_xdp.sh"
run_cases link server
xdp_require_env

# Print the time from START_NS to the ejection EJ (expect_ejection's event).
log_ejection() { # WHAT
	local ej_ns
	ej_ns=$(jq -r .wall_ns <<<"$EJ" 2>/dev/null)
	[[ "$ej_ns" =~ ^[0-9]+$ ]] && log "xdp_slow $1: ejected $(((ej_ns - START_NS) / 1000000)) ms" \
		"after the load started; latency $(jq -r .evidence.latency_us <<<"$EJ") us," \
		"peers $(jq -r .evidence.peer_latency_us <<<"$EJ") us, limit $(jq -r .evidence.limit_us <<<"$EJ") us"
}

# ---- server: one server answers after 500 ms --------------------------------------------------
if [[ $VGL_CASE == server ]]; then
	SLOW_MS=500
	alloc_net
	PORT=$VGL_PORT
	xdp_topology "$NET" 3
	for i in 1 2 3; do
		EP[i]="${B4[i]}:$PORT"
		fo_server "$i" "${B4[i]}" "$PORT" "b$i" -d $((i == 1 ? SLOW_MS : 1))
	done
	# eject_base_ms 20000: stays ejected for the whole test.
	fo_conf --xdp --detect "eject_base_ms: 20000" \
		--service web "$VIP4:80" --backends "${EP[1]}" "${EP[2]}" "${EP[3]}"
	xdp_start_vigild
	START_NS=$(now_wall_ns)
	# 24 kept-alive connections, a 2 s client timeout: about 8 on b1, whose
	# first requests all wait 500 ms (consecutive_failures, 3, of them
	# are needed)
	xlg_bg -a "$VIP4" -p 80 -c 24 -k -d 4000 -t 2000 -s 1
	LG1_PID=$LG_PID LG1_LOG=$LG_LOG
	expect_ejection web "${EP[1]}" 10 stalled
	log_ejection "server_${SLOW_MS}ms"
	assert_ge "evidence: the oldest request waited (us)" 400000 "$(jq -r .evidence.latency_us <<<"$EJ")"
	assert_ge "evidence: requests unanswered" 3 "$(jq -r .evidence.failures <<<"$EJ")"
	fo_loadgen_wait "$LG1_PID" "$LG1_LOG" 20 || die "loadgen did not finish"
	log "kept-alive load across the ejection: $LG_OUT"
	# Its flows stayed: b1 kept serving the connections it had, slowly.
	assert_lg "kept-alive load" failed=0 'served_b1>=1' 'served_b2>=100' 'served_b3>=100'
	assert_ge "b1 request latency samples" 1 "$(stat_of "${EP[1]}" requests)"
	xlg -a "$VIP4" -p 80 -c 4 -d 1000 -t 2000 -s 1 || die "post-ejection loadgen failed"
	assert_lg post-ejection failed=0 served_b1=0 'served_b2>=1' 'served_b3>=1'
	for i in 2 3; do
		assert_eq "b$i state" healthy "$(backend_field web "${EP[i]}" state)"
		assert_eq "changes of b$i" "" "$(events_of "${EP[i]}")"
	done
	fo_show
	fo_show_events
	((VGL_FAILS == 0)) || dump_vigild_log
	finish
fi

# ---- link: b3 behind a 20 ms link --------------------------------------------------------------
xdp_require_tun
DELAY_MS=20
xdp_world 2

xdp_tun_backend "$NET" "$DELAY_MS"
B4[3]=$TUN4
start_testsrv "$TUN_NS" "${B4[3]}" "$PORT" -n b3
FO_SRV_PIDS[3]=$SRV_PID
EP[3]="${B4[3]}:$PORT"

# eject_base_ms 20000: stays ejected for the whole test. A 20 ms connect is
# slow, not stuck (even if a starved relay on a busy host makes SYNs
# retransmit). max_ejection_share 0.67: 2 of 3 primaries. Hard failures (and
# stalled requests) are not under test: on the jittery relay link late
# retransmissions reach b3 after it closed the connection and it answers
# with RSTs, which the XDP monitor counts as failures.
fo_conf --xdp --detect "eject_base_ms: 20000" --detect "stuck_connect_floor_ms: 60000" \
	--detect "max_ejection_share: 0.67" --detect "stuck_request_floor_ms: 2000" \
	--detect "stall_floor_ms: 2000" \
	--service web "$VIP4:80" --backends "${EP[1]}" "${EP[2]}" "${EP[3]}" \
	--set "detection: {slow_min_samples: 50, slow_floor_ms: 10, consecutive_failures: 1000}"
xdp_start_vigild

START_NS=$(now_wall_ns)
xlg_bg -a "$VIP4" -p 80 -c 6 -d 6000 -t 3000 -s 1
LG1_PID=$LG_PID LG1_LOG=$LG_LOG
expect_ejection web "${EP[3]}" 10 slow
log_ejection "link_delay_${DELAY_MS}ms"
assert_ge "evidence: b3 p99 connect latency us" $((DELAY_MS * 1000)) "$(jq -r .evidence.latency_us <<<"$EJ")"
# The rule's own relation (p99 above slow_factor 5 x the peers' median p99);
# the peers' absolute p99 is scheduling noise on a loaded machine.
assert_ge "evidence: p99 over 5x the peers' median p99" \
	$((5 * $(jq -r .evidence.peer_latency_us <<<"$EJ") + 1)) "$(jq -r .evidence.latency_us <<<"$EJ")"
fo_loadgen_wait "$LG1_PID" "$LG1_LOG" 20 || die "loadgen (part 1) did not finish"
log "loadgen across the ejection: $LG_OUT"
assert_lg "part 1 (b3 served before its ejection):" failed=0 'served_b3>=1'

xlg -a "$VIP4" -p 80 -c 4 -d 1000 -t 3000 -s 1 || die "post-ejection loadgen failed"
assert_eq "post-ejection failed" 0 "$(lg_get failed)"
assert_eq "post-ejection served_b3" 0 "$(lg_get served_b3)"
for i in 1 2; do
	assert_eq "b$i state" healthy "$(backend_field web "${EP[i]}" state)"
	assert_ge "post-ejection served_b$i" 1 "$(lg_get "served_b$i")"
done

log "RSTs from b3 counted by the XDP monitor: $(stat_of "${EP[3]}" resets_rcvd) (b1:" \
	"$(stat_of "${EP[1]}" resets_rcvd), b2: $(stat_of "${EP[2]}" resets_rcvd))"
fo_show
fo_show_events
((VGL_FAILS == 0)) || dump_vigild_log
finish
