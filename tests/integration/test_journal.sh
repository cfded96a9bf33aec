#!/bin/bash
# vigild's log lines for machines (docs/operations.md, "Logs"), against a real
# systemd-journald. PID 1 here need not be systemd, so the test runs its own
# journald in a private mount namespace (tmpfs over /run/systemd, /run/log and
# /var/log/journal: nothing of the host's journal is touched) and starts
# vigild with its stderr on the journal's stream, as systemd does
# (systemd-cat, and JOURNAL_STREAM set to that stream's device:inode).
#   1. stderr is the journal: a backend refused 3 times is ejected, and
#      `journalctl VIGIL_BACKEND=ADDR:PORT` finds the ejection, sent natively
#      (_TRANSPORT=journal) with PRIORITY=4 and VIGIL_SERVICE, VIGIL_RULE,
#      VIGIL_STATE; the kernel's failure events carry VIGIL_BACKEND too;
#      `journalctl -p warning` leaves the info lines out; no line went to the
#      stream as well.
#   2. the journal's socket gone (journald unreachable): lines are not lost,
#      they come plain through stderr (_TRANSPORT=stdout), none natively.
#   3. JOURNAL_STREAM inherited but stderr a file: plain, timestamped lines
#      in the file, nothing from that vigild in the journal.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
JOURNALD=${JOURNALD:-/lib/systemd/systemd-journald}
[[ -x "$JOURNALD" ]] || skip "no $JOURNALD (package systemd)"
for bin in journalctl systemd-cat unshare; do
	command -v "$bin" >/dev/null || skip "$bin not installed (package systemd, util-linux)"
done
# Everything below runs in a mount namespace of its own.
if [[ -z "${VGL_JOURNAL_NS:-}" ]]; then
	trap - EXIT
	rm -rf -- "$VGL_TMP"
	VGL_JOURNAL_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
fo_require_env

for dir in /run/systemd /run/log /var/log/journal; do
	[[ -d "$dir" ]] || continue
	mount -t tmpfs -o mode=0755 tmpfs "$dir" || die "mounting a tmpfs on $dir failed"
done
start_bg "$JOURNALD"
JOURNALD_PID=$BG_PID
wait_until 5 test -S /run/systemd/journal/stdout -a -S /run/systemd/journal/socket ||
	die "journald did not open its sockets: $(cat "$BG_LOG")"
jctl() { journalctl --no-pager "$@"; }

alloc_net
fo_cgroup
PORT=$VGL_PORT
EP="127.0.0.1:$PORT" # nothing listens there: every connect is refused
fo_new_config
{
	printf 'daemon: {pin_dir: %s, log_level: info}\n' "$VGL_PIN_DIR"
	metrics_yaml
	printf 'lb: {cgroup: %s}\ndetection: {eject_base_ms: 60000}\nservices:\n' "$FO_CGROUP"
	printf '  - {name: web, vip: "10.96.%s.10:80", backends: ["%s"], ' "$NET" "$EP"
	printf 'detection: {consecutive_failures: 3}}\n'
} >"$VGL_CONFIG"

# Start vigild as systemd would: stderr on the journal's stream, whose
# device:inode JOURNAL_STREAM names. Sets VIGILD_PID.
start_journal_vigild() {
	local ready="$VGL_TMP/vigild.ready"
	# shellcheck disable=SC2016 # expanded by the inner shell
	start_bg systemd-cat -t vigild-test sh -c \
		'JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec "$0" -c "$1" --ready-file "$2"' \
		"$VIGILD" "$VGL_CONFIG" "$ready"
	VIGILD_PID=$BG_PID
	VIGILD_LOG=$BG_LOG
	wait_until 10 _ready_or_dead "$ready" "$VIGILD_PID" && [[ -e "$ready" ]] ||
		die "vigild did not start: $(jctl -t vigild -t vigild-test | tail -n 20)"
	log "vigild started on the journal's stream (pid $VIGILD_PID)"
}

