/* SPDX-License-Identifier: MIT */
/* The Prometheus text format of vigil's metrics (metrics.h). Every family is
 * written whole (HELP, TYPE, then all its samples), as the format requires;
 * counters are exact integers, times are seconds. */
#include "metrics.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "addr.h"
#include "counter_names.h"
#include "detector.h"

#define LABELS_LEN 256

/* ---- the format ------------------------------------------------------------ */

static void family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{labels} or name alone when labels is "". */
static void series(FILE *out, const char *name, const char *suffix, const char *labels)
{
	fprintf(out, labels[0] ? "%s%s{%s} " : "%s%s%s ", name, suffix, labels);
}

static void sample_u64(FILE *out, const char *name, const char *labels, __u64 v)
{
	series(out, name, "", labels);
	fprintf(out, "%llu\n", (unsigned long long)v);
}

/* A family of one unlabelled sample. */
static void single_u64(FILE *out, const char *name, const char *type, const char *help, __u64 v)
{
	family(out, name, type, help);
	sample_u64(out, name, "", v);
}

static void gauge_u64(FILE *out, const char *name, const char *help, __u64 v)
{
	single_u64(out, name, "gauge", help, v);
}

static void counter_u64(FILE *out, const char *name, const char *help, __u64 v)
{
	single_u64(out, name, "counter", help, v);
}

static void sample_double(FILE *out, const char *name, const char *labels, double v)
{
	series(out, name, "", labels);
	fprintf(out, "%.17g\n", v);
}

/* Nanoseconds as seconds, exactly (no rounding through a double). */
static void sample_ns(FILE *out, const char *name, const char *suffix, const char *labels,
		      __u64 ns)
{
	series(out, name, suffix, labels);
	fprintf(out, "%llu.%09llu\n", (unsigned long long)(ns / 1000000000ull),
		(unsigned long long)(ns % 1000000000ull));
}

void vigil_metrics_escape(char *buf, size_t len, const char *value)
{
	size_t o = 0;

	if (!len)
		return;
	for (const char *p = value; *p && o + 2 < len; p++) {
		if (*p == '\\' || *p == '"' || *p == '\n') {
			buf[o++] = '\\';
			buf[o++] = *p == '\n' ? 'n' : *p;
		} else {
			buf[o++] = *p;
		}
	}
	buf[o] = '\0';
}

/* labels + `,key="value"` (or `key="value"` after none) into buf. Label
 * values are short (a service name, an endpoint, a kind): one that does
 * not fit is left out rather than cut. */
static const char *with_label(char *buf, size_t len, const char *labels, const char *key,
			      const char *value)
{
	char esc[128];
	int n;

	vigil_metrics_escape(esc, sizeof(esc), value);
	n = snprintf(buf, len, "%s%s%s=\"%s\"", labels, labels[0] ? "," : "", key, esc);
	if (n < 0 || (size_t)n >= len)
		snprintf(buf, len, "%s", labels);
	return buf;
}

/* A log2 histogram of microseconds (hist.h) as a histogram in seconds:
 * bucket i holds samples below 2^(i+1) us, so its upper bound ("le") is
 * 2^(i+1) us; the last bucket is open (+Inf). The buckets are cumulative. */
static void histogram(FILE *out, const char *name, const char *labels, const __u64 *buckets,
		      __u64 sum_ns)
{
	char lab[LABELS_LEN], le[32];
	__u64 cum = 0;

	for (int i = 0; i < VIGIL_HIST_BUCKETS; i++) {
		cum += buckets[i];
		if (i < VIGIL_HIST_BUCKETS - 1)
			snprintf(le, sizeof(le), "%.6f", (double)(1ull << (i + 1)) / 1e6);
		else
			snprintf(le, sizeof(le), "+Inf");
		series(out, name, "_bucket", with_label(lab, sizeof(lab), labels, "le", le));
		fprintf(out, "%llu\n", (unsigned long long)cum);
	}
	sample_ns(out, name, "_sum", labels, sum_ns);
	series(out, name, "_count", labels);
	fprintf(out, "%llu\n", (unsigned long long)cum);
}

/* ---- rows of the monitor's snapshot ----------------------------------------- */

/* Rows of one kind (backends, local ports) and where their stats record is. */
struct rows {
	const void *first;
	size_t n, stride;
	size_t stats; /* offset of the stats record in a row */
	void (*labels)(const void *row, char *buf, size_t len);
};

static const void *row_at(const struct rows *r, size_t i)
{
	return (const char *)r->first + i * r->stride;
}

