#!/bin/bash
# Restart reconciliation of the in-flight map (user/vigild/inflight_gc.c):
# entries of sockets that closed while no monitor hook ran are dropped when
# vigild starts, so they cause no stuck_request ejection. Planted here in the
# pinned map while vigild is down: 4 entries for b1 keyed by kernel addresses
# no socket has, waiting for a reply since boot (without the drop they count
# as 4 requests waiting since the start, >= consecutive_failures 3, and
# eject b1 once stall_floor_ms has passed: rule stalled, as nothing was
# retransmitted). The entry of a connection to b1
# that is still open stays, and so does a flow key of the XDP datapath (top
# bit clear).
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
fo_require_env
command -v bpftool >/dev/null || skip "bpftool not installed"
command -v python3 >/dev/null || skip "python3 not installed (the open connection)"

fo_world 2
fo_conf --detect "slow_floor_ms: 1000" \
	--service web "$VIP_EP" --backends "${EP[1]}" "${EP[2]}" \
	--set "detection: {consecutive_failures: 3}"
start_vigild "$VGL_CONFIG"
INFLIGHT=$VGL_PIN_DIR/inflight

# The 8 key bytes of a u64 (little-endian) as bpftool wants them.
le64() { local i; for ((i = 0; i < 8; i++)); do printf '%02x ' $((($1 >> (8 * i)) & 255)); done; }
# A client entry (struct vigil_inflight) for IPv4 ADDR:PORT, FLAGS, waiting
# since boot (syn_sent_ns and last_send_ns 1).
entry() { # ADDR PORT FLAGS
	local a b c d
	IFS=. read -r a b c d <<<"$1"
	printf '00 %.0s' {1..10}
	printf 'ff ff %02x %02x %02x %02x ' "$a" "$b" "$c" "$d"
	printf '%02x %02x 02 00 00 00 01 %02x ' $(($2 & 255)) $(($2 >> 8)) "$3"
	le64 1
	le64 1
	le64 0
}
has_key() { bpftool map lookup pinned "$INFLIGHT" key hex $(le64 "$1") >/dev/null 2>&1; }
# Socket keys (top bit set) in the map.
socket_keys() {
	bpftool -j map dump pinned "$INFLIGHT" | jq '[.[] | select(.key[7] | test("0x[89a-f]"))] | length'
}

# ---- vigild down, one connection open, dead entries planted -------------------------
kill -KILL "$VIGILD_PID"
stop_pid "$VIGILD_PID"
log "vigild (pid $VIGILD_PID) killed; the pinned monitor keeps running"
start_bg ip netns exec "$CLI_NS" python3 -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
time.sleep(120)' "${B4[1]}" "$PORT"
wait_until 5 estab_at_least 1 "${EP[1]}" || die "the open connection to ${EP[1]} did not establish"
LIVE=$(socket_keys)
assert_eq "in-flight socket entries before the plant (the open connection)" 1 "$LIVE"

DEAD=(0xffff8880dead0001 0xffff8880dead0002 0xffff8880dead0003 0xffff8880dead0004)
XDP_KEY=0x00000000c0ffee01
for k in "${DEAD[@]}"; do
	# ESTABLISHED | AWAIT_REPLY: a request sent at boot, never answered.
	bpftool map update pinned "$INFLIGHT" key hex $(le64 "$k") value hex $(entry "${B4[1]}" "$PORT" 0x0a) ||
		die "planting $k failed"
done
# A SYN of the XDP datapath to an endpoint no service has.
bpftool map update pinned "$INFLIGHT" key hex $(le64 $XDP_KEY) value hex $(entry 198.51.100.1 9 0) ||
	die "planting the XDP key failed"
assert_eq "socket entries after the plant" $((LIVE + ${#DEAD[@]})) "$(socket_keys)"

# ---- restart -------------------------------------------------------------------------
start_vigild "$VGL_CONFIG"
for k in "${DEAD[@]}"; do
	assert_true "dead entry $k dropped" eval "! has_key $k"
done
assert_true "the XDP flow key stays" has_key $XDP_KEY
assert_eq "the open connection's entry stays" "$LIVE" "$(socket_keys)"
assert_true "vigild logs the drop" grep -q "dropped ${#DEAD[@]} in-flight entries of sockets that closed" "$VIGILD_LOG"
# Beyond stall_floor_ms (400 ms) and many ticks.
sleep 2
assert_eq "b1 state" healthy "$(backend_field web "${EP[1]}" state)"
assert_eq "ejections of b1 in the history" 0 "$(events_of "${EP[1]}" ejected | wc -l)"
assert_true "the connection is still open" estab_at_least 1 "${EP[1]}"
fo_show
fo_show_events
((VGL_FAILS == 0)) || dump_vigild_log
finish
