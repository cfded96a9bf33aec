#!/bin/sh
# Install every Debian package vigil's build, tests, benchmark and demo need.
# Idempotent: does nothing (no apt-get at all) when everything is present.
# Extra package names as arguments (e.g. `scripts/deps.sh afl++` for make fuzz)
# are checked and installed the same way.
set -eu
PKGS="make gcc clang llvm pkg-config libbpf-dev bpftool libelf-dev zlib1g-dev
libyaml-dev libjansson-dev libnl-3-dev check valgrind
iproute2 nftables jq nginx-light libnginx-mod-stream wrk haproxy procps iperf3 python3 ethtool
libsystemd-dev libcap-dev systemd podman runc $*"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing; run as root (sudo make deps)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
