#!/bin/bash
# vigild's HTTP endpoint (docs/operations.md): /metrics, /healthz, /readyz.
# Cases socket and xdp: the same checks with the service on each datapath.
#   1. A service of 2 primaries and a backup, real traffic through the VIP
#      (socket: the cgroup hooks, a watched local port too; xdp: a client
#      host through the XDP load balancer); b1 is killed and ejected. Traffic
#      stopped, /metrics is scraped between two identical reads of vigilctl
#      (the same moment): promtool check metrics passes, and every monitor
#      figure (counters, histogram buckets, counts and exact sums, in-flight,
#      loss, LRU fill) equals 'vigilctl stats --json', the failover state
#      (state and admin sets, share, ejections by rule, serving tier) equals
#      'vigilctl backends/services/events', and (xdp) the packet counters and
#      drops equal 'vigilctl xdp --json'.
#   2. The documented alert rules (deploy/prometheus/vigil-alerts.yaml, shown
#      whole in docs/operations.md) pass promtool check rules, and promtool
#      test rules over the scraped samples fires exactly the alerts this
#      state should: b1 out of service, nothing else.
#   3. /healthz: 200; 503 naming the hook once one of the datapath's links is
#      detached (bpftool link detach: connect4, or the XDP link of xlc), and
#      vigil_daemon_hooks_detached 1; the hooks alert then fires too.
#   socket only:
#   4. /readyz: 200 with the config applied; 503 naming the reason after a
#      refused reload (an unknown key; a metrics.listen change, which needs a
#      restart); 200 again after a good reload; the reload counters follow.
#   5. metrics.enabled false: nothing listens. Bad metrics.listen values are
#      refused by vigild --check with FILE:LINE and the fix.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/lib_failover.sh
source "$(dirname "$0")/../lib_failover.sh"
# shellcheck source=tests/lib_xdp.sh
source "$(dirname "$0")/../lib_xdp.sh"
# shellcheck source=tests/lib_metrics.sh
source "$(dirname "$0")/../lib_metrics.sh"
run_cases socket xdp
[[ $VGL_CASE == socket || $VGL_CASE == xdp ]] || die "unknown case $VGL_CASE"
fo_require_env
metrics_require_env
command -v bpftool >/dev/null || die "bpftool not installed (run make deps)"
# lib.sh's configs have vigild listen on VGL_METRICS_PORT (loopback), never
# the watched local port PORT (scrapes would count there).
URL="http://127.0.0.1:$VGL_METRICS_PORT"
INSTANCE="127.0.0.1:$VGL_METRICS_PORT"
M=$VGL_TMP/metrics

# GET PATH: the status code in CODE, the body in BODY.
http_get() { # PATH
	CODE=$(curl -s -o "$VGL_TMP/body" -w '%{http_code}' --max-time 5 "$URL$1")
	BODY=$(cat "$VGL_TMP/body" 2>/dev/null)
}
scrape() { metrics_scrape "$URL" "$1" || die "scraping $URL/metrics failed"; } # FILE
_readyz_is() { http_get /readyz; [[ "$CODE" == "$1" ]]; }

# vigilctl's view of what the scrape shows (the xdp counters with the xdp
# datapath): one JSON per line, without the heartbeat (it moves).
vigilctl_view() { # OUT_PREFIX
	vctl stats --json | jq -S 'del(.vigild)' >"$1.json" || return 1
	[[ $VGL_CASE == xdp ]] || return 0
	vctl xdp --json | jq -S 'del(.vigild)' >"$1.xdp.json"
}
# Traffic has stopped: scrape between two reads of vigilctl that agree, so
# the scrape saw the same counters.
_same_moment() {
	vigilctl_view "$VGL_TMP/before" || return 1
	scrape "$M"
	vigilctl_view "$VGL_TMP/stats" || return 1
	cmp -s "$VGL_TMP/before.json" "$VGL_TMP/stats.json" &&
		{ [[ $VGL_CASE != xdp ]] || cmp -s "$VGL_TMP/before.xdp.json" "$VGL_TMP/stats.xdp.json"; }
}
# metrics_check.py CMD ARGS...: one assertion (its FAIL lines on failure).
check_with() { # LABEL CMD ARGS...
	local label=$1
	shift
	if python3 "$CHECK" "$@" >"$VGL_TMP/check.out"; then
		log "ok: $label ($(grep -c '^ok' "$VGL_TMP/check.out") values)"
	else
		grep FAIL "$VGL_TMP/check.out" >&2
		warn "FAIL: $label"
		VGL_FAILS=$((VGL_FAILS + 1))
	fi
}

