# shellcheck shell=bash
# Helpers for tests/integration/test_xdp_*.sh, sourced after lib.sh and
# lib_failover.sh (whose config, vigilctl and loadgen-summary helpers they
# reuse; no cgroup is involved: the XDP datapath serves other hosts).
#
# World of an XDP test: three namespaces joined by two veth pairs,
#
#   CLI_NS  xc 10.NET.1.2      fd00:NET:1::2
#      |
#   LB_NS   xlc 10.NET.1.1     fd00:NET:1::1   <- XDP (vigild's xdp.interfaces)
#           xls 10.NET.2.1     fd00:NET:2::1   <- XDP
#      |
#   SRV_NS  xs  10.NET.2.1I    fd00:NET:2::1I  (one address per backend I)
#
# The client routes the virtual addresses (VIP4 10.96.NET.10, VIP6
# fd00:96:NET::10) via the LB host, the servers route everything back via it
# (NAT mode: the backends see the client's address), and the LB host forwards
# (net.ipv4.ip_forward, net.ipv6.conf.all.forwarding). vigild runs in the root
# namespace, attaches XDP inside LB_NS (xdp.netns) and probes from there
# (daemon.probe_netns); XDP_LOG_LEVEL (default info) sets its log level.
# Cleanup is lib.sh's and lib_failover.sh's: processes by PID, the pin
# directory (which detaches the pinned XDP links), then the namespaces.

XDP_IFS="xlc, xls"

xdp_require_env() {
	require_env
	[[ -x "$LOADGEN" ]] || die "$LOADGEN not built (run make all)"
}

# For a backend behind a TUN link (xdp_tun_backend).
xdp_require_tun() {
	command -v python3 >/dev/null || skip "python3 not installed (runs the TUN relay)"
	[[ -c /dev/net/tun ]] || skip "no /dev/net/tun"
}

# The world of an XDP test: a subnet of its own (alloc_net), the topology
# below with N backend addresses and testsrv "bI" on every B4[I]:PORT (PORT
# is VGL_PORT). Sets NET, PORT and what xdp_topology and fo_servers set.
xdp_world() { # N
	alloc_net
	PORT=$VGL_PORT
	xdp_topology "$NET" "$1"
	fo_servers "$1" "$PORT"
}

# Build the world above with N backend addresses (namespaces named
# PREFIXcli, PREFIXlb, PREFIXsrv: a second world beside another test world).
# Sets CLI_NS LB_NS SRV_NS, CLI4 CLI6, VIP4 VIP6, B4[1..N] B6[1..N].
xdp_topology() { # NET N [PREFIX]
	local net=$1 n=$2 p=${3:-}
	netns_create "${p}cli"
	CLI_NS=$NETNS
	netns_create "${p}lb"
	LB_NS=$NETNS
	netns_create "${p}srv"
	SRV_NS=$NETNS
	CLI4="10.$net.1.2" CLI6="fd00:$net:1::2"
	VIP4="10.96.$net.10" VIP6="fd00:96:$net::10"
	if ! { ip link add xc netns "$CLI_NS" type veth peer name xlc netns "$LB_NS" &&
		ip link add xs netns "$SRV_NS" type veth peer name xls netns "$LB_NS"; }; then
		die "creating the veth pairs failed"
	fi
	if ! { ip -n "$CLI_NS" addr add "$CLI4/24" dev xc &&
		ip -n "$CLI_NS" addr add "$CLI6/64" dev xc nodad &&
		ip -n "$LB_NS" addr add "10.$net.1.1/24" dev xlc &&
		ip -n "$LB_NS" addr add "fd00:$net:1::1/64" dev xlc nodad &&
		ip -n "$LB_NS" addr add "10.$net.2.1/24" dev xls &&
		ip -n "$LB_NS" addr add "fd00:$net:2::1/64" dev xls nodad; }; then
		die "addressing the veth pairs failed"
	fi
	backend_addrs "$SRV_NS" xs "10.$net.2" "fd00:$net:2:" "$n"
	if ! { ip -n "$CLI_NS" link set xc up && ip -n "$LB_NS" link set xlc up &&
		ip -n "$LB_NS" link set xls up && ip -n "$SRV_NS" link set xs up &&
		ip -n "$CLI_NS" route add "10.96.$net.0/24" via "10.$net.1.1" &&
		ip -n "$CLI_NS" route add "fd00:96:$net::/64" via "fd00:$net:1::1" &&
		ip -n "$SRV_NS" route add default via "10.$net.2.1" &&
		ip -n "$SRV_NS" route add default via "fd00:$net:2::1" &&
		ns_exec "$LB_NS" sysctl -qw net.ipv4.ip_forward=1 &&
		ns_exec "$LB_NS" sysctl -qw net.ipv6.conf.all.forwarding=1; }; then
		die "links, routes or forwarding setup failed"
	fi
	xdp_remote_ends "$CLI_NS" xc
	xdp_remote_ends "$SRV_NS" xs
	log "topology: $CLI_NS ($CLI4) -> $LB_NS (XDP on xlc, xls; VIP $VIP4 / $VIP6)" \
		"-> $SRV_NS (${B4[*]})"
}

