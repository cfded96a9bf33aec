# shellcheck shell=bash
# The world of a cluster-mode test (sourced after lib.sh, lib_failover.sh and
# lib_etcd.sh): a real 3-member etcd cluster (etcd_cluster), and NHOSTS
# "client hosts", each a network namespace with its own cgroup, load
# generator and vigild (own pin directory, monitor and probes scoped to the
# host's namespace with daemon.monitor_netns / probe_netns), all sharing the
# backends of one service through etcd.
#
#   host netns H[i] (10.NET.i.1) -- veth -- server netns SRV_NS (10.NET.i.2)
#   SRV_NS: backend b_j at B4[j] = 10.NET.100.j on lo, a testsrv each
#   service web: VIP 10.96.NET.10:80 -> b1 b2 b3 (primaries)
#
# Arrays by host index i (1-based): H (namespace), CG (cgroup), PIN (pin
# dir), CONF (config), VPID (vigild PID), VLOG (its log), LPID/LLOG (loadgen).

H=() CG=() PIN=() CONF=() VPID=() VLOG=() LPID=() LLOG=()
NHOSTS=3

_cl_cleanup() {
	local i pid pids=("${VGL_PIDS[@]}") # stop_pid leaves holes in VGL_PIDS
	# Processes first (they hold the cgroups), then pins, then cgroups.
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do _stop_pid "${pids[$i]}"; done
	for pid in "${VPID[@]}"; do kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"; done
	for i in "${!PIN[@]}"; do
		[[ "${PIN[$i]}" == /sys/fs/bpf/vigil-test-"$VGL_ID"-* ]] && rm -rf -- "${PIN[$i]}"
	done
	for i in "${!CG[@]}"; do
		for _ in $(seq 50); do rmdir -- "${CG[$i]}" 2>/dev/null && break; sleep 0.1; done
	done
}
on_cleanup _cl_cleanup

cl_require_env() {
	fo_require_env
	etcd_require
}

# Backends 1..N in the server namespace, hosts 1..NHOSTS linked to it.
cl_topology() { # N_BACKENDS
	local i j
	alloc_net
	PORT=$VGL_PORT
	# shellcheck disable=SC2034 # read by the tests
	VIP="10.96.$NET.10" VIP_EP="10.96.$NET.10:80"
	netns_create srv
	SRV_NS=$NETNS
	B4=() EP=("")
	for ((j = 1; j <= $1; j++)); do
		B4[j]="10.$NET.100.$j" EP[j]="10.$NET.100.$j:$PORT"
		ip -n "$SRV_NS" addr add "${B4[j]}/32" dev lo || die "adding ${B4[j]} failed"
	done
	for ((i = 1; i <= NHOSTS; i++)); do
		netns_create "h$i"
		H[i]=$NETNS
		ip link add eth0 netns "${H[i]}" type veth peer name "vh$i" netns "$SRV_NS" ||
			die "veth for host $i failed"
		if ! { ip -n "${H[i]}" addr add "10.$NET.$i.1/24" dev eth0 &&
			ip -n "$SRV_NS" addr add "10.$NET.$i.2/24" dev "vh$i" &&
			ip -n "${H[i]}" link set eth0 up && ip -n "$SRV_NS" link set "vh$i" up &&
			ip -n "${H[i]}" route add "10.$NET.100.0/24" via "10.$NET.$i.2"; }; then
			die "addressing host $i failed"
		fi
	done
	for ((j = 1; j <= $1; j++)); do fo_server "$j" "${B4[j]}" "$PORT" "b$j"; done
	log "cluster world: $NHOSTS hosts, backends ${EP[*]:1}, VIP $VIP_EP"
}

