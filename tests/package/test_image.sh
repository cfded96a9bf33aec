#!/bin/bash
# make test-image: the container image (make image) run the way the
# DaemonSet runs it (tests/tools/vigild-podman: host network and PID
# namespace, the host's bpffs, cgroup2 and /run/netns, only vigild's
# capabilities) performs real failovers: the integration tests
# test_failover_kill and test_failover_blackhole run unchanged with VIGILD
# pointing at the image. Then: the image's vigild and vigilctl are the
# package's version, every container is gone, and `podman rm` of anything
# left over runs on any exit. Root. Takes the net lock (VIGIL_NET_LOCK,
# default /tmp/vigil-net.lock) unless VIGIL_NET_LOCK_HELD=1.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$root/build}
[[ $build == /* ]] || build=$root/$build
image=${VIGIL_IMAGE:-localhost/vigil:latest}
tmp=$(mktemp -d /tmp/vigil-test-image.XXXXXX)
export VIGIL_PODMAN_RECORD=$tmp/containers VIGIL_IMAGE=$image BUILD=$build
: >"$VIGIL_PODMAN_RECORD"
cleanup() {
	local name
	while read -r name; do
		podman rm -f --time 2 "$name" >/dev/null 2>&1 || true
	done <"$VIGIL_PODMAN_RECORD"
	rm -rf -- "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL test_image: $*" >&2; exit 1; }

podman image exists "$image" || fail "no image $image: run make image"
deb=$(ls -t "$build"/vigil_*.deb | head -n 1)
want="vigild $(dpkg-deb -f "$deb" Version)"
got=$("$root/tests/tools/vigild-podman" --version)
[[ $got == "$want" ]] || fail "image's vigild says '$got', the package is '$want'"
VIGIL_PODMAN_ENTRYPOINT=/usr/bin/vigilctl "$root/tests/tools/vigild-podman" --help >/dev/null ||
	fail "vigilctl --help failed in the image"

before=$(wc -l <"$VIGIL_PODMAN_RECORD")
run_failovers() {
	# One case each: IPv4, and the default tear-down path (the iterator).
	VIGILD=$root/tests/tools/vigild-podman RETRIES=0 VGL_CASES=ipv4 \
		"$root/tests/integration/run.sh" test_failover_kill &&
	VIGILD=$root/tests/tools/vigild-podman RETRIES=0 VGL_CASES=iterator \
		"$root/tests/integration/run.sh" test_failover_blackhole
}
if [[ ${VIGIL_NET_LOCK_HELD:-0} == 1 ]]; then
	run_failovers || fail "failover tests against the image failed"
else
	export -f run_failovers
	export root
	flock "${VIGIL_NET_LOCK:-/tmp/vigil-net.lock}" bash -c run_failovers ||
		fail "failover tests against the image failed"
fi

started=$(($(wc -l <"$VIGIL_PODMAN_RECORD") - before))
((started >= 2)) || fail "only $started vigild containers were started (expected one per test)"
while read -r name; do
	podman container exists "$name" && fail "container $name was not removed"
done <"$VIGIL_PODMAN_RECORD"
echo "PASS test_image: $started failover runs with vigild in $image, every container removed"
