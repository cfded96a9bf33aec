# shellcheck shell=bash
# vigild's /metrics in tests (sourced after tests/lib.sh): a scrape, one
# sample of it, and the documented alert rules run by a real promtool over
# it. Used by test_metrics.sh and test_cluster_faults.sh.
#   metrics_require_env          promtool (PROMTOOL), curl, python3
#   metrics_scrape URL FILE      GET URL/metrics into FILE; 1 on failure
#   sample FILE SERIES           one sample (NAME{LABELS} as written), "absent"
#   alerts_for FILE EXPECTED     promtool test rules over FILE's samples, as
#                                scraped by job vigil from INSTANCE
PROMTOOL=${PROMTOOL:-$(command -v promtool || echo /opt/vigil-deps/prometheus/usr/bin/promtool)}
CHECK="$VGL_ROOT/tests/tools/metrics_check.py"
RULES="$VGL_ROOT/deploy/prometheus/vigil-alerts.yaml"

metrics_require_env() {
	local bin
	[[ -x "$PROMTOOL" ]] || die "promtool not installed (run make deps)"
	for bin in curl python3; do
		command -v "$bin" >/dev/null || die "$bin not installed (run make deps)"
	done
}

metrics_scrape() { curl -sf --max-time 5 -o "$2" "$1/metrics"; } # URL FILE

sample() { # FILE SERIES
	awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print "absent" }' "$1"
}

# promtool test rules over FILE's samples (held constant, as scraped by job
# vigil from INSTANCE) at 20 min, expecting the alerts of EXPECTED_YAML
# (alert_rule_test entries) and none of the other rules.
alerts_for() { # METRICS EXPECTED_YAML
	local t="$VGL_TMP/rules-test.yaml" alert
	{
		printf 'rule_files: [%s]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n' "$RULES"
		python3 "$CHECK" series "$1" "$INSTANCE" | sed 's/^/    /'
		printf '    alert_rule_test:\n%s\n' "$2"
		for alert in $(awk '/- alert:/ { print $3 }' "$RULES"); do
			grep -q "alertname: $alert\$" <<<"$2" ||
				printf '      - {eval_time: 20m, alertname: %s, exp_alerts: []}\n' "$alert"
		done
	} >"$t"
	"$PROMTOOL" test rules "$t"
}
