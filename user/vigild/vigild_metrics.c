/* SPDX-License-Identifier: MIT */
/* The main loop's side of the metrics endpoint (metrics.enabled): what it
 * hands the metrics thread each round, at start and on reload. Nothing here
 * waits for the metrics thread (metrics_state.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cluster.h"
#include "failover.h"
#include "hist.h"
#include "log.h"
#include "metrics_http.h"
#include "monitor.h"
#include "pkt_hooks.h"
#include "sock_dp.h"
#include "vigild.h"

struct vigild_metrics {
	struct vigil_metrics_state *state;
	struct vigil_metrics_http *http;
	struct vigil_daemon_figures fig; /* this loop's, handed over every round */
	struct vigil_metrics_board board; /* refilled when the engine published */
	__u64 board_gen;
	bool board_dirty;
};

int vigild_metrics_start(struct vigild *d, __u32 tick_ms, char *err, size_t errlen)
{
	const struct vigil_config *cfg = d->cfg;
	struct vigild_metrics *m;
	int ret;

	if (!cfg->metrics.enabled)
		return 0;
	m = calloc(1, sizeof(*m));
	if (m)
		m->state = vigil_metrics_state_new(cfg->pin_dir, d->config_path, tick_ms);
	if (!m || !m->state) {
		free(m);
		snprintf(err, errlen, "metrics: out of memory");
		return -ENOMEM;
	}
	m->fig.start_wall_ns = m->fig.last_round_wall_ns = vigil_wall_ns();
	m->fig.last_reload_ok = true;
	vigil_metrics_state_alive(m->state, vigil_now_ns());
	vigil_metrics_state_publish(m->state, &m->fig, NULL); /* nobody else holds it yet */
	ret = vigil_metrics_http_start(&m->http, &cfg->metrics.listen, m->state, err, errlen);
	if (ret) {
		vigil_metrics_state_free(m->state);
		free(m);
		return ret;
	}
	d->metrics = m;
	return 0;
}

/* The hooks the running config should have attached, by their pins. */
static void hook_spec(const struct vigild *d, struct vigil_hook_spec *spec)
{
	const char *names[VIGIL_MAX_HOOKS];
	size_t n = d->mon ? vigil_monitor_link_names(d->mon, names, VIGIL_MAX_HOOKS) : 0;

	memset(spec, 0, sizeof(*spec));
	snprintf(spec->pin_dir, sizeof(spec->pin_dir), "%s", d->cfg->pin_dir);
	for (size_t i = 0; i < n; i++)
		vigil_hook_spec_add(spec, VIGIL_HOOK_TRACING, "", names[i]);
	for (size_t i = 0; d->sock && i < VIGIL_SOCK_DP_N_LINKS; i++)
		vigil_hook_spec_add(spec, VIGIL_HOOK_CGROUP, "", vigil_sock_dp_link_names[i]);
	for (size_t i = 0; d->pkt && i < d->cfg->n_xdp_interfaces; i++) {
		bool tc = d->cfg->xdp_hook == VIGIL_HOOK_TC;

		vigil_hook_spec_add(spec, tc ? VIGIL_HOOK_TC_PROG : VIGIL_HOOK_XDP_LINK,
				    tc ? VIGIL_PKT_TC_PIN_PREFIX : VIGIL_PKT_XDP_PIN_PREFIX,
				    d->cfg->xdp_interfaces[i]);
	}
}

void vigild_metrics_applied(struct vigild *d)
{
	struct vigil_hook_spec spec;

	if (!d->metrics)
		return;
	hook_spec(d, &spec);
	vigil_metrics_state_config(d->metrics->state, VIGIL_READY_APPLIED, NULL, &spec);
	d->metrics->board_dirty = true; /* services may have come or gone */
}

void vigild_metrics_reloaded(struct vigild *d, bool applied, const char *why)
{
	struct vigild_metrics *m = d->metrics;

	if (!m)
		return;
	m->fig.last_reload_ok = applied;
	if (applied) {
		m->fig.reloads_applied++;
		vigild_metrics_applied(d);
	} else {
		m->fig.reloads_refused++;
		vigil_metrics_state_config(m->state, VIGIL_READY_REFUSED, why, NULL);
	}
}

static void take_failover(struct vigild_metrics *m, const struct vigil_failover *fo)
{
	struct vigil_failover_figures f;

	vigil_failover_figures(fo, &f);
	m->fig.stalls_vigild = f.stalls_vigild;
	m->fig.stalls_others = f.stalls_others;
	m->fig.map_write_failures = f.map_write_failures;
	m->fig.syn_replays = f.syn_replays;
	m->fig.last_publish_wall_ns = f.last_publish_wall_ns;
	if (f.publish_gen != m->board_gen) {
		m->board_gen = f.publish_gen;
		m->board_dirty = true;
	}
}

static void take_cluster(struct vigil_cluster_figures *f, struct vigil_cluster *c)
{
	struct vigil_cluster_status cs;

	memset(f, 0, sizeof(*f));
	if (!c)
		return;
	vigil_cluster_get_status(c, &cs);
	*f = (struct vigil_cluster_figures){
		.enabled = true, .state = vigil_cluster_state_of(&cs), .live_nodes = cs.live_nodes,
		.remote_verdicts = cs.remote_verdicts, .published = cs.published,
		.received = cs.received, .suppressed = cs.suppressed, .applied = cs.remote_acted,
		.resyncs = cs.resyncs,
	};
}

void vigild_metrics_round(struct vigild *d, __u64 lag_ns)
{
	struct vigild_metrics *m = d->metrics;

	if (!m)
		return;
	vigil_metrics_state_alive(m->state, vigil_now_ns());
	m->fig.last_round_wall_ns = vigil_wall_ns();
	if (lag_ns != VIGILD_NO_LAG) {
		m->fig.tick_lag_us[vigil_hist_bucket_of(lag_ns / 1000)]++;
		m->fig.tick_lag_sum_ns += lag_ns;
	}
	if (d->fo)
		take_failover(m, d->fo);
	take_cluster(&m->fig.cluster, d->cluster);
	/* Refilled in every round until the metrics thread takes it (it
	 * rarely has to wait: the thread holds the lock only to copy). */
	if (m->board_dirty && d->fo)
		vigil_failover_metrics_board(d->fo, &m->board);
	else if (m->board_dirty)
		m->board.n_services = m->board.n_backends = 0;
	if (vigil_metrics_state_publish(m->state, &m->fig, m->board_dirty ? &m->board : NULL))
		m->board_dirty = false;
}

void vigild_metrics_stop(struct vigild *d)
{
	struct vigild_metrics *m = d->metrics;

	if (!m)
		return;
	vigil_metrics_state_config(m->state, VIGIL_READY_STOPPING, NULL, NULL);
	vigil_metrics_http_stop(m->http);
	vigil_metrics_state_free(m->state);
	vigil_metrics_board_free(&m->board);
	free(m);
	d->metrics = NULL;
}
