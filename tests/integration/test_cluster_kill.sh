#!/bin/bash
# Cluster mode, a killed backend: three client hosts (namespaces, each with
# its own vigild scoped to its sockets) share verdicts through a real 3-member
# etcd cluster. Under load on all three, b2's server is SIGKILLed. The first
# host to see a refused connect shares it at once (a suspect); the others
# take b2 out of selection and check it with one probe of their own, which
# is refused too, so they eject it on their own evidence and share that.
# Asserts: the failed requests of all hosts together are at most 1.5x those
# of the first host to see the fault (without the cluster each host pays its
# own consecutive_failures refusals: about 3x); some host ejected b2 after a
# remote verdict; every host has b2 out of service; nobody ejected b1 or b3.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
# shellcheck source=tests/lib_etcd.sh
source "$(dirname "$0")/../lib_etcd.sh"
# shellcheck source=tests/lib_cluster.sh
source "$(dirname "$0")/../lib_cluster.sh"
cl_require_env

cl_world "eject_base_ms: 20000"
# 15-25 requests/s per host (4 clients), a new connection each, at rates of
# their own (hosts do not send in step): b2 gets one every 120-200 ms on each
# host.
cl_load_bg_rates -a "$VIP" -p 80 -c 4 -d 4000 -t 2000 -- 160 212 268
sleep 1.5
mark_fault "${LPID[@]:1}"
fo_kill_server 2
cl_load_wait 20


total=0
for ((i = 1; i <= NHOSTS; i++)); do
	total=$((total + $(lg_get failed_after "${LOUT[i]}")))
	assert_true "host $i: b2 out of service" \
		test "$(cl_count "$i" "${EP[2]}" ejected "")" -ge 1
	for j in 1 3; do
		assert_eq "host $i: b$j never ejected" 0 "$(cl_count "$i" "${EP[j]}" ejected "")"
	done
done
# The first host to see the fault: the node of the earliest verdict (a first
# failure or an ejection) any host acted on.
first=$(cl_first_reporter "${EP[2]}")
remote=0
for ((i = 1; i <= NHOSTS; i++)); do
	remote=$((remote + $(cl_count "$i" "${EP[2]}" probing remote_hard)))
done
log "failed after the fault: total $total; first host to see it: h${first:-(none)}"
assert_true "some host acted on another's verdict ($remote remote_hard changes)" test "$remote" -ge 1
if [[ -n $first ]]; then
	ff=$(lg_get failed_after "${LOUT[first]}")
	assert_true "all hosts together ($total) <= 1.5 x the first host ($ff)" \
		test $((2 * total)) -le $((3 * ff))
else
	assert_eq "no host ejected b2 on its own evidence: then nobody failed" 0 "$total"
fi
finish