# ---- the world, traffic and a failover ------------------------------------------------
DETECT=(--detect "eject_base_ms: 60000" --calm)
if [[ $VGL_CASE == socket ]]; then
	fo_world 3
	conf() { # [fo_conf options...]
		fo_conf "${DETECT[@]}" --top "watch: {local_ports: [$PORT]}" \
			--service web "$VIP_EP" --backends "${EP[1]}" "${EP[2]}" --backups "${EP[3]}" \
			--set "detection: {consecutive_failures: 3}" "$@"
	}
	conf
	start_vigild "$VGL_CONFIG"
	load() { fo_loadgen -a "$VIP" -p 80 -c 4 -d 1000 -t 1000 -s 1; }
	DETACH=connect4 DETACHED="detached from its cgroup"
else
	xdp_world 3
	fo_conf --xdp "${DETECT[@]}" --service web "$VIP4:80" --backends "${EP[1]}" "${EP[2]}" \
		--backups "${EP[3]}" --set "detection: {consecutive_failures: 3}"
	xdp_start_vigild
	load() { xlg -a "$VIP4" -p 80 -c 4 -d 1000 -t 1000 -s 1; }
	DETACH=xdp-xlc DETACHED="detached from its interface"
fi

http_get /healthz
assert_eq "/healthz at start" 200 "$CODE"
http_get /readyz
assert_eq "/readyz at start" 200 "$CODE"
assert_true "/readyz names the config ($BODY)" grep -qF "$VGL_CONFIG applied" <<<"$BODY"
http_get /nothing
assert_eq "an unknown path" 404 "$CODE"
assert_eq "POST /metrics" 405 "$(curl -s -o /dev/null -w '%{http_code}' -X POST --max-time 5 "$URL/metrics")"
assert_eq "HEAD /metrics" 200 "$(curl -s -I -o /dev/null -w '%{http_code}' --max-time 5 "$URL/metrics")"

load || die "loadgen failed"
assert_lg baseline failed=0 'served_b1>=1' 'served_b2>=1'
fo_kill_server 1
load || die "loadgen after the kill failed"
wait_backend_field web "${EP[1]}" state ejected 5 || VGL_FAILS=$((VGL_FAILS + 1))

# ---- 1. the numbers of one moment ---------------------------------------------------
if ! wait_until 10 _same_moment; then
	diff "$VGL_TMP/before.json" "$VGL_TMP/stats.json" | head -n 20 >&2
	die "the counters did not settle after the traffic stopped"
fi
vctl backends --json >"$VGL_TMP/backends.json"
vctl services --json >"$VGL_TMP/services.json"
vctl events --json >"$VGL_TMP/events.ndjson"
log "scraped $(wc -l <"$M") lines, $(wc -c <"$M") bytes"

assert_true "promtool check metrics" "$PROMTOOL" check metrics <"$M"
"$PROMTOOL" check metrics <"$M" 2>&1 | sed 's/^/  promtool: /'
assert_ge "b1 connects to compare" 1 "$(backend_get "$(cat "$VGL_TMP/stats.json")" "${EP[1]}" .connect_attempts)"
check_with "/metrics == vigilctl stats --json" stats "$M" "$VGL_TMP/stats.json"
check_with "/metrics == vigilctl backends/services/events" state "$M" "$VGL_TMP/backends.json" \
	"$VGL_TMP/services.json" "$VGL_TMP/events.ndjson"
if [[ $VGL_CASE == xdp ]]; then
	check_with "/metrics == vigilctl xdp --json" xdp "$M" "$VGL_TMP/stats.xdp.json"
	assert_ge "packets the XDP program forwarded" 100 "$(sample "$M" 'vigil_xdp_packets_total{kind="forwarded"}')"
