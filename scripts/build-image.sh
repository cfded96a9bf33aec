#!/bin/bash
# make image: an OCI image of vigil built only from Debian packages. mmdebstrap
# makes a minimal bookworm root filesystem (from the host's apt sources) with
# vigil's .deb installed by apt, so its dependencies come from its Depends:;
# `podman import` turns the tarball into localhost/vigil:VERSION (and :latest)
# with vigild as the entrypoint. No registry is involved. The image is also
# saved as $BUILD/vigil-image-VERSION.oci.tar (OCI archive) for `podman load`
# or a private registry.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
deb=$(ls -t "$build"/vigil_*_"$(dpkg --print-architecture)".deb 2>/dev/null | head -n 1)
[[ -n $deb ]] || { echo "build-image: no .deb in $build: run make deb" >&2; exit 1; }
version=$(dpkg-deb -f "$deb" Version)
suite=${SUITE:-bookworm}
mirror=${MIRROR:-$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)}
tar="$build/image/rootfs.tar"
mkdir -p "$build/image"
cp "$deb" "$build/image/vigil.deb"

# The hook makes the .deb visible inside the chroot for apt's dpkg.
# Docs, man pages and locales are of no use in the image; apt's lists go too.
mmdebstrap --quiet --variant=apt --mode=root \
	--hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount \
	--include="$PWD/$build/image/vigil.deb" \
	--dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-include=/usr/share/doc/*/copyright' \
	--dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--dpkgopt='path-exclude=/usr/share/info/*' \
	--customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
	"$suite" "$tar" ${mirror:+"$mirror"}

image=localhost/vigil:$version
podman import --quiet \
	--change 'ENTRYPOINT ["/usr/sbin/vigild"]' \
	--change 'CMD ["-c", "/etc/vigil/vigil.yaml"]' \
	--change "LABEL org.opencontainers.image.title=vigil org.opencontainers.image.version=$version" \
	"$tar" "$image" >/dev/null
podman tag "$image" localhost/vigil:latest
rm -f "$build/vigil-image-$version.oci.tar"
podman save --quiet --format oci-archive -o "$build/vigil-image-$version.oci.tar" "$image"
rm -f "$tar"
echo "$image ($(podman image inspect --format '{{.Size}}' "$image" | numfmt --to=iec) ," \
	"saved as $build/vigil-image-$version.oci.tar)"
