#!/bin/bash
# make test-package: the Debian package (make deb) installs, runs and goes
# away cleanly in a scratch Debian root. mmdebstrap builds a minimal
# bookworm root and installs the .deb with apt (so its Depends: must be
# right); inside that root: `vigild --check` of the shipped config and of
# the example, `vigild --version` matches the package, `vigilctl --help`,
# the man pages and the unit are where the package says; then `apt-get
# remove` leaves only the conffile and `dpkg --purge` removes that too.
# Outside: the man pages render without a warning (man -l). Root.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$root/build}
[[ $build == /* ]] || build=$root/$build
deb=$(ls -t "$build"/vigil_*_"$(dpkg --print-architecture)".deb 2>/dev/null | head -n 1)
tmp=$(mktemp -d /tmp/vigil-test-deb.XXXXXX)
trap 'rm -rf -- "$tmp"' EXIT
fail() { echo "FAIL test_deb: $*" >&2; exit 1; }
[[ -n $deb ]] || fail "no .deb in $build: run make deb"
version=$(dpkg-deb -f "$deb" Version)
cp "$deb" "$tmp/vigil.deb"
dpkg-deb -x "$deb" "$tmp/x"

for page in "$tmp"/x/usr/share/man/man*/*.gz; do
	warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
	[[ -z $warnings ]] || fail "man -l $(basename "$page"): $warnings"
done

# The checks run inside the new root, copied in by an mmdebstrap hook, with
# the package installed by apt from the local file.
cat >"$tmp/checks.sh" <<CHECKS
set -eu
vigild --check -c /etc/vigil/vigil.yaml
vigild --check -c /usr/share/vigil/vigil.yaml.example
test "\$(vigild --version)" = 'vigild $version'
vigilctl --help >/dev/null
for f in /usr/share/man/man8/vigild.8.gz /usr/share/man/man8/vigilctl.8.gz \\
	/usr/share/man/man5/vigil.yaml.5.gz /lib/systemd/system/vigild.service; do
	test -f "\$f" || { echo "missing after install: \$f"; exit 1; }
done
grep -q '^ExecStart=/usr/sbin/vigild ' /lib/systemd/system/vigild.service
dpkg-query -L vigil >/tmp/vigil.files
apt-get remove -y -q vigil >/dev/null
test -f /etc/vigil/vigil.yaml || { echo "remove deleted the conffile"; exit 1; }
test ! -e /usr/sbin/vigild || { echo "remove left /usr/sbin/vigild"; exit 1; }
dpkg --purge vigil >/dev/null
if dpkg-query -W vigil >/dev/null 2>&1; then echo "still known to dpkg after purge"; exit 1; fi
while read -r f; do
	test -d "\$f" || test ! -e "\$f" || { echo "left behind after purge: \$f"; exit 1; }
done </tmp/vigil.files
test ! -e /etc/vigil || { echo "purge left /etc/vigil"; exit 1; }
echo "inside: all checks passed"
CHECKS
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
mmdebstrap --variant=minbase --mode=root \
	--hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount \
	--include="$tmp/vigil.deb" \
	--customize-hook="copy-in $tmp/checks.sh /tmp" \
	--customize-hook='chroot "$1" sh /tmp/checks.sh' \
	bookworm "$tmp/root.tar" ${mirror:+"$mirror"} >"$tmp/mmdebstrap.log" 2>&1 ||
	{ grep -v '^I: ' "$tmp/mmdebstrap.log" | tail -n 30 >&2; fail "install/run/remove in a scratch root failed (log above)"; }
grep -q '^inside: all checks passed$' "$tmp/mmdebstrap.log" || fail "the checks inside the root did not run"
echo "PASS test_deb: $(basename "$deb") installs with its dependencies, runs, removes and purges cleanly; man pages render"
