#!/bin/bash
# Cluster mode under faults other than a kill (cases; test_cluster_kill has
# the kill). Three client hosts with a vigild each share verdicts through a
# real 3-member etcd cluster; load on all three.
#   blackhole     every packet to b2 dropped: every host takes b2 out, nobody
#                 ejects b1 or b3, some host acted on another's verdict, and
#                 the hosts together fail at most 1.5x the first host to see
#                 it (0 when the socket rescue moves every connect already
#                 sent to b2, docs/cluster.md)
#   path          only host 1's packets to b2 dropped: host 1 ejects b2; the
#                 other two check it with a probe of their own, which
#                 succeeds: they eject nothing and fail no request
#   etcd_member   the etcd member every vigild talks to first is killed
#                 before b2 is: verdicts are still shared (the bound as for
#                 blackhole)
#   tls           etcd speaks only https and wants a client certificate of
#                 the test's CA (cluster.tls: ca_file, cert_file, key_file):
#                 a kill of b2 is shared as for blackhole; then host 1's
#                 vigild, restarted without the CA, refuses etcd's
#                 certificate, says so and runs local-only
#   etcd_all      every etcd member killed: each host fails over on its own
#                 (b2 ejected by its own rule), and once etcd is back every
#                 host's verdict is in etcd again (resynchronised). Each
#                 host's /metrics says so: etcd reachable before, local-only
#                 while it is down (and promtool fires the documented
#                 VigilClusterLocalOnly alert over that scrape, nothing
#                 else), reachable again after, with a resync and the other
#                 hosts' verdicts received
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
# shellcheck source=tests/lib_etcd.sh
source "$(dirname "$0")/../lib_etcd.sh"
# shellcheck source=tests/lib_cluster.sh
source "$(dirname "$0")/../lib_cluster.sh"
# shellcheck source=tests/lib_metrics.sh
source "$(dirname "$0")/../lib_metrics.sh"
run_cases blackhole path etcd_member tls etcd_all
cl_require_env
[[ $VGL_CASE != etcd_all ]] || metrics_require_env

# Load at rates of their own per host (see test_cluster_kill), the fault
# (a command) at 1.5 s, then the results in LOUT.
under_load() { # FAULT-COMMAND...
	cl_load_bg_rates -a "$VIP" -p 80 -c 4 -d 4000 -t 2000 -- 160 212 268
	sleep 1.5
	mark_fault "${LPID[@]:1}"
	"$@" || die "fault $* failed"
	cl_load_wait 20
	cl_show_logs
}

# Host 1's packets to b2 only (nft in the server namespace).
# shellcheck disable=SC2317 # called through under_load
path_fault() {
	ns_exec "$SRV_NS" nft -f - <<NFT
table inet vigil_path {
	chain input {
		type filter hook input priority 0; policy accept;
		ip saddr 10.$NET.1.1 ip daddr ${B4[2]} tcp dport $PORT drop
	}
}
NFT
}

# shellcheck disable=SC2317 # called through wait_until
_all_local_only() {
	local i
	for ((i = 1; i <= NHOSTS; i++)); do
		grep -q 'cluster: etcd unreachable' "${VLOG[i]}" || return 1
	done
}
# shellcheck disable=SC2317 # called through wait_until
_all_back() {
	local i
	for ((i = 1; i <= NHOSTS; i++)); do
		(($(grep -c 'cluster: etcd reachable' "${VLOG[i]}") >= 2)) || return 1
	done
}
# Host I's /metrics (lib_cluster.sh gives each vigild its own port) in
# VGL_TMP/metrics-hI; INSTANCE is its address.
cl_scrape() { # I
	INSTANCE="127.0.0.1:$((VGL_METRICS_PORT + $1))"
	metrics_scrape "http://$INSTANCE" "$VGL_TMP/metrics-h$1"
}
cl_metric() { sample "$VGL_TMP/metrics-h$1" "$2"; } # I SERIES (after cl_scrape I)
# shellcheck disable=SC2317 # called through wait_until
_metric_is() { cl_scrape "$1" && WAIT_LAST=$(cl_metric "$1" "$2") && [[ $WAIT_LAST == "$3" ]]; }
# shellcheck disable=SC2317 # called through wait_until
_metric_at_least() {
	cl_scrape "$1" && WAIT_LAST=$(cl_metric "$1" "$2") && [[ $WAIT_LAST =~ ^[0-9]+$ ]] &&
		((WAIT_LAST >= $3))
}
# Host I's SERIES is VALUE (with ">=": at least VALUE) within 5 s: vigild
# hands its figures to the metrics thread a round later under load.
assert_metric() { # LABEL I SERIES VALUE [>=]
	local check=_metric_is assert=assert_eq
	[[ ${5:-} == ">=" ]] && check=_metric_at_least assert=assert_ge
	WAIT_LAST=absent
	wait_until 5 "$check" "$2" "$3" "$4" || true
	"$assert" "host $2: $1 ($3)" "$4" "$WAIT_LAST"
}
LOCAL_ONLY_ALERT='
      - eval_time: 20m
        alertname: VigilClusterLocalOnly
        exp_alerts:
          - exp_labels: {severity: warning, job: vigil, instance: "%s"}
            exp_annotations:
              summary: "vigild on %s cannot reach etcd: cluster mode degraded to local-only"
              description: "This host fails over on its own evidence only, so a dead backend costs every host its own failed requests; verdicts are shared and read again once etcd answers. Check the etcd members in cluster.endpoints."'

