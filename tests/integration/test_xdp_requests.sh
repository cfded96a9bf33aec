#!/bin/bash
# XDP datapath, request signals (bpf/xdp_requests.h) with kept-alive
# clients only, so that no new connection (SYN) tells vigild anything:
# client host -> LB host (XDP) -> 2 primaries, table-driven (cases):
#
# blackhole  every packet to the primary holding more of 12 kept-alive
#            connections is dropped (nft). Their requests go unacknowledged;
#            vigild reads that from the backend's pending_requests summary and
#            ejects it by rule stuck_request, with tear-down: the program moves
#            its flows, whose next retransmission draws a RST from the
#            survivor, and the clients reconnect there. Asserts the ejection
#            and its rule, that those clients then are served by the survivor
#            long before their own 5 s timeout, that the survivor's clients
#            keep their connections without a failure, and that the survivor
#            stays healthy. (scripts/bench-xdp-detect.sh times the ejection.)
# stall      b1's server is stopped (SIGSTOP) for 300 ms under the same load:
#            its TCP still acknowledges the requests, which wait 300 ms for
#            their answers. Default detection settings. Asserts: nothing is
#            ejected and no request failed.
# stop       the same for 1 s (a stall is not a death): the requests are
#            acknowledged and left unanswered past stall_floor_ms (400 ms),
#            so b1 is ejected by rule stalled, for new connections only: its
#            flows stay (no flow moved), its requests complete when it runs
#            again, and no request of any client failed (2 s timeout).
#            Default detection settings.
# spike      a 10x spike of short connections (2 -> 20 workers, a new
#            connection per request) on top of the kept-alive clients,
#            backends healthy. Default detection settings. Asserts: nothing
#            is ejected and no request failed.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
# shellcheck source=tests/lib_xdp.sh
source "$(dirname "$0")/../lib_xdp.sh"
run_cases blackhole stall stop spike
xdp_require_env
[[ $VGL_CASE == blackhole ]] && ! command -v nft >/dev/null &&
	skip "nft not installed (needed to black-hole a backend)"

N_KA=12
xdp_world 2
# eject_base_ms 20000: an ejection lasts the whole test. The blackhole case
# keeps the other latency rules out of the way (--calm); the others run the
# defaults, since not ejecting is what they check.
CALM=()
[[ $VGL_CASE == blackhole ]] && CALM=(--calm)
fo_conf --xdp --detect "eject_base_ms: 20000" "${CALM[@]}" \
	--service web "$VIP4:80" --backends "${EP[1]}" "${EP[2]}"
xdp_start_vigild

# Nothing ejected, and the kept-alive clients without a failure.
no_ejection_checks() {
	local k
	for ((k = 1; k <= N_KA; k++)); do
		fo_loadgen_wait "${KA_PID[k]}" "${KA_LOG[k]}" 15 || die "keep-alive loadgen $k did not finish"
		assert_lg "keep-alive client $k" failed=0 'requests>=10'
	done
	for k in 1 2; do
		assert_eq "b$k state" healthy "$(backend_field web "${EP[k]}" state)"
		assert_eq "changes of b$k" "" "$(events_of "${EP[k]}")"
	done
}

