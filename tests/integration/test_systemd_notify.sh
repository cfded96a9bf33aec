#!/bin/bash
# vigild under systemd's service protocol and its privilege limits, with a
# stand-in notify socket (tests/tools/sd_notify_listen.py) and no systemd:
#   1. started with NOTIFY_SOCKET and WATCHDOG_USEC=1 s: READY=1 with a
#      STATUS= summary once the hooks are attached; capabilities reduced to
#      the documented set (docs/deploy.md): CapEff = CapPrm = CapBnd, no
#      inheritable or ambient ones, no_new_privs set.
#   2. WATCHDOG=1 keeps coming (about every 0.5 s); a stopped vigild (SIGSTOP,
#      the stand-in for a stalled tick loop) sends none; it resumes.
#   3. SIGHUP: RELOADING=1 with MONOTONIC_USEC=, then READY=1 and a STATUS=
#      with the new config.
#   4. a world-writable or non-root-owned config is refused on reload: the
#      running config stays (STATUS= and the log say so), READY=1 still
#      ends the reload; fixed, the same file is applied.
#   5. STOPPING=1 on SIGTERM.
#   6. at start (and with --check) a world-writable config, one owned by
#      another user and one in a world-writable directory are refused (exit
#      2) before anything is attached.
#   7. --ready-file refuses a symlink (exit 1, the target never written).
#   8. with daemon.sched_priority: 0, CAP_SYS_NICE is not kept.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
require_env
command -v python3 >/dev/null || die "python3 not installed (run make deps)"

# The documented set: CAP_BPF CAP_PERFMON CAP_NET_ADMIN CAP_SYS_ADMIN
# CAP_SYS_PTRACE, and CAP_SYS_NICE with daemon.sched_priority > 0.
cap_mask() { # CAP_NUMBER...
	local m=0 c
	for c in "$@"; do m=$((m | (1 << c))); done
	printf '%016x' "$m"
}
KEPT=(39 38 12 21 19)
CAPS_NICE=$(cap_mask "${KEPT[@]}" 23)
CAPS_NO_NICE=$(cap_mask "${KEPT[@]}")

cap_field() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; } # PID FIELD

NSOCK=$VGL_TMP/notify.sock
NLOG=$VGL_TMP/notify.log
start_bg python3 "$VGL_ROOT/tests/tools/sd_notify_listen.py" "$NSOCK" "$NLOG"
wait_until 5 grep -qx listening "$NLOG" 2>/dev/null || die "notify listener did not start"

count() { grep -c -- " $1\$" "$NLOG"; }              # ASSIGNMENT
last_msg() { grep -- " $1" "$NLOG" | tail -n1; }     # PREFIX: the last line
msg_no() { awk '{ print $2 }' <<<"$1"; }             # LINE: the message number
msg_val() { cut -d' ' -f3- <<<"$1" | cut -d= -f2-; } # LINE: the value
# STATUS= of message N.
status_of() { awk -v n="$1" '$2 == n && $3 ~ /^STATUS=/' "$NLOG" | cut -d' ' -f3- | cut -d= -f2-; }
# shellcheck disable=SC2317 # called through wait_until
count_above() { (($(count "$1") > $2)); } # ASSIGNMENT N

# ---- 1: READY=1, STATUS=, capabilities --------------------------------------------
PORT=$VGL_PORT
write_config --backend "127.0.0.1:$PORT"
CFG=$VGL_CONFIG
export NOTIFY_SOCKET=$NSOCK WATCHDOG_USEC=1000000
start_vigild "$CFG"
unset NOTIFY_SOCKET WATCHDOG_USEC
assert_true "READY=1 after the start" wait_until 5 count_above READY=1 0
READY=$(last_msg READY=1)
assert_true "log: monitor attached before READY=1" grep -q "monitor attached" "$VIGILD_LOG"
assert_eq "STATUS= with READY=1" "watching 1 endpoints, 0 prefixes, 0 local ports; 0 services" \
	"$(status_of "$(msg_no "$READY")")"
assert_eq "no RELOADING=1 at the start" 0 "$(count RELOADING=1)"

