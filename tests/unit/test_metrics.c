/* SPDX-License-Identifier: MIT */
/* vigild's metrics endpoint, its pure parts: the metrics: config section,
 * the Prometheus text format (metrics.h), the /healthz and /readyz rules
 * (health.h), the share of new connections. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "config.h"
#include "detector.h"
#include "health.h"
#include "metrics.h"
#include "reload_plan.h"
#include "suites.h"

/* ---- config --------------------------------------------------------------- */

static int load(const char *yaml, struct vigil_config *cfg, char *err, size_t errlen)
{
	return vigil_config_load_string(yaml, "m.yaml", cfg, err, errlen);
}

static void assert_listen(const struct vigil_config *cfg, const char *want)
{
	char ep[VIGIL_ENDPOINT_STRLEN];

	ck_assert_str_eq(vigil_endpoint_format(&cfg->metrics.listen, ep, sizeof(ep)), want);
}

START_TEST(config_defaults)
{
	struct vigil_config cfg;
	char err[512];

	ck_assert_int_eq(load("daemon: {log_level: info}\n", &cfg, err, sizeof(err)), 0);
	ck_assert(cfg.metrics.enabled);
	assert_listen(&cfg, VIGIL_METRICS_DEFAULT_LISTEN);
	ck_assert_uint_eq(cfg.metrics.listen_line, 0);
	vigil_config_free(&cfg);
	ck_assert_int_eq(load("metrics:\n", &cfg, err, sizeof(err)), 0);
	ck_assert(cfg.metrics.enabled);
	assert_listen(&cfg, "127.0.0.1:9487");
	vigil_config_free(&cfg);
}
END_TEST

static const struct {
	const char *yaml;
	bool enabled;
	const char *listen;
	unsigned int line;
} good_metrics[] = {
	{ "metrics: {enabled: false}\n", false, "127.0.0.1:9487", 0 },
	{ "metrics:\n  enabled: no\n  listen: 10.0.0.1:9100\n", false, "10.0.0.1:9100", 3 },
	{ "metrics:\n  listen: \"0.0.0.0:9487\"\n", true, "0.0.0.0:9487", 2 },
	{ "daemon: {}\nmetrics:\n  listen: \"[::]:9487\"\n", true, "[::]:9487", 3 },
	{ "metrics: {listen: \"[fd00::1]:80\", enabled: yes}\n", true, "[fd00::1]:80", 1 },
};

START_TEST(config_good)
{
	struct vigil_config cfg;
	char err[512] = "";

	ck_assert_msg(load(good_metrics[_i].yaml, &cfg, err, sizeof(err)) == 0, "%s", err);
	ck_assert(cfg.metrics.enabled == good_metrics[_i].enabled);
	assert_listen(&cfg, good_metrics[_i].listen);
	ck_assert_uint_eq(cfg.metrics.listen_line, good_metrics[_i].line);
	vigil_config_free(&cfg);
}
END_TEST

static const struct {
	const char *yaml;
	const char *error; /* the whole message after "m.yaml:" */
} bad_metrics[] = {
	{ "metrics:\n  listen: 127.0.0.1\n",
	  "2: metrics.listen: \"127.0.0.1\": missing port: write ADDR:PORT, e.g. 10.0.0.1:80 or "
	  "[fd00::1]:80 (vigild listens there: an address of this host, 0.0.0.0 or [::] for every "
	  "address, default 127.0.0.1:9487)" },
	{ "metrics: {listen: \"localhost:9487\"}\n", "1: metrics.listen: \"localhost:9487\": not a "
	  "valid IPv4 address" },
	{ "metrics:\n  listen: \"127.0.0.1:0\"\n", "2: metrics.listen: \"127.0.0.1:0\": port must be "
	  "1-65535" },
	{ "metrics:\n  listen: \"127.0.0.1:65536\"\n", "2: metrics.listen: \"127.0.0.1:65536\": port "
	  "must be 1-65535" },
	{ "metrics:\n  listen: \"::1:9487\"\n", "2: metrics.listen: \"::1:9487\": IPv6 addresses "
	  "need brackets" },
	{ "metrics:\n  listen: \"239.1.1.1:9487\"\n", "2: metrics.listen: \"239.1.1.1:9487\": a "
	  "multicast address" },
	{ "metrics:\n  listen: \"255.255.255.255:9487\"\n", "2: metrics.listen: "
	  "\"255.255.255.255:9487\": the broadcast address" },
	{ "metrics:\n  listen: [\"127.0.0.1:1\"]\n", "2: metrics.listen: expected ADDR:PORT, got a "
	  "list" },
	{ "metrics:\n  enabled: maybe\n", "2: metrics.enabled: \"maybe\" is not a boolean" },
	{ "metrics:\n  port: 9487\n", "2: metrics: unknown key \"port\" (known: enabled, listen)" },
	{ "metrics: [listen]\n", "1: metrics: expected a mapping, got a list" },
	{ "metrics:\n  listen: \"127.0.0.1:1\"\n  listen: \"127.0.0.1:2\"\n", "3: metrics: duplicate "
	  "key \"listen\" (first at line 2)" },
};