# Make a veth end behave like another host behind a NIC: complete TCP
# checksums on the wire (no TX checksum offload; a local sender's partial
# checksum is for its own NIC to finish) and NAPI on receive (GRO on), which
# veth needs to accept frames the LB's XDP program sends with XDP_TX or
# XDP_REDIRECT. XDP_HOST_CSUM_OFFLOAD=1 keeps the offload, i.e. a sender on
# the LB host's own veths (a container).
xdp_remote_ends() { # NS IF
	local ns=$1 dev=$2 tx=off
	[[ ${XDP_HOST_CSUM_OFFLOAD:-0} == 1 ]] && tx=on
	ip netns exec "$ns" ethtool -K "$dev" tx "$tx" gro on >/dev/null 2>&1 ||
		die "ethtool -K $dev tx $tx gro on failed in $ns (is ethtool installed? scripts/deps.sh)"
}

# The daemon: and xdp: sections (fo_new_config first). The caller appends
# detection: and services:.
xdp_config_head() {
	daemon_head "${XDP_LOG_LEVEL:-info}" "$LB_NS"
	cat <<EOF
xdp:
  netns: /var/run/netns/$LB_NS
  interfaces: [$XDP_IFS]
  hook: ${XDP_HOOK:-xdp}
  forward: ${XDP_FORWARD:-redirect}
EOF
}

# Start vigild and check it attached XDP to both interfaces (the log names the
# mode: native on veth).
xdp_start_vigild() {
	start_vigild "$VGL_CONFIG"
	if ! wait_until 5 grep -q "XDP load balancer attached to xls" "$VIGILD_LOG"; then
		dump_vigild_log
		die "vigild did not attach XDP to xls"
	fi
	grep -o 'XDP load balancer attached to .*' "$VIGILD_LOG" | sed "s/^/[$VGL_TEST]   /"
}

# ---- load ----------------------------------------------------------------------

# Start loadgen in the client namespace (ip netns exec execs it, so LG_PID is
# loadgen's own PID). Sets LG_PID and LG_LOG.
xlg_bg() { # loadgen options...
	start_bg ip netns exec "$CLI_NS" "$LOADGEN" "$@"
	# shellcheck disable=SC2153 # set by lib.sh's start_bg
	LG_PID=$BG_PID LG_LOG=$BG_LOG
}

# Run loadgen in the foreground; LG_OUT gets its summary line.
xlg() { # loadgen options...
	loadgen_fg xlg_bg "$@"
}

# Share of backend NAME in the last loadgen summary (LG_OUT), in percent of
# the ok replies.
share_of() { # NAME
	local ok served
	ok=$(lg_get ok) served=$(lg_get "served_$1")
	((ok > 0)) && echo $((served * 100 / ok)) || echo 0
}

# Each backend NAME served 30-70 % of the ok replies of the last loadgen
# (equal weights, Maglev spread).
assert_spread() { # LABEL NAME...
	local label=$1 name share
	shift
	for name in "$@"; do
		share=$(share_of "$name")
		assert_ge "$label: share of $name (%)" 30 "$share"
		assert_le "$label: share of $name (%)" 70 "$share"
	done
}

# ---- flows -----------------------------------------------------------------------

# Client port of the one established connection of process PID in CLI_NS to
# PORT (empty if none).
client_port_of() { # PID PORT
	ns_exec "$CLI_NS" ss -Htnp state established "( dport = :$2 )" |
		awk -v pid="pid=$1," 'index($0, pid) { n = split($3, a, ":"); print a[n]; exit }'
}

# Backend address serving the connection from client port CPORT: the local
# address of the server socket in SRV_NS whose peer port is CPORT.
backend_of_port() { # CPORT
	ns_exec "$SRV_NS" ss -Htn state established "( dport = :$1 )" |
		awk '{ a = $3; sub(/:[0-9]+$/, "", a); gsub(/[][]/, "", a); print a; exit }'
}

