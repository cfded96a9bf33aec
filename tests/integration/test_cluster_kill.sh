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
assert_shared_ejection ratio
assert_true "some host acted on another's verdict" test "$(remote_checks)" -ge 1
assert_eq "vigilctl status: vigild's version" "$("$VIGILD" --version | cut -d' ' -f2)" \
	"$("$VIGILCTL" --pin-dir "${PIN[1]}" status --json | jq -r .vigild_version)"
assert_true "vigilctl status: some host acted on another's verdict" \
	test $(($(cl_status 1 remote_acted) + $(cl_status 2 remote_acted) + $(cl_status 3 remote_acted))) -ge 1
finish