START_TEST(config_bad)
{
	struct vigil_config cfg;
	char err[512] = "", want[600];

	ck_assert_int_eq(load(bad_metrics[_i].yaml, &cfg, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "m.yaml:%s", bad_metrics[_i].error);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "error \"%s\" is not \"%s...\"", err,
		      want);
}
END_TEST

/* A running vigild binds its address once: a change needs a restart; while
 * metrics are off, the address does not matter. */
START_TEST(reload_needs_restart)
{
	static const struct {
		const char *old, *next;
		int restart;
	} cases[] = {
		{ "metrics: {listen: \"127.0.0.1:1\"}\n", "metrics: {listen: \"127.0.0.1:2\"}\n", 1 },
		{ "metrics: {enabled: true}\n", "metrics: {enabled: false}\n", 1 },
		{ "metrics: {enabled: false}\n", "metrics: {}\n", 1 },
		{ "metrics: {}\n", "metrics: {listen: \"127.0.0.1:9487\"}\n", 0 },
		{ "metrics: {enabled: false, listen: \"127.0.0.1:1\"}\n",
		  "metrics: {enabled: false, listen: \"127.0.0.1:2\"}\n", 0 },
	};
	struct vigil_config a, b;
	char err[512], why[512];

	for (int i = 0; i < N(cases); i++) {
		ck_assert_int_eq(load(cases[i].old, &a, err, sizeof(err)), 0);
		ck_assert_int_eq(load(cases[i].next, &b, err, sizeof(err)), 0);
		ck_assert_int_eq(vigil_reload_restart_needed(&a, &b, why, sizeof(why)),
				 cases[i].restart);
		if (cases[i].restart)
			ck_assert_msg(strstr(why, "metrics.enabled or metrics.listen changed"), "%s", why);
		vigil_config_free(&a);
		vigil_config_free(&b);
	}
}
END_TEST

/* ---- the text format ---------------------------------------------------------- */

/* Writes in to a string; the caller frees it. */
static char *format(const struct vigil_metrics_input *in)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(vigil_metrics_write(out, in), 0);
	fclose(out);
	return text;
}

/* The line of text that starts with prefix, or NULL. */
static const char *line_of(const char *text, const char *prefix)
{
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			return p;
	return NULL;
}

static void assert_line(const char *text, const char *line)
{
	const char *p = line_of(text, line);

	ck_assert_msg(p && (p[strlen(line)] == '\n' || !p[strlen(line)]), "no line \"%s\"", line);
}

/* The family a sample belongs to: its name without a histogram suffix when
 * that family is a histogram. */
static void family_of(const char *name, char (*families)[96], const char (*types)[16], int n,
		      char *out, size_t len)
{
	static const char *const suffixes[] = { "_bucket", "_sum", "_count" };

	snprintf(out, len, "%s", name);
	for (int s = 0; s < N(suffixes); s++) {
		size_t nl = strlen(name), sl = strlen(suffixes[s]);

		if (nl <= sl || strcmp(name + nl - sl, suffixes[s]))
			continue;
		for (int f = 0; f < n; f++)
			if (strlen(families[f]) == nl - sl && !strncmp(families[f], name, nl - sl) &&
			    !strcmp(types[f], "histogram"))
				snprintf(out, len, "%s", families[f]);
	}
}

