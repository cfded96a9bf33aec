/* SPDX-License-Identifier: MIT */
#include "stats_fmt.h"

#include <errno.h>
#include <jansson.h>

#include "addr.h"
#include "counter_names.h"
#include "heartbeat.h"
#include "hist.h"

static const double percentiles[] = { 50.0, 90.0, 99.0 };

static double fill_ratio(const struct vigil_fill *f)
{
	return f->max_entries ? (double)f->entries / (double)f->max_entries : 0.0;
}

static void format_latency(char *buf, size_t len, const __u64 *hist)
{
	double ms[3];

	if (vigil_hist_count(hist, VIGIL_HIST_BUCKETS) == 0) {
		snprintf(buf, len, "-");
		return;
	}
	for (int i = 0; i < 3; i++)
		ms[i] = vigil_hist_percentile(hist, VIGIL_HIST_BUCKETS, percentiles[i]) / 1000.0;
	snprintf(buf, len, "%.3g/%.3g/%.3g", ms[0], ms[1], ms[2]);
}

static void print_backend_table(FILE *out, const struct vigil_snapshot *snap)
{
	char ep[VIGIL_ENDPOINT_STRLEN], conn[48], req[48];

	fprintf(out, "%-28s %8s %8s %7s %7s %6s %6s %6s %-20s %-20s %s\n", "BACKEND", "CONNS",
		"ESTAB", "REFUSED", "TIMEOUT", "RST_IN", "RST_OUT", "ERR%",
		"CONNECT_MS p50/90/99", "REQUEST_MS p50/90/99", "RETRANS syn/data");
	for (size_t i = 0; i < snap->n_backends; i++) {
		const struct vigil_backend_stats *s = &snap->backends[i].s;

		format_latency(conn, sizeof(conn), s->connect_lat_us);
		format_latency(req, sizeof(req), s->request_lat_us);
		fprintf(out, "%-28s %8llu %8llu %7llu %7llu %6llu %6llu %5.1f%% %-20s %-20s %llu/%llu\n",
			vigil_endpoint_format(&snap->backends[i].ep, ep, sizeof(ep)),
			(unsigned long long)s->connect_attempts, (unsigned long long)s->established,
			(unsigned long long)s->refused, (unsigned long long)s->timeouts,
			(unsigned long long)s->resets_rcvd, (unsigned long long)s->resets_sent,
			100.0 * vigil_backend_error_ratio(s), conn, req,
			(unsigned long long)s->syn_retrans, (unsigned long long)s->data_retrans);
	}
}

static void print_local_table(FILE *out, const struct vigil_snapshot *snap)
{
	char resp[48];

	fprintf(out, "\n%-10s %9s %9s %8s %8s %-22s\n", "LOCAL_PORT", "ACCEPTED", "RESPONSES",
		"RST_OUT", "RST_IN", "RESPONSE_MS p50/90/99");
	for (size_t i = 0; i < snap->n_locals; i++) {
		const struct vigil_local_stats *s = &snap->locals[i].s;

		format_latency(resp, sizeof(resp), s->response_lat_us);
		fprintf(out, "%-10u %9llu %9llu %8llu %8llu %-22s\n", snap->locals[i].port,
			(unsigned long long)s->accepted, (unsigned long long)s->responses,
			(unsigned long long)s->resets_sent, (unsigned long long)s->resets_rcvd, resp);
	}
}

/* One COUNT/MEANING section: a counter per name. */
static void print_counters(FILE *out, const char *title, const struct vigil_counter_name *names,
			   const __u64 *values, int n)
{
	fprintf(out, "\n%-20s %12s  %s\n", title, "COUNT", "MEANING");
	for (int i = 0; i < n; i++)
		fprintf(out, "%-20s %12llu  %s\n", names[i].name, (unsigned long long)values[i],
			names[i].meaning);
}

static void print_loss_table(FILE *out, const struct vigil_snapshot *snap)
{
	if (!snap->have_loss) {
		fprintf(out, "\nLOSS: no '%s' map pinned (vigild older than this vigilctl): "
			"losses are not counted\n", VIGIL_PIN_LOSS);
		return;
	}
	print_counters(out, "LOSS", vigil_loss_names, snap->loss, VIGIL_LOSS_REASONS);
}

/* Maps not pinned are left out. */
static void print_fill_table(FILE *out, const struct vigil_snapshot *snap)
{
	fprintf(out, "\n%-20s %10s %10s %7s\n", "LRU MAP", "ENTRIES", "MAX", "FILL");
	for (int i = 0; i < VIGIL_FILL_MAPS; i++) {
		const struct vigil_fill *f = &snap->fill[i];

		if (f->max_entries)
			fprintf(out, "%-20s %10zu %10zu %6.1f%%\n", vigil_fill_names[i], f->entries,
				f->max_entries, 100.0 * fill_ratio(f));
	}
	fprintf(out, "(an LRU map at 100%% evicts its least recently used entry on every "
		"insert, silently)\n");
}

