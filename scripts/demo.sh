#!/bin/bash
# make demo: vigil on a real network-namespace topology, in about a minute.
#
# Part 1, signals: four backends watched by the in-kernel monitor
#   healthy .11, slow .12 (150 ms), refusing .13 (nothing listens), blackholed .14
# Part 2, live failover: service "web" at 10.96.77.10:80 with primaries .21 and
#   .22 and backup .23, behind vigil's socket load balancer. A client loop runs
#   through the virtual address while the demo kills one primary, blackholes
#   the other, then brings both back; vigil's timeline and the failed-request
#   counts are printed.
# Everything created here is removed on exit, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (creates namespaces, loads BPF)" >&2; exit 1; }

tag=vdemo$$
ns_cli=$tag-cli ns_srv=$tag-srv
pin_dir=/sys/fs/bpf/vigil-demo-$$
work=$(mktemp -d /tmp/vigil-demo.XXXXXX)
if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then cg_root=/sys/fs/cgroup; else cg_root=/sys/fs/cgroup/unified; fi
cgroup=$cg_root/$tag
declare -A srv_pid=()
pids=()
vigild_pid=""

cleanup() {
	set +e
	for pid in "${pids[@]}" "${srv_pid[@]}"; do kill "$pid" 2>/dev/null; done
	[ -n "$vigild_pid" ] && kill "$vigild_pid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$pin_dir"        # also detaches the pinned cgroup hooks
	rmdir "$cgroup" 2>/dev/null
	ip netns del "$ns_cli" 2>/dev/null
	ip netns del "$ns_srv" 2>/dev/null
	rm -rf "$work"
	echo "demo: removed namespaces, cgroup, pins and processes"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n== %s\n' "$*"; }
srv() { ip netns exec "$ns_srv" "$@"; }
start_backend() { # ADDR NAME [DELAY_MS]; ip execs testsrv, so $! is the server's PID
	ip netns exec "$ns_srv" "$BUILD/tools/testsrv" -l "$1" -p 8080 -n "$2" -d "${3:-0}" 2>/dev/null &
	srv_pid[$1]=$!
}
# Clients run inside the demo's cgroup: that is where vigil's connect() hook sits.
# exec all the way down, so a backgrounded client's $! is the client itself.
client() { exec bash -c 'echo $$ > "$0/cgroup.procs" && exec ip netns exec "$1" "${@:2}"' "$cgroup" "$ns_cli" "$@"; }
ctl() { "$BUILD/vigilctl" --pin-dir "$pin_dir" "$@"; }

step "building a client host and a server host (network namespaces $ns_cli, $ns_srv)"
ip netns add "$ns_cli"
ip netns add "$ns_srv"
ip link add "$tag-c" netns "$ns_cli" type veth peer name "$tag-s" netns "$ns_srv"
ip -n "$ns_cli" addr add 10.77.0.1/24 dev "$tag-c"
for a in 11 12 13 14 21 22 23; do ip -n "$ns_srv" addr add "10.77.0.$a/24" dev "$tag-s"; done
for ns in "$ns_cli" "$ns_srv"; do ip -n "$ns" link set lo up; done
ip -n "$ns_cli" link set "$tag-c" up
ip -n "$ns_srv" link set "$tag-s" up
srv nft -f - <<NFT
table inet $tag { chain in { type filter hook input priority 0; ip daddr 10.77.0.14 tcp dport 8080 drop; }; }
NFT
mkdir "$cgroup"

step "starting backends: healthy .11, slow .12 (150 ms), refusing .13, blackholed .14; web: .21 .22 (+backup .23)"
start_backend 10.77.0.11 healthy
start_backend 10.77.0.12 slow 150
for a in 21 22 23; do start_backend "10.77.0.$a" "b$a"; done

cat > "$work/vigil.yaml" <<CONF
daemon:
  pin_dir: $pin_dir
  log_level: warn
  probe_netns: /var/run/netns/$ns_cli
lb:
  cgroup: $cgroup
watch:
  backends: ["10.77.0.11:8080", "10.77.0.12:8080", "10.77.0.13:8080", "10.77.0.14:8080"]
  local_ports: [8080]
detection:
  eject_base_ms: 1500
services:
  - name: web
    vip: "10.96.77.10:80"
    backends: ["10.77.0.21:8080", "10.77.0.22:8080"]
    backups: ["10.77.0.23:8080"]
    probe: {timeout_ms: 300}
CONF
step "starting vigild with this config"
cat "$work/vigil.yaml"
"$BUILD/vigild" -c "$work/vigil.yaml" --ready-file "$work/ready" 2> >(sed 's/^/  vigild: /' >&2) &
vigild_pid=$!
for _ in $(seq 100); do [ -e "$work/ready" ] && break; sleep 0.1; done
[ -e "$work/ready" ] || { echo "demo: vigild did not start" >&2; exit 1; }

step "part 1: real client traffic to the four watched backends (~5 s, connect timeout 1.2 s)"
for round in 1 2 3; do
	jobs_now=()
	for a in 11 12 13 14; do
		ip netns exec "$ns_cli" "$BUILD/tools/testcli" -a "10.77.0.$a" -p 8080 -n 12 -c 4 \
			-r 3 -t 1200 > "$work/cli.$a" &
		jobs_now+=($!)
	done
	wait "${jobs_now[@]}"
	printf '  round %d: ' "$round"
	for a in 11 12 13 14; do printf '.%s %s  ' "$a" "$(cat "$work/cli.$a")"; done
	echo
done
ctl stats | grep -v '^10.77.0.2'
echo "  .11 answers fast; .12's request latency sits near 150 ms; .13 shows refused connects;"
echo "  .14 shows timeouts, each with the SYN retransmit the kernel sends after 1 s."

step "part 2: live failover of service web (client loop: 8 workers, a new connection per request)"
# Not through ctl: $! must be vigilctl itself, not a subshell running the
# function, or cleanup would leave it running.
"$BUILD/vigilctl" --pin-dir "$pin_dir" events --follow > "$work/events" &
pids+=($!)
phase() { # NAME SECONDS ACTION...
	local name=$1 secs=$2 out
	shift 2
	client "$BUILD/tools/loadgen" -a 10.96.77.10 -p 80 -c 8 -d $((secs * 1000)) -t 1000 -s 2 \
		> "$work/lg" &
	local lg=$!
	sleep 1
	kill -USR1 "$lg"
	sleep 0.05 # let the fault mark land before the fault itself
	"$@"
	wait "$lg"
	out=$(cat "$work/lg")
	printf '  %-38s %s\n' "$name" "$out"
}
phase "baseline" 3 true
phase "kill primary .21" 4 kill "${srv_pid[10.77.0.21]}"
phase "blackhole primary .22 (nft drop)" 4 srv nft add rule inet "$tag" in ip daddr 10.77.0.22 tcp dport 8080 drop
bring_back() {
	srv nft flush chain inet "$tag" in
	srv nft add rule inet "$tag" in ip daddr 10.77.0.14 tcp dport 8080 drop
	start_backend 10.77.0.21 b21
}
phase "bring .21 and .22 back" 6 bring_back
phase "after re-admission" 5 true
sleep 0.3

step "vigil's timeline (vigilctl events)"
cat "$work/events"
step "backends now (vigilctl backends web)"
ctl backends web
echo
echo "Reading it: failed= counts requests that failed in each phase (failed_after: started after"
echo "the fault). The kill is caught by the in-kernel fast path after refused connects, the"
echo "blackhole by stuck SYNs within tens of ms. Neither costs a request: the socket rescue"
echo "withholds the RST of a refused connect and moves a connect stuck on an ejected backend to a"
echo "healthy one (its SYN retransmit, sped up to 200 ms; slowest_ok_after_ms shows that wait)."
echo "With both primaries out the backup serves; after the faults end, probes re-admit the"
echo "primaries and traffic moves back."
