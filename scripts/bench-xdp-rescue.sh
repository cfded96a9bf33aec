#!/bin/bash
# Failed requests of the XDP datapath in the faults its rescue covers, for one
# or more builds on the same machine, in alternating rounds: the integration
# tests test_xdp_fault.sh (cases kill and blackhole: one of two primaries
# fails) and test_xdp_backup.sh (both primaries killed, a backup takes over)
# are the testbed, run with XDP_FAULT_WORKERS closed-loop clients, a new
# connection per request, 2 s client timeout. Their assertions are not what
# is measured (an older build fails them); their summary lines are:
#   failed_after  requests started after the fault that failed
#   max_ok_ms     the slowest request that succeeded: a rescued connect waits
#                 for the client's SYN retransmission (1 s)
#   detect_ms / switch_ms  fault to ejection / to the switch to backups
#
#   flock /tmp/vigil-net.lock scripts/bench-xdp-rescue.sh [BUILD...]
#                                            (default: build; root)
# ROUNDS (default 3), XDP_FAULT_WORKERS (default 16: with many more on a
# 2-core VM the test shell, starved, injects the fault late). Prints lines starting
# with xdp_rescue; asserts nothing.
BENCH_NAME=bench-xdp-rescue
# shellcheck source=scripts/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"
ROUNDS=${ROUNDS:-3}
export XDP_FAULT_WORKERS=${XDP_FAULT_WORKERS:-16}
# The fault is marked in the load just before it is injected (the tests mark
# it once it is in place): requests a live backend took in that instant and
# lost count against the system, as in bench-failover.sh.
export FAULT_MARK_AFTER=0
need_root "runs the integration tests"
builds=("$@")
((${#builds[@]})) || builds=("$BUILD")
for b in "${builds[@]}"; do need_built "$b/vigild" "$b/tools/loadgen"; done

# One run of TEST (case CASE, "" for none) against build B; prints its line.
run() { # B TEST CASE
	local out
	# An older build fails the assertions: its figures are what is wanted.
	out=$(BUILD=$(cd "$1" && pwd) VGL_CASES=$3 bash "tests/integration/$2.sh" 2>&1) || true
	grep -oE "xdp_(kill|blackhole|backup) .*(failed_after|switch_ms)=.*" <<<"$out" | head -n1 |
		sed "s|^|xdp_rescue build=$1 |"
}

echo "xdp_rescue setup: $XDP_FAULT_WORKERS clients, new connection per request, 2 s timeout;" \
	"$ROUNDS rounds; builds ${builds[*]}; commit $(git rev-parse --short HEAD)"
for r in $(seq "$ROUNDS"); do
	for b in "${builds[@]}"; do
		run "$b" test_xdp_fault kill
		run "$b" test_xdp_fault blackhole
		run "$b" test_xdp_backup ""
	done
done
