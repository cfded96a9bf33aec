#!/bin/bash
# The socket datapath's rescue of connects to a failed backend
# (bpf/sock_rescue.bpf.c), table-driven over the faults, each case in its own
# namespaces: 2 primaries + 1 backup behind a VIP, clients in the LB cgroup
# open a new connection per request with a 2 s timeout.
#   blackhole  every packet to primary b1 is dropped (nft). Its pending SYNs
#              are retransmitted after the service's short SYN timeout
#              (syn_rto_ms 200 by default: ss shows rto:200 on a connecting
#              socket, and the kernel's rto:1000 for a service with
#              syn_rto_ms 0), vigild ejects b1, and each retransmit moves to
#              b2 instead of being torn down: no request fails.
#   kill       b1's server is SIGKILLed; the fault instant is when it is gone.
#              Its refusals are withheld and the SYN retransmits move: no
#              request started after the fault fails, no refusal reaches a
#              client, and the fast path marks b1 down (on the resets of the
#              connections the dying process left unaccepted, in flight, and
#              the refusals the rescue recorded). A single client of a service whose only primary refuses gets
#              its reply from the backup, and getpeername() of that rescued
#              socket still returns the VIP while ss shows the backend it
#              connected to.
#   kill6      the kill case over IPv6.
#   resets     b1 refuses every 2,000th SYN (nft reject with tcp reset): each
#              refusal is rescued, no request fails, nothing is ejected.
#   upgrade    a flow an older vigil rescued (its forward entry without
#              VIGIL_RESCUE_COUNTED) is in rescue_flows when vigild restarts:
#              the new vigild counts it in rescue_live, or its tc filter
#              would skip the flow's packets, and flags it.
# Every other case: the rescue's translations are freed once the connections close
# (rescue_flows empty at the end) and its count of live flows is back to 0,
# so its tc programs skip their lookups again. Directions only, no timings.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
run_cases blackhole kill kill6 resets upgrade
fo_require_env
command -v python3 >/dev/null || skip "python3 not installed (getpeername and ss checks)"
command -v bpftool >/dev/null || skip "bpftool not installed (the rescue_live check)"

THRESHOLD=3
WORKERS=8
FAMILY=4
case $VGL_CASE in
kill6)
	FAMILY=6
	[[ -e /proc/net/if_inet6 ]] || skip "kernel without IPv6"
	;;
blackhole | resets) command -v nft >/dev/null || skip "nft not installed" ;;
kill | upgrade) ;;
*) die "unknown case $VGL_CASE" ;;
esac

fo_world 3 "$FAMILY"
PK=$((PORT + 1)) # service "peer": primary k1 (on b1's address), backup k2
PR=$((PORT + 2)) # services "rto", "rto0": one black-holed backend each
if [[ $FAMILY == 6 ]]; then
	K1="[${B6[1]}]:$PK" K2="[${B6[2]}]:$PK"
	fo_server 4 "${B6[1]}" "$PK" k1
	fo_server 5 "${B6[2]}" "$PK" k2
else
	K1="${B4[1]}:$PK" K2="${B4[2]}:$PK"
	fo_server 4 "${B4[1]}" "$PK" k1
	fo_server 5 "${B4[2]}" "$PK" k2
fi
VIPK=${VIP_EP%:80}:81
# eject_base_ms 20000: stays ejected for the whole test
fo_conf --detect "eject_base_ms: 20000" --calm \
	--service web "$VIP_EP" --backends "${EP[1]}" "${EP[2]}" --backups "${EP[3]}" \
	--set "detection: {consecutive_failures: $THRESHOLD}" --set "probe: {timeout_ms: 300}" \
	--service peer "$VIPK" --backends "$K1" --backups "$K2" \
	--set "probe: {timeout_ms: 300}" \
	--service rto "$VIP4:82" --backends "${B4[1]}:$PR" \
	--service rto0 "$VIP4:83" --backends "${B4[1]}:$PR" --set "syn_rto_ms: 0"
start_vigild "$VGL_CONFIG"
grep -q "socket rescue on veth0" "$VIGILD_LOG" || die "the rescue is not attached to veth0: $(grep 'socket rescue' "$VIGILD_LOG")"

# ---- helpers ---------------------------------------------------------------------------

# A field of the rescue counters (vigilctl stats --json, .rescue).
rescue_stat() { # NAME
	vigil_stats | jq -r ".rescue.$1"
}

# Run python3 CODE with ARGS in the client namespace, inside the LB cgroup.
cg_python() { # CODE ARGS...
	# shellcheck disable=SC2016 # expanded by the inner bash
	timeout 20 bash -c 'echo $$ >"$0/cgroup.procs" && exec ip netns exec "$1" python3 -c "${@:2}"' \
		"$FO_CGROUP" "$CLI_NS" "$@" 2>&1
}

