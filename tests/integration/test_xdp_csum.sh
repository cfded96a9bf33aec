#!/bin/bash
# XDP datapath and partial TCP checksums: client host -> LB host (XDP) ->
# a backend behind a TUN link (xdp_tun_backend, no delay).
#
# A veth sends TCP with checksum offload: the checksum field holds only the
# pseudo-header sum (CHECKSUM_PARTIAL) and whoever finally needs the real
# checksum computes it. An all-veth path never does, so a wrong partial sum
# goes unnoticed; a TUN device (or a NIC's checksum offload, or any device
# without it) computes the checksum from that field. The XDP program cannot
# tell a partial checksum from a complete one and updates it as if complete.
# Asserts: the TUN backend is reachable through the LB host's plain
# forwarding (control); through the VIP it serves every request with the
# client's default offloads and receives no segment with a bad checksum; and
# with TX checksum offload off on the client (complete checksums) too.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
# shellcheck source=tests/lib_xdp.sh
source "$(dirname "$0")/../lib_xdp.sh"
xdp_require_env
command -v python3 >/dev/null || skip "python3 not installed (runs the TUN relay)"
[[ -c /dev/net/tun ]] || skip "no /dev/net/tun"

NET=247
PORT=$VGL_PORT
xdp_topology "$NET" 1
xdp_tun_backend "$NET" 0
start_testsrv "$TUN_NS" "$TUN4" "$PORT" -n tunb
ip -n "$CLI_NS" route add "10.$NET.3.0/24" via "10.$NET.1.1" || die "client route failed"

fo_new_config
{
	xdp_config_head
	cat <<EOF
detection:
  consecutive_failures: 1000    # keep the backend in service whatever happens
  stuck_connect_floor_ms: 60000
  stuck_request_floor_ms: 60000
services:
  - name: web
    vip: "$VIP4:80"
    datapath: xdp
    backends: ["$TUN4:$PORT"]
EOF
} >"$VGL_CONFIG"
xdp_start_vigild

# Control: plain forwarding by the LB host (no VIP, XDP passes it untouched).
xlg -a "$TUN4" -p "$PORT" -c 2 -d 1000 -t 1000 -s 1 || die "control loadgen failed"
assert_eq "direct to the TUN backend (no NAT): failed" 0 "$(lg_get failed)"
assert_ge "direct to the TUN backend (no NAT): served" 1 "$(lg_get served_tunb)"

# Through the VIP, client with its default offloads (partial checksums).
ERR0=$(tcp_csum_errors "$TUN_NS")
xlg -a "$VIP4" -p 80 -c 2 -d 1000 -t 1000 -s 1 || die "VIP loadgen failed"
ERR1=$(tcp_csum_errors "$TUN_NS")
log "xdp_csum partial: requests=$(lg_get requests) failed=$(lg_get failed)" \
	"backend_bad_checksums=$((ERR1 - ERR0))"
assert_eq "through the VIP, partial checksums: failed" 0 "$(lg_get failed)"
assert_eq "segments the backend dropped for a bad checksum" 0 $((ERR1 - ERR0))

# Through the VIP, client sending complete checksums.
tx_csum_off "$CLI_NS" xc || die "turning off TX checksum offload on the client failed"
xlg -a "$VIP4" -p 80 -c 2 -d 1000 -t 2000 -s 1 || die "VIP loadgen failed"
ERR2=$(tcp_csum_errors "$TUN_NS")
log "xdp_csum complete: requests=$(lg_get requests) failed=$(lg_get failed)" \
	"backend_bad_checksums=$((ERR2 - ERR1))"
assert_eq "through the VIP, complete checksums: failed" 0 "$(lg_get failed)"
assert_ge "through the VIP, complete checksums: served" 1 "$(lg_get served_tunb)"
assert_eq "segments dropped for a bad checksum (complete checksums)" 0 $((ERR2 - ERR1))

((VGL_FAILS == 0)) || dump_vigild_log
finish
