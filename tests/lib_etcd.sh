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
# ETCD_TLS=1 before etcd_cluster: clients speak https and must present a
# certificate of the test's own CA (--client-cert-auth); etcd_tls_certs makes
# the CA, the members' certificate and a client one (TLS_DIR/{ca,etcd,
# client}.pem and .key). Members talk to each other in plain http (not
# vigil's concern). etcd_ctl runs etcdctl with whatever the clients need.

ETCD_URL=() ETCD_PEER=() ETCD_PID=() ETCD_NAMES=() ETCD_LOG=()
ETCD_ENDPOINTS=""
ETCD_TOKEN=""
ETCD_TLS=${ETCD_TLS:-0}
ETCD_TLS_ARGS=() ETCD_CTL_TLS=()

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

# One certificate NAME signed by the test CA, for USAGE (extendedKeyUsage).
_tls_cert() { # NAME USAGE
	local d=$TLS_DIR
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$1" \
		-keyout "$d/$1.key" -out "$d/$1.csr" 2>/dev/null &&
		openssl x509 -req -in "$d/$1.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
			-days 1 -out "$d/$1.pem" -extfile <(printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=%s\n' "$2") \
			2>/dev/null
}

etcd_tls_certs() {
	TLS_DIR="$VGL_TMP/tls"
	mkdir -p "$TLS_DIR" || die "mkdir $TLS_DIR failed"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
		-subj "/CN=vigil-test-ca-$VGL_ID" -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.pem" 2>/dev/null ||
		die "openssl: making the test CA failed"
	# etcd's JSON gateway dials its own gRPC port with the member's
	# certificate, so that one is a client certificate too.
	_tls_cert etcd serverAuth,clientAuth || die "openssl: the members' certificate failed"
	_tls_cert client clientAuth || die "openssl: the client certificate failed"
	ETCD_TLS_ARGS=(--cert-file "$TLS_DIR/etcd.pem" --key-file "$TLS_DIR/etcd.key"
		--trusted-ca-file "$TLS_DIR/ca.pem" --client-cert-auth)
	ETCD_CTL_TLS=(--cacert "$TLS_DIR/ca.pem" --cert "$TLS_DIR/client.pem" --key "$TLS_DIR/client.key")
}

etcd_ctl() { # etcdctl ARGS...
	ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" "${ETCD_CTL_TLS[@]}" "$@"
}

etcd_cluster() { # N
	local n=$1 i initial="" scheme=http
	ETCD_TOKEN="$VGL_ID-etcd"
	if ((ETCD_TLS)); then
		etcd_tls_certs
		scheme=https
	fi
	for ((i = 1; i <= n; i++)); do
		ETCD_NAMES[i]="$VGL_ID-m$i"
		_free_port
		ETCD_URL[i]="$scheme://127.0.0.1:$PORT_OUT"
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
		--initial-cluster-token "$ETCD_TOKEN" "${ETCD_TLS_ARGS[@]}" \
		--heartbeat-interval 100 --election-timeout 1000 --log-level warn
	ETCD_PID[i]=$BG_PID ETCD_LOG[i]=$BG_LOG
}

etcd_kill() { # I
	kill -KILL "${ETCD_PID[$1]}" 2>/dev/null
	wait "${ETCD_PID[$1]}" 2>/dev/null
	log "etcd member $1 killed"
}

_etcd_has_leader() {
	etcd_ctl --dial-timeout 1s endpoint status -w json 2>/dev/null | jq -e 'any(.[]; .Status.leader != 0)' >/dev/null
}
etcd_wait_healthy() { # TIMEOUT_S
	wait_until "${1:-10}" _etcd_has_leader
}