assert_eq "CapEff: the documented set (sched_priority 10)" "$CAPS_NICE" "$(cap_field "$VIGILD_PID" CapEff)"
assert_eq "CapPrm" "$CAPS_NICE" "$(cap_field "$VIGILD_PID" CapPrm)"
assert_eq "CapBnd" "$CAPS_NICE" "$(cap_field "$VIGILD_PID" CapBnd)"
assert_eq "CapInh" 0000000000000000 "$(cap_field "$VIGILD_PID" CapInh)"
assert_eq "CapAmb" 0000000000000000 "$(cap_field "$VIGILD_PID" CapAmb)"
assert_eq "NoNewPrivs" 1 "$(cap_field "$VIGILD_PID" NoNewPrivs)"
assert_true "log: the kept set named" \
	grep -q "capabilities: kept cap_net_admin,cap_sys_ptrace,cap_sys_admin,cap_sys_nice,cap_perfmon,cap_bpf" "$VIGILD_LOG"

# ---- 2: the watchdog ---------------------------------------------------------------
W0=$(count WATCHDOG=1)
sleep 2
W1=$(count WATCHDOG=1)
assert_ge "WATCHDOG=1 in 2 s (1 s interval, fed every 0.5 s)" 3 $((W1 - W0))
kill -STOP "$VIGILD_PID"
sleep 0.2
W2=$(count WATCHDOG=1)
sleep 1.5
W3=$(count WATCHDOG=1)
kill -CONT "$VIGILD_PID"
assert_eq "no WATCHDOG=1 while the loop is stopped (1.5 s)" "$W2" "$W3"
assert_true "WATCHDOG=1 again once it runs" wait_until 2 count_above WATCHDOG=1 "$W3"

# ---- 3: a reload -------------------------------------------------------------------
# In place (write_config would move the pin dir, which needs a restart).
reload_and_wait() { # LABEL: HUP, wait for the READY=1 that ends the reload
	local r
	r=$(count READY=1)
	kill -HUP "$VIGILD_PID" || die "cannot signal vigild"
	wait_until 5 count_above READY=1 "$r" || { dump_vigild_log; die "$1: no READY=1 within 5 s of SIGHUP"; }
	RELOADING=$(last_msg RELOADING=1)
	READY=$(last_msg READY=1)
	MONO=$(last_msg MONOTONIC_USEC=)
}
sed -i "s|backends: \[.*\]|backends: [\"127.0.0.1:$PORT\", \"127.0.0.2:$PORT\"]|" "$CFG"
reload_and_wait "reload"
assert_true "RELOADING=1 before READY=1" test "$(msg_no "$RELOADING")" -lt "$(msg_no "$READY")"
assert_eq "MONOTONIC_USEC= in the RELOADING=1 message" "$(msg_no "$RELOADING")" "$(msg_no "$MONO")"
# The listener stamps arrival with CLOCK_MONOTONIC: the reload started
# before its message arrived, and not long before.
MONO_US=$(msg_val "$MONO") ARRIVED_US=$(awk '{ print $1 }' <<<"$MONO")
assert_true "MONOTONIC_USEC= ($MONO_US) a CLOCK_MONOTONIC time before arrival ($ARRIVED_US)" \
	test "$MONO_US" -le "$ARRIVED_US" -a "$MONO_US" -gt $((ARRIVED_US - 5000000))
assert_eq "STATUS= after the reload" "watching 2 endpoints, 0 prefixes, 0 local ports; 0 services" \
	"$(status_of "$(msg_no "$READY")")"
assert_true "log: config reloaded" grep -q "config reloaded from" "$VIGILD_LOG"