# Host i's cgroup, pin dir and config (the service and the cluster: section).
# Extra lines for detection: as arguments.
cl_host_config() { # I [DETECTION LINE...]
	local i=$1 root
	shift
	root=$(_fo_cgroup2_root) || skip "no cgroup v2 hierarchy mounted"
	CG[i]="$root/vigil-test-$VGL_ID-h$i"
	[[ -d "${CG[i]}" ]] || mkdir "${CG[i]}" || die "mkdir ${CG[i]} failed"
	PIN[i]="/sys/fs/bpf/vigil-test-$VGL_ID-h$i"
	CONF[i]="$VGL_TMP/vigil-h$i.yaml"
	{
		printf 'daemon:\n  pin_dir: %s\n  log_level: info\n' "${PIN[i]}"
		printf '  probe_netns: /var/run/netns/%s\n  monitor_netns: /var/run/netns/%s\n' \
			"${H[i]}" "${H[i]}"
		printf 'lb:\n  cgroup: %s\n' "${CG[i]}"
		# Three vigilds in one namespace: a metrics port each.
		printf 'metrics:\n  listen: "127.0.0.1:%s"\n' $((VGL_METRICS_PORT + i))
		printf 'detection:\n  slow_floor_ms: 1000\n  stuck_request_floor_ms: 2000\n'
		(($#)) && printf '  %s\n' "$@"
		printf 'services:\n  - name: web\n    vip: "%s"\n' "$VIP_EP"
		printf '    backends: ["%s", "%s", "%s"]\n' "${EP[1]}" "${EP[2]}" "${EP[3]}"
		printf '    probe: {timeout_ms: 300}\n'
		printf 'cluster:\n  endpoints: [%s]\n' "$(sed 's/[^,]*/"&"/g; s/,/, /g' <<<"$ETCD_ENDPOINTS")"
		printf '  node: h%s\n  prefix: /vigil-test-%s/\n  lease_ttl_s: 2\n' "$i" "$VGL_ID"
		if ((ETCD_TLS)); then
			printf '  tls:\n    ca_file: %s/ca.pem\n' "$TLS_DIR"
			printf '    cert_file: %s/client.pem\n    key_file: %s/client.key\n' "$TLS_DIR" "$TLS_DIR"
		fi
	} >"${CONF[i]}"
	chmod 600 "${CONF[i]}"
}

cl_start_vigild() { # I
	# shellcheck disable=SC2034 # read by lib.sh's start_vigild
	VGL_PIN_DIR=${PIN[$1]}
	VGL_PIN_DIRS+=("${PIN[$1]}")
	start_vigild "${CONF[$1]}"
	VPID[$1]=$VIGILD_PID VLOG[$1]=$VIGILD_LOG
}

# Everything: topology, etcd, and a vigild per host.
cl_world() { # [DETECTION LINE...]
	local i
	cl_topology 3
	etcd_cluster 3
	for ((i = 1; i <= NHOSTS; i++)); do
		cl_host_config "$i" "$@"
		cl_start_vigild "$i"
	done
	wait_until 10 cl_all_connected || die "not every vigild reached etcd"
}

_cl_connected() { grep -q 'cluster: etcd reachable' "${VLOG[$1]}"; }
cl_all_connected() {
	local i
	for ((i = 1; i <= NHOSTS; i++)); do _cl_connected "$i" || return 1; done
}

# Loadgen on every host (in its namespace and cgroup) with these options.
cl_load_bg() { # loadgen options...
	local i
	for ((i = 1; i <= NHOSTS; i++)); do
		FO_CGROUP=${CG[i]} CLI_NS=${H[i]} fo_loadgen_bg "$@"
		LPID[i]=$LG_PID LLOG[i]=$LG_LOG
	done
}

# The same, with a pause (-s, ms) of its own per host: OPTIONS -- PAUSE...
cl_load_bg_rates() { # loadgen options... -- PAUSE_1 PAUSE_2 ...
	local i opts=()
	while [[ $1 != -- ]]; do opts+=("$1"); shift; done
	shift
	for ((i = 1; i <= NHOSTS; i++)); do
		FO_CGROUP=${CG[i]} CLI_NS=${H[i]} fo_loadgen_bg "${opts[@]}" -s "${!i}"
		LPID[i]=$LG_PID LLOG[i]=$LG_LOG
	done
}

# Wait for every host's loadgen; LOUT[i] gets its summary line.
LOUT=()
cl_load_wait() { # TIMEOUT_S
	local i
	for ((i = 1; i <= NHOSTS; i++)); do
		fo_loadgen_wait "${LPID[i]}" "${LLOG[i]}" "$1" || die "loadgen of host $i failed"
		LOUT[i]=$LG_OUT
		log "host $i: $LG_OUT"
	done
}

# The history of host I, as vctl events --json lines.
cl_events() { # I
	"$VIGILCTL" --pin-dir "${PIN[$1]}" events --json 2>/dev/null
}

# How many changes of backend EP on host I went to state TO by RULE ("" any).
cl_count() { # I EP TO RULE
	cl_events "$1" | jq -s --arg ep "$2" --arg to "$3" --arg rule "$4" \
		'[.[] | select(.backend == $ep and .to == $to and ($rule == "" or .rule == $rule))] | length'
}

# The index of the node whose verdict on EP (suspect or hard) was acted on
# first by any host, from the hosts' logs (lines start with a timestamp);
# nothing when no host acted on one.
cl_first_reporter() { # EP
	local i
	for ((i = 1; i <= NHOSTS; i++)); do
		grep -h "backend $1: \(suspect\|hard\) verdict of node h" "${VLOG[i]}"
	done | sort | head -n 1 | sed -n 's/.* verdict of node h\([0-9]*\) .*/\1/p'
}

# What the vigilds said about backends and the cluster (for the reader).
cl_show_logs() {
	local i
	for ((i = 1; i <= NHOSTS; i++)); do
		grep -h 'cluster: service\|backend .* -> \|etcd' "${VLOG[i]}" | sed "s/^/  h$i: /"
	done
}

failed_of() { lg_get failed_after "${LOUT[$1]}"; } # HOST

# After a fault of b2 under load (cl_load_wait): b2 is out on every host,
# b1 and b3 were never ejected, and the failed requests of all hosts
# together are, with BOUND "ratio", at most 1.5x those of the first host to
# see the fault (the issue's bound; none failed when no verdict was shared at
# all), or with BOUND "fewer", fewer than without the cluster, where every
# host pays its own 3 (consecutive_failures) hard failures.
assert_shared_ejection() { # BOUND
	local i j total=0 first per_host=""
	for ((i = 1; i <= NHOSTS; i++)); do
		total=$((total + $(failed_of "$i")))
		per_host+=" h$i $(failed_of "$i")"
		assert_true "host $i: b2 out of service" \
			test "$(cl_count "$i" "${EP[2]}" ejected "")" -ge 1
		for j in 1 3; do
			assert_eq "host $i: b$j never ejected" 0 "$(cl_count "$i" "${EP[j]}" ejected "")"
		done
	done
	first=$(cl_first_reporter "${EP[2]}")
	log "failed after the fault: total $total ($per_host); first host to see it: h${first:-(none)}"
	if [[ $1 == fewer ]]; then
		assert_true "all hosts together ($total) < $((3 * NHOSTS)), as without the cluster" \
			test "$total" -lt $((3 * NHOSTS))
	elif [[ -n $first ]]; then
		assert_true "all hosts together ($total) <= 1.5 x the first host ($(failed_of "$first"))" \
			test $((2 * total)) -le $((3 * $(failed_of "$first")))
	else
		assert_eq "no verdict was shared: then nobody failed" 0 "$total"
	fi
}

# Changes of b2 to probing by rule remote_hard, summed over the hosts.
remote_checks() {
	local i n=0
	for ((i = 1; i <= NHOSTS; i++)); do
		n=$((n + $(cl_count "$i" "${EP[2]}" probing remote_hard)))
	done
	echo "$n"
}

# A field of host I's 'vigilctl status --json' cluster object.
cl_status() { # I FIELD
	"$VIGILCTL" --pin-dir "${PIN[$1]}" status --json 2>/dev/null | jq -r ".cluster.$2"
}