case $VGL_CASE in
blackhole)
	xdp_keepalive_clients "$N_KA" -d 8000 -t 5000 -s 5
	VICTIM=1
	(($(ka_on "${B4[2]}") > $(ka_on "${B4[1]}"))) && VICTIM=2
	SURVIVOR=$((3 - VICTIM)) ON_VICTIM=$(ka_on "${B4[VICTIM]}")
	log "victim b$VICTIM holds $ON_VICTIM kept-alive connections, b$SURVIVOR $((N_KA - ON_VICTIM))"
	sleep 1
	FAULT_NS=$(now_wall_ns)
	mark_fault "${KA_PID[@]:1}"
	fo_blackhole "vigil_bh_$VGL_ID" "${B4[VICTIM]}" "$PORT" || die "nft failed"
	expect_ejection web "${EP[VICTIM]}" 5 stuck_request
	log "xdp_requests blackhole_keepalive: detect_ms=$DETECT_MS rule=$RULE" \
		"evidence=$(jq -c .evidence <<<"$EJ")"
	assert_ge "evidence: unacknowledged requests" 3 "$(jq -r .evidence.failures <<<"$EJ")"
	for ((k = 1; k <= N_KA; k++)); do
		fo_loadgen_wait "${KA_PID[k]}" "${KA_LOG[k]}" 15 || die "keep-alive loadgen $k did not finish"
		log "keep-alive client $k (${KA_BACKEND[k]}): $LG_OUT"
		if [[ "${KA_BACKEND[k]}" == "${B4[SURVIVOR]}" ]]; then
			assert_lg "keep-alive client $k on the survivor" failed=0 'requests>=100' \
				"served_b$VICTIM=0"
		else
			# its moved flow was reset by the survivor: it learnt at once,
			# not at its own 5 s timeout, and reconnected there
			assert_le "keep-alive client $k on the victim: last failure ms" 4000 \
				"$(ms_int "$(lg_get last_fail_ms)")"
			assert_lg "keep-alive client $k on the victim: then" "served_b$SURVIVOR>=1"
		fi
	done
	assert_ge "flows moved off the victim" "$ON_VICTIM" "$(xdp_counter 4)"
	assert_eq "b$SURVIVOR state" healthy "$(backend_field web "${EP[SURVIVOR]}" state)"
	assert_eq "changes of b$SURVIVOR" "" "$(events_of "${EP[SURVIVOR]}")"
	;;
stall)
	xdp_keepalive_clients "$N_KA" -d 5000 -t 2000 -s 1
	sleep 1.5
	kill -STOP "${FO_SRV_PIDS[1]}"
	sleep 0.3
	kill -CONT "${FO_SRV_PIDS[1]}"
	log "b1's server stopped for 300 ms"
	sleep 1
	no_ejection_checks
	log "b1: request latency samples $(stat_of "${EP[1]}" requests)"
	;;
stop)
	xdp_keepalive_clients "$N_KA" -d 5000 -t 2000 -s 1
	sleep 1.5
	FAULT_NS=$(now_wall_ns)
	kill -STOP "${FO_SRV_PIDS[1]}"
	sleep 1
	kill -CONT "${FO_SRV_PIDS[1]}"
	expect_ejection web "${EP[1]}" 5 stalled
	log "xdp_requests stop: detect_ms=$DETECT_MS rule=$RULE evidence=$(jq -c .evidence <<<"$EJ")"
	for ((k = 1; k <= N_KA; k++)); do
		fo_loadgen_wait "${KA_PID[k]}" "${KA_LOG[k]}" 15 || die "keep-alive loadgen $k did not finish"
		log "keep-alive client $k (${KA_BACKEND[k]}): $LG_OUT"
		assert_lg "keep-alive client $k" failed=0 'requests>=10'
	done
	assert_eq "flows moved off b1" 0 "$(xdp_counter 4)"
	assert_eq "b2 state" healthy "$(backend_field web "${EP[2]}" state)"
	assert_eq "changes of b2" "" "$(events_of "${EP[2]}")"
	;;
spike)
	xdp_keepalive_clients "$N_KA" -d 6000 -t 2000 -s 2
	xlg -a "$VIP4" -p 80 -c 2 -d 1000 -t 2000 -s 1 || die "baseline load failed"
	BASE=$LG_OUT
	assert_lg "baseline short connections" failed=0
	xlg -a "$VIP4" -p 80 -c 20 -d 3000 -t 2000 -s 1 || die "spike load failed"
	log "spike: 20 workers after 2 ($BASE)"
	assert_lg "spike" failed=0 'served_b1>=1' 'served_b2>=1'
	no_ejection_checks
	;;
esac
log "xdp counters: $(xdp_counters_line)"
fo_show
fo_show_events
((VGL_FAILS == 0)) || dump_vigild_log
finish
