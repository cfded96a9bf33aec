#!/bin/bash
# Bad command lines and bad pins, no traffic and no namespaces:
#   vigilctl: --pin-dir without a value or longer than PATH_MAX allows, extra
#   arguments, --help (exit 0, stdout) for every command, 'backends' and
#   'events --service' of an unknown service, 'events --backend' malformed
#   or unknown, 'status' without a heartbeat or a pin dir, and a pinned map of another type (a per-CPU array as
#   'history': vigilctl used to read it into a plain-sized buffer);
#   vigild --check: a FIFO as -c (used to hang), lb.cgroup and
#   daemon.probe_netns that are no cgroup v2 directory / network namespace.
# The maps are created with bpftool under /sys/fs/bpf/vigil-test-$VGL_ID-cli
# (removed at exit); vigild never starts.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

[[ $(id -u) -eq 0 ]] || skip "needs root (pins under /sys/fs/bpf)"
command -v bpftool >/dev/null || die "bpftool not installed (run make deps)"
[[ -x "$VIGILCTL" && -x "$VIGILD" ]] || die "vigilctl/vigild not built (run make all)"
[[ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" == bpf_fs ]] || skip "/sys/fs/bpf is not bpffs"

DIR=/sys/fs/bpf/vigil-test-$VGL_ID-cli
VGL_PIN_DIRS+=("$DIR")
mkdir -p "$DIR" || die "mkdir $DIR"

pin() { # NAME TYPE KEY VALUE ENTRIES
	rm -f "$DIR/$1"
	bpftool map create "$DIR/$1" type "$2" key "$3" value "$4" entries "$5" name "$1" ||
		die "bpftool map create $1 failed"
}
pin services hash 20 72 256
pin service_sets hash 20 1320 256
pin backend_info hash 40 56 16384
pin admin hash 40 4 16384
pin history percpu_array 4 104 1024

OUT=$VGL_TMP/out ERR=$VGL_TMP/err
run() { # CMD...: exit status in RC, output in $OUT and $ERR
	timeout 10 "$@" >"$OUT" 2>"$ERR"
	RC=$?
}
expect() { # LABEL RC STREAM PATTERN
	assert_eq "$1: exit status" "$2" "$RC"
	assert_true "$1: $3 says '$4'" grep -qF -- "$4" "$VGL_TMP/$3"
}
ctl() { run "$VIGILCTL" --pin-dir "$DIR" "$@"; }

# ---- pinned map of another type ------------------------------------------------
ctl events
expect "per-CPU map as history" 1 err "pinned map $DIR/history is a percpu_array map"
assert_true "per-CPU map as history: says the fix" grep -q "vigild --unpin" "$ERR"
pin history array 4 104 1024
ctl events
assert_eq "array as history: exit status" 0 "$RC"
pin admin percpu_hash 40 4 16384
ctl services
expect "per-CPU map as admin" 1 err "pinned map $DIR/admin is a percpu_hash map"
pin admin hash 40 8 16384
ctl services
expect "admin with another value size" 1 err "key/value size 40/8, this vigilctl expects a hash map with 40/4"
pin admin hash 40 4 16384

# ---- backends of an unknown service --------------------------------------------
ctl backends nosuch
expect "backends nosuch" 1 err "no such service 'nosuch'"
ctl backends
assert_eq "backends (all, none yet): exit status" 0 "$RC"
ctl drain nosuch 10.0.0.1:80
expect "drain nosuch" 1 err "service 'nosuch' has no such backend"

# ---- events filters and status on these maps --------------------------------------
ctl events --service nosuch
expect "events --service nosuch" 1 err "no such service 'nosuch'"
ctl events --backend 10.0.0.1:80
expect "events --backend unknown" 1 err "no backend 10.0.0.1:80 in any service"
ctl events --backend 10.0.0.1
expect "events --backend without a port" 2 err "'10.0.0.1' is not ADDRESS:PORT"
ctl events --service "$(printf 'x%.0s' {1..40})"
expect "events --service (40 characters)" 2 err "longer than any service name"
ctl status --json
assert_eq "status (no vigild ever ran here): exit status" 0 "$RC"
assert_eq "status: heartbeat unknown" false "$(jq -r .vigild.heartbeat_known "$OUT")"
assert_eq "status: no loss pin" null "$(jq -r .loss "$OUT")"
run "$VIGILCTL" --pin-dir "$DIR-nosuch" status
expect "status of a missing pin dir" 1 err "vigild never ran with this pin directory"

# ---- --pin-dir -----------------------------------------------------------------
run "$VIGILCTL" --pin-dir
expect "--pin-dir without a value" 2 err "--pin-dir needs a value"
run "$VIGILCTL" services --pin-dir
assert_eq "--pin-dir after the command: exit status" 2 "$RC"
run "$VIGILCTL" --pin-dir "$DIR/$(printf '%05000d' 0)" services
expect "--pin-dir of 5000+ characters" 2 err "at most 4064: use a shorter path"
run "$VIGILCTL" --pin-dir= services
expect "--pin-dir= (empty)" 2 err "--pin-dir: empty"
run "$VIGILCTL" "--pin-dir=$DIR" services
assert_eq "--pin-dir=DIR: exit status" 0 "$RC"
VIGIL_PIN_DIR="$DIR/$(printf '%05000d' 0)" run "$VIGILCTL" services
expect "long \$VIGIL_PIN_DIR" 2 err "\$VIGIL_PIN_DIR: 50"

# ---- --help: exit 0, usage on stdout, nothing on stderr ------------------------
for cmd in status stats services backends events drain undrain disable enable xdp; do
	for flag in --help -h; do
		ctl "$cmd" "$flag"
		expect "$cmd $flag" 0 out "usage: vigilctl"
		assert_eq "$cmd $flag: stderr" "" "$(cat "$ERR")"
	done
done
run "$VIGILCTL" --help
expect "vigilctl --help" 0 out "usage: vigilctl"

# ---- extra arguments -----------------------------------------------------------
for args in "services extra" "events extra" "xdp extra" "stats extra" "status extra" \
	"backends web extra" "events --service" \
	"drain web 10.0.0.1:80 extra" "undrain web" "enable"; do
	# shellcheck disable=SC2086 # split on purpose
	ctl $args
	assert_eq "vigilctl $args: exit status" 2 "$RC"
	assert_true "vigilctl $args: usage on stderr" grep -q "usage: vigilctl\|unexpected argument" "$ERR"
done

# ---- vigild --check: non-regular -c, cgroup and netns ---------------------------
mkfifo "$VGL_TMP/fifo.yaml"
run "$VIGILD" --check -c "$VGL_TMP/fifo.yaml"
expect "vigild -c FIFO (no hang)" 2 err "fifo.yaml: not a regular file"
run "$VIGILD" --check -c /dev/null
expect "vigild -c /dev/null" 2 err "/dev/null: not a regular file"
# check_conf NAME YAML RC STREAM PATTERN LABEL: vigild --check on a config
check_conf() {
	printf '%s' "$2" >"$VGL_TMP/$1.yaml"
	run "$VIGILD" --check -c "$VGL_TMP/$1.yaml"
	expect "$6" "$3" "$4" "$5"
}
check_conf c1 "lb:
  cgroup: $VGL_TMP/nosuch
" 2 err "c1.yaml:2: lb.cgroup: $VGL_TMP/nosuch: No such file or directory" "lb.cgroup missing"
check_conf c2 "lb:
  cgroup: $VGL_TMP
" 2 err "c2.yaml:2: lb.cgroup: $VGL_TMP: not a cgroup v2 directory" "lb.cgroup not cgroup2"
check_conf n1 "daemon:
  probe_netns: /proc/self/ns/mnt
" 2 err "n1.yaml:2: daemon.probe_netns: /proc/self/ns/mnt: not a network namespace" \
	"probe_netns not a netns"
check_conf n2 "daemon:
  probe_netns: /var/run/netns/$VGL_ID-nosuch
" 2 err "n2.yaml:2: daemon.probe_netns: /var/run/netns/$VGL_ID-nosuch: No such file" \
	"probe_netns missing"
check_conf n3 "daemon:
  probe_netns: /proc/self/ns/net
" 0 out "n3.yaml: ok" "probe_netns a netns"

finish
