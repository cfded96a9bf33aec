#!/bin/bash
# The message hooks' port filter (struct vigil_tracked_ports, abi.h): a
# message on a socket neither of whose ports has its bit in tracked_ports
# returns before the socket's storage is read. The monitor sets a port's bit
# before it tracks a socket and never clears it, so no tracked connection is
# ever filtered.
# Made for real, with one kept-alive connection to the watched EP:
# 1. its first request is answered and counted on both ends (the client's
#    requests, counted by the receive hook, and the server's responses, which
#    count only after that hook saw the request), the unwatched port's
#    traffic is not; tracked_ports has the bit of EP's port among the remote
#    ports and of PORT among the local ones, not the unwatched port's.
# 2. vigild stopped and the tracked_ports pin removed (what a vigil without
#    the map leaves beside sock_state), vigild started again: the socket was
#    tracked without its port recorded, so vigild fills the map with ones
#    (and says so); the second request on the same connection is counted on
#    both ends.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
require_env
command -v python3 >/dev/null || skip "python3 not installed (the client)"

# VIGIL_TRACKED_PORT_BIT (abi.h).
hash_bit() { echo $((($1 ^ ($1 >> 8)) & 255)); }
# PORT's bit in the remote (0) or local (1) half of tracked_ports: 0 or 1.
port_bit() { # HALF PORT
	local h
	h=$(hash_bit "$2")
	bpftool -j map lookup pinned "$VGL_PIN_DIR/tracked_ports" key 0 0 0 0 |
		jq -r --argjson o $(($1 * 32 + h / 8)) --argjson b $((h % 8)) '(.value[$o] |
			ltrimstr("0x") | explode | map(if . >= 97 then . - 87 else . - 48 end) |
			.[0] * 16 + .[1]) / pow(2; $b) | floor % 2'
}

mon_world
OTHER_PORT=$((PORT + 1))
# A port whose bit is not PORT's (else its traffic would pass the filter).
[[ $(hash_bit "$OTHER_PORT") != $(hash_bit "$PORT") ]] || OTHER_PORT=$((PORT + 2))
start_testsrv "$SRV_NS" "$SRV4" "$OTHER_PORT"
GO="$VGL_TMP/go" DONE="$VGL_TMP/done"

# One connection: a request, then a second one once GO exists; DONE counts
# the replies.
start_bg ip netns exec "$CLI_NS" python3 -c '
import os, socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
for n in (1, 2):
    while n == 2 and not os.path.exists(sys.argv[3]):
        time.sleep(0.05)
    s.sendall(b"x\n")
    if s.recv(16) != b"OK\n":
        sys.exit("bad reply")
    open(sys.argv[4], "w").write(str(n))
time.sleep(60)' "$SRV4" "$PORT" "$GO" "$DONE"
replies() { [[ "$(cat "$DONE" 2>/dev/null)" == "$1" ]]; }

all_ones() {
	bpftool -j map lookup pinned "$VGL_PIN_DIR/tracked_ports" key 0 0 0 0 |
		jq -e '[.value[] | select(. != "0xff")] | length == 0' >/dev/null
}

# ---- 1. the filter as traffic sets it ------------------------------------------------
wait_until 5 replies 1 || die "the first request was not answered"
run_testcli "$CLI_NS" -a "$SRV4" -p "$OTHER_PORT" -n 5 -c 5 -r 1
assert_cli "testcli (unwatched)" ok=5
wait_backend "$EP" .requests 1
wait_local "$PORT" .responses 1
S=$(vigil_stats) || die "no stats"
assert_backend "$S" "$EP" requests=1
assert_local "$S" "$PORT" responses=1
assert_backend "$S" "$SRV4:$OTHER_PORT" connect_attempts=absent
assert_eq "tracked remote port $PORT" 1 "$(port_bit 0 "$PORT")"
assert_eq "tracked local port $PORT" 1 "$(port_bit 1 "$PORT")"
assert_eq "unwatched remote port $OTHER_PORT" 0 "$(port_bit 0 "$OTHER_PORT")"
assert_eq "unwatched local port $OTHER_PORT" 0 "$(port_bit 1 "$OTHER_PORT")"

# ---- 2. a pin dir of a vigil without the map -----------------------------------------
stop_pid "$VIGILD_PID"
rm -f "$VGL_PIN_DIR/tracked_ports"
start_vigild "$VGL_CONFIG"
assert_true "vigild says the filter is off" grep -q "port filter is off" "$VIGILD_LOG"
assert_true "tracked_ports is all ones" all_ones
touch "$GO"
wait_until 5 replies 2 || die "the second request was not answered"
wait_backend "$EP" .requests 2
wait_local "$PORT" .responses 2
S=$(vigil_stats) || die "no stats"
assert_backend "$S" "$EP" requests=2
assert_local "$S" "$PORT" responses=2

((VGL_FAILS == 0)) || { dump_stats "$S"; dump_vigild_log; }
finish
