#!/bin/bash
# The man pages (man/) render without a warning (man --warnings -l) and
# document what the programs and the config accept: every long option of
# `vigild --help`, every command and option of `vigilctl --help`, and every
# key of the reference tables in docs/config.md and docs/detection.md (the
# keys vigild's parser accepts) appear in the rendered pages.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
command -v man >/dev/null || skip "man not installed (apt-get install man-db)"
MAN_DIR=$VGL_ROOT/man

render() { # PAGE -> plain text on stdout; fails on any groff/man warning
	local warnings
	warnings=$(LC_ALL=C.UTF-8 MANWIDTH=100 man --warnings -l "$MAN_DIR/$1" 2>&1 >/dev/null)
	[[ -z $warnings ]] || { warn "man -l $1: $warnings"; return 1; }
	LC_ALL=C.UTF-8 MANWIDTH=100 man -l "$MAN_DIR/$1" 2>/dev/null | col -bx
}

# Every word on stdin must occur in TEXT as a whole word.
assert_all_documented() { # WHAT TEXT
	local word missing=()
	while read -r word; do
		[[ -z $word ]] && continue
		grep -qwF -e "$word" <<<"$2" || missing+=("$word")
	done
	assert_eq "$1 missing from the man page" "" "${missing[*]}"
}

VIGILD_TXT=$(render vigild.8) || die "vigild.8 does not render cleanly"
VIGILCTL_TXT=$(render vigilctl.8) || die "vigilctl.8 does not render cleanly"
YAML_TXT=$(render vigil.yaml.5) || die "vigil.yaml.5 does not render cleanly"

# (Input by process substitution: a pipe would run the asserts in a subshell.)
long_options() { "$1" --help 2>&1 | grep -oE -- '--[a-z][a-z-]+' | sort -u; }
assert_all_documented "vigild options" "$VIGILD_TXT" < <(long_options "$VIGILD")
assert_all_documented "vigilctl options" "$VIGILCTL_TXT" < <(long_options "$VIGILCTL")
assert_all_documented "vigilctl commands" "$VIGILCTL_TXT" < <("$VIGILCTL" --help 2>&1 |
	sed -n '/^commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
# Config keys: the first column of the docs' key tables; sections: the
# example's top level.
assert_all_documented "config keys" "$YAML_TXT" < <(sed -n 's/^| `\([a-z_]*\)` |.*/\1/p' \
	"$VGL_ROOT/docs/config.md" "$VGL_ROOT/docs/detection.md" | sort -u)
assert_all_documented "config sections" "$YAML_TXT" < <(grep -oE '^[a-z_]+:' \
	"$VGL_ROOT/examples/vigil.yaml" | tr -d : | sort -u)
finish
