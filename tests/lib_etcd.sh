# shellcheck shell=bash
# A real etcd cluster for cluster-mode tests (sourced after tests/lib.sh).
# etcd_cluster N starts N members (Debian's etcd-server 3.4) on loopback,
# on free ports, data in VGL_TMP, as background processes of the test (so
# cleanup kills them by PID). vigild runs in the root namespace and reaches
# them there; clients and backends stay in the test's namespaces.
#   ETCD_ENDPOINTS  client URLs, comma-separated (etcdctl --endpoints)
#   ETCD_URL[i]     client URL of member i (1-based), ETCD_PID[i] its PID
# etcd_kill i / etcd_start i stop (SIGKILL) and restart one member with its
# data, so it rejoins; etcd_wait_healthy waits until the cluster has a leader.

ETCD_URL=() ETCD_PEER=() ETCD_PID=() ETCD_NAMES=() ETCD_LOG=()
ETCD_ENDPOINTS=""
ETCD_TOKEN=""

ETCD_PORTS=" "
# A TCP port nothing listens on and not handed out before, in 33000-39999
# (above lib.sh's metrics ports). Sets PORT_OUT (no subshell: the ports given
# out are remembered).
_free_port() {
	local port
	while :; do
		port=$((33000 + RANDOM % 7000))
		[[ $ETCD_PORTS == *" $port "* ]] && continue
		ss -Htln "sport = :$port" | grep -q . && continue
		ETCD_PORTS+="$port "
		PORT_OUT=$port
		return
	done
}

etcd_require() {
	if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
		skip "etcd not installed (apt-get install etcd-server etcd-client)"
	fi
}

etcd_cluster() { # N
	local n=$1 i initial=""
	ETCD_TOKEN="$VGL_ID-etcd"
	for ((i = 1; i <= n; i++)); do
		ETCD_NAMES[i]="$VGL_ID-m$i"
		_free_port
		ETCD_URL[i]="http://127.0.0.1:$PORT_OUT"
		_free_port
		ETCD_PEER[i]="http://127.0.0.1:$PORT_OUT"
		initial+="${initial:+,}${ETCD_NAMES[i]}=${ETCD_PEER[i]}"
	done
	ETCD_INITIAL=$initial
	for ((i = 1; i <= n; i++)); do etcd_start "$i" new; done
	ETCD_ENDPOINTS=$(IFS=,; echo "${ETCD_URL[*]:1}")
	if ! etcd_wait_healthy 30; then
		for ((i = 1; i <= n; i++)); do tail -n 5 "${ETCD_LOG[i]}" >&2; done
		die "etcd cluster of $n did not become healthy"
	fi
	log "etcd cluster: $ETCD_ENDPOINTS"
}

etcd_start() { # I [new|existing]
	local i=$1 state=${2:-existing}
	start_bg etcd --name "${ETCD_NAMES[i]}" --data-dir "$VGL_TMP/etcd-m$i" \
		--listen-client-urls "${ETCD_URL[i]}" --advertise-client-urls "${ETCD_URL[i]}" \
		--listen-peer-urls "${ETCD_PEER[i]}" --initial-advertise-peer-urls "${ETCD_PEER[i]}" \
		--initial-cluster "$ETCD_INITIAL" --initial-cluster-state "$state" \
		--initial-cluster-token "$ETCD_TOKEN" \
		--heartbeat-interval 100 --election-timeout 1000 --log-level warn
	ETCD_PID[i]=$BG_PID ETCD_LOG[i]=$BG_LOG
}

etcd_kill() { # I
	kill -KILL "${ETCD_PID[$1]}" 2>/dev/null
	wait "${ETCD_PID[$1]}" 2>/dev/null
	log "etcd member $1 killed"
}

_etcd_has_leader() {
	ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" --dial-timeout 1s \
		endpoint status -w json 2>/dev/null | jq -e 'any(.[]; .Status.leader != 0)' >/dev/null
}
etcd_wait_healthy() { # TIMEOUT_S
	wait_until "${1:-10}" _etcd_has_leader
}
