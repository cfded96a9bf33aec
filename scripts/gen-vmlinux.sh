#!/bin/sh
# Regenerate vmlinux/<arch>/vmlinux.h from the running kernel's BTF.
# The result is committed so builds do not depend on the build host's kernel;
# CO-RE relocations adapt the BPF objects to the kernel they load on.
set -eu
arch=${1:-$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')}
btf=${BTF:-/sys/kernel/btf/vmlinux}
out_dir="$(dirname "$0")/../vmlinux/$arch"
[ -r "$btf" ] || { echo "gen-vmlinux: $btf not readable: kernel built without CONFIG_DEBUG_INFO_BTF" >&2; exit 1; }
mkdir -p "$out_dir"
bpftool btf dump file "$btf" format c > "$out_dir/vmlinux.h.tmp"
mv "$out_dir/vmlinux.h.tmp" "$out_dir/vmlinux.h"
echo "wrote $out_dir/vmlinux.h"
