#!/bin/bash
# Fail on an include cycle between the modules of user/, or on an include
# that goes against the layers (docs/design.md, "Map of the code").
#
# A module is the files of one folder named X.c, X.h or X_*.{c,h}, where X
# is the shortest '_'-separated prefix of the name for which X.c or X.h
# exists in that folder: failover.c, failover.h, failover_int.h and
# failover_reload.c are the module failover; pkt_dp.* and pkt_hooks.* are
# two modules (there is no pkt.h). Every #include "..." is resolved as the
# compiler does (the including file's folder, then the folders of the layers
# it may use; anything else, e.g. generated skeletons, is not ours) and
# gives an edge from the including module to the included one. The edges
# go to tsort(1), which fails on a loop and names the modules in it:
# A.c includes B.h and B.c includes A.h is such a loop, however far apart.
#
# Layers: lib/ includes only lib/; maps/ lib/ and maps/; vigild/ and
# vigilctl/ those and themselves, never each other.
#
# Usage: scripts/check-includes.sh [USER_DIR]   (default: user, next to scripts/)
set -u

root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/user}
fail=0

layers_of() { # folder name -> folders whose headers it may include
	case $1 in
	lib) echo lib ;;
	maps) echo lib maps ;;
	vigild) echo lib maps vigild ;;
	vigilctl) echo lib maps vigilctl ;;
	*) echo "$1" ;; # a flat user/ (or a folder unknown here): itself only
	esac
}

module_of() { # path -> folder/module
	local dir=${1%/*} stem=${1##*/} prefix="" part
	local IFS=_

	local folder=${dir#"$root"}

	folder=${folder#/}
	stem=${stem%.*}
	for part in $stem; do
		prefix=${prefix:+${prefix}_}$part
		if [[ -f $dir/$prefix.c || -f $dir/$prefix.h ]]; then
			echo "${folder:+$folder/}$prefix"
			return
		fi
	done
	echo "${folder:+$folder/}$stem"
}

mapfile -t files < <(find "$root" -name '*.[ch]' | sort)
if ((${#files[@]} == 0)); then
	echo "check-includes: no sources under $root" >&2
	exit 1
fi

edges=$(mktemp) || exit 1
trap 'rm -f -- "$edges"' EXIT
n_edges=0
for f in "${files[@]}"; do
	dir=${f%/*}
	folder=${dir##*/}
	[[ $dir == "$root" ]] && folder=.
	from=$(module_of "$f")
	echo "$from $from" >>"$edges" # every module is a node, included or not
	while read -r inc; do
		target=""
		if [[ -f $dir/$inc ]]; then
			target=$dir/$inc
		else
			for l in $(layers_of "$folder"); do
				[[ -f $root/$l/$inc ]] && { target=$root/$l/$inc; break; }
			done
		fi
		if [[ -z $target ]]; then
			for other in "$root"/*/"$inc"; do
				if [[ -f $other ]]; then
					echo "check-includes: ${f#"$root"/} includes ${other#"$root"/}, a layer it may not use" >&2
					fail=1
				fi
			done
			continue # not ours (e.g. a generated skeleton header)
		fi
		to=$(module_of "$target")
		if [[ $to != "$from" ]]; then
			echo "$from $to" >>"$edges"
			n_edges=$((n_edges + 1))
		fi
	done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
done

if ! loop=$(tsort <"$edges" 2>&1 >/dev/null); then
	echo "check-includes: include cycle between modules of $root:" >&2
	grep -v 'input contains a loop' <<<"$loop" | sed 's/^tsort: /  /' >&2
	fail=1
fi
modules=$(cut -d' ' -f1 "$edges" | sort -u | wc -l)
if ((fail)); then
	exit 1
fi
echo "check-includes: ${#files[@]} files, $modules modules, $n_edges includes between modules: no cycle, layers respected"
