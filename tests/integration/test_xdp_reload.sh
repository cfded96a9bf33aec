#!/bin/bash
# Config reload (SIGHUP) of the packet load balancer: client host -> LB host
# -> 3 backends, under continuous short-connection load through the VIP.
#   1. web = b1 b2 on the XDP hook.
#   2. HUP: the hook becomes tc and b3 joins: the clsact filters are on both
#      interfaces, the XDP links are gone, b3 serves, same vigild PID.
#   3. HUP: back to the XDP hook, b1 leaves: the tc
#      filters are gone, XDP is attached again, b1 gets no new connection.
#   4. HUP with an interface that does not exist: refused, nothing changes.
#   5. Still the same vigild process (PID and start time); SIGTERM stops it
#      with exit status 0.
# Asserts no request fails across any of the reloads (the old hook runs
# until the new one is attached; a packet rewritten by both is impossible:
# the second sees a backend address, not a VIP).
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
# shellcheck source=tests/lib_xdp.sh
source "$(dirname "$0")/../lib_xdp.sh"
xdp_require_env

xdp_world 3
fo_new_config

write_config() { # HOOK INTERFACES BACKEND...
	local hook=$1 ifs=$2
	shift 2
	XDP_HOOK=$hook XDP_IFS=$ifs fo_conf --rewrite --xdp --calm \
		--service web "$VIP4:80" --backends "$@"
}

tc_filter_on() { tc -n "$LB_NS" filter show dev "$1" ingress | grep -q vigil_tc_lb; }
xdp_on() { ip -n "$LB_NS" -d link show dev "$1" | grep -q "prog/xdp"; }

# Load running across a reload: every request must succeed. Switching the
# hook of a veth (XDP attached or detached) resets its XDP rings and may drop
# a packet in flight; the 3 s timeout lets TCP retransmit it, so what counts
# is a connection that fails, not one that waited for a retransmission.
load_bg() { xlg_bg -a "$VIP4" -p 80 -c 2 -d 2500 -t 3000 -s 1; }
load_check() { # LABEL
	fo_loadgen_wait "$LG_PID" "$LG_LOG" 15 || die "$1: loadgen did not finish"
	log "$1: $LG_OUT"
	assert_eq "$1: failed requests" 0 "$(lg_get failed)"
}

write_config xdp "xlc, xls" "${EP[1]}" "${EP[2]}"
xdp_start_vigild
ID0=$(proc_identity "$VIGILD_PID") || die "vigild not running: $ID0"
log "vigild pid and start time: $ID0"

# Switch the hook under load (HUP): every request succeeds, the new hook's
# program is on both interfaces and the old one's on neither.
on_hook() { # HOOK DEV
	case $1 in
	tc) tc_filter_on "$2" ;;
	xdp) xdp_on "$2" ;;
	esac
}
switch_hook() { # LABEL HOOK BACKEND...
	local label=$1 hook=$2 old=xdp d
	shift 2
	[[ $hook == xdp ]] && old=tc
	load_bg
	sleep 0.5
	write_config "$hook" "xlc, xls" "$@"
	hup_expect "config reloaded"
	load_check "$label"
	for d in xlc xls; do
		assert_true "$label: $hook program on $d" on_hook "$hook" "$d"
		assert_true "$label: no $old program on $d" eval "! on_hook $old $d"
	done
	xlg -a "$VIP4" -p 80 -c 2 -d 1000 -t 1000 -s 1 || die "loadgen after $label failed"
}

# ---- xdp -> tc, b3 joins -------------------------------------------------------------
switch_hook "xdp -> tc" tc "${EP[1]}" "${EP[2]}" "${EP[3]}"
assert_ge "b3 serves after joining" 1 "$(lg_get served_b3)"
assert_eq "vigild still the same running process (pid start-time)" "$ID0" \
	"$(proc_identity "$VIGILD_PID")"

# ---- tc -> xdp, b1 leaves --------------------------------------------------------------
switch_hook "tc -> xdp" xdp "${EP[2]}" "${EP[3]}"
assert_eq "b1 gets no new connection after leaving" 0 "$(lg_get served_b1)"
assert_ge "b2 serves" 1 "$(lg_get served_b2)"

# ---- a missing interface is refused as a whole ----------------------------------------------
write_config tc "xlc, xls, nosuch0" "${EP[2]}" "${EP[3]}"
hup_expect "keeping the running config"
assert_true "refusal names the interface" grep -q "nosuch0" <<<"$HUP_LINE"
assert_true "XDP still on xlc" xdp_on xlc
assert_true "no tc filter after the refused reload" eval "! tc_filter_on xlc"
xlg -a "$VIP4" -p 80 -c 2 -d 1000 -t 1000 -s 1 || die "loadgen after the refused reload failed"
assert_eq "after the refused reload: failed" 0 "$(lg_get failed)"
log "xdp counters: $(xdp_counters_line)"
assert_eq "vigild after all reloads: still the same running process" "$ID0" \
	"$(proc_identity "$VIGILD_PID")"

fo_show
fo_stop_vigild 5 || die "vigild did not stop within 5 s of SIGTERM"
assert_eq "vigild exit status after SIGTERM" 0 "$VIGILD_RC"
((VGL_FAILS == 0)) || dump_vigild_log
finish
