#!/bin/bash
# XDP datapath cost, measured in one run on the 3-namespace topology of
# tests/lib_xdp.sh: client namespace -> LB namespace (forwarding, XDP on both
# veths) -> server namespace.
#
# The client's and the server's veth ends stand for other hosts behind a NIC
# (as in the tests): TX checksum offload off (complete checksums on the wire,
# hence no TSO: one packet per MTU in every mode, as veth's XDP mode forces
# anyway) and GRO on (NAPI, which veth needs to receive XDP_REDIRECT frames).
# Modes, alternated ROUNDS times (medians reported):
#   direct   client -> backend address, routed by the LB kernel, nothing
#            attached (vigild stopped, vigild --unpin).
#   xdppass  as direct, with a one-line XDP_PASS program attached natively
#            to both veths (built with clang here): what running in veth's
#            XDP mode costs by itself (frames converted for XDP).
#   xdpkern  client -> VIP, vigil's XDP NAT, rewritten packets handed to the
#            kernel's forwarding (xdp.forward: kernel).
#   xdp      client -> VIP, vigil's XDP NAT sending packets itself (FIB
#            lookup, MAC rewrite, XDP_REDIRECT: xdp.forward: redirect).
#   tc       client -> VIP, vigil on tc clsact ingress (xdp.hook: tc,
#            bpf_redirect).
# xdppass needs clang; modes that cannot run are left out.
# Measures per mode:
#   iperf3 TCP, 1 stream, DURATION s: Gbit/s, and packets/s the LB host
#     received on its two veths (ip -s link counters) with bytes per packet.
#   loadgen short connections (CONNS workers, a new TCP connection per
#     request): requests/s; small packets, so GSO plays no part.
#   bpf_stats: average run time of vigil's program per packet.
# Prints lines starting with "xdp_bench"; asserts nothing. Root only.
BENCH_NAME=bench-xdp
# shellcheck source=scripts/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-8}
NET=${NET:-244}
need_root "loads BPF programs"
need_tools iperf3 jq ip ethtool
need_built "$BUILD/vigild" "$BUILD/tools/loadgen" "$BUILD/tools/testsrv"
HAVE_CLANG=false
command -v clang >/dev/null && HAVE_CLANG=true

ID="vxb$$"
CLI="$ID-cli" LB="$ID-lb" SRV="$ID-srv"
VIP="10.96.$NET.10" BACKEND="10.$NET.2.11"
work=$(mktemp -d "/tmp/vigil-bench-xdp.XXXXXX")
pin_dir="/sys/fs/bpf/vigil-bench-xdp-$$"
vigild_pid="" pids=() netns=() config=""
old_stats=$(sysctl -n kernel.bpf_stats_enabled)

