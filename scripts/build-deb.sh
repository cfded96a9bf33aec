#!/bin/bash
# make deb: build $BUILD/vigil_VERSION_ARCH.deb from a `make install` staging
# tree (PREFIX=/usr). Dependencies are computed from the binaries by
# dpkg-shlibdeps (the libraries they link, with the versions the symbols
# need), /etc/vigil/vigil.yaml is a conffile (kept on upgrade and remove,
# removed on purge), the unit is enabled on install (started only on a host
# booted with systemd). Prints the path of the package.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
version=$(sed -n 's/^#define VIGIL_VERSION "\(.*\)"$/\1/p' user/lib/version.h)
[[ -n $version ]] || { echo "build-deb: no VIGIL_VERSION in user/lib/version.h" >&2; exit 1; }
arch=$(dpkg --print-architecture)
work=$build/deb
stage=$work/stage
rm -rf "$work"
mkdir -p "$stage/DEBIAN"

make --no-print-directory install BUILD="$build" DESTDIR="$PWD/$stage" PREFIX=/usr >/dev/null
install -D -m 0644 packaging/debian/vigil.yaml "$stage/etc/vigil/vigil.yaml"
install -m 0644 packaging/debian/copyright "$stage/usr/share/doc/vigil/copyright"
gzip -9n "$stage"/usr/share/man/man*/*
strip --strip-unneeded "$stage/usr/sbin/vigild" "$stage/usr/bin/vigilctl"

# dpkg-shlibdeps wants to run inside a source tree with debian/control.
mkdir -p "$work/debian"
printf 'Source: vigil\n\nPackage: vigil\nArchitecture: any\n' >"$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O -estage/usr/sbin/vigild -estage/usr/bin/vigilctl |
	sed -n 's/^shlibs:Depends=//p')
[[ -n $depends ]] || { echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@DEPENDS@|$depends|" \
	packaging/debian/control.in >"$stage/DEBIAN/control"
echo "Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)" >>"$stage/DEBIAN/control"
echo /etc/vigil/vigil.yaml >"$stage/DEBIAN/conffiles"
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$stage/DEBIAN/"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
	xargs -0 md5sum) >"$stage/DEBIAN/md5sums"

deb="$build/vigil_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