else
	assert_ge "local port $PORT accepted connections" 1 "$(sample "$M" "vigil_local_accepted_total{port=\"$PORT\"}")"
	assert_eq "no packet datapath, no packet counters" absent "$(sample "$M" 'vigil_xdp_packets_total{kind="forwarded"}')"
fi
# Directions, not only equality with vigilctl:
assert_eq "b1 ejected" 1 "$(sample "$M" "vigil_backend_state{service=\"web\",backend=\"${EP[1]}\",state=\"ejected\"}")"
assert_eq "b1 takes no new connections" 0 "$(sample "$M" "vigil_backend_new_connection_share{service=\"web\",backend=\"${EP[1]}\"}")"
assert_eq "b2 takes them all" 1 "$(sample "$M" "vigil_backend_new_connection_share{service=\"web\",backend=\"${EP[2]}\"}")"
assert_eq "b1 ejected once" 1 "$(awk -v b="backend=\"${EP[1]}\"" \
	'$1 ~ /^vigil_backend_ejections_total/ && index($1, b) { n += $2 } END { print n + 0 }' "$M")"
assert_eq "web served by its primaries" 1 "$(sample "$M" 'vigil_service_serving_tier{service="web",state="primaries"}')"
assert_eq "no hook detached" 0 "$(sample "$M" vigil_daemon_hooks_detached)"
assert_true "build info" grep -qE '^vigil_build_info\{version="[^"]+",commit="[^"]+"\} 1$' "$M"
assert_ge "the main loop ran (tick lag samples)" 1 "$(sample "$M" vigil_daemon_tick_lag_seconds_count)"