static const __u64 *field_of(const struct rows *r, size_t i, size_t off)
{
	return (const __u64 *)((const char *)row_at(r, i) + r->stats + off);
}

/* A counter of the stats record; entries with the same name, one after
 * the other, are one family with a "kind" label. */
struct counter {
	const char *name, *help, *kind;
	size_t off;
};

static void counters(FILE *out, const struct rows *r, const struct counter *c, size_t n)
{
	char labels[LABELS_LEN], lab[LABELS_LEN];

	for (size_t first = 0, end; first < n; first = end) {
		for (end = first + 1; end < n && strcmp(c[end].name, c[first].name) == 0; end++)
			;
		family(out, c[first].name, "counter", c[first].help);
		for (size_t i = 0; i < r->n; i++) {
			r->labels(row_at(r, i), labels, sizeof(labels));
			for (size_t k = first; k < end; k++)
				sample_u64(out, c[k].name, c[k].kind ? with_label(lab, sizeof(lab), labels,
						"kind", c[k].kind) : labels, *field_of(r, i, c[k].off));
		}
	}
}

static void histograms(FILE *out, const struct rows *r, const char *name, const char *help,
		       size_t buckets_off, size_t sum_off)
{
	char labels[LABELS_LEN];

	family(out, name, "histogram", help);
	for (size_t i = 0; i < r->n; i++) {
		r->labels(row_at(r, i), labels, sizeof(labels));
		histogram(out, name, labels, field_of(r, i, buckets_off), *field_of(r, i, sum_off));
	}
}

static void backend_labels(const void *row, char *buf, size_t len)
{
	char ep[VIGIL_ENDPOINT_STRLEN];

	vigil_endpoint_format(&((const struct vigil_backend_row *)row)->ep, ep, sizeof(ep));
	snprintf(buf, len, "backend=\"%s\"", ep);
}

static void local_labels(const void *row, char *buf, size_t len)
{
	snprintf(buf, len, "port=\"%u\"", ((const struct vigil_local_row *)row)->port);
}

#define BS(f) offsetof(struct vigil_backend_stats, f)
static const struct counter backend_counters[] = {
	{ "vigil_backend_connect_attempts_total", "TCP connects started to the backend.", NULL,
	  BS(connect_attempts) },
	{ "vigil_backend_connections_established_total",
	  "TCP connects to the backend that completed the handshake.", NULL, BS(established) },
	{ "vigil_backend_errors_total", "Hard failures of the backend by kind: refused connect, "
	  "connect timed out, established connection reset by the backend.", "refused", BS(refused) },
	{ "vigil_backend_errors_total", NULL, "timeout", BS(timeouts) },
	{ "vigil_backend_errors_total", NULL, "reset", BS(resets_rcvd) },
	{ "vigil_backend_resets_total", "TCP resets on established connections to the backend, "
	  "received from it or sent to it.", "received", BS(resets_rcvd) },
	{ "vigil_backend_resets_total", NULL, "sent", BS(resets_sent) },
	{ "vigil_backend_retransmits_total", "TCP retransmissions to the backend: of the SYN, or "
	  "of data.", "syn", BS(syn_retrans) },
	{ "vigil_backend_retransmits_total", NULL, "data", BS(data_retrans) },
	{ "vigil_backend_sent_bytes_total", "Bytes sent to the backend.", NULL, BS(bytes_sent) },
	{ "vigil_backend_received_bytes_total", "Bytes received from the backend.", NULL,
	  BS(bytes_rcvd) },
	{ "vigil_backend_requests_total", "Replies the backend sent after a request.", NULL,
	  BS(requests) },
};

