#!/bin/bash
# SOCK_DESTROY of every connection to a backend across namespaces
# (user/vigild/sockdestroy.c through build/tools/vigil_sockdestroy, run from the root
# namespace), then active probes from inside a namespace (user/vigild/probe.c through
# build/tools/vigil_probe): success, refused, blackholed, HTTP.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

SOCKDESTROY=$BUILD/tools/vigil_sockdestroy
PROBE=$BUILD/tools/vigil_probe

[[ $(id -u) -eq 0 ]] || skip "needs root"
for bin in "$TESTSRV" "$TESTCLI" "$SOCKDESTROY" "$PROBE"; do
	[[ -x "$bin" ]] || die "$bin not built (run make tools)"
done
for bin in ip ss timeout; do
	command -v "$bin" >/dev/null || die "$bin not installed (run make deps)"
done
ip netns list >/dev/null 2>&1 || skip "no network namespace support"
[[ -e /proc/net/if_inet6 ]] || skip "kernel without IPv6"
# Each probe check needs its tool: without one the whole test is skipped,
# never a part of it quietly (scripts/deps.sh installs both).
command -v nft >/dev/null || skip "nft not installed (black-holed probe)"
python3 -c 'import http.server' 2>/dev/null || skip "python3 with http.server not installed (HTTP probe)"

PORT=$VGL_PORT          # the backend whose connections get destroyed
OTHER_PORT=$((PORT + 1)) # same server address, another port: must survive
CLOSED_PORT=$((PORT + 2))
BLACKHOLE_PORT=$((PORT + 3))
HTTP_PORT=$((PORT + 4))

alloc_net
setup_topology "$NET"
CLI_NSFILE=/var/run/netns/$CLI_NS

# TCP sockets in NS whose peer column is exactly PEER, LISTEN and TIME-WAIT
# aside (or only those in STATE, as ss prints it, e.g. ESTAB).
count_peer() { # NS PEER [STATE]
	ns_exec "$1" ss -Htan | awk -v peer="$2" -v state="${3:-}" \
		'$1 != "LISTEN" && $1 != "TIME-WAIT" && $5 == peer && (state == "" || $1 == state)' |
		wc -l
}
# shellcheck disable=SC2317 # called through wait_until
established_is() { # N NS PEER
	[[ $(count_peer "$2" "$3" ESTAB) -eq $1 ]]
}

# Start a bash in NS that connects to /dev/tcp/HOST/PORT and blocks reading;
# it prints read_rc=N when the read ends (1: error such as ECONNABORTED).
start_holder() { # NS HOST PORT
	# shellcheck disable=SC2016 # expanded by the inner bash
	start_bg ip netns exec "$1" bash -c \
		'exec 3<>"/dev/tcp/$0/$1" || exit 3; read -r -t 60 line <&3; echo "read_rc=$?"' "$2" "$3"
}

# ---- sockdestroy -------------------------------------------------------------------

# A 100 ms reply delay keeps testcli's 1000 requests per connection busy for
# ~100 s, i.e. its connections stay open until they are destroyed.
start_testsrv "$SRV_NS" :: "$PORT" -d 100
start_testsrv "$SRV_NS" "$SRV4" "$OTHER_PORT"

start_bg ip netns exec "$CLI_NS" "$TESTCLI" -a "$SRV4" -p "$PORT" -n 3 -c 3 -r 1000
CLI_PID=$BG_PID CLI_LOG=$BG_LOG
start_holder "$CLI_NS" "::ffff:$SRV4" "$PORT" # AF_INET6 socket, v4-mapped peer
MAPPED_PID=$BG_PID MAPPED_LOG=$BG_LOG
start_holder "$CLI_NS" "$SRV6" "$PORT"        # another address: must survive
V6_PID=$BG_PID V6_LOG=$BG_LOG
start_holder "$CLI_NS" "$SRV4" "$OTHER_PORT"  # another port: must survive