/* The rules promtool holds a scrape to, as far as vigil's output goes: one
 * HELP and TYPE per family before its samples, all samples of a family
 * together, counters named _total, label sets unique. */
static void assert_well_formed(const char *text)
{
	static char families[256][96], types[256][16], seen[4096][256];
	char line[1024], name[96], fam[96], help[96], type[16];
	int n = 0, n_seen = 0, current = -1;
	FILE *in = fmemopen((void *)text, strlen(text), "r");

	while (fgets(line, sizeof(line), in)) {
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "# HELP %95s", help) == 1)
			continue;
		if (sscanf(line, "# TYPE %95s %15s", name, type) == 2) {
			for (int f = 0; f < n; f++)
				ck_assert_msg(strcmp(families[f], name), "family %s declared twice", name);
			ck_assert_str_eq(help, name);
			ck_assert_int_lt(n, N(families));
			snprintf(families[n], sizeof(families[0]), "%s", name);
			snprintf(types[n], sizeof(types[0]), "%s", type);
			current = n++;
			ck_assert_msg(strcmp(type, "counter") || strstr(name, "_total"),
				      "counter %s does not end in _total", name);
			continue;
		}
		sscanf(line, "%95[^{ ]", name);
		family_of(name, families, types, n, fam, sizeof(fam));
		ck_assert_msg(current >= 0 && !strcmp(fam, families[current]),
			      "sample \"%s\" is not in its family's block", line);
		for (int i = 0; i < n_seen; i++)
			ck_assert_msg(strncmp(seen[i], line, strcspn(line, " ")) ||
				      seen[i][strcspn(line, " ")] != ' ', "series twice: %s", line);
		ck_assert_int_lt(n_seen, N(seen));
		snprintf(seen[n_seen++], sizeof(seen[0]), "%.255s", line);
	}
	fclose(in);
}

static struct vigil_backend_row backend_row(const char *ep)
{
	struct vigil_backend_row r;

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(vigil_endpoint_parse(ep, &r.ep), 0);
	return r;
}

/* A scrape of everything: two backends (one IPv6), a local port, loss and
 * fill, the packet datapath, a board of two services, vigild's figures. */
struct fixture {
	struct vigil_backend_row backends[2];
	struct vigil_local_row local;
	struct vigil_snapshot snap;
	__u64 xdp[VIGIL_XDP_COUNTERS], drops[VIGIL_DROP_REASONS];
	struct vigil_metrics_service services[2];
	struct vigil_metrics_backend board_backends[3];
	struct vigil_metrics_board board;
	struct vigil_daemon_figures fig;
	struct vigil_metrics_input in;
};