# ---- 1. structured entries --------------------------------------------------------
start_journal_vigild
for _ in 1 2 3 4; do
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && die "something listens on $EP"
done
wait_backend_field web "$EP" state ejected 5 || VGL_FAILS=$((VGL_FAILS + 1))
jctl_ejection() {
	EJ=$(jctl -o json VIGIL_BACKEND="$EP" VIGIL_STATE=ejected | jq -sc '.[0] // empty')
	[[ -n "$EJ" ]]
}
wait_until 5 jctl_ejection || warn "no ejection entry; the journal has:$(jctl -o json | tail -n 5)"
log "journalctl VIGIL_BACKEND=$EP VIGIL_STATE=ejected: $EJ"
field() { jq -r ".$1 // \"absent\"" <<<"$EJ"; }
assert_eq "sent natively" journal "$(field _TRANSPORT)"
assert_eq "PRIORITY (warning)" 4 "$(field PRIORITY)"
assert_eq "SYSLOG_IDENTIFIER" vigild "$(field SYSLOG_IDENTIFIER)"
assert_eq "VIGIL_SERVICE" web "$(field VIGIL_SERVICE)"
assert_true "VIGIL_RULE $(field VIGIL_RULE)" grep -qxE 'fast_path|consecutive_failures' <<<"$(field VIGIL_RULE)"
assert_eq "_PID" "$VIGILD_PID" "$(field _PID)"
assert_true "MESSAGE: the readable line ($(field MESSAGE))" \
	grep -q "^service web backend $EP: healthy -> ejected rule=" <<<"$(field MESSAGE)"
assert_ge "failure events with VIGIL_BACKEND (info)" 3 \
	"$(jctl -o json VIGIL_BACKEND="$EP" PRIORITY=6 | jq -s '[.[] | select(.MESSAGE | startswith("failure kind=refused"))] | length')"
assert_eq "journalctl -p warning: the ejection, no info line" 0 \
	"$(jctl -o json -p warning VIGIL_BACKEND="$EP" | jq -s '[.[] | select(.PRIORITY != "4" and .PRIORITY != "3")] | length')"
assert_eq "no line through the stream as well" 0 \
	"$(jctl -o json _PID="$VIGILD_PID" _TRANSPORT=stdout | jq -s length)"

fo_stop_vigild
assert_eq "vigild exit status" 0 "$VIGILD_RC"

# ---- 2. the journal unreachable: plain lines on stderr -------------------------------
# Without journald's socket (the stream stays), sd_journal_sendv fails from
# the first line on (a socket connected earlier would keep working).
rm -f /run/systemd/journal/socket
start_journal_vigild
_plain_start() {
	jctl -o json _PID="$VIGILD_PID" _TRANSPORT=stdout |
		jq -e -s 'any(.[]; .MESSAGE | startswith("info monitor attached"))' >/dev/null
}
assert_true "journal socket gone: lines come plain through the stream" wait_until 5 _plain_start
assert_eq "... and none natively" 0 "$(jctl -o json _PID="$VIGILD_PID" _TRANSPORT=journal | jq -s length)"
fo_stop_vigild
assert_eq "vigild exit status" 0 "$VIGILD_RC"

# ---- 3. JOURNAL_STREAM inherited, stderr elsewhere: plain lines -----------------------
FILE_LOG="$VGL_TMP/vigild.stderr"
JOURNAL_STREAM=$(stat -L -c %d:%i /run/systemd/journal/stdout) start_bg "$VIGILD" -c "$VGL_CONFIG" \
	--ready-file "$VGL_TMP/plain.ready"
PLAIN_PID=$BG_PID
wait_file "$VGL_TMP/plain.ready" 10 || die "vigild did not start: $(cat "$BG_LOG")"
stop_pid "$PLAIN_PID"
cp "$BG_LOG" "$FILE_LOG"
assert_true "stderr a file: plain timestamped lines" \
	grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]{12} info monitor attached' "$FILE_LOG"
assert_eq "nothing of that vigild in the journal" 0 "$(jctl -o json _PID="$PLAIN_PID" | jq -s length)"
((VGL_FAILS == 0)) || jctl -o short-monotonic | tail -n 30 >&2
stop_pid "$JOURNALD_PID"
finish