V4_PEER="$SRV4:$PORT" MAPPED_PEER="[::ffff:$SRV4]:$PORT" V6_PEER="[$SRV6]:$PORT"
if ! { wait_until 5 established_is 3 "$CLI_NS" "$V4_PEER" &&
	wait_until 5 established_is 1 "$CLI_NS" "$MAPPED_PEER" &&
	wait_until 5 established_is 1 "$CLI_NS" "$V6_PEER" &&
	wait_until 5 established_is 1 "$CLI_NS" "$SRV4:$OTHER_PORT"; }; then
	ns_exec "$CLI_NS" ss -tan >&2
	die "client connections did not come up"
fi
log "client namespace before destroy:"
ns_exec "$CLI_NS" ss -tn | sed 's/^/  /'

OUT=$("$SOCKDESTROY" "$SRV4:$PORT" 2>"$VGL_TMP/sd.err")
RC=$?
if grep -q CONFIG_INET_DIAG_DESTROY "$VGL_TMP/sd.err"; then
	cat "$VGL_TMP/sd.err" >&2
	skip "kernel without CONFIG_INET_DIAG_DESTROY"
fi
log "vigil_sockdestroy $SRV4:$PORT: $OUT (exit $RC)"
[[ -s "$VGL_TMP/sd.err" ]] && sed 's/^/  /' "$VGL_TMP/sd.err" >&2
assert_eq "sockdestroy exit" 0 "$RC"
assert_eq "destroyed (3 AF_INET + 1 v4-mapped AF_INET6)" "destroyed=4" "$OUT"
assert_eq "AF_INET sockets left to $V4_PEER" 0 "$(count_peer "$CLI_NS" "$V4_PEER")"
assert_eq "v4-mapped sockets left to $MAPPED_PEER" 0 "$(count_peer "$CLI_NS" "$MAPPED_PEER")"
assert_eq "sockets to $V6_PEER (other address) kept" 1 "$(count_peer "$CLI_NS" "$V6_PEER")"
assert_eq "sockets to $SRV4:$OTHER_PORT (other port) kept" 1 \
	"$(count_peer "$CLI_NS" "$SRV4:$OTHER_PORT")"

# The applications see the abort at once: testcli finishes its 3 connections
# without success, the v4-mapped holder's read fails.
assert_true "testcli exited after the destroy" wait_until 5 eval "! kill -0 $CLI_PID 2>/dev/null"
CLI_SUMMARY=$(grep '^ok=' "$CLI_LOG")
log "testcli: $CLI_SUMMARY"
assert_eq "testcli ok" 0 "$(cli_get ok "$CLI_SUMMARY")"
assert_eq "testcli reset+other" 3 \
	"$(($(cli_get reset "$CLI_SUMMARY") + $(cli_get other "$CLI_SUMMARY")))"
assert_true "v4-mapped holder exited" wait_until 5 eval "! kill -0 $MAPPED_PID 2>/dev/null"
assert_true "v4-mapped holder read failed" grep -q "^read_rc=1$" "$MAPPED_LOG"
assert_true "v4-mapped holder saw ECONNABORTED" grep -q "connection abort" "$MAPPED_LOG"
# The destroy sent RSTs: only the IPv6 holder's connection is left at the server.
# shellcheck disable=SC2317 # called through wait_until
srv_conns_are() { # N
	[[ $(ns_exec "$SRV_NS" ss -Htn state established "( sport = :$PORT )" | wc -l) -eq $1 ]]
}
assert_true "server side of the destroyed connections closed" wait_until 5 srv_conns_are 1

assert_eq "second run finds nothing" "destroyed=0" "$("$SOCKDESTROY" "$SRV4:$PORT")"
assert_eq "IPv6 destroy" "destroyed=1" "$("$SOCKDESTROY" "[$SRV6]:$PORT")"
assert_eq "sockets left to $V6_PEER" 0 "$(count_peer "$CLI_NS" "$V6_PEER")"
assert_true "IPv6 holder exited" wait_until 5 eval "! kill -0 $V6_PID 2>/dev/null"
assert_true "IPv6 holder saw ECONNABORTED" grep -q "connection abort" "$V6_LOG"
assert_eq "other-port connection still kept" 1 "$(count_peer "$CLI_NS" "$SRV4:$OTHER_PORT")"

