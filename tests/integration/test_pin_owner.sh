#!/bin/bash
# One vigild per pin directory, and what it does with the directory:
#   - a second vigild on the same pin_dir is refused, naming the owner's PID;
#   - 'vigild --unpin' is refused while a vigild owns the directory;
#   - a single map pin (history) or link pin (connect4) removed under a
#     running vigild is pinned again, the same object, and logged by name;
#   - rm -rf of the pin directory: the socket LB keeps serving (vigild holds
#     the cgroup links; checked with vigild stopped by SIGSTOP, so that it
#     cannot restore anything before the traffic has run), and once vigild
#     runs every pin is restored: the same maps and links (pinned again from
#     vigild's fds); logged;
#   - a reload to a config without services detaches the socket LB: the
#     links vigild held go with their pins;
#   - once vigild stopped, --unpin removes vigil's own pins and leaves a
#     foreign one (and so the directory) in place.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
fo_require_env
command -v bpftool >/dev/null || skip "bpftool not installed"

fo_world 2
fo_conf --calm --service web "$VIP_EP" --backends "${EP[1]}" "${EP[2]}"
start_vigild "$VGL_CONFIG"
link_id() { bpftool -j link show pinned "$VGL_PIN_DIR/links/$1" 2>/dev/null | jq -r '.id // "none"'; }
map_id() { bpftool -j map show pinned "$VGL_PIN_DIR/$1" 2>/dev/null | jq -r '.id // "none"'; }

# ---- a second vigild -----------------------------------------------------------------
OUT=$(timeout 10 "$VIGILD" -c "$VGL_CONFIG" 2>&1)
RC=$?
log "second vigild: exit $RC: $OUT"
assert_eq "second vigild exit status" 1 "$RC"
assert_true "second vigild names the owner (pid $VIGILD_PID)" grep -q "another vigild (pid $VIGILD_PID) owns pin directory $VGL_PIN_DIR" <<<"$OUT"

# ---- --unpin while it runs --------------------------------------------------------------
OUT=$(timeout 10 "$VIGILD" -c "$VGL_CONFIG" --unpin 2>&1)
RC=$?
log "--unpin under a running vigild: exit $RC: $OUT"
assert_eq "--unpin exit status while owned" 1 "$RC"
assert_true "--unpin names the owner" grep -q "pid $VIGILD_PID" <<<"$OUT"
assert_true "pins still there" test -e "$VGL_PIN_DIR/backend_stats" -a -e "$VGL_PIN_DIR/links/connect4"

# ---- a single pin removed ------------------------------------------------------------
repinned() { [[ -e "$VGL_PIN_DIR/$1" ]]; }
for pin in history links/connect4; do
	if [[ $pin == links/* ]]; then ID0=$(link_id "${pin#links/}"); else ID0=$(map_id "$pin"); fi
	rm -- "$VGL_PIN_DIR/$pin"
	log "removed $pin under vigild (id $ID0)"
	assert_true "$pin restored within 2 s" wait_until 2 repinned "$pin"
	if [[ $pin == links/* ]]; then ID1=$(link_id "${pin#links/}"); else ID1=$(map_id "$pin"); fi
	assert_eq "$pin: the same object" "$ID0" "$ID1"
	assert_true "vigild logs $pin pinned again" grep -q "pin $VGL_PIN_DIR/$pin was removed while vigild runs: pinned again" "$VIGILD_LOG"
done

# ---- rm -rf: traffic goes on, pins are restored -----------------------------------------
MAP0=$(map_id backend_stats)
LINK0=$(link_id monitor-inet_sock_set_state)
CONNECT0=$(link_id connect4)
kill -STOP "$VIGILD_PID"
rm -rf -- "$VGL_PIN_DIR"
log "removed $VGL_PIN_DIR under a stopped vigild (backend_stats map $MAP0, monitor link $LINK0, connect4 link $CONNECT0)"
fo_loadgen -a "$VIP" -p 80 -c 2 -d 1000 -t 1000 -s 1 || die "loadgen with the pins gone failed"
assert_lg "through the socket LB with the pins gone" failed=0 'served_b1>=1' 'served_b2>=1'
kill -CONT "$VIGILD_PID"
restored() { [[ -e "$VGL_PIN_DIR/backend_stats" && -e "$VGL_PIN_DIR/links/connect4" && -e "$VGL_PIN_DIR/links/monitor-inet_sock_set_state" ]]; }
assert_true "pins restored within 2 s" wait_until 2 restored
assert_eq "the same backend_stats map" "$MAP0" "$(map_id backend_stats)"
assert_eq "the same monitor link" "$LINK0" "$(link_id monitor-inet_sock_set_state)"
assert_eq "the same connect4 link" "$CONNECT0" "$(link_id connect4)"
assert_true "vigild logs the restoration" grep -q "restored .* pinned maps and links" "$VIGILD_LOG"
fo_loadgen -a "$VIP" -p 80 -c 2 -d 1000 -t 1000 -s 1 || die "loadgen after the restoration failed"
assert_lg "through the socket LB after the restoration" failed=0 'served_b1>=1' 'served_b2>=1'
assert_true "vigilctl reads the restored pins" vctl backends

# ---- a reload without services lets go of the cgroup hooks ----------------------------------
CONNECT1=$(link_id connect4)
{ fo_config_head; echo "services: []"; } >"$VGL_CONFIG"
hup_expect "config reloaded"
assert_true "links/connect4 unpinned by the reload" test ! -e "$VGL_PIN_DIR/links/connect4"
sleep 0.5 # a few loop rounds: nothing pins or attaches it again
assert_eq "the connect4 link detached (vigild held it)" 0 \
	"$(bpftool -j link show 2>/dev/null | jq --argjson id "$CONNECT1" '[.[] | select(.id == $id)] | length')"
assert_true "links/connect4 not pinned again" test ! -e "$VGL_PIN_DIR/links/connect4"

# ---- --unpin removes only vigil's pins ---------------------------------------------------------
bpftool map create "$VGL_PIN_DIR/foreign" type hash key 4 value 4 entries 4 name foreign ||
	die "cannot create a foreign pin"
fo_stop_vigild 5 || die "vigild did not stop"
OUT=$("$VIGILD" -c "$VGL_CONFIG" --unpin 2>&1)
RC=$?
log "--unpin: exit $RC: $OUT"
assert_eq "--unpin exit status" 0 "$RC"
assert_true "the foreign pin stays" test -e "$VGL_PIN_DIR/foreign"
assert_eq "what is left in the pin dir" foreign "$(ls "$VGL_PIN_DIR" | tr '\n' ' ' | sed 's/ $//')"
assert_true "--unpin says what it left" grep -q "not a vigil pin" <<<"$OUT"

((VGL_FAILS == 0)) || dump_vigild_log
finish