# Start N single-connection keep-alive loadgens to VIP4:80 (more loadgen
# options after N) and wait until each is connected. Sets KA_N, and per
# client k: KA_PID[k], KA_LOG[k], KA_PORT[k] (its client port) and
# KA_BACKEND[k] (the address of the backend serving it).
xdp_keepalive_clients() { # N loadgen options...
	local k
	KA_N=$1
	shift
	# shellcheck disable=SC2034 # KA_LOG is for the tests
	KA_PID=() KA_LOG=() KA_PORT=() KA_BACKEND=()
	for ((k = 1; k <= KA_N; k++)); do
		xlg_bg -a "$VIP4" -p 80 -c 1 -k "$@"
		# shellcheck disable=SC2034 # KA_LOG is for the tests
		KA_PID[k]=$LG_PID KA_LOG[k]=$LG_LOG
	done
	wait_until 3 _xdp_ka_placed || die "keep-alive clients did not connect"
	for ((k = 1; k <= KA_N; k++)); do
		log "keep-alive client $k: port ${KA_PORT[k]} -> ${KA_BACKEND[k]}"
	done
}
# shellcheck disable=SC2317 # called through wait_until
_xdp_ka_placed() {
	local k
	for ((k = 1; k <= KA_N; k++)); do
		KA_PORT[k]=$(client_port_of "${KA_PID[k]}" 80)
		[[ -n "${KA_PORT[k]}" ]] || return 1
		KA_BACKEND[k]=$(backend_of_port "${KA_PORT[k]}")
		[[ -n "${KA_BACKEND[k]}" ]] || return 1
	done
}

# The victim of a fault among primaries 1 and 2: the backend of keep-alive
# client 1, unless it holds all of them (then the other), so that the
# survivor holds at least one. Sets VICTIM, SURVIVOR and ON_VICTIM (the
# keep-alive clients on the victim).
xdp_pick_victim() {
	VICTIM=1
	[[ "${KA_BACKEND[1]}" == "${B4[2]}" ]] && VICTIM=2
	ON_VICTIM=$(ka_on "${B4[VICTIM]}")
	((ON_VICTIM == KA_N)) && VICTIM=$((3 - VICTIM)) && ON_VICTIM=0
	SURVIVOR=$((3 - VICTIM))
	log "victim b$VICTIM (${EP[VICTIM]}) holds $ON_VICTIM keep-alive connections," \
		"survivor b$SURVIVOR holds $((KA_N - ON_VICTIM))"
}

# KA_PORT_NOW[k]: the client port of keep-alive client k now (empty if it
# has no connection at this moment).
xdp_keepalive_ports_now() {
	local k
	KA_PORT_NOW=()
	# shellcheck disable=SC2034 # for the tests
	for ((k = 1; k <= KA_N; k++)); do KA_PORT_NOW[k]=$(client_port_of "${KA_PID[k]}" 80); done
}

# Number of keep-alive clients served by backend address ADDR.
ka_on() { # ADDR
	local k n=0
	for ((k = 1; k <= KA_N; k++)); do [[ "${KA_BACKEND[k]}" == "$1" ]] && n=$((n + 1)); done
	echo "$n"
}

# ---- XDP counters ----------------------------------------------------------------

# Sum over CPUs of the load balancer's counter IDX (enum vigil_xdp_counter),
# read with vigilctl xdp: 0 pass_other 1 forwarded 2 reversed 3 new_flows
# 4 reselected 5 pass_malformed 6 pass_not_tcp 7 drop_no_backend 8 fwd_direct
# 9 fwd_kernel 10 rescued.
XDP_COUNTER_NAMES=(pass_other forwarded reversed new_flows reselected pass_malformed
	pass_not_tcp drop_no_backend fwd_direct fwd_kernel rescued)
xdp_counter() { # IDX
	vctl xdp --json | jq -r --arg c "${XDP_COUNTER_NAMES[$1]}" '.counters[$c]'
}

# Packets the load balancer dropped for REASON (enum vigil_drop_reason name,
# e.g. no_backend), summed over CPUs; xdp_drops_line: all of them.
xdp_drops() { # REASON
	vctl xdp --json | jq -r --arg r "$1" '.drops[$r]'
}

xdp_drops_line() {
	vctl xdp --json | jq -r '.drops | to_entries | map("\(.key)=\(.value)") | join(" ")'
}

