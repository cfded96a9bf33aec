#!/bin/sh
# Check the shipped systemd unit offline: `systemd-analyze verify` (syntax,
# directives, executables) and `systemd-analyze security --offline=yes` with
# an exposure threshold (default 4.0, MAX_EXPOSURE=...). Part of `make check`.
# Exit 77 (skip) only when systemd-analyze is missing (Debian: systemd).
set -eu
unit=${1:-$(dirname "$0")/vigild.service}
max=${MAX_EXPOSURE:-4.0}
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "check-unit: SKIP: systemd-analyze not installed (apt-get install systemd)" >&2
	exit 77
fi
tmp=$(mktemp -d /tmp/vigil-check-unit.XXXXXX)
trap 'rm -rf -- "$tmp"' EXIT
# verify wants the unit's executables to exist: point the /usr/local paths
# (as `make install` rewrites them for PREFIX) at a stand-in prefix.
mkdir -p "$tmp/prefix/sbin"
ln -s /bin/true "$tmp/prefix/sbin/vigild"
sed "s|/usr/local|$tmp/prefix|g" "$unit" >"$tmp/vigild.service"
if ! systemd-analyze verify "$tmp/vigild.service" >"$tmp/verify.out" 2>&1 ||
	[ -s "$tmp/verify.out" ]; then
	echo "check-unit: systemd-analyze verify $unit:" >&2
	cat "$tmp/verify.out" >&2
	exit 1
fi
systemd-analyze security --offline=yes --no-pager "$tmp/vigild.service" >"$tmp/security.out" 2>&1 || true
score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$tmp/security.out")
if [ -z "$score" ]; then
	echo "check-unit: no exposure level in 'systemd-analyze security --offline=yes':" >&2
	cat "$tmp/security.out" >&2
	exit 1
fi
if ! awk -v s="$score" -v m="$max" 'BEGIN { exit !(s + 0 <= m + 0) }'; then
	echo "check-unit: $unit: exposure $score above $max; what counts:" >&2
	grep '✗' "$tmp/security.out" >&2
	exit 1
fi
echo "check-unit: $unit: verify clean, exposure $score (<= $max)"
