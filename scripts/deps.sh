#!/bin/sh
# Install every Debian package vigil's build, tests, benchmark and demo need.
# Idempotent: does nothing (no apt-get at all) when everything is present.
# Extra package names as arguments (e.g. `scripts/deps.sh afl++` for make fuzz)
# are checked and installed the same way.
set -eu
PKGS="make gcc clang llvm pkg-config libbpf-dev bpftool libelf-dev zlib1g-dev
libyaml-dev libjansson-dev libnl-3-dev libnl-route-3-dev libmicrohttpd-dev check valgrind
iproute2 nftables jq nginx-light libnginx-mod-stream wrk haproxy procps iperf3 python3 ethtool curl
libsystemd-dev libcap-dev systemd podman runc libcurl4-openssl-dev libssl-dev
etcd-server etcd-client openssl $*"
# promtool (the metrics test checks vigild's /metrics and the documented
# alert rules with it): only that binary, unpacked from Debian's prometheus
# package. Installing the package would also install a Prometheus server,
# which starts on install wherever services do.
PROMTOOL_DIR=/opt/vigil-deps/prometheus
PROMTOOL=$PROMTOOL_DIR/usr/bin/promtool

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && [ -x "$PROMTOOL" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing${missing:+; }${PROMTOOL} (from package prometheus);" \
		"run as root (sudo make deps)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
if [ -n "$missing" ]; then
	echo "deps: installing$missing"
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
fi
if [ ! -x "$PROMTOOL" ]; then
	echo "deps: unpacking promtool from package prometheus into $PROMTOOL_DIR"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	chown _apt "$tmp" 2>/dev/null || true # apt fetches as user _apt
	(cd "$tmp" && apt-get download -q prometheus)
	mkdir -p "$PROMTOOL_DIR"
	dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -C "$PROMTOOL_DIR" ./usr/bin/promtool
	"$PROMTOOL" --version >/dev/null
fi
