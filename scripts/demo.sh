#!/bin/bash
# make demo: a real network-namespace topology with four real backends
#   healthy  10.77.0.11:8080  answers at once
#   slow     10.77.0.12:8080  answers after 150 ms
#   refusing 10.77.0.13:8080  nothing listens (RST)
#   blackhole 10.77.0.14:8080 nftables drops every packet
# vigild watches them, a client drives real traffic, vigilctl shows the signals.
# Everything created here is removed on exit, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (creates namespaces, loads BPF)" >&2; exit 1; }

tag=vdemo$$
ns_cli=$tag-cli ns_srv=$tag-srv
pin_dir=/sys/fs/bpf/vigil-demo-$$
work=$(mktemp -d /tmp/vigil-demo.XXXXXX)
pids=()

cleanup() {
	set +e
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
	ip netns del "$ns_cli" 2>/dev/null
	ip netns del "$ns_srv" 2>/dev/null
	rm -rf "$pin_dir" "$work"
	echo "demo: cleaned up namespaces, pins and processes"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n== %s\n' "$*"; }

step "building a client host and a server host (network namespaces $ns_cli, $ns_srv)"
ip netns add "$ns_cli"
ip netns add "$ns_srv"
ip link add "$tag-c" netns "$ns_cli" type veth peer name "$tag-s" netns "$ns_srv"
ip -n "$ns_cli" addr add 10.77.0.1/24 dev "$tag-c"
for a in 11 12 13 14; do ip -n "$ns_srv" addr add "10.77.0.$a/24" dev "$tag-s"; done
for ns in "$ns_cli" "$ns_srv"; do ip -n "$ns" link set lo up; done
ip -n "$ns_cli" link set "$tag-c" up
ip -n "$ns_srv" link set "$tag-s" up
ip netns exec "$ns_srv" nft -f - <<NFT
table inet $tag { chain in { type filter hook input priority 0; ip daddr 10.77.0.14 tcp dport 8080 drop; } }
NFT

step "starting backends: healthy .11, slow .12 (150 ms), refusing .13, blackholed .14"
ip netns exec "$ns_srv" "$BUILD/tools/testsrv" -l 10.77.0.11 -p 8080 &
pids+=($!)
ip netns exec "$ns_srv" "$BUILD/tools/testsrv" -l 10.77.0.12 -p 8080 -d 150 &
pids+=($!)

cat > "$work/vigil.yaml" <<CONF
daemon:
  pin_dir: $pin_dir
  log_level: info
watch:
  backends: ["10.77.0.11:8080", "10.77.0.12:8080", "10.77.0.13:8080", "10.77.0.14:8080"]
  local_ports: [8080]
CONF
step "starting vigild (config below)"
cat "$work/vigil.yaml"
"$BUILD/vigild" -c "$work/vigil.yaml" --ready-file "$work/ready" 2> >(sed 's/^/  vigild: /' >&2) &
pids+=($!)
for _ in $(seq 100); do [ -e "$work/ready" ] && break; sleep 0.1; done
[ -e "$work/ready" ] || { echo "demo: vigild did not start" >&2; exit 1; }

step "driving client traffic for ~10 s (connect timeout 500 ms)"
for round in 1 2 3 4 5; do
	for a in 11 12 13 14; do
		ip netns exec "$ns_cli" "$BUILD/tools/testcli" -a "10.77.0.$a" -p 8080 -n 20 -c 4 \
			-r 3 -t 500 > "$work/cli.$a" &
	done
	wait_for=( $(jobs -p | tail -n 4) )
	for p in "${wait_for[@]}"; do wait "$p"; done
	printf '  round %d: ' "$round"
	for a in 11 12 13 14; do printf '.%s %s  ' "$a" "$(cat "$work/cli.$a")"; done
	echo
done

step "vigilctl stats (read from the pinned maps)"
"$BUILD/vigilctl" --pin-dir "$pin_dir" stats
echo
echo "Reading it: .11 answers fast; .12's request latency sits near 150 ms; .13 shows"
echo "refused connects; .14 shows timeouts with SYN retransmits; failure events are in"
echo "the vigild log lines above (log_level info)."