xdp_counters_line() {
	echo "forwarded=$(xdp_counter 1) reversed=$(xdp_counter 2) new_flows=$(xdp_counter 3)" \
		"reselected=$(xdp_counter 4) pass_other=$(xdp_counter 0)" \
		"pass_not_tcp=$(xdp_counter 6) pass_malformed=$(xdp_counter 5)" \
		"drop_no_backend=$(xdp_counter 7) fwd_direct=$(xdp_counter 8)" \
		"fwd_kernel=$(xdp_counter 9) rescued=$(xdp_counter 10)"
}

# ---- a backend behind a TUN link ---------------------------------------------------

# A backend namespace TUN_NS reached from SRV_NS through two TUN devices
# joined by a python3 relay, which holds every packet coming from the backend
# for DELAY_MS (0: none). This kernel has no netem; the relay is the slow
# link. Unlike veth, a TUN device has no checksum offload: packets routed
# into it get their checksums computed for real. SRV_NS routes for it and
# LB_NS reaches it via B4[1]. Sets TUN_NS and TUN4 (10.NET.3.2).
xdp_tun_backend() { # NET DELAY_MS
	local net=$1 delay=$2 relay=$VGL_TMP/tun_relay.py ready=$VGL_TMP/relay.$RANDOM.ready
	netns_create tunb
	TUN_NS=$NETNS
	TUN4="10.$net.3.2"
	cat >"$relay" <<'EOF'
# Join TUN device A (created in our network namespace) and TUN device B
# (created in namespace NS_B); packets B -> A are held for DELAY_MS.
import ctypes, fcntl, heapq, itertools, os, select, struct, sys, time

TUNSETIFF, IFF_TUN, IFF_NO_PI, CLONE_NEWNET = 0x400454CA, 0x0001, 0x1000, 0x40000000
name_a, ns_b, name_b, delay, ready = sys.argv[1], sys.argv[2], sys.argv[3], \
    float(sys.argv[4]) / 1000.0, sys.argv[5]

def tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd

def send(fd, data):
    try:
        os.write(fd, data)
    except OSError:  # the other device is not up yet: the packet is lost
        pass

libc = ctypes.CDLL(None, use_errno=True)
a = tun(name_a)
nsfd = os.open(ns_b, os.O_RDONLY)
if libc.setns(nsfd, CLONE_NEWNET) != 0:
    sys.exit("setns %s: %s" % (ns_b, os.strerror(ctypes.get_errno())))
b = tun(name_b)
open(ready, "w").close()
held, seq = [], itertools.count()
while True:
    now = time.monotonic()
    while held and held[0][0] <= now:
        send(a, heapq.heappop(held)[2])
    timeout = max(0.0, held[0][0] - now) if held else None
    for fd in select.select([a, b], [], [], timeout)[0]:
        data = os.read(fd, 65536)
        if fd == b and delay > 0:
            heapq.heappush(held, (time.monotonic() + delay, next(seq), data))
        else:
            send(b if fd == a else a, data)
EOF
	# Niced: the relay is the link, it must keep its timing on a busy host.
	start_bg nice -n -10 ip netns exec "$SRV_NS" python3 "$relay" tun0 \
		"/var/run/netns/$TUN_NS" tun1 "$delay" "$ready"
	wait_until 10 _ready_or_dead "$ready" "$BG_PID"
	[[ -e "$ready" ]] || { cat "$BG_LOG" >&2; die "TUN relay did not start"; }
	if ! { ip -n "$SRV_NS" addr add "10.$net.3.1/24" dev tun0 &&
		ip -n "$SRV_NS" link set tun0 up &&
		ip -n "$TUN_NS" addr add "$TUN4/24" dev tun1 &&
		ip -n "$TUN_NS" link set tun1 up &&
		ip -n "$TUN_NS" route add default dev tun1 &&
		ns_exec "$SRV_NS" sysctl -qw net.ipv4.ip_forward=1 &&
		ip -n "$LB_NS" route add "10.$net.3.0/24" via "${B4[1]}"; }; then
		die "setting up the TUN link failed"
	fi
	log "backend address $TUN4 in $TUN_NS, behind a TUN link (+$delay ms) from $SRV_NS"
}

# TCP segments NS received with a bad checksum (TcpInCsumErrors).
tcp_csum_errors() { # NS
	# shellcheck disable=SC2016 # an awk program
	ns_exec "$1" awk '/^Tcp:/ { if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 }
		else { print $c["InCsumErrors"]; exit } }' /proc/net/snmp
}