static const char *const feed_names[VIGIL_FEEDS] = {
	[VIGIL_FEED_HAPROXY] = "haproxy", [VIGIL_FEED_NGINX] = "nginx",
};

/* Only the feeds configured: most setups have none, and print nothing. */
static void print_feed_table(FILE *out, const struct vigil_snapshot *snap)
{
	bool header = false;

	for (int i = 0; snap->have_feeds && i < VIGIL_FEEDS; i++) {
		const struct vigil_feed_stats *f = &snap->feeds[i];

		if (!f->configured)
			continue;
		if (!header)
			fprintf(out, "\n%-8s %5s %8s %6s %7s %9s %7s %9s %7s %7s %16s %16s\n",
				"LB FEED", "REACH", "PUSHES", "ERRORS", "UNREACH", "REAPPLIED",
				"RESYNCS", "COALESCED", "PENDING", "SERVERS", "SENT p50/p99 us",
				"ACKED p50/p99 us");
		header = true;
		fprintf(out, "%-8s %5s %8llu %6llu %7llu %9llu %7llu %9llu %7u %7u %7.0f/%-8.0f "
			"%7.0f/%-8.0f\n", feed_names[i], f->reachable ? "yes" : "no",
			(unsigned long long)f->pushes, (unsigned long long)f->push_errors,
			(unsigned long long)f->unreachable, (unsigned long long)f->reapplied,
			(unsigned long long)f->resyncs, (unsigned long long)f->coalesced, f->pending,
			f->servers, vigil_hist_percentile(f->sent_us, VIGIL_HIST_BUCKETS, 50),
			vigil_hist_percentile(f->sent_us, VIGIL_HIST_BUCKETS, 99),
			vigil_hist_percentile(f->acked_us, VIGIL_HIST_BUCKETS, 50),
			vigil_hist_percentile(f->acked_us, VIGIL_HIST_BUCKETS, 99));
	}
	if (header)
		fprintf(out, "(load-balancer feeds: totals since vigild started; SENT: decision to "
			"command written or reload signalled, ACKED: to HAProxy's answer)\n");
}

void vigil_stats_print_table(FILE *out, const struct vigil_snapshot *snap, unsigned interval_s)
{
	if (interval_s)
		fprintf(out, "--- last %us ---\n", interval_s);
	print_backend_table(out, snap);
	if (snap->n_locals)
		print_local_table(out, snap);
	fprintf(out, "\nin-flight sockets: %zu   (latency from log2 buckets: each figure is "
		"within a factor of 2 of the true value)\n", snap->inflight);
	if (snap->have_rescue) /* once the rescue ever ran */
		print_counters(out, "SOCKET RESCUE", vigil_rescue_names, snap->rescue,
			       VIGIL_RESCUE_COUNTERS);
	print_loss_table(out, snap);
	print_fill_table(out, snap);
	print_feed_table(out, snap);
	fflush(out);
}

/* sum_ns < 0: no sum kept (the feeds' delays), none printed. */
static json_t *latency_json(const __u64 *hist, long long sum_ns)
{
	json_t *buckets = json_array();
	json_t *obj = json_pack("{s:I}", "count",
				(json_int_t)vigil_hist_count(hist, VIGIL_HIST_BUCKETS));

	for (int i = 0; i < VIGIL_HIST_BUCKETS; i++)
		json_array_append_new(buckets, json_integer((json_int_t)hist[i]));
	json_object_set_new(obj, "p50", json_real(vigil_hist_percentile(hist, VIGIL_HIST_BUCKETS, 50)));
	json_object_set_new(obj, "p90", json_real(vigil_hist_percentile(hist, VIGIL_HIST_BUCKETS, 90)));
	json_object_set_new(obj, "p99", json_real(vigil_hist_percentile(hist, VIGIL_HIST_BUCKETS, 99)));
	if (sum_ns >= 0)
		json_object_set_new(obj, "sum_ns", json_integer((json_int_t)sum_ns));
	json_object_set_new(obj, "buckets", buckets);
	return obj;
}

static json_t *backend_json(const struct vigil_backend_row *row)
{
	const struct vigil_backend_stats *s = &row->s;
	char ep[VIGIL_ENDPOINT_STRLEN];

	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f,"
			 " s:o, s:o}",
			 "endpoint", vigil_endpoint_format(&row->ep, ep, sizeof(ep)),
			 "connect_attempts", (json_int_t)s->connect_attempts,
			 "established", (json_int_t)s->established,
			 "refused", (json_int_t)s->refused, "timeouts", (json_int_t)s->timeouts,
			 "syn_retrans", (json_int_t)s->syn_retrans,
			 "resets_rcvd", (json_int_t)s->resets_rcvd,
			 "resets_sent", (json_int_t)s->resets_sent,
			 "data_retrans", (json_int_t)s->data_retrans,
			 "bytes_sent", (json_int_t)s->bytes_sent, "bytes_rcvd", (json_int_t)s->bytes_rcvd,
			 "requests", (json_int_t)s->requests,
			 "errors", (json_int_t)vigil_backend_errors(s),
			 "error_ratio", vigil_backend_error_ratio(s),
			 "connect_latency_us", latency_json(s->connect_lat_us, s->connect_lat_sum_ns),
			 "request_latency_us", latency_json(s->request_lat_us, s->request_lat_sum_ns));
}