static void fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->backends[0] = backend_row("10.0.0.2:8080");
	f->backends[0].s.connect_attempts = 10;
	f->backends[0].s.established = 7;
	f->backends[0].s.refused = 2;
	f->backends[0].s.timeouts = 1;
	f->backends[0].s.resets_rcvd = 4;
	f->backends[0].s.resets_sent = 5;
	f->backends[0].s.syn_retrans = 6;
	f->backends[0].s.data_retrans = 8;
	f->backends[0].s.bytes_sent = 1ull << 40;
	f->backends[0].s.connect_lat_us[0] = 1;  /* 1 us: below 2 us */
	f->backends[0].s.connect_lat_us[10] = 5; /* 1-2 ms */
	f->backends[0].s.connect_lat_us[31] = 1; /* over 35 minutes */
	f->backends[0].s.connect_lat_sum_ns = 2147483648123456789ull;
	f->backends[1] = backend_row("[fd00::2]:80");
	f->local.port = 8080;
	f->local.s.accepted = 3;
	f->local.s.response_lat_us[3] = 3;
	f->local.s.response_lat_sum_ns = 30000;
	f->snap = (struct vigil_snapshot){ .backends = f->backends, .n_backends = 2,
					   .locals = &f->local, .n_locals = 1, .inflight = 4,
					   .have_loss = 1 };
	f->snap.loss[VIGIL_LOSS_RINGBUF_FULL] = 9;
	f->snap.fill[VIGIL_FILL_INFLIGHT] = (struct vigil_fill){ 4, 16384 };
	f->xdp[VIGIL_XDP_FORWARDED] = 100;
	f->drops[VIGIL_DROP_NO_BACKEND] = 2;
	snprintf(f->services[0].name, sizeof(f->services[0].name), "web");
	snprintf(f->services[1].name, sizeof(f->services[1].name), "a\"b\\c");
	f->services[1].set_flags = VIGIL_SET_BACKUPS;
	f->board_backends[0] = (struct vigil_metrics_backend){ .service = 0, .share = 0.25 };
	f->board_backends[0].ep = f->backends[0].ep;
	f->board_backends[0].ejections[VIGIL_RULE_FAST_PATH] = 2;
	f->board_backends[0].ejections[VIGIL_RULE_PROBE_FAILED] = 1;
	f->board_backends[1] = (struct vigil_metrics_backend){
		.service = 0, .state = VIGIL_STATE_EJECTED, .admin = VIGIL_ADMIN_DRAINING };
	f->board_backends[1].ep = f->backends[1].ep;
	f->board_backends[2] = (struct vigil_metrics_backend){ .service = 1, .share = 1.0 };
	f->board_backends[2].ep = f->backends[0].ep;
	f->board = (struct vigil_metrics_board){ f->services, 2, f->board_backends, 3 };
	f->fig = (struct vigil_daemon_figures){ .start_wall_ns = 1796520612000000001ull,
						.reloads_refused = 1, .stalls_others = 3,
						.syn_replays = 6 };
	f->fig.cluster = (struct vigil_cluster_figures){
		.enabled = true, .state = VIGIL_CLUSTER_UNREACHABLE, .live_nodes = 3,
		.remote_verdicts = 2, .published = 5, .received = 7, .suppressed = 1, .applied = 4,
		.resyncs = 2 };
	f->fig.tick_lag_us[2] = 4;
	f->fig.tick_lag_sum_ns = 20000;
	f->in = (struct vigil_metrics_input){ .snap = &f->snap, .xdp_counters = f->xdp,
					      .xdp_drops = f->drops, .board = &f->board,
					      .daemon = &f->fig, .hooks_detached = 1,
					      .version = "1.2.3", .commit = "abc" };
}

START_TEST(format_well_formed)
{
	struct fixture f;
	char *text;

	fixture_init(&f);
	text = format(&f.in);
	assert_well_formed(text);
	free(text);
}
END_TEST

START_TEST(format_backend_counters)
{
	struct fixture f;
	char *text;

	fixture_init(&f);
	text = format(&f.in);
	assert_line(text, "vigil_backend_connect_attempts_total{backend=\"10.0.0.2:8080\"} 10");
	assert_line(text, "vigil_backend_connect_attempts_total{backend=\"[fd00::2]:80\"} 0");
	assert_line(text, "vigil_backend_connections_established_total{backend=\"10.0.0.2:8080\"} 7");
	assert_line(text, "vigil_backend_errors_total{backend=\"10.0.0.2:8080\",kind=\"refused\"} 2");
	assert_line(text, "vigil_backend_errors_total{backend=\"10.0.0.2:8080\",kind=\"timeout\"} 1");
	assert_line(text, "vigil_backend_errors_total{backend=\"10.0.0.2:8080\",kind=\"reset\"} 4");
	assert_line(text, "vigil_backend_resets_total{backend=\"10.0.0.2:8080\",kind=\"sent\"} 5");
	assert_line(text, "vigil_backend_retransmits_total{backend=\"10.0.0.2:8080\",kind=\"syn\"} 6");
	assert_line(text, "vigil_backend_retransmits_total{backend=\"10.0.0.2:8080\",kind=\"data\"} 8");
	/* counters are exact integers, never rounded through a double */
	assert_line(text, "vigil_backend_sent_bytes_total{backend=\"10.0.0.2:8080\"} 1099511627776");
	assert_line(text, "vigil_local_accepted_total{port=\"8080\"} 3");
	assert_line(text, "vigil_inflight_sockets 4");
	assert_line(text, "vigil_loss_total{kind=\"ringbuf_full\"} 9");
	assert_line(text, "vigil_map_entries{map=\"inflight\"} 4");
	assert_line(text, "vigil_map_capacity{map=\"inflight\"} 16384");
	/* a map that is not pinned (max_entries 0) has no series */
	ck_assert_ptr_null(line_of(text, "vigil_map_entries{map=\"sock_vip\"}"));
	assert_line(text, "vigil_xdp_packets_total{kind=\"forwarded\"} 100");
	assert_line(text, "vigil_xdp_drops_total{kind=\"no_backend\"} 2");
	free(text);
}
END_TEST

