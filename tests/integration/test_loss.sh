#!/bin/bash
# Loss counters and LRU fill levels (vigilctl stats --json .loss / .fill).
#  1. Under normal load nothing is lost: every loss counter is 0 and every
#     fill level is a ratio in [0, 1].
#  2. With vigild's ring-buffer consumer stopped (SIGSTOP), more refused
#     connects than the events ring holds: the events that did not fit are
#     counted in loss.ringbuf_full, while the per-backend counters (a map, not
#     the ring) still see every connect.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
require_env

N_OK=50
# The ring holds VIGIL_EVENT_RING_BYTES / (32-byte event + 8-byte header):
# 6553 events; twice that guarantees a loss whatever the timing.
N_LOST=14000
PORT=$VGL_PORT
CLOSED=$((VGL_PORT + 1))
alloc_net
setup_topology "$NET"
EP="$SRV4:$PORT"
EP_CLOSED="$SRV4:$CLOSED"
write_config --backend "$EP" --backend "$EP_CLOSED" --local-port "$PORT"
start_vigild "$VGL_CONFIG"
start_testsrv "$SRV_NS" "$SRV4" "$PORT"

log "---- normal load: nothing lost"
run_testcli "$CLI_NS" -a "$SRV4" -p "$PORT" -n "$N_OK" -c 10 -r 1
assert_cli "ok testcli" ok="$N_OK"
wait_backend "$EP" .requests "$N_OK"
S=$(vigil_stats) || die "no stats"
for key in $(jq -r '.loss | keys[]' <<<"$S"); do
	assert_eq "loss.$key" 0 "$(json_get "$S" ".loss.$key")"
done
assert_eq "loss has ringbuf_full" true "$(json_get "$S" '.loss | has("ringbuf_full")')"
for m in inflight backend_stats local_stats; do
	assert_eq "fill.$m in [0,1]" true "$(json_get "$S" ".fill.$m | type == \"number\" and . >= 0 and . <= 1")"
done
# Two watched backends of at most VIGIL_MAX_BACKENDS: above 0, far below 1.
assert_eq "fill.backend_stats > 0" true "$(json_get "$S" '.fill.backend_stats > 0')"
T=$("$VIGILCTL" --pin-dir "$VGL_PIN_DIR" stats) || die "vigilctl stats (table) failed"
assert_eq "table: LOSS section" 1 "$(grep -c '^LOSS ' <<<"$T")"
assert_eq "table: ringbuf_full row" 1 "$(grep -c '^ringbuf_full  *0 ' <<<"$T")"
assert_eq "table: LRU MAP section" 1 "$(grep -c '^LRU MAP ' <<<"$T")"

log "---- consumer stopped: ring buffer overflows"
kill -STOP "$VIGILD_PID"
# A failure below must not leave vigild stopped for the cleanup's SIGTERM.
on_cleanup kill -CONT "$VIGILD_PID"
run_testcli "$CLI_NS" -a "$SRV4" -p "$CLOSED" -n "$N_LOST" -c 50 -r 1
kill -CONT "$VIGILD_PID"
assert_cli "refused testcli" refused="$N_LOST"
wait_backend "$EP_CLOSED" .refused "$N_LOST"
S=$(vigil_stats) || die "no stats"
lost=$(json_get "$S" .loss.ringbuf_full)
log "ringbuf_full=$lost after $N_LOST refused connects with the consumer stopped"
assert_ge "loss.ringbuf_full" $((N_LOST - 6553)) "$lost"
assert_le "loss.ringbuf_full" "$N_LOST" "$lost"
assert_eq "loss.inflight_full" 0 "$(json_get "$S" .loss.inflight_full)"
assert_true "vigild alive after SIGCONT" kill -0 "$VIGILD_PID"

((VGL_FAILS == 0)) || { dump_stats "$S"; dump_vigild_log; }
finish