# ---- 2. the documented alerts --------------------------------------------------------
awk '/^<!-- alert rules: deploy\/prometheus\/vigil-alerts.yaml -->$/ { getline; on = 1; next }
	on && /^```$/ { exit } on' "$VGL_ROOT/docs/operations.md" >"$VGL_TMP/doc-rules.yaml"
assert_true "docs/operations.md shows deploy/prometheus/vigil-alerts.yaml as it is" \
	cmp "$RULES" "$VGL_TMP/doc-rules.yaml"
assert_true "promtool check rules" "$PROMTOOL" check rules "$RULES"
OUT_OF_SERVICE="
      - eval_time: 20m
        alertname: VigilBackendOutOfService
        exp_alerts:
          - exp_labels: {severity: warning, service: web, backend: \"${EP[1]}\", state: ejected,
                         job: vigil, instance: \"$INSTANCE\"}
            exp_annotations:
              summary: \"backend ${EP[1]} of web has been ejected for 15 min\""
assert_true "promtool test rules: b1 out of service, no other alert" alerts_for "$M" "$OUT_OF_SERVICE"

# ---- 3. /healthz with a hook detached -------------------------------------------------
bpftool link detach pinned "$VGL_PIN_DIR/links/$DETACH" || die "bpftool link detach $DETACH failed"
http_get /healthz
assert_eq "/healthz with $DETACH detached" 503 "$CODE"
assert_true "/healthz names the hook ($BODY)" grep -q "hook $DETACH .*$DETACHED" <<<"$BODY"
scrape "$M"
assert_eq "hooks detached" 1 "$(sample "$M" vigil_daemon_hooks_detached)"
assert_true "promtool test rules: the hooks alert fires too" alerts_for "$M" "$OUT_OF_SERVICE
      - eval_time: 20m
        alertname: VigilHooksDetached
        exp_alerts:
          - exp_labels: {severity: critical, job: vigil, instance: \"$INSTANCE\"}
            exp_annotations:
              summary: \"1 of vigild's hooks on $INSTANCE are missing or detached\"
              description: \"GET /healthz names them; restarting vigild attaches them again.\""
if [[ $VGL_CASE == xdp ]]; then
	((VGL_FAILS == 0)) || dump_vigild_log
	finish
fi

# ---- 4. /readyz across reloads (socket) -----------------------------------------------
cp "$VGL_CONFIG" "$VGL_TMP/good.yaml"
echo "bogus_section: 1" >>"$VGL_CONFIG"
kill -HUP "$VIGILD_PID"
wait_until 5 _readyz_is 503 || true
assert_eq "/readyz after a refused reload" 503 "$CODE"
assert_true "/readyz says why ($BODY)" grep -q 'refused.*unknown key "bogus_section"' <<<"$BODY"
scrape "$M"
assert_eq "last reload not successful" 0 "$(sample "$M" vigil_daemon_config_last_reload_successful)"
assert_eq "reloads refused" 1 "$(sample "$M" 'vigil_daemon_reloads_total{kind="refused"}')"
http_get /healthz
assert_eq "/healthz after a refused reload (alive; connect4 still detached)" 503 "$CODE"

VGL_METRICS_YAML="metrics: {listen: \"127.0.0.1:$((VGL_METRICS_PORT + 1))\"}" conf --rewrite
kill -HUP "$VIGILD_PID"
wait_until 5 eval '_readyz_is 503 && grep -q "metrics.listen changed" <<<"$BODY"' || true
assert_true "/readyz: a metrics.listen change needs a restart ($BODY)" \
	grep -q "metrics.enabled or metrics.listen changed.*restart" <<<"$BODY"

cp "$VGL_TMP/good.yaml" "$VGL_CONFIG"
kill -HUP "$VIGILD_PID"
wait_until 5 _readyz_is 200 || true
assert_eq "/readyz after a good reload" 200 "$CODE"
# The reload's counters reach the endpoint with the main loop's next
# hand-over (try-locked: a round may wait for the next one under load).
wait_until 5 eval 'scrape "$M" && [[ $(sample "$M" vigil_daemon_config_last_reload_successful) == 1 ]]' || true
assert_eq "last reload successful" 1 "$(sample "$M" vigil_daemon_config_last_reload_successful)"
assert_eq "reloads applied" 1 "$(sample "$M" 'vigil_daemon_reloads_total{kind="applied"}')"
assert_eq "reloads refused" 2 "$(sample "$M" 'vigil_daemon_reloads_total{kind="refused"}')"
fo_stop_vigild
assert_eq "vigild exit status" 0 "$VIGILD_RC"

# ---- 5. metrics off; bad addresses refused (socket) ------------------------------------
VGL_METRICS_YAML="metrics: {enabled: false}" conf
start_vigild "$VGL_CONFIG"
assert_eq "metrics.enabled false: vigild listens on no TCP port" "" \
	"$(ss -Hltnp | grep "pid=$VIGILD_PID,")"
http_get /healthz
assert_eq "metrics.enabled false: nothing answers" 000 "$CODE"
fo_stop_vigild

check_refused() { # LABEL METRICS_YAML LINE REASON
	local f="$VGL_TMP/bad.yaml" out
	printf 'watch:\n  backends: ["10.%s.0.9:80"]\nmetrics:\n%s\n' "$NET" "$2" >"$f"
	out=$("$VIGILD" --check -c "$f" 2>&1)
	assert_eq "$1: vigild --check exit status" 2 "$?"
	assert_true "$1: $out" grep -qF "vigild: $f:$3: $4" <<<"$out"
}
check_refused "no port" '  listen: "127.0.0.1"' 4 'metrics.listen: "127.0.0.1": missing port'
check_refused "host name" '  listen: "localhost:9487"' 4 'metrics.listen: "localhost:9487": not a valid IPv4 address'
check_refused "port 0" '  listen: "127.0.0.1:0"' 4 'metrics.listen: "127.0.0.1:0": port must be 1-65535'
check_refused "multicast" '  listen: "224.0.0.1:9487"' 4 'metrics.listen: "224.0.0.1:9487": a multicast address'
check_refused "not on this host" '  listen: "192.0.2.1:9487"' 4 'metrics.listen: 192.0.2.1:9487: Cannot assign requested address: not an address of this host'
check_refused "not a boolean" '  enabled: maybe' 4 'metrics.enabled: "maybe" is not a boolean'
check_refused "unknown key" '  port: 9487' 4 'metrics: unknown key "port" (known: enabled, listen)'

((VGL_FAILS == 0)) || dump_vigild_log
finish