/* log2 buckets of microseconds as cumulative buckets in seconds: bucket i
 * ends at 2^(i+1) us; the last is +Inf; _count is the total and _sum the
 * exact sum of the samples in seconds. */
START_TEST(format_histogram)
{
	static const struct {
		const char *series;
		const char *value;
	} want[] = {
		{ "_bucket{backend=\"10.0.0.2:8080\",le=\"0.000002\"}", "1" },
		{ "_bucket{backend=\"10.0.0.2:8080\",le=\"0.001024\"}", "1" },
		{ "_bucket{backend=\"10.0.0.2:8080\",le=\"0.002048\"}", "6" },
		{ "_bucket{backend=\"10.0.0.2:8080\",le=\"2147.483648\"}", "6" },
		{ "_bucket{backend=\"10.0.0.2:8080\",le=\"+Inf\"}", "7" },
		{ "_count{backend=\"10.0.0.2:8080\"}", "7" },
		{ "_sum{backend=\"10.0.0.2:8080\"}", "2147483648.123456789" },
	};
	struct fixture f;
	char line[160], *text;

	fixture_init(&f);
	text = format(&f.in);
	for (int i = 0; i < N(want); i++) {
		snprintf(line, sizeof(line), "vigil_backend_connect_duration_seconds%s %s",
			 want[i].series, want[i].value);
		assert_line(text, line);
	}
	assert_line(text, "vigil_local_response_duration_seconds_bucket{port=\"8080\",le=\"0.000016\"} 3");
	assert_line(text, "vigil_local_response_duration_seconds_sum{port=\"8080\"} 0.000030000");
	assert_line(text, "vigil_daemon_tick_lag_seconds_bucket{le=\"0.000008\"} 4");
	assert_line(text, "vigil_daemon_tick_lag_seconds_count 4");
	free(text);
}
END_TEST

START_TEST(format_failover_state)
{
	struct fixture f;
	char *text;

	fixture_init(&f);
	text = format(&f.in);
	/* state sets: one series per state, 1 for the current */
	assert_line(text, "vigil_backend_state{service=\"web\",backend=\"10.0.0.2:8080\",state=\"healthy\"} 1");
	assert_line(text, "vigil_backend_state{service=\"web\",backend=\"10.0.0.2:8080\",state=\"ejected\"} 0");
	assert_line(text, "vigil_backend_state{service=\"web\",backend=\"[fd00::2]:80\",state=\"ejected\"} 1");
	assert_line(text, "vigil_backend_state{service=\"web\",backend=\"[fd00::2]:80\",state=\"probing\"} 0");
	assert_line(text, "vigil_backend_admin_state{service=\"web\",backend=\"[fd00::2]:80\",state=\"draining\"} 1");
	assert_line(text, "vigil_backend_admin_state{service=\"web\",backend=\"[fd00::2]:80\",state=\"none\"} 0");
	/* every ejecting rule has a series, 0 included (rate() needs them from the start) */
	assert_line(text, "vigil_backend_ejections_total{service=\"web\",backend=\"10.0.0.2:8080\",rule=\"fast_path\"} 2");
	assert_line(text, "vigil_backend_ejections_total{service=\"web\",backend=\"10.0.0.2:8080\",rule=\"probe_failed\"} 1");
	assert_line(text, "vigil_backend_ejections_total{service=\"web\",backend=\"10.0.0.2:8080\",rule=\"stuck_connect\"} 0");
	ck_assert_ptr_null(line_of(text, "vigil_backend_ejections_total{service=\"web\",backend=\"10.0.0.2:8080\",rule=\"probe_ok\"}"));
	assert_line(text, "vigil_backend_new_connection_share{service=\"web\",backend=\"10.0.0.2:8080\"} 0.25");
	assert_line(text, "vigil_service_serving_tier{service=\"web\",state=\"primaries\"} 1");
	/* label values escaped: " and \ */
	assert_line(text, "vigil_service_serving_tier{service=\"a\\\"b\\\\c\",state=\"backups\"} 1");
	assert_line(text, "vigil_backend_new_connection_share{service=\"a\\\"b\\\\c\",backend=\"10.0.0.2:8080\"} 1");
	free(text);
}
END_TEST