static json_t *local_json(const struct vigil_local_row *row)
{
	const struct vigil_local_stats *s = &row->s;

	return json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "port", row->port,
			 "accepted", (json_int_t)s->accepted, "resets_sent", (json_int_t)s->resets_sent,
			 "resets_rcvd", (json_int_t)s->resets_rcvd,
			 "responses", (json_int_t)s->responses,
			 "bytes_sent", (json_int_t)s->bytes_sent, "bytes_rcvd", (json_int_t)s->bytes_rcvd,
			 "response_latency_us", latency_json(s->response_lat_us, s->response_lat_sum_ns));
}

/* {name: count} per name; null, not zeros, when nothing counts them (no
 * loss pin, or the rescue never ran). */
static json_t *counters_json(int have, const struct vigil_counter_name *names,
			     const __u64 *values, int n)
{
	json_t *obj;

	if (!have)
		return json_null();
	obj = json_object();
	for (int i = 0; i < n; i++)
		json_object_set_new(obj, names[i].name, json_integer((json_int_t)values[i]));
	return obj;
}

json_t *vigil_loss_json(const __u64 *loss, int have_loss)
{
	return counters_json(have_loss, vigil_loss_names, loss, VIGIL_LOSS_REASONS);
}

const char *vigil_loss_name(int reason)
{
	return reason >= 0 && reason < VIGIL_LOSS_REASONS ? vigil_loss_names[reason].name : "unknown";
}

/* entries / max_entries in [0, 1] per pinned LRU map. */
static json_t *fill_json(const struct vigil_snapshot *snap)
{
	json_t *obj = json_object();

	for (int i = 0; i < VIGIL_FILL_MAPS; i++)
		if (snap->fill[i].max_entries)
			json_object_set_new(obj, vigil_fill_names[i], json_real(fill_ratio(&snap->fill[i])));
	return obj;
}

const char *vigil_feed_name(int feed)
{
	return feed_names[feed];
}

json_t *vigil_feeds_json(const struct vigil_feed_stats *feeds, int have_feeds)
{
	json_t *obj;

	if (!have_feeds)
		return json_null();
	obj = json_object();
	for (int i = 0; i < VIGIL_FEEDS; i++) {
		const struct vigil_feed_stats *f = &feeds[i];

		if (!f->configured)
			continue;
		json_object_set_new(obj, feed_names[i], json_pack(
			"{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:I, s:I, s:o, s:o}",
			"reachable", f->reachable, "pushes", (json_int_t)f->pushes,
			"push_errors", (json_int_t)f->push_errors,
			"unreachable", (json_int_t)f->unreachable,
			"reapplied", (json_int_t)f->reapplied, "resyncs", (json_int_t)f->resyncs,
			"coalesced", (json_int_t)f->coalesced, "pending", (int)f->pending,
			"servers", (int)f->servers, "last_ok_wall_ns", (json_int_t)f->last_ok_wall_ns,
			"last_error_wall_ns", (json_int_t)f->last_error_wall_ns,
			"sent_us", latency_json(f->sent_us, -1), "acked_us", latency_json(f->acked_us, -1)));
	}
	return obj;
}

int vigil_stats_print_json(FILE *out, const struct vigil_snapshot *snap, unsigned interval_s)
{
	json_t *backends = json_array(), *locals = json_array(), *root;
	int ret;

	for (size_t i = 0; i < snap->n_backends; i++)
		json_array_append_new(backends, backend_json(&snap->backends[i]));
	for (size_t i = 0; i < snap->n_locals; i++)
		json_array_append_new(locals, local_json(&snap->locals[i]));
	root = json_pack("{s:i, s:i, s:o, s:o, s:I, s:o, s:o, s:o, s:o}", "schema",
			 VIGIL_STATS_SCHEMA, "interval_s", (int)interval_s, "backends", backends,
			 "local", locals, "inflight", (json_int_t)snap->inflight, "loss",
			 vigil_loss_json(snap->loss, snap->have_loss), "rescue",
			 counters_json(snap->have_rescue, vigil_rescue_names, snap->rescue,
				       VIGIL_RESCUE_COUNTERS), "fill", fill_json(snap),
			 "feeds", vigil_feeds_json(snap->feeds, snap->have_feeds));
	if (!root)
		return -ENOMEM;
	ctl_vigild_add(root);
	ret = json_dumpf(root, out, JSON_COMPACT);
	fputc('\n', out);
	fflush(out);
	json_decref(root);
	return ret ? -EIO : 0;
}