#define LS(f) offsetof(struct vigil_local_stats, f)
static const struct counter local_counters[] = {
	{ "vigil_local_accepted_total", "Connections accepted on the local listening port.", NULL,
	  LS(accepted) },
	{ "vigil_local_responses_total", "Responses sent on the local port after a request.", NULL,
	  LS(responses) },
	{ "vigil_local_resets_total", "TCP resets on connections of the local port, received or "
	  "sent.", "received", LS(resets_rcvd) },
	{ "vigil_local_resets_total", NULL, "sent", LS(resets_sent) },
	{ "vigil_local_sent_bytes_total", "Bytes sent on connections of the local port.", NULL,
	  LS(bytes_sent) },
	{ "vigil_local_received_bytes_total", "Bytes received on connections of the local port.",
	  NULL, LS(bytes_rcvd) },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void monitor_rows(FILE *out, const struct vigil_snapshot *s)
{
	struct rows b = { s->backends, s->n_backends, sizeof(*s->backends),
			  offsetof(struct vigil_backend_row, s), backend_labels };
	struct rows l = { s->locals, s->n_locals, sizeof(*s->locals),
			  offsetof(struct vigil_local_row, s), local_labels };

	counters(out, &b, backend_counters, N(backend_counters));
	histograms(out, &b, "vigil_backend_connect_duration_seconds", "Time from SYN to "
		   "established of connects to the backend.", BS(connect_lat_us),
		   BS(connect_lat_sum_ns));
	histograms(out, &b, "vigil_backend_request_duration_seconds", "Time from the last send "
		   "of a request to the first byte of the backend's reply.", BS(request_lat_us),
		   BS(request_lat_sum_ns));
	counters(out, &l, local_counters, N(local_counters));
	histograms(out, &l, "vigil_local_response_duration_seconds", "Time from a request "
		   "received on the local port to the first byte of the response.",
		   LS(response_lat_us), LS(response_lat_sum_ns));
}

/* ---- one value per name ------------------------------------------------------ */

/* A family whose series differ only by "kind" (or "map"): the values of a
 * table of names. */
static void by_name(FILE *out, const char *name, const char *type, const char *help,
		    const char *label, const struct vigil_counter_name *names, const __u64 *v,
		    size_t n)
{
	char lab[LABELS_LEN];

	family(out, name, type, help);
	for (size_t i = 0; i < n; i++)
		sample_u64(out, name, with_label(lab, sizeof(lab), "", label, names[i].name), v[i]);
}

static void monitor_totals(FILE *out, const struct vigil_snapshot *s)
{
	char lab[LABELS_LEN];

	gauge_u64(out, "vigil_inflight_sockets", "Watched sockets being tracked now.", s->inflight);
	if (s->have_loss)
		by_name(out, "vigil_loss_total", "counter", "What the BPF programs could not "
			"record, by kind (all should stay 0).", "kind", vigil_loss_names, s->loss,
			VIGIL_LOSS_REASONS);
	family(out, "vigil_map_entries", "gauge", "Entries in the LRU map (an LRU map at its "
	       "capacity evicts silently).");
	for (int i = 0; i < VIGIL_FILL_MAPS; i++)
		if (s->fill[i].max_entries)
			sample_u64(out, "vigil_map_entries", with_label(lab, sizeof(lab), "", "map",
				   vigil_fill_names[i]), s->fill[i].entries);
	family(out, "vigil_map_capacity", "gauge", "max_entries of the LRU map.");
	for (int i = 0; i < VIGIL_FILL_MAPS; i++)
		if (s->fill[i].max_entries)
			sample_u64(out, "vigil_map_capacity", with_label(lab, sizeof(lab), "", "map",
				   vigil_fill_names[i]), s->fill[i].max_entries);
}

/* ---- the failover state ---------------------------------------------------------- */

/* The rules that eject a backend (enum vigil_rule). */
static const enum vigil_rule eject_rules[] = {
	VIGIL_RULE_CONSECUTIVE, VIGIL_RULE_FAST_PATH, VIGIL_RULE_ERROR_RATIO, VIGIL_RULE_SLOW,
	VIGIL_RULE_STUCK_CONNECT, VIGIL_RULE_STUCK_REQUEST, VIGIL_RULE_PROBE_FAILED,
};

static const char *svc_backend_labels(const struct vigil_metrics_board *bd,
				      const struct vigil_metrics_backend *b, char *buf, size_t len)
{
	char ep[VIGIL_ENDPOINT_STRLEN], svc[96];

	vigil_metrics_escape(svc, sizeof(svc), bd->services[b->service].name);
	snprintf(buf, len, "service=\"%s\",backend=\"%s\"", svc,
		 vigil_endpoint_format(&b->ep, ep, sizeof(ep)));
	return buf;
}

/* One series per state, 1 for the current one (a state set). */
static void state_set(FILE *out, const char *name, const char *labels, const char *const *states,
		      size_t n, size_t current)
{
	char lab[LABELS_LEN];

	for (size_t s = 0; s < n; s++)
		sample_u64(out, name, with_label(lab, sizeof(lab), labels, "state", states[s]),
			   s == current);
}

/* A state set per backend: its health state, or with admin its admin state. */
static void backend_state_sets(FILE *out, const struct vigil_metrics_board *bd, bool admin)
{
	static const char *const states[] = { "healthy", "ejected", "probing" };
	static const char *const admins[] = { "none", "draining", "disabled" };
	const char *name = admin ? "vigil_backend_admin_state" : "vigil_backend_state";
	char labels[LABELS_LEN];

	family(out, name, "gauge", admin ? "Administrative state of the backend in the service "
	       "(vigilctl drain, disable): 1 for the current state." : "Health state of the "
	       "backend in the service: 1 for the current state.");
	for (size_t i = 0; i < bd->n_backends; i++)
		state_set(out, name, svc_backend_labels(bd, &bd->backends[i], labels, sizeof(labels)),
			  admin ? admins : states, 3,
			  admin ? bd->backends[i].admin : bd->backends[i].state);
}

static void backend_failover(FILE *out, const struct vigil_metrics_board *bd)
{
	char labels[LABELS_LEN], lab[LABELS_LEN];

	family(out, "vigil_backend_ejections_total", "counter", "Ejections of the backend from "
	       "the service since vigild started, by the rule that ejected it.");
	for (size_t i = 0; i < bd->n_backends; i++) {
		svc_backend_labels(bd, &bd->backends[i], labels, sizeof(labels));
		for (size_t r = 0; r < N(eject_rules); r++)
			sample_u64(out, "vigil_backend_ejections_total",
				   with_label(lab, sizeof(lab), labels, "rule",
					      vigil_rule_name(eject_rules[r])),
				   bd->backends[i].ejections[eject_rules[r]]);
	}
	family(out, "vigil_backend_new_connection_share", "gauge", "Share of the service's new "
	       "connections the backend gets (its weight over the selected backends'), 0 to 1.");
	for (size_t i = 0; i < bd->n_backends; i++)
		sample_double(out, "vigil_backend_new_connection_share",
			      svc_backend_labels(bd, &bd->backends[i], labels, sizeof(labels)),
			      bd->backends[i].share);
}

static void service_tiers(FILE *out, const struct vigil_metrics_board *bd)
{
	static const char *const tiers[] = { "primaries", "backups", "fail_open" };
	char labels[LABELS_LEN], svc[96];

	family(out, "vigil_service_serving_tier", "gauge", "Which backends serve the service: "
	       "its primaries, its backups (no primary healthy) or all of them (fail-open: none "
	       "healthy); 1 for the current tier.");
	for (size_t i = 0; i < bd->n_services; i++) {
		__u32 f = bd->services[i].set_flags;

		vigil_metrics_escape(svc, sizeof(svc), bd->services[i].name);
		snprintf(labels, sizeof(labels), "service=\"%s\"", svc);
		state_set(out, "vigil_service_serving_tier", labels, tiers, N(tiers),
			  (f & VIGIL_SET_FAIL_OPEN) ? 2 : (f & VIGIL_SET_BACKUPS) ? 1 : 0);
	}
}

/* ---- vigild itself ----------------------------------------------------------------- */

static void timestamp(FILE *out, const char *name, const char *help, __u64 wall_ns)
{
	family(out, name, "gauge", help);
	sample_ns(out, name, "", "", wall_ns);
}

static void daemon_figures(FILE *out, const struct vigil_daemon_figures *d)
{
	static const struct vigil_counter_name stalls[] = { { "vigild", NULL },
							    { "others", NULL } };
	static const struct vigil_counter_name reloads[] = { { "applied", NULL },
							     { "refused", NULL } };
	__u64 stall_counts[] = { d->stalls_vigild, d->stalls_others };
	__u64 reload_counts[] = { d->reloads_applied, d->reloads_refused };

	timestamp(out, "vigil_daemon_start_time_seconds", "When vigild started (Unix time).",
		  d->start_wall_ns);
	timestamp(out, "vigil_daemon_last_tick_timestamp_seconds", "When vigild's main loop last "
		  "ran (Unix time).", d->last_round_wall_ns);
	timestamp(out, "vigil_daemon_last_publish_timestamp_seconds", "When vigild last wrote "
		  "a service's state to the datapaths (Unix time; 0: not yet).",
		  d->last_publish_wall_ns);
	family(out, "vigil_daemon_tick_lag_seconds", "histogram", "How much later than planned "
	       "vigild's main loop woke up (scheduling delay of its thread).");
	histogram(out, "vigil_daemon_tick_lag_seconds", "", d->tick_lag_us, d->tick_lag_sum_ns);
	by_name(out, "vigil_daemon_stalls_total", "counter", "Spans over 50 ms in which vigild "
		"(kind vigild) or ordinary processes (kind others, its canary thread) did not run.",
		"kind", stalls, stall_counts, N(stalls));
	counter_u64(out, "vigil_daemon_map_write_failures_total", "Map writes of the publisher "
		    "that failed (each is logged).", d->map_write_failures);
	counter_u64(out, "vigil_daemon_syn_replays_total", "Client SYNs waiting on a backend "
		    "vigild ejected that it replayed through the XDP program to a healthy one.",
		    d->syn_replays);
	by_name(out, "vigil_daemon_reloads_total", "counter", "Config reloads (SIGHUP), applied "
		"or refused.", "kind", reloads, reload_counts, N(reloads));
	gauge_u64(out, "vigil_daemon_config_last_reload_successful", "1 when the last reload "
		  "was applied (or there was none), 0 when it was refused.", d->last_reload_ok);
}

/* ---- cluster mode -------------------------------------------------------------------- */

static void cluster_figures(FILE *out, const struct vigil_cluster_figures *c)
{
	static const struct vigil_counter_name kinds[] = {
		{ "published", NULL }, { "received", NULL }, { "suppressed", NULL } };
	__u64 verdicts[] = { c->published, c->received, c->suppressed };

	gauge_u64(out, "vigil_cluster_etcd_reachable", "1 when etcd answered vigild's last "
		  "call (cluster mode shares verdicts), else 0.",
		  c->state == VIGIL_CLUSTER_CONNECTED);
	gauge_u64(out, "vigil_cluster_local_only", "1 when etcd is unreachable and vigild fails "
		  "over on its own evidence only, retrying (0 also before the first answer).",
		  c->state == VIGIL_CLUSTER_UNREACHABLE);
	gauge_u64(out, "vigil_cluster_live_nodes", "Nodes registered in etcd, this one "
		  "included (as last read).", c->live_nodes);
	gauge_u64(out, "vigil_cluster_remote_verdicts", "Other nodes' verdicts this node "
		  "knows now.", c->remote_verdicts);
	by_name(out, "vigil_cluster_verdicts_total", "counter", "This node's verdicts written to "
		"or removed from etcd (published), not written because other nodes reported them "
		"(suppressed); other nodes' verdicts new to this node (received).", "kind", kinds,
		verdicts, N(kinds));
	counter_u64(out, "vigil_cluster_remote_verdicts_applied_total", "Other nodes' verdicts "
		    "that changed a backend here (taken out and probed, or ejected).", c->applied);
	counter_u64(out, "vigil_cluster_watch_resyncs_total", "Full reads of every verdict in "
		    "etcd: at start and whenever the watch broke (etcd lost, compacted).",
		    c->resyncs);
}

static void build_info(FILE *out, const struct vigil_metrics_input *in)
{
	char labels[LABELS_LEN], lab[LABELS_LEN];

	family(out, "vigil_build_info", "gauge", "vigild's version and commit; always 1.");
	with_label(labels, sizeof(labels), "", "version", in->version ? in->version : "unknown");
	sample_u64(out, "vigil_build_info",
		   with_label(lab, sizeof(lab), labels, "commit", in->commit ? in->commit : "unknown"),
		   1);
	gauge_u64(out, "vigil_daemon_hooks_detached", "Hooks vigild should have attached that "
		  "are missing or detached (/healthz says which).", in->hooks_detached);
}

int vigil_metrics_write(FILE *out, const struct vigil_metrics_input *in)
{
	build_info(out, in);
	if (in->daemon)
		daemon_figures(out, in->daemon);
	if (in->daemon && in->daemon->cluster.enabled)
		cluster_figures(out, &in->daemon->cluster);
	if (in->snap) {
		monitor_totals(out, in->snap);
		monitor_rows(out, in->snap);
	}
	if (in->board) {
		backend_state_sets(out, in->board, false);
		backend_state_sets(out, in->board, true);
		backend_failover(out, in->board);
		service_tiers(out, in->board);
	}
	if (in->xdp_counters)
		by_name(out, "vigil_xdp_packets_total", "counter", "Packets of the packet datapath "
			"(XDP or tc) by what happened to them.", "kind", vigil_xdp_counter_names,
			in->xdp_counters, VIGIL_XDP_COUNTERS);
	if (in->xdp_drops)
		by_name(out, "vigil_xdp_drops_total", "counter", "Packets the packet datapath "
			"dropped, by reason.", "kind", vigil_drop_names, in->xdp_drops,
			VIGIL_DROP_REASONS);
	fflush(out);
	return ferror(out) ? -EIO : 0;
}
