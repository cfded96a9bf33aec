# shellcheck shell=bash
# Helpers for the load balancers vigil feeds (HAProxy, nginx), sourced after
# lib.sh and lib_failover.sh by tests/integration/test_lb_*.sh and
# scripts/bench-lb-feed.sh. The load balancer runs in the client namespace
# (CLI_NS) in front of the backends of fo_world/fo_topology, started and
# stopped by PID like every process of a test; its files live in VGL_TMP.
#
#   hp_config [SERVER_OPTIONS] > FILE       haproxy.cfg: listen "web" on LB_PORT
#   hp_start FILE / hp_stop                 HAProxy with its runtime API on HP_SOCK
#   hp_cmd 'show servers state web'         one runtime API exchange
#   hp_server_field SERVER FIELD            a column of `show servers state web`
#   ng_config [SERVER_OPTIONS] > FILE       nginx (stream) proxying LB_PORT to NG_INCLUDE
#   ng_start FILE / ng_stop
#   lb_vigil_config < YAML                  vigild's config for the tests: the
#                                           daemon head, calm detection, then YAML
#   lb_loadgen OPTIONS...                   loadgen through the load balancer
#   lb_feed_field FEED FIELD                a counter of vigilctl stats' feeds

HP_SOCK=""
HP_PID=""
HP_LOG=""
NG_PID=""
NG_PIDFILE=""
NG_INCLUDE=""
LB_PORT=""

lb_require_env() {
	command -v haproxy >/dev/null || die "haproxy not installed (run make deps)"
	command -v nginx >/dev/null || die "nginx not installed (run make deps)"
	command -v python3 >/dev/null || die "python3 not installed (run make deps)"
	LB_PORT=$((VGL_PORT + 1))
	HP_SOCK="$VGL_TMP/haproxy.sock"
	NG_PIDFILE="$VGL_TMP/nginx.pid"
	NG_INCLUDE="$VGL_TMP/web.upstream"
}

# ---- HAProxy ------------------------------------------------------------------------

# haproxy.cfg for the backends EP[1..3] (EP[3] a backup), server names
# b1..b3, every server line with SERVER_OPTIONS (e.g. "check inter 2s");
# DEFAULTS (optional) replaces the timeout connect / retries lines.
hp_config() { # [SERVER_OPTIONS] [DEFAULTS]
	local opts=${1:-} defaults=${2:-$'    timeout connect 5s\n    retries 3'}
	cat <<CONF
global
    maxconn 4096
    stats socket $HP_SOCK mode 600 level admin
defaults
    mode tcp
$defaults
    timeout client 30s
    timeout server 30s
listen web
    bind 127.0.0.1:$LB_PORT
    balance roundrobin
    server b1 ${EP[1]} $opts
    server b2 ${EP[2]} $opts
    server b3 ${EP[3]} $opts backup
CONF
}

_hp_up() { [[ -S "$HP_SOCK" ]] && hp_cmd "show info" | grep -q '^Pid:'; }

# Start HAProxy on FILE in the client namespace (under the command prefix
# HP_PREFIX, e.g. (chrt -r 10)); sets HP_PID, HP_LOG.
hp_start() { # FILE
	ns_exec "$CLI_NS" haproxy -c -q -f "$1" || die "haproxy rejects $1"
	start_bg ip netns exec "$CLI_NS" "${HP_PREFIX[@]}" haproxy -db -f "$1"
	HP_PID=$BG_PID HP_LOG=$BG_LOG
	wait_until 5 _hp_up || die "haproxy did not start: $(cat "$HP_LOG")"
}

hp_stop() {
	[[ -n "$HP_PID" ]] && stop_pid "$HP_PID"
	HP_PID=""
	rm -f -- "$HP_SOCK"
}
HP_PREFIX=()

# One exchange with the runtime API: the command line, its whole answer.
hp_cmd() { # COMMAND
	python3 - "$HP_SOCK" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(3)
s.connect(sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode())
out = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    out += d
sys.stdout.write(out.decode())
PY
}

# A column of `show servers state web` for SERVER (b1..b3): srv_op_state
# (0 down, 2 up), srv_admin_state (0 ready, 1 maint, 8 drain), ...
hp_server_field() { # SERVER FIELD
	hp_cmd "show servers state web" | awk -v s="$1" -v f="$2" '
		/^# / { for (i = 2; i <= NF; i++) col[$i] = i - 1; next }
		$4 == s && (f in col) { print $(col[f]); exit }'
}