# Keys of every host's verdict on b2 in etcd.
# shellcheck disable=SC2317 # called through wait_until
_verdicts_in_etcd() {
	(($(etcd_ctl get --prefix --keys-only \
		"/vigil-test-$VGL_ID/verdicts/web/${EP[2]}/" 2>/dev/null | grep -c .) == NHOSTS))
}

# shellcheck disable=SC2317 # called through wait_until
_h1_unreachable() { [[ $(cl_status 1 state) == unreachable ]]; }

[[ $VGL_CASE != tls ]] || ETCD_TLS=1
cl_world "eject_base_ms: 20000"
case $VGL_CASE in
blackhole)
	under_load fo_blackhole vigil_bh "${B4[2]}" "$PORT"
	assert_shared_ejection ratio
	assert_true "some host acted on another's verdict" test "$(remote_checks)" -ge 1
	;;
path)
	under_load path_fault
	assert_true "host 1: b2 ejected" test "$(cl_count 1 "${EP[2]}" ejected "")" -ge 1
	for i in 2 3; do
		assert_eq "host $i: b2 never ejected" 0 "$(cl_count "$i" "${EP[2]}" ejected "")"
		assert_eq "host $i: no failed request" 0 "$(failed_of "$i")"
		assert_true "host $i: checked host 1's verdict itself" \
			test "$(cl_count "$i" "${EP[2]}" probing remote_hard)" -ge 1
	done
	;;
etcd_member)
	etcd_kill 1
	etcd_wait_healthy 20 || die "etcd without member 1 has no leader"
	under_load fo_kill_server 2
	assert_shared_ejection ratio
	assert_true "verdicts still shared" test "$(remote_checks)" -ge 1
	;;
tls)
	under_load fo_kill_server 2
	assert_shared_ejection ratio
	assert_true "verdicts shared over TLS" test "$(remote_checks)" -ge 1
	stop_pid "${VPID[1]}"
	sed -i '/ca_file:/d' "${CONF[1]}"
	cl_start_vigild 1
	assert_true "host 1 without the CA: etcd's certificate refused, logged" \
		wait_until 10 grep -q 'etcd unreachable.*certificate' "${VLOG[1]}"
	assert_true "host 1 without the CA: vigilctl status unreachable" wait_until 5 _h1_unreachable
	;;
etcd_all)
	for ((i = 1; i <= NHOSTS; i++)); do
		assert_metric "etcd reachable" "$i" vigil_cluster_etcd_reachable 1
		assert_metric "not local-only" "$i" vigil_cluster_local_only 0
		assert_metric "every node live" "$i" vigil_cluster_live_nodes 3
		RESYNCS[i]=$(cl_metric "$i" vigil_cluster_watch_resyncs_total)
		assert_ge "host $i: read every verdict at start" 1 "${RESYNCS[i]}"
	done
	for m in 1 2 3; do etcd_kill "$m"; done
	wait_until 10 _all_local_only || die "not every vigild noticed etcd is gone"
	assert_eq "vigilctl status: cluster unreachable" unreachable "$(cl_status 1 state)"
	for ((i = 1; i <= NHOSTS; i++)); do
		assert_metric "local-only while etcd is down" "$i" vigil_cluster_local_only 1
		assert_metric "etcd unreachable" "$i" vigil_cluster_etcd_reachable 0
	done
	cl_scrape 1 || die "scraping host 1 failed"
	assert_true "promtool check metrics (host 1, local-only)" \
		"$PROMTOOL" check metrics <"$VGL_TMP/metrics-h1"
	# shellcheck disable=SC2059 # the alert's text is the format
	assert_true "promtool test rules: the local-only alert fires, nothing else" \
		alerts_for "$VGL_TMP/metrics-h1" "$(printf "$LOCAL_ONLY_ALERT" "$INSTANCE" "$INSTANCE")"
	under_load fo_kill_server 2
	for ((i = 1; i <= NHOSTS; i++)); do
		# Any local rule: with the socket rescue withholding the RST of a
		# refused connect, a kill may show as stuck_connect rather than
		# fast_path; only the remote_* rules are another node's evidence.
		assert_true "host $i: b2 ejected on its own evidence" \
			test $(($(cl_count "$i" "${EP[2]}" ejected "") -
				$(cl_count "$i" "${EP[2]}" ejected remote_hard) -
				$(cl_count "$i" "${EP[2]}" ejected remote_outlier))) -ge 1
		for j in 1 3; do
			assert_eq "host $i: b$j never ejected" 0 "$(cl_count "$i" "${EP[j]}" ejected "")"
		done
	done
	for m in 1 2 3; do etcd_start "$m"; done
	etcd_wait_healthy 20 || die "etcd did not come back"
	assert_true "every vigild reconnected" wait_until 15 _all_back
	assert_true "every host's verdict on b2 is in etcd again" wait_until 10 _verdicts_in_etcd
	assert_eq "vigilctl status: cluster connected again" connected "$(cl_status 1 state)"
	assert_eq "vigilctl status: every node live" 3 "$(cl_status 1 live_nodes)"
	for ((i = 1; i <= NHOSTS; i++)); do
		assert_metric "local-only no more" "$i" vigil_cluster_local_only 0
		assert_metric "etcd reachable again" "$i" vigil_cluster_etcd_reachable 1
		assert_metric "read every verdict again" "$i" vigil_cluster_watch_resyncs_total \
			$((RESYNCS[i] + 1)) ">="
		assert_metric "the other hosts' verdicts on b2 received" "$i" \
			'vigil_cluster_verdicts_total{kind="received"}' $((NHOSTS - 1)) ">="
		assert_metric "its own verdict published" "$i" \
			'vigil_cluster_verdicts_total{kind="published"}' 1 ">="
	done
	;;
esac
finish