START_TEST(format_daemon)
{
	struct fixture f;
	char *text;

	fixture_init(&f);
	text = format(&f.in);
	assert_line(text, "vigil_build_info{version=\"1.2.3\",commit=\"abc\"} 1");
	assert_line(text, "vigil_daemon_hooks_detached 1");
	assert_line(text, "vigil_daemon_start_time_seconds 1796520612.000000001");
	assert_line(text, "vigil_daemon_last_publish_timestamp_seconds 0.000000000");
	assert_line(text, "vigil_daemon_stalls_total{kind=\"others\"} 3");
	assert_line(text, "vigil_daemon_syn_replays_total 6");
	assert_line(text, "vigil_daemon_reloads_total{kind=\"refused\"} 1");
	assert_line(text, "vigil_daemon_config_last_reload_successful 0");
	free(text);
}
END_TEST

/* Cluster mode: local-only while etcd is unreachable, the counters; no
 * cluster family at all without a cluster: section. */
START_TEST(format_cluster)
{
	struct fixture f;
	char *text;

	fixture_init(&f);
	text = format(&f.in);
	assert_line(text, "vigil_cluster_etcd_reachable 0");
	assert_line(text, "vigil_cluster_local_only 1");
	assert_line(text, "vigil_cluster_live_nodes 3");
	assert_line(text, "vigil_cluster_remote_verdicts 2");
	assert_line(text, "vigil_cluster_verdicts_total{kind=\"published\"} 5");
	assert_line(text, "vigil_cluster_verdicts_total{kind=\"received\"} 7");
	assert_line(text, "vigil_cluster_verdicts_total{kind=\"suppressed\"} 1");
	assert_line(text, "vigil_cluster_remote_verdicts_applied_total 4");
	assert_line(text, "vigil_cluster_watch_resyncs_total 2");
	free(text);
	f.fig.cluster.state = VIGIL_CLUSTER_CONNECTED;
	text = format(&f.in);
	assert_line(text, "vigil_cluster_etcd_reachable 1");
	assert_line(text, "vigil_cluster_local_only 0");
	free(text);
	f.fig.cluster.state = VIGIL_CLUSTER_CONNECTING;
	text = format(&f.in);
	assert_line(text, "vigil_cluster_etcd_reachable 0");
	assert_line(text, "vigil_cluster_local_only 0");
	free(text);
	f.fig.cluster.enabled = false;
	text = format(&f.in);
	ck_assert_ptr_null(strstr(text, "vigil_cluster_"));
	free(text);
}
END_TEST

/* What is not there (no packet datapath, maps unreadable, no board) is left
 * out, and what is left stays well formed. */
START_TEST(format_parts_missing)
{
	struct fixture f;
	char *text;

	fixture_init(&f);
	f.in.snap = NULL;
	f.in.xdp_counters = NULL;
	f.in.xdp_drops = NULL;
	f.in.board = NULL;
	f.in.version = NULL;
	text = format(&f.in);
	assert_well_formed(text);
	ck_assert_ptr_null(strstr(text, "vigil_backend_"));
	ck_assert_ptr_null(strstr(text, "vigil_xdp_"));
	ck_assert_ptr_null(strstr(text, "vigil_inflight_sockets"));
	assert_line(text, "vigil_build_info{version=\"unknown\",commit=\"abc\"} 1");
	free(text);
	f.snap.have_loss = 0;
	f.in.snap = &f.snap;
	text = format(&f.in);
	ck_assert_ptr_null(strstr(text, "vigil_loss_total"));
	free(text);
}
END_TEST

START_TEST(format_write_error)
{
	struct fixture f;
	char small[64];
	FILE *out = fmemopen(small, sizeof(small), "w");

	fixture_init(&f);
	setvbuf(out, NULL, _IONBF, 0);
	ck_assert_int_eq(vigil_metrics_write(out, &f.in), -EIO);
	fclose(out);
}
END_TEST