_hp_field_is() { WAIT_LAST=$(hp_server_field "$1" "$2"); [[ "$WAIT_LAST" == "$3" ]]; }
# Poll until HAProxy reports FIELD == VALUE for SERVER; 1 on timeout.
wait_hp_field() { # SERVER FIELD VALUE TIMEOUT_S
	wait_until "$4" _hp_field_is "$1" "$2" "$3" ||
		{ warn "waited $4 s for HAProxy's $1 $2 == $3; last: $WAIT_LAST"; return 1; }
}

# ---- nginx --------------------------------------------------------------------------

# nginx (stream module, one worker) proxying 127.0.0.1:LB_PORT to the
# upstream whose server lines are NG_INCLUDE (written by vigild, or by
# ng_static_include). PROXY_OPTIONS: extra lines of the server block.
ng_config() { # [PROXY_OPTIONS]
	cat <<CONF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
pid $NG_PIDFILE;
error_log $VGL_TMP/nginx-error.log notice;
events { worker_connections 1024; }
stream {
    upstream web {
        include $NG_INCLUDE;
    }
    server {
        listen 127.0.0.1:$LB_PORT;
        proxy_pass web;
        proxy_connect_timeout 5s;
        ${1:-}
    }
}
CONF
}

# The include nginx alone would have: EP[1..3] (EP[3] backup), SERVER_OPTIONS each.
ng_static_include() { # [SERVER_OPTIONS]
	printf 'server %s %s;\nserver %s %s;\nserver %s backup %s;\n' "${EP[1]}" "${1:-}" \
		"${EP[2]}" "${1:-}" "${EP[3]}" "${1:-}" >"$NG_INCLUDE"
}

_ng_up() { [[ -s "$NG_PIDFILE" ]] && ns_exec "$CLI_NS" bash -c "exec 3<>/dev/tcp/127.0.0.1/$LB_PORT" 2>/dev/null; }

ng_start() { # FILE
	ns_exec "$CLI_NS" nginx -t -q -e "$VGL_TMP/nginx-error.log" -c "$1" || die "nginx rejects $1"
	start_bg ip netns exec "$CLI_NS" nginx -g 'daemon off;' -e "$VGL_TMP/nginx-error.log" -c "$1"
	NG_PID=$BG_PID
	wait_until 5 _ng_up || die "nginx did not start: $(cat "$BG_LOG" "$VGL_TMP/nginx-error.log")"
}

ng_stop() {
	[[ -n "$NG_PID" ]] && stop_pid "$NG_PID"
	NG_PID=""
	rm -f -- "$NG_PIDFILE"
}

# nginx's worker processes (children of the master), space-separated.
ng_workers() { cat "/proc/$NG_PID/task/$NG_PID/children" 2>/dev/null; }

# ---- vigild and load for the tests -----------------------------------------------------

# VGL_CONFIG: fo_config_head, the detection settings the tests share (the
# latency rules out of this VM's stalls; an ejection long enough for the
# checks made while a backend is out, eject_base_ms 8 s), then stdin.
lb_vigil_config() {
	fo_new_config
	{
		fo_config_head
		printf 'detection:\n  slow_floor_ms: 1000\n  stuck_request_floor_ms: 2000\n'
		printf '  eject_base_ms: 8000\n'
		cat
	} >"$VGL_CONFIG"
}

# loadgen from the client namespace through the load balancer (LB_WORKERS
# clients, 2 s timeout, 2 ms pause), in the foreground; LG_OUT its line.
LB_WORKERS=8
lb_loadgen_args() { LG=(-a 127.0.0.1 -p "$LB_PORT" -c "$LB_WORKERS" -t 2000 -s 2); }
lb_loadgen() { # loadgen options...
	lb_loadgen_args
	loadgen_fg fo_loadgen_bg "${LG[@]}" "$@"
}

lb_feed_field() { vigil_stats | jq -r ".feeds.$1.$2"; } # FEED FIELD

sleep_until_after_fault() { # S: until S seconds after the fault (FAULT_NS)
	local left=$(($1 * 1000000 - ($(now_wall_ns) - FAULT_NS) / 1000))
	((left > 0)) && sleep "$(printf '%d.%06d' $((left / 1000000)) $((left % 1000000)))"
	return 0
}