cleanup() {
	local p n
	set +e
	[ -n "$vigild_pid" ] && kill "$vigild_pid" 2>/dev/null && wait "$vigild_pid" 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	[ -n "$config" ] && "$BUILD/vigild" -c "$config" --unpin >/dev/null 2>&1
	rm -rf "$pin_dir" # removes the pinned XDP links: detaches the program
	for n in "${netns[@]}"; do ip netns delete "$n" 2>/dev/null; done
	sysctl -qw kernel.bpf_stats_enabled="$old_stats"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

nsx() { local n=$1; shift; ip netns exec "$n" "$@"; }

# ---- topology ---------------------------------------------------------------------
for n in "$CLI" "$LB" "$SRV"; do
	ip netns add "$n"
	netns+=("$n")
	ip -n "$n" link set lo up
done
ip link add xc netns "$CLI" type veth peer name xlc netns "$LB"
ip link add xs netns "$SRV" type veth peer name xls netns "$LB"
ip -n "$CLI" addr add "10.$NET.1.2/24" dev xc
ip -n "$LB" addr add "10.$NET.1.1/24" dev xlc
ip -n "$LB" addr add "10.$NET.2.1/24" dev xls
ip -n "$SRV" addr add "$BACKEND/24" dev xs
for d in "$CLI xc" "$LB xlc" "$LB xls" "$SRV xs"; do
	# shellcheck disable=SC2086 # "namespace device"
	set -- $d
	ip -n "$1" link set "$2" up
done
ip -n "$CLI" route add "10.96.$NET.0/24" via "10.$NET.1.1"
ip -n "$CLI" route add "10.$NET.2.0/24" via "10.$NET.1.1"
ip -n "$SRV" route add default via "10.$NET.2.1"
nsx "$LB" sysctl -qw net.ipv4.ip_forward=1
nsx "$CLI" ethtool -K xc tx off gro on >/dev/null
nsx "$SRV" ethtool -K xs tx off gro on >/dev/null
# Thousands of short connections per second to one address: without reuse
# of TIME_WAIT ports the client runs out of ports within a round.
nsx "$CLI" sysctl -qw net.ipv4.tcp_tw_reuse=1 "net.ipv4.ip_local_port_range=1024 65535"

# Not through nsx: $! must be the server itself (ip netns exec execs it), not
# a subshell running a function, or cleanup would kill the wrong process.
ip netns exec "$SRV" iperf3 -s -B "$BACKEND" -p 5201 >"$work/iperf3-server.log" 2>&1 &
pids+=($!)
ip netns exec "$SRV" "$BUILD/tools/testsrv" -l "$BACKEND" -p 8080 -n b1 \
	--ready-file "$work/testsrv.ready" >"$work/testsrv.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -e "$work/testsrv.ready" ] && break; sleep 0.1; done

# vigild's config for HOOK and FORWARD.
write_config() { # FILE HOOK FORWARD
	cat >"$1" <<CONF
daemon:
  pin_dir: $pin_dir
  log_level: info
  probe_netns: /var/run/netns/$LB
xdp:
  netns: /var/run/netns/$LB
  interfaces: [xlc, xls]
  hook: $2
  forward: $3
detection:
  # The benchmark saturates one CPU: keep the backend in service whatever
  # latencies that causes (detection is not what is measured here).
  slow_floor_ms: 60000
  stuck_connect_floor_ms: 60000
  stuck_request_floor_ms: 60000
  stall_floor_ms: 60000
  stuck_unacked_floor_ms: 60000
services:
  - {name: bench, vip: "$VIP:5201", datapath: xdp, backends: ["$BACKEND:5201"]}
  - {name: rps, vip: "$VIP:80", datapath: xdp, backends: ["$BACKEND:8080"]}
CONF
}
write_config "$work/xdp.yaml" xdp redirect
write_config "$work/xdpkern.yaml" xdp kernel
write_config "$work/tc.yaml" tc redirect

attach() { # MODE
	rm -f "$work/vigild.ready"
	config="$work/$1.yaml"
	"$BUILD/vigild" -c "$config" --ready-file "$work/vigild.ready" >>"$work/vigild.log" 2>&1 &
	vigild_pid=$!
	for _ in $(seq 100); do [ -e "$work/vigild.ready" ] && return 0; sleep 0.1; done
	echo "bench-xdp: vigild did not start:" >&2
	cat "$work/vigild.log" >&2
	exit 1
}
detach() {
	if [ -n "$vigild_pid" ]; then
		kill "$vigild_pid"
		wait "$vigild_pid" || true
		vigild_pid=""
	fi
	# --unpin detaches tc filters too (they hold their program, not a pin).
	[ -e "$pin_dir" ] && "$BUILD/vigild" -c "$config" --unpin >/dev/null 2>&1
	rm -rf "$pin_dir"
}

# "packets bytes" the LB host received on DEV.
rx_counters() { # DEV
	nsx "$LB" ip -s -j link show dev "$1" | jq -r '.[0].stats64.rx | "\(.packets) \(.bytes)"'
}

# iperf3 to ADDR; appends "gbps pps bytes_per_data_pkt" to FILE: pps counts
# what the LB host received on both veths (data one way, ACKs the other),
# bytes per packet the client's data packets (xlc).
run_iperf() { # ADDR FILE
	local c0 c1 s0 s1 json gbps
	c0=$(rx_counters xlc) s0=$(rx_counters xls)
	json=$(nsx "$CLI" iperf3 -c "$1" -p 5201 -t "$DURATION" -J)
	c1=$(rx_counters xlc) s1=$(rx_counters xls)
	gbps=$(jq '.end.sum_received.bits_per_second / 1e9' <<<"$json")
	awk -v g="$gbps" -v d="$DURATION" -v c0="$c0" -v c1="$c1" -v s0="$s0" -v s1="$s1" 'BEGIN {
		split(c0, a); split(c1, b); split(s0, e); split(s1, f)
		cp = b[1] - a[1]; sp = f[1] - e[1]
		printf "%.2f %.0f %.0f\n", g, (cp + sp) / d, cp ? (b[2] - a[2]) / cp : 0 }' >"$2.last"
	cat "$2.last" >>"$2"
}

# loadgen to ADDR:PORT; appends requests/s to FILE.
run_rps() { # ADDR PORT FILE
	local out req
	out=$(nsx "$CLI" "$BUILD/tools/loadgen" -a "$1" -p "$2" -c "$CONNS" -d $((DURATION * 1000)) -t 2000)
	req=$(sed -n 's/.*requests=\([0-9]*\).* failed=\([0-9]*\).*/\1 \2/p' <<<"$out")
	[ "${req#* }" = 0 ] || echo "bench-xdp: $1:$2: ${req#* } requests failed" >&2
	echo $((${req% *} / DURATION)) >>"$3"
}