START_TEST(escape)
{
	char buf[16];

	vigil_metrics_escape(buf, sizeof(buf), "a\"b\\c\nd");
	ck_assert_str_eq(buf, "a\\\"b\\\\c\\nd");
	/* cut at a character, never inside an escape, always terminated */
	vigil_metrics_escape(buf, 5, "ab\"cd");
	ck_assert_str_eq(buf, "ab\\\"");
	vigil_metrics_escape(buf, 4, "ab\"cd");
	ck_assert_str_eq(buf, "ab");
}
END_TEST

/* ---- /healthz, /readyz, share -------------------------------------------------- */

START_TEST(tick_stale)
{
	/* 3 ticks and one second */
	ck_assert(!vigil_tick_stale(1600000000ull, 200));
	ck_assert(vigil_tick_stale(1600000001ull, 200));
	ck_assert(!vigil_tick_stale(1030000000ull, 10));
	ck_assert(vigil_tick_stale(1030000001ull, 10));
}
END_TEST

START_TEST(healthz)
{
	char body[256];

	ck_assert_int_eq(vigil_healthz(false, 100000000ull, 200, NULL, body, sizeof(body)), 200);
	ck_assert_str_eq(body, "ok\n");
	ck_assert_int_eq(vigil_healthz(false, 100000000ull, 200, "", body, sizeof(body)), 200);
	ck_assert_int_eq(vigil_healthz(false, 5000000000ull, 200, NULL, body, sizeof(body)), 503);
	ck_assert_str_eq(body, "vigild's main loop last ran 5.0 s ago (it runs at least every 200 "
			 "ms): stuck; restart vigild\n");
	ck_assert_int_eq(vigil_healthz(false, 0, 200, "hook connect4: detached", body,
				       sizeof(body)), 503);
	ck_assert_str_eq(body, "hook connect4: detached\n");
	/* starting: alive, whatever the loop and hooks say yet */
	ck_assert_int_eq(vigil_healthz(true, 5000000000ull, 200, "x", body, sizeof(body)), 200);
}
END_TEST

START_TEST(readyz)
{
	char body[256];

	ck_assert_int_eq(vigil_readyz(VIGIL_READY_APPLIED, "/etc/v.yaml", NULL, body, sizeof(body)),
			 200);
	ck_assert_str_eq(body, "ok: /etc/v.yaml applied\n");
	ck_assert_int_eq(vigil_readyz(VIGIL_READY_STARTING, "/etc/v.yaml", NULL, body,
				      sizeof(body)), 503);
	ck_assert_int_eq(vigil_readyz(VIGIL_READY_STOPPING, "/etc/v.yaml", NULL, body,
				      sizeof(body)), 503);
	ck_assert_int_eq(vigil_readyz(VIGIL_READY_REFUSED, "/etc/v.yaml", "reload refused: x", body,
				      sizeof(body)), 503);
	ck_assert_str_eq(body, "not applied: reload refused: x\n");
	ck_assert_int_eq(vigil_readyz(VIGIL_READY_REFUSED, "/etc/v.yaml", "", body, sizeof(body)),
			 503);
	ck_assert_msg(strstr(body, "the last reload of /etc/v.yaml was refused"), "%s", body);
}
END_TEST

START_TEST(share)
{
	ck_assert(vigil_share_of(2, true, 8) == 0.25);
	ck_assert(vigil_share_of(2, false, 8) == 0.0);
	ck_assert(vigil_share_of(2, true, 0) == 0.0);
}
END_TEST

Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");

	UNIT_TCASE(s, "config", { config_defaults }, { config_good, N(good_metrics) },
		   { config_bad, N(bad_metrics) }, { reload_needs_restart });
	UNIT_TCASE(s, "format", { format_well_formed }, { format_backend_counters },
		   { format_histogram }, { format_failover_state }, { format_daemon },
		   { format_cluster }, { format_parts_missing }, { format_write_error }, { escape });
	UNIT_TCASE(s, "health", { tick_stale }, { healthz }, { readyz }, { share });
	return s;
}