# The RTO (ms) ss shows on a socket connecting to VIP:PORT (its backend
# black-holed), 50 ms after connect().
RTO_PY='
import re, socket, subprocess, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setblocking(False)
s.connect_ex((sys.argv[1], int(sys.argv[2])))
time.sleep(0.05)
port = s.getsockname()[1]
out = subprocess.run(["ss", "-Htin", "state", "syn-sent", "( sport = :%d )" % port],
                     capture_output=True, text=True).stdout
m = re.search(r"\brto:(\d+)", out)
print("rto=%s" % (m.group(1) if m else "none"))
'

# A client of the service at VIP:PORT: what getpeername() says, the reply,
# and the peer the kernel's socket table shows for the same socket.
PEER_PY='
import socket, subprocess, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
peer = s.getpeername()
s.sendall(b"GET\n")
reply = s.recv(64).decode().strip()
port = s.getsockname()[1]
ss = subprocess.run(["ss", "-Htn", "state", "established", "( sport = :%d )" % port],
                    capture_output=True, text=True).stdout.split()
host = "[%s]" % peer[0] if ":" in peer[0] else peer[0]
print("getpeername=%s:%d reply=%s ss_peer=%s" % (host, peer[1], reply.replace(" ", "_"), ss[-1] if ss else "none"))
'

# Stop the fault load (started by fault_start) when it ends; log it.
fault_end() {
	fault_load_end 15
	log "rescue counters: $(vigil_stats | jq -c .rescue)"
}

# Start the load, let it run 1.5 s and record the victim's connects before
# the fault. Sets FLG_PID, FLG_LOG.
fault_start() {
	fo_loadgen_bg -a "$VIP" -p 80 -c "$WORKERS" -d 5000 -t 2000 -s 1
	FLG_PID=$LG_PID FLG_LOG=$LG_LOG
	sleep 1.5
	ATT_BEFORE=$(stat_of "${EP[1]}" connect_attempts) || die "no stats for b1"
	ERR_BEFORE=$(stat_of "${EP[1]}" errors) || die "no stats for b1"
	assert_ge "connect attempts to b1 before the fault" 1 "$ATT_BEFORE"
}

# The fault instant is when the fault is in effect (the nft rule live, the
# process gone): a request that reached b1 before then fails with it, in
# flight.
fault_instant() {
	FAULT_NS=$(now_wall_ns)
	mark_fault "$FLG_PID"
}

# The translations of every closed connection are gone, and so is their
# count (abi.h, rescue_live): the programs' filter is on again.
flows_freed() {
	local fill
	fill=$(vigil_stats | jq -r '.fill.rescue_flows')
	assert_eq "rescue_flows fill once every connection closed" 0 "$fill"
	assert_eq "rescue_live once every connection closed" 0 "$(pinned_number rescue_live 8 0 0 0 0 0)"
}

