#!/bin/bash
# XDP datapath, flow policy of admin states: client host -> LB host (XDP) ->
# 2 primaries, eight single-connection keep-alive clients spread over them.
# D is the primary holding the most kept-alive connections (at least 4).
#
# Drain D: its established flows stay (their clients see no failure, on the
# same connection) and new connections avoid it, including one that reuses
# the 5-tuple of an earlier connection to D (same client port, the earlier
# one closed by RST so the port is free at once: the flow table still maps
# that 5-tuple to D, but a SYN starts a new connection).
# Disable D: its flows are moved on their next packet (VIGIL_XB_RESELECT);
# the other primary, which knows nothing of them, resets them, so their
# clients reconnect there at once. Those resets are the policy at work, not
# a failure of the other primary: it must stay healthy and its own kept-alive
# clients never fail.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
# shellcheck source=tests/lib_xdp.sh
source "$(dirname "$0")/../lib_xdp.sh"
xdp_require_env
command -v python3 >/dev/null || skip "python3 not installed (client with a fixed source port)"

N_KA=8
xdp_world 2
fo_conf --xdp --calm --service web "$VIP4:80" --backends "${EP[1]}" "${EP[2]}"
xdp_start_vigild

# One request from each client port given, in turn, until one is served by
# backend WANT ("-": the first port whatever serves it); prints "PORT NAME"
# (NAME "error:..." on failure). Each connection is closed with a RST
# (SO_LINGER 0): no TIME_WAIT, the port can be used again at once.
request_from() { # WANT PORT...
	ns_exec "$CLI_NS" timeout 20 python3 - "$CLI4" "$VIP4" "$@" <<'EOF'
import socket, struct, sys
cli, vip, want, ports = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
for port in ports:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((cli, int(port)))
    s.settimeout(2)
    try:
        s.connect((vip, 80))
        s.sendall(b"GET\n")
        name = s.recv(100).decode().split()[1]
    except OSError as e:
        name = "error:%s" % e.__class__.__name__
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    if want in ("-", name):
        print(port, name)
        break
EOF
}

# ---- keep-alive clients -----------------------------------------------------------------
xdp_keepalive_clients "$N_KA" -d 10000 -t 2000 -s 5
ON1=$(ka_on "${B4[1]}")
D=1
((ON1 * 2 < N_KA)) && D=2
O=$((3 - D))
ON_D=$(ka_on "${B4[D]}")
log "D = b$D (${EP[D]}) holds $ON_D of $N_KA keep-alive connections; the other is b$O"

# A client port whose connection D serves.
read -r SPORT _ < <(request_from "b$D" $(seq 45000 45039))
[[ -n "$SPORT" ]] || die "no client port in 45000-45039 was served by b$D"
log "client port $SPORT was served by b$D"

# ---- drain ---------------------------------------------------------------------------------
vctl drain web "${EP[D]}" >/dev/null || die "vigilctl drain failed"
wait_backend_field web "${EP[D]}" share 0 5 || VGL_FAILS=$((VGL_FAILS + 1))
log "drained b$D: $(vctl backends 2>&1 | grep -F "${EP[D]}")"
read -r _ AGAIN < <(request_from - "$SPORT")
log "same 5-tuple again after the drain: served by $AGAIN"
assert_eq "new connection on a reused 5-tuple, D drained: served by" "b$O" "$AGAIN"
xlg -a "$VIP4" -p 80 -c 4 -d 1000 -t 1000 -s 1 || die "loadgen during the drain failed"
assert_eq "during the drain: failed" 0 "$(lg_get failed)"
assert_eq "during the drain: new connections served by b$D" 0 "$(lg_get "served_b$D")"
xdp_keepalive_ports_now
KA_PORT_DRAIN=()
for ((k = 1; k <= N_KA; k++)); do KA_PORT_DRAIN[k]=${KA_PORT_NOW[k]}; done

# ---- disable ------------------------------------------------------------------------------
RESEL_BEFORE=$(xdp_counter 4)
DISABLE_NS=$(now_wall_ns)
mark_fault "${KA_PID[@]:1}"
vctl disable web "${EP[D]}" >/dev/null || die "vigilctl disable failed"
log "disabled b$D"
sleep 2
RESEL=$(xdp_counter 4)
log "xdp_drain flows_moved=$((RESEL - RESEL_BEFORE)) (keep-alive connections on b$D: $ON_D)"
assert_ge "flows moved off the disabled backend" "$ON_D" $((RESEL - RESEL_BEFORE))
assert_eq "b$O state (resets of moved flows are no failure)" healthy \
	"$(backend_field web "${EP[O]}" state)"
assert_eq "changes of b$O" "" "$(events_of "${EP[O]}" | jq -c --argjson t "$DISABLE_NS" 'select(.wall_ns > $t)')"

for ((k = 1; k <= N_KA; k++)); do
	fo_loadgen_wait "${KA_PID[k]}" "${KA_LOG[k]}" 20 || die "keep-alive loadgen $k did not finish"
	log "keep-alive client $k (${KA_BACKEND[k]}, port ${KA_PORT[k]}," \
		"during the drain ${KA_PORT_DRAIN[k]:-closed}): $LG_OUT"
	if [[ "${KA_BACKEND[k]}" == "${B4[D]}" ]]; then
		assert_eq "keep-alive client $k on b$D: same connection through the drain" \
			"${KA_PORT[k]}" "${KA_PORT_DRAIN[k]}"
		assert_eq "keep-alive client $k on b$D: no failure before the disable" \
			0 "$(lg_get failed_inflight)"
		assert_le "keep-alive client $k on b$D: failures once moved" 1 "$(lg_get failed_after)"
		assert_ge "keep-alive client $k on b$D: then served by b$O" 1 "$(lg_get "served_b$O")"
	else
		assert_eq "keep-alive client $k on b$O: failed" 0 "$(lg_get failed)"
		assert_eq "keep-alive client $k on b$O: all served by b$O" \
			"$(lg_get requests)" "$(lg_get "served_b$O")"
	fi
done
assert_eq "service serving" primaries "$(service_field web serving)"

fo_show
fo_show_events
((VGL_FAILS == 0)) || dump_vigild_log
finish
