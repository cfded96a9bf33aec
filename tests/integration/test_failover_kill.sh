#!/bin/bash
# Failover on a killed backend, table-driven over the address families
# (cases ipv4 and ipv6: a VIP and backends of that family): 2 primaries + 1
# backup behind a VIP, clients open a new connection per request through
# vigil's socket load balancer.
# An application connected through the VIP sees the VIP as its peer
# (getpeername, cgroup/getpeername4|6), while the socket table (ss) shows the
# backend it was really connected to.
# The testsrv of one primary is SIGKILLed under load: its connects are
# refused, the kernel fast path marks it down after consecutive_failures (3)
# refusals and vigild ejects it. Asserts: ejected by fast_path or
# consecutive_failures, no connection attempt reaches it once ejected,
# failures of requests started after the fault <= 3 plus the connects racing
# with the 3rd failure (in-flight ones are reported apart), and a later
# client sees only the live primary.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
run_cases ipv4 ipv6
fo_require_env
command -v python3 >/dev/null || skip "python3 not installed (getpeername check)"

FAMILY=${VGL_CASE#ipv}
[[ $FAMILY == 4 || $FAMILY == 6 ]] || die "unknown case $VGL_CASE"
[[ $FAMILY == 4 || -e /proc/net/if_inet6 ]] || skip "kernel without IPv6"
THRESHOLD=3
WORKERS=4

fo_world 3 "$FAMILY"
# eject_base_ms 20000: stays ejected for the whole test (no probes)
fo_conf --detect "eject_base_ms: 20000" --calm \
	--service web "$VIP_EP" --backends "${EP[1]}" "${EP[2]}" --backups "${EP[3]}" \
	--set "detection: {consecutive_failures: $THRESHOLD}" --set "probe: {timeout_ms: 300}"
start_vigild "$VGL_CONFIG"

# ---- healthy baseline --------------------------------------------------------------
fo_loadgen -a "$VIP" -p 80 -c "$WORKERS" -d 1000 -t 1000 -s 1 || die "baseline loadgen failed"
assert_lg baseline failed=0 'served_b1>=1' 'served_b2>=1' served_b3=0

# ---- getpeername: the application sees the VIP ------------------------------------------
# Connect through the VIP (inside the LB cgroup), print what getpeername()
# returns, then what the kernel's socket table says about the same socket.
# shellcheck disable=SC2016 # expanded by the inner shells
PEER_OUT=$(timeout 10 bash -c 'echo $$ >"$0/cgroup.procs" && exec ip netns exec "$1" python3 -c "
import socket, subprocess, sys
s = socket.create_connection((sys.argv[1], 80), timeout=3)
peer = s.getpeername()
s.sendall(b\"GET\\n\")
reply = s.recv(64).decode().strip()
port = s.getsockname()[1]
ss = subprocess.run([\"ss\", \"-Htn\", \"state\", \"established\", \"( sport = :%d )\" % port],
                    capture_output=True, text=True).stdout.split()
host = \"[%s]\" % peer[0] if \":\" in peer[0] else peer[0]
print(\"getpeername=%s:%d reply=%s ss_peer=%s\" % (host, peer[1], reply.replace(\" \", \"_\"), ss[-1] if ss else \"none\"))
" "$2"' "$FO_CGROUP" "$CLI_NS" "$VIP" 2>&1)
log "python3 client through the VIP: $PEER_OUT"
assert_eq "getpeername() of a socket connected to the VIP" "$VIP_EP" "$(cli_get getpeername "$PEER_OUT")"
SS_PEER=$(cli_get ss_peer "$PEER_OUT")
assert_true "ss shows a backend as the peer ($SS_PEER)" grep -qxF -e "${EP[1]}" -e "${EP[2]}" <<<"$SS_PEER"
REPLY=$(cli_get reply "$PEER_OUT")
assert_true "reply from that backend ($REPLY)" test "$REPLY" = "OK_b1" -o "$REPLY" = "OK_b2"

# ---- fault ---------------------------------------------------------------------------
# Mark the fault in loadgen first, so every failure is counted as in flight
# (request started before) or after; then kill b1 at once.
FAULT_LOAD=(fo_loadgen_bg -a "$VIP" -p 80 -c "$WORKERS" -d 5000 -t 1000 -s 1)
fault_under_load 1.5 "${EP[1]}" b1 fo_kill_server 1
expect_ejection web "${EP[1]}" 5 'fast_path|consecutive_failures' 2000
# Once ejected, the load generator (still running) never tries b1 again.
kill_checks "${EP[1]}" b1 2 "$THRESHOLD" "$WORKERS" 15
assert_lg "under fault" 'served_b2>=100' served_b3=0

# ---- after detection: only the live primary ----------------------------------
fo_loadgen -a "$VIP" -p 80 -c "$WORKERS" -d 1000 -t 1000 -s 1 || die "post-detection loadgen failed"
assert_lg post-detection failed=0 served_b1=0 served_b3=0 'served_b2>=1'
assert_eq "b2 state" healthy "$(backend_field web "${EP[2]}" state)"
assert_eq "b1 share" 0 "$(backend_field web "${EP[1]}" share)"
assert_eq "service serving" primaries "$(service_field web serving)"

fo_show
fo_show_events
((VGL_FAILS == 0)) || dump_vigild_log
finish
