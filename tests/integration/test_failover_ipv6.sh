#!/bin/bash
# Failover of an IPv6 service ([fd00:96:47::10]:80, IPv6 backends), the kill
# test in short: one primary's testsrv is SIGKILLed under load; it is ejected
# (fast_path or consecutive_failures), few requests fail, a later client sees
# only the live primary. Also: an application connected through the VIP sees
# the VIP as its peer (getpeername, cgroup/getpeername6), while the socket
# table (ss) shows the backend it was really connected to.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
fo_require_env
command -v python3 >/dev/null || skip "python3 not installed (getpeername check)"
[[ -e /proc/net/if_inet6 ]] || skip "kernel without IPv6"

NET=247
VIP=fd00:96:47::10
PORT=$VGL_PORT
THRESHOLD=3
WORKERS=4

fo_topology "$NET" 3
fo_cgroup
EP1="[${B6[1]}]:$PORT" EP2="[${B6[2]}]:$PORT" EP3="[${B6[3]}]:$PORT"
fo_server 1 "${B6[1]}" "$PORT" b1
fo_server 2 "${B6[2]}" "$PORT" b2
fo_server 3 "${B6[3]}" "$PORT" b3

fo_new_config
{
	fo_config_head
	cat <<EOF
detection:
  eject_base_ms: 20000          # stays ejected for the whole test
  slow_floor_ms: 1000           # not under test (scheduling noise)
  stuck_request_floor_ms: 2000  # not under test (scheduling noise)
services:
  - name: web6
    vip: "[$VIP]:80"
    backends: ["$EP1", "$EP2"]
    backups: ["$EP3"]
    detection: {consecutive_failures: $THRESHOLD}
EOF
} >"$VGL_CONFIG"
fo_start_vigild "$VGL_CONFIG"

fo_loadgen -a "$VIP" -p 80 -c "$WORKERS" -d 1000 -t 1000 -s 1 || die "baseline loadgen failed"
assert_eq "baseline failed" 0 "$(lg_get failed)"
assert_ge "baseline served_b1" 1 "$(lg_get served_b1)"
assert_ge "baseline served_b2" 1 "$(lg_get served_b2)"
assert_eq "baseline served by the backup" 0 "$(lg_get served_b3)"

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
print(\"getpeername=[%s]:%d reply=%s ss_peer=%s\" % (peer[0], peer[1], reply.replace(\" \", \"_\"), ss[-1] if ss else \"none\"))
" "$2"' "$FO_CGROUP" "$CLI_NS" "$VIP" 2>&1)
log "python3 client through the VIP: $PEER_OUT"
assert_eq "getpeername() of a socket connected to the VIP" "[$VIP]:80" "$(cli_get getpeername "$PEER_OUT")"
SS_PEER=$(cli_get ss_peer "$PEER_OUT")
assert_true "ss shows a backend as the peer ($SS_PEER)" grep -qxF -e "$EP1" -e "$EP2" <<<"$SS_PEER"
REPLY=$(cli_get reply "$PEER_OUT")
assert_true "reply from that backend ($REPLY)" test "$REPLY" = "OK_b1" -o "$REPLY" = "OK_b2"

# ---- fault -------------------------------------------------------------------------------
fo_loadgen_bg -a "$VIP" -p 80 -c "$WORKERS" -d 4000 -t 1000 -s 1
LG1_PID=$LG_PID LG1_LOG=$LG_LOG
sleep 1
ATT_BEFORE=$(stat_of "$EP1" connect_attempts) || die "no stats for b1"
ERR_BEFORE=$(stat_of "$EP1" errors) || die "no stats for b1"
# b1 must have been in use, or "no connect after the ejection" proves nothing.
assert_ge "connect attempts to b1 before the kill" 1 "$ATT_BEFORE"
FAULT_NS=$(now_wall_ns)
mark_fault "$LG1_PID"
kill -KILL "${FO_SRV_PIDS[1]}"
stop_pid "${FO_SRV_PIDS[1]}"
log "killed b1 ($EP1)"
assert_true "b1 ejected" wait_backend_field web6 "$EP1" state ejected 5
EJ=$(events_of "$EP1" ejected | head -n1)
EJ_NS=$(jq -r .wall_ns <<<"$EJ")
DETECT_MS=none
[[ "$EJ_NS" =~ ^[0-9]+$ ]] && DETECT_MS=$(((EJ_NS - FAULT_NS) / 1000000))
log "ejection $DETECT_MS ms after the kill: $EJ"
assert_true "rule $(jq -r .rule <<<"$EJ") is fast_path or consecutive_failures" \
	grep -qxE 'fast_path|consecutive_failures' <<<"$(jq -r .rule <<<"$EJ")"
assert_le "fault to ejection ms" 2000 "$DETECT_MS"
ATT=$(stat_of "$EP1" connect_attempts) || die "no stats for b1"
sleep 1
ATT_LATER=$(stat_of "$EP1" connect_attempts) || die "no stats for b1"
ERR_LATER=$(stat_of "$EP1" errors) || die "no stats for b1"
assert_eq "connect attempts to b1 after ejection" "$ATT" "$ATT_LATER"
assert_le "failed connects to b1 (threshold + workers - 1)" $((THRESHOLD + WORKERS - 1)) \
	$((ERR_LATER - ERR_BEFORE))
# Both rules allowed above need THRESHOLD consecutive failures the monitor saw.
assert_ge "failed connects to b1 (at least the threshold)" "$THRESHOLD" $((ERR_LATER - ERR_BEFORE))
fo_loadgen_wait "$LG1_PID" "$LG1_LOG" 10 || die "loadgen did not finish"
log "loadgen across the kill: $LG_OUT"
log "failures: in flight at the kill $(lg_get failed_inflight), started after it" \
	"$(lg_get failed_after), last $(lg_get last_fail_ms) ms after the kill"
if (($(lg_get failed_after) > THRESHOLD)); then
	warn "NOTE: $(lg_get failed_after) failures after the kill > threshold $THRESHOLD: connects" \
		"that chose b1 before the 3rd failure marked it down (concurrent workers)"
fi
assert_le "failed requests after the kill (threshold + workers - 1)" $((THRESHOLD + WORKERS - 1)) \
	"$(lg_get failed_after)"

fo_loadgen -a "$VIP" -p 80 -c "$WORKERS" -d 1000 -t 1000 -s 1 || die "post-detection loadgen failed"
assert_eq "post-detection failed" 0 "$(lg_get failed)"
assert_eq "post-detection served_b1" 0 "$(lg_get served_b1)"
assert_eq "post-detection served by the backup" 0 "$(lg_get served_b3)"
assert_ge "post-detection served_b2" 1 "$(lg_get served_b2)"
assert_eq "service serving" primaries "$(service_field web6 serving)"

fo_show
fo_show_events
((VGL_FAILS == 0)) || dump_vigild_log
finish