# ---- 4: refused reloads ------------------------------------------------------------
sed -i "s|backends: \[.*\]|backends: [\"127.0.0.1:$PORT\", \"127.0.0.2:$PORT\", \"127.0.0.3:$PORT\"]|" "$CFG"
refused_reload() { # LABEL LOG_PATTERN
	reload_and_wait "$1"
	assert_true "$1: RELOADING=1 before READY=1" test "$(msg_no "$RELOADING")" -lt "$(msg_no "$READY")"
	assert_eq "$1: STATUS= says refused, running config kept (2 endpoints)" \
		"reload refused, running config kept: watching 2 endpoints, 0 prefixes, 0 local ports; 0 services" \
		"$(status_of "$(msg_no "$READY")")"
	assert_true "$1: logged" grep -q "reload refused: .*$2.*keeping the running config" "$VIGILD_LOG"
	assert_true "$1: vigild still running" kill -0 "$VIGILD_PID"
}
chmod 0666 "$CFG"
refused_reload "world-writable config" "world-writable (mode 0666)"
chmod 0644 "$CFG"
chown 65534 "$CFG"
refused_reload "config owned by uid 65534" "owned by uid 65534, not root"
chown 0 "$CFG"
reload_and_wait "fixed config"
assert_eq "the fixed config applies" "watching 3 endpoints, 0 prefixes, 0 local ports; 0 services" \
	"$(status_of "$(msg_no "$READY")")"

# ---- 5: STOPPING=1 -----------------------------------------------------------------
stop_pid "$VIGILD_PID"
assert_eq "STOPPING=1 on SIGTERM" 1 "$(count STOPPING=1)"

# ---- 6: refused at start -----------------------------------------------------------
start_refused() { # LABEL CONFIG PATTERN
	local rc out="$VGL_TMP/refused.log"
	"$VIGILD" --check -c "$2" >"$out" 2>&1
	rc=$?
	assert_eq "$1: --check exit status" 2 "$rc"
	assert_true "$1: --check names it" grep -q -- "$3" "$out"
	timeout -k 5 20 "$VIGILD" -c "$2" >"$out" 2>&1
	rc=$?
	assert_eq "$1: start exit status" 2 "$rc"
	assert_true "$1: start names it" grep -q -- "$3" "$out"
	assert_true "$1: nothing attached (no monitor line)" bash -c "! grep -q 'monitor attached' '$out'"
}
write_config --backend "127.0.0.1:$PORT"
chmod 0666 "$VGL_CONFIG"
start_refused "world-writable config" "$VGL_CONFIG" "refused: world-writable (mode 0666)"
assert_true "world-writable config: pin dir not created" test ! -e "$VGL_PIN_DIR"
chmod 0644 "$VGL_CONFIG"
chown 65534:65534 "$VGL_CONFIG"
start_refused "config owned by uid 65534" "$VGL_CONFIG" "refused: owned by uid 65534"
chown 0:0 "$VGL_CONFIG"
mkdir -m 0777 "$VGL_TMP/open-dir"
cp "$VGL_CONFIG" "$VGL_TMP/open-dir/vigil.yaml"
start_refused "config in a world-writable directory" "$VGL_TMP/open-dir/vigil.yaml" \
	"its directory $VGL_TMP/open-dir is world-writable"
"$VIGILD" --check -c "$VGL_CONFIG" >/dev/null 2>&1
assert_eq "the same config, root-owned 0644: --check passes" 0 $?

# ---- 7: --ready-file and symlinks --------------------------------------------------
ln -s "$VGL_TMP/ready-target" "$VGL_TMP/ready-link"
timeout -k 5 30 "$VIGILD" -c "$VGL_CONFIG" --ready-file "$VGL_TMP/ready-link" >"$VGL_TMP/link.log" 2>&1
assert_eq "ready file a symlink: exit status" 1 $?
assert_true "ready file a symlink: refused, named" grep -q "refusing ready file .*: it is a symlink" "$VGL_TMP/link.log"
assert_true "ready file a symlink: its target not created" test ! -e "$VGL_TMP/ready-target"
assert_true "ready file a symlink: the link left alone" test -L "$VGL_TMP/ready-link"

# ---- 8: sched_priority 0: no CAP_SYS_NICE ------------------------------------------
write_config --backend "127.0.0.1:$PORT"
sed -i 's/^daemon:$/daemon:\n  sched_priority: 0/' "$VGL_CONFIG"
start_vigild "$VGL_CONFIG"
assert_eq "sched_priority 0: CapEff without CAP_SYS_NICE" "$CAPS_NO_NICE" "$(cap_field "$VIGILD_PID" CapEff)"
stop_pid "$VIGILD_PID"

((VGL_FAILS == 0)) || { dump_vigild_log; sed 's/^/  notify: /' "$NLOG" | tail -n 40 >&2; }
finish