# The little-endian number of SIZE bytes at OFFSET in a pinned map's value
# (bpftool -j prints the value's bytes in hex). KEY: bytes as bpftool takes them.
pinned_number() { # MAP SIZE OFFSET KEY...
	local hex
	hex=$(bpftool -j map lookup pinned "$VGL_PIN_DIR/$1" key "${@:4}" |
		jq -r --argjson size "$2" --argjson off "$3" \
			'.value[$off:$off + $size] | reverse | map(ltrimstr("0x")) | join("")')
	echo $((16#${hex:-x}))
}

# Hex bytes (bpftool's "hex" form) of the key or value of a forward entry
# as a vigil before rescue_live wrote it: client 10.255.255.1:40000 -> b1,
# refused once (VIGIL_RESCUE_REFUSED), not moved, no VIGIL_RESCUE_COUNTED.
OLD_ENTRY_PY='
import ipaddress, struct, sys
what, b1, port, vip = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
m = lambda a: ipaddress.IPv6Address("::ffff:" + a).packed
if what == "key":
    b = m("10.255.255.1") + m(b1) + struct.pack("<HHBBH", 40000, port, 2, 6, 0)
else:
    b = bytes(20) + m(vip) + struct.pack("<HBB", 80, 2, 0) + struct.pack("<IIQ", 1, 1, 0)
print(" ".join("%02x" % x for x in b))
'
old_entry() { # key|value
	python3 -c "$OLD_ENTRY_PY" "$1" "${B4[1]}" "$PORT" "$VIP4"
}

# ---- cases -------------------------------------------------------------------------------

case_blackhole() {
	local rto rto0
	fo_blackhole vgl_bh_r "${B4[1]}" "$PR" || die "nft failed"
	rto=$(cli_get rto "$(cg_python "$RTO_PY" "$VIP4" 82)")
	rto0=$(cli_get rto "$(cg_python "$RTO_PY" "$VIP4" 83)")
	log "SYN timeout of a connecting socket: $rto ms (syn_rto_ms default), $rto0 ms (syn_rto_ms 0)"
	assert_eq "rto of a service connection (syn_rto_ms 200)" 200 "$rto"
	assert_eq "rto of a service connection (syn_rto_ms 0: the kernel's)" 1000 "$rto0"

	fault_start
	fo_blackhole vgl_bh_a "${B4[1]}" "$PORT" || die "nft failed"
	fault_instant
	expect_ejection web "${EP[1]}" 5 'stuck_connect|consecutive_failures|fast_path'
	fault_end
	assert_lg "across the blackhole" failed_after=0 'served_b2>=100' served_b3=0
	assert_ge "connects moved off b1" 1 "$(rescue_stat moved)"
	assert_eq "moves that found no healthy backend" 0 "$(rescue_stat no_target)"
}

case_kill() {
	local out
	# A lone client: the only primary of "peer" refuses, the backup answers.
	fo_kill_server 4
	out=$(cg_python "$PEER_PY" "$VIP" 81)
	log "python3 client of service peer (k1 killed): $out"
	assert_eq "getpeername() of a rescued socket" "$VIPK" "$(cli_get getpeername "$out")"
	assert_eq "its reply, from the backup" OK_k2 "$(cli_get reply "$out")"
	assert_eq "its peer in the socket table: the backend it connected to" "$K1" "$(cli_get ss_peer "$out")"
	assert_eq "refusals withheld for the lone client" 1 "$(rescue_stat refusals_withheld)"

	fault_start
	fo_kill_server 1
	fault_instant
	expect_ejection web "${EP[1]}" 5 'fast_path|consecutive_failures'
	no_connects_after_ejection "${EP[1]}" b1 1
	assert_kill_errors b1 "$THRESHOLD"
	fault_end
	# Connects b1 refused under load were withheld and moved; how many there
	# were depends on how soon the resets of the connections its process
	# left unaccepted (in flight) marked it down: no count is asserted.
	assert_lg "across the kill" failed_after=0 'served_b2>=100' served_b3=0
	assert_eq "refusals that reached a client" 0 "$(rescue_stat refusals_passed)"
}

case_resets() {
	local refused
	ns_exec "$SRV_NS" nft -f - <<EOF || die "nft failed"
table inet vgl_rst {
	chain input {
		type filter hook input priority 0; policy accept;
		ip daddr ${B4[1]} tcp dport $PORT tcp flags & (syn | ack) == syn numgen inc mod 2000 == 0 reject with tcp reset
	}
}
EOF
	fo_loadgen -a "$VIP" -p 80 -c "$WORKERS" -d 6000 -t 2000 -s 1 || die "loadgen failed"
	refused=$(stat_of "${EP[1]}" refused) || die "no stats for b1"
	log "b1 refused $refused connects; rescue counters: $(vigil_stats | jq -c .rescue)"
	assert_ge "refusals by b1 (every 2,000th SYN)" 1 "$refused"
	assert_eq "refusals withheld: every one" "$refused" "$(rescue_stat refusals_withheld)"
	assert_lg "with b1 refusing 1 in 2,000" failed=0 'served_b1>=100' 'served_b2>=100'
	assert_eq "b1 state" healthy "$(backend_field web "${EP[1]}" state)"
	assert_eq "ejections of any backend" 0 "$(vctl events --json | jq -s '[.[] | select(.to == "ejected")] | length')"
}

case_upgrade() {
	local key
	# shellcheck disable=SC2207 # bytes, one word each
	key=($(old_entry key))
	stop_pid "$VIGILD_PID"
	# shellcheck disable=SC2046 # bytes, one word each
	bpftool map update pinned "$VGL_PIN_DIR/rescue_flows" key hex "${key[@]}" \
		value hex $(old_entry value) || die "writing the older vigil's entry failed"
	start_vigild "$VGL_CONFIG"
	assert_true "vigild's log names the flow it counted" \
		grep -q "socket rescue: 1 connections rescued by an earlier vigild counted" "$VIGILD_LOG"
	assert_eq "rescue_live: the older vigil's flow counted" 1 "$(pinned_number rescue_live 8 0 0 0 0 0)"
	# flags at byte 44 (after to, vip, kind): refused (1) and counted (2)
	assert_eq "its flags" 3 "$(pinned_number rescue_flows 4 44 hex "${key[@]}")"
}

case $VGL_CASE in
blackhole) case_blackhole ;;
kill | kill6) case_kill ;;
resets) case_resets ;;
upgrade) case_upgrade ;;
esac
[[ $VGL_CASE == upgrade ]] || flows_freed

fo_show
fo_show_events
((VGL_FAILS == 0)) || dump_vigild_log
finish