# ---- probes ----------------------------------------------------------------------

# Run vigil_probe (bounded by timeout); sets P_OUT and P_RC.
probe() { # vigil_probe args...
	P_OUT=$(timeout -k 2 10 "$PROBE" "$@" 2>"$VGL_TMP/probe.err")
	P_RC=$?
	log "vigil_probe $*: $P_OUT (exit $P_RC)"
	[[ -s "$VGL_TMP/probe.err" ]] && sed 's/^/  /' "$VGL_TMP/probe.err" >&2
	return 0
}

probe --netns "$CLI_NSFILE" "$SRV4:$PORT"
assert_eq "tcp probe exit" 0 "$P_RC"
assert_eq "tcp probe ok" 1 "$(cli_get ok "$P_OUT")"
probe --netns "$CLI_NSFILE" "[$SRV6]:$PORT"
assert_eq "tcp probe over IPv6 ok" 1 "$(cli_get ok "$P_OUT")"

probe --netns "$CLI_NSFILE" "$SRV4:$CLOSED_PORT"
assert_eq "closed port exit" 1 "$P_RC"
assert_eq "closed port error" ECONNREFUSED "$(cli_get error "$P_OUT")"

ns_exec "$SRV_NS" nft -f - <<EOF || die "nft cannot add a table in $SRV_NS (black-holed probe)"
table inet vgl_bh {
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport $BLACKHOLE_PORT drop
	}
}
EOF
START=$(_now_us)
probe --netns "$CLI_NSFILE" --timeout 300 "$SRV4:$BLACKHOLE_PORT"
ELAPSED_MS=$((($(_now_us) - START) / 1000))
assert_eq "blackhole exit" 1 "$P_RC"
assert_eq "blackhole error" ETIMEDOUT "$(cli_get error "$P_OUT")"
assert_ge "blackhole probe ms" 300 "$ELAPSED_MS"
assert_le "blackhole probe ms" 1000 "$ELAPSED_MS"

# testsrv answers "OK\n": not HTTP.
probe --netns "$CLI_NSFILE" --http /health "$SRV4:$PORT"
assert_eq "http probe on non-HTTP server exit" 1 "$P_RC"
assert_eq "http probe on non-HTTP server error" EPROTO "$(cli_get error "$P_OUT")"

mkdir -p "$VGL_TMP/www" && echo ok >"$VGL_TMP/www/health"
start_bg ip netns exec "$SRV_NS" python3 -m http.server -b "$SRV4" -d "$VGL_TMP/www" "$HTTP_PORT"
wait_until 10 eval "[[ \$(ns_exec $SRV_NS ss -Htln '( sport = :$HTTP_PORT )' | wc -l) -eq 1 ]]" ||
	die "python3 http.server did not start"
probe --netns "$CLI_NSFILE" --http /health "$SRV4:$HTTP_PORT"
assert_eq "http probe exit" 0 "$P_RC"
assert_eq "http probe status" 200 "$(cli_get status "$P_OUT")"
probe --netns "$CLI_NSFILE" --http /missing "$SRV4:$HTTP_PORT"
assert_eq "http 404 exit" 1 "$P_RC"
assert_eq "http 404 status" 404 "$(cli_get status "$P_OUT")"

# Probes close with RST: nothing lingers in TIME-WAIT on the prober's side.
TW=$(ns_exec "$CLI_NS" ss -Htn state time-wait)
assert_eq "TIME-WAIT sockets in $CLI_NS" 0 "$(grep -c . <<<"$TW")" || warn "$TW"

# Bad input is reported, not probed.
probe --netns /var/run/netns/"$VGL_ID"-no-such-ns "$SRV4:$PORT"
assert_eq "missing netns exit" 2 "$P_RC"
assert_true "missing netns message" grep -q "No such file" "$VGL_TMP/probe.err"
probe --netns "$CLI_NSFILE" --http no-slash "$SRV4:$PORT"
assert_eq "bad http path exit" 2 "$P_RC"

finish