# The XDP_PASS program of mode xdppass.
pass_obj() {
	cat >"$work/pass.c" <<'EOF'
struct xdp_md;
/* 2 is XDP_PASS (no headers needed) */
__attribute__((section("xdp"), used)) int xdp_pass(struct xdp_md *ctx) { return 2; }
char _license[] __attribute__((section("license"), used)) = "GPL";
EOF
	clang -O2 -g -target bpf -c "$work/pass.c" -o "$work/pass.o"
}
pass_attach() { # 1 attach, 0 detach
	local d
	for d in xlc xls; do
		if [ "$1" = 1 ]; then
			nsx "$LB" ip link set dev "$d" xdpdrv obj "$work/pass.o" sec xdp
		else
			nsx "$LB" ip link set dev "$d" xdpdrv off
		fi
	done
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
col() { awk -v c="$1" '{print $c}' "$2" | median; }

echo "xdp_bench setup: $CLI -> $LB (forwarding; XDP on xlc, xls when attached) -> $SRV;" \
	"iperf3 1 TCP stream ${DURATION}s; loadgen $CONNS workers ${DURATION}s; $ROUNDS rounds"
sysctl -qw kernel.bpf_stats_enabled=1
modes="direct"
$HAVE_CLANG && pass_obj 2>"$work/clang.log" && modes+=" xdppass"
modes+=" xdpkern xdp tc"
for r in $(seq "$ROUNDS"); do
	for m in $modes; do
		case $m in
		direct)
			detach
			run_iperf "$BACKEND" "$work/iperf.$m"
			run_rps "$BACKEND" 8080 "$work/rps.$m"
			;;
		xdppass)
			detach
			pass_attach 1
			run_iperf "$BACKEND" "$work/iperf.$m"
			run_rps "$BACKEND" 8080 "$work/rps.$m"
			pass_attach 0
			;;
		*)
			detach
			attach "$m"
			# Our program: the one attached to xlc under our pins (other
			# vigilds may run).
			if [ "$m" = tc ]; then
				prog=$(bpftool -j prog show pinned "$pin_dir/links/tc-xlc")
			else
				id=$(bpftool -j link show pinned "$pin_dir/links/xdp-xlc" | jq .prog_id)
				prog=$(bpftool -j prog show id "$id")
			fi
			id=$(jq .id <<<"$prog")
			run_iperf "$VIP" "$work/iperf.$m"
			run_rps "$VIP" 80 "$work/rps.$m"
			prog2=$(bpftool -j prog show id "$id")
			jq -n --argjson a "$prog" --argjson b "$prog2" \
				'if ($b.run_cnt // 0) > ($a.run_cnt // 0) then
				 ((($b.run_time_ns // 0) - ($a.run_time_ns // 0)) /
				  ($b.run_cnt - ($a.run_cnt // 0))) else 0 end' \
				>>"$work/ns.$m"
			;;
		esac
		read -r gbps pps bpp <"$work/iperf.$m.last"
		printf 'xdp_bench round %d %-7s iperf3 %s Gbit/s %s pkt/s %s B/data pkt%s\n' "$r" "$m" \
			"$gbps" "$pps" "$bpp" \
			"$([ -s "$work/rps.$m" ] && echo ", $(tail -n1 "$work/rps.$m") req/s")"
	done
done
detach

for m in $modes; do
	line="xdp_bench $m: iperf3 $(col 1 "$work/iperf.$m") Gbit/s, $(col 2 "$work/iperf.$m") pkt/s"
	line+=" through the LB host ($(col 3 "$work/iperf.$m") B per data packet)"
	[ -s "$work/rps.$m" ] && line+=", $(col 1 "$work/rps.$m") short-connection req/s"
	echo "$line"
done
for m in xdpkern xdp tc; do
	[ -s "$work/ns.$m" ] && echo "xdp_bench $m program: $(printf '%.0f' "$(median <"$work/ns.$m")")" \
		"ns per packet (bpf_stats run_time_ns / run_cnt)"
done
ratio() { # WHAT FILE_A FILE_B COLUMN (median of A / median of B)
	[ -s "$2" ] && [ -s "$3" ] || return 0
	awk -v w="$1" -v a="$(col "$4" "$2")" -v b="$(col "$4" "$3")" \
		'BEGIN { if (b > 0) printf "xdp_bench ratio %s: %.2f\n", w, a / b }'
}
ratio "xdp/direct iperf3 packets/s" "$work/iperf.xdp" "$work/iperf.direct" 2
ratio "xdp/direct short-connection req/s" "$work/rps.xdp" "$work/rps.direct" 1
ratio "xdppass/direct iperf3 packets/s (cost of veth's XDP mode)" \
	"$work/iperf.xdppass" "$work/iperf.direct" 2
ratio "xdpkern/xdppass iperf3 packets/s (vigil's NAT, kernel forwarding)" \
	"$work/iperf.xdpkern" "$work/iperf.xdppass" 2
ratio "xdp/xdpkern iperf3 packets/s (sending from XDP instead of kernel forwarding)" \
	"$work/iperf.xdp" "$work/iperf.xdpkern" 2
ratio "tc/xdp iperf3 packets/s" "$work/iperf.tc" "$work/iperf.xdp" 2
ratio "xdp/xdppass short-connection req/s" "$work/rps.xdp" "$work/rps.xdppass" 1
