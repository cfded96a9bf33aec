/* SPDX-License-Identifier: MIT */
/* vigilctl status: is vigild running, since when, and the state of what it
 * watches at a glance (docs/vigilctl.md). */
#include <bpf/bpf.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_state.h"
#include "heartbeat.h"
#include "maps.h"
#include "path.h"
#include "procstat.h"
#include "stats_fmt.h"
#include "version.h"
#include "vigilctl.h"

#define STATUS_SCHEMA 1

struct status {
	char vigild[256]; /* the heartbeat as a phrase */
	unsigned pid;     /* vigild's, while it runs */
	long long uptime_s; /* -1: unknown */
	bool have_services; /* the state maps are pinned (vigild has services) */
	unsigned services, on_primaries, on_backups, failing_open;
	unsigned backends, healthy, ejected, probing, draining, disabled;
	__u64 loss[VIGIL_LOSS_REASONS], loss_total;
	int have_loss;
	struct vigil_daemon_status daemon; /* the pinned daemon_status */
	bool have_daemon;
	struct vigil_feed_stats feeds[VIGIL_FEEDS]; /* load balancers fed */
	int have_feeds;
};

/* Seconds since pid started, from /proc (-1 when it cannot be read: vigild
 * in another PID namespace, or gone meanwhile). */
static long long uptime_of(unsigned pid)
{
	char path[64], line[1024];
	unsigned long long start;
	double up;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	f = fopen(path, "r");
	ok = f && fgets(line, sizeof(line), f) && vigil_proc_start_ticks(line, &start) == 0;
	if (f)
		fclose(f);
	f = ok ? fopen("/proc/uptime", "r") : NULL;
	ok = f && fscanf(f, "%lf", &up) == 1 && hz > 0;
	if (f)
		fclose(f);
	return ok && up >= (double)start / hz ? (long long)(up - (double)start / hz) : -1;
}

static void count_services(const struct vigil_cli_state *st, struct status *s)
{
	for (size_t i = 0; i < st->n_services; i++) {
		const struct vigil_cli_service_row *r = &st->services[i];

		/* Sorted by name: a dual-stack service's second VIP follows its first. */
		if (i > 0 && strcmp(st->services[i - 1].info.name, r->info.name) == 0)
			continue;
		s->services++;
		if (r->info.set_flags & VIGIL_SET_FAIL_OPEN)
			s->failing_open++;
		else if (r->info.set_flags & VIGIL_SET_BACKUPS)
			s->on_backups++;
		else
			s->on_primaries++;
	}
}

static void count_backends(const struct vigil_cli_state *st, struct status *s)
{
	for (size_t i = 0; i < st->n_backends; i++) {
		const struct vigil_backend_info *b = &st->backends[i].info;

		if (!vigil_cli_backend_first_vip(st, i))
			continue;
		s->backends++;
		s->healthy += b->state == VIGIL_STATE_HEALTHY;
		s->ejected += b->state == VIGIL_STATE_EJECTED;
		s->probing += b->state == VIGIL_STATE_PROBING;
		s->draining += b->admin == VIGIL_ADMIN_DRAINING;
		s->disabled += b->admin == VIGIL_ADMIN_DISABLED;
	}
}

/* Without services vigild pins no state maps: that is not an error here. */
static int read_services(const char *pin_dir, struct status *s)
{
	struct vigil_cli_state st;
	char path[4200], err[512];

	if (vigil_path_fmt(path, sizeof(path), "%s/%s", pin_dir, VIGIL_PIN_SERVICES) == 0 &&
	    access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	if (vigil_cli_state_read(pin_dir, &st, err, sizeof(err))) {
		fprintf(stderr, "vigilctl: %s\n", err);
		return 1;
	}
	s->have_services = true;
	count_services(&st, s);
	count_backends(&st, s);
	vigil_cli_state_free(&st);
	return 0;
}

/* false when vigild is older than this vigilctl (no daemon_status pin). */
static bool read_daemon_status(const char *pin_dir, struct vigil_daemon_status *out)
{
	char err[256];
	__u32 key = 0;
	int fd = vigil_pin_open(pin_dir, VIGIL_PIN_DAEMON_STATUS, BPF_MAP_TYPE_ARRAY, sizeof(key),
				sizeof(*out), err, sizeof(err));
	bool ok;

	if (fd < 0)
		return false;
	ok = bpf_map_lookup_elem(fd, &key, out) == 0 && out->version[0];
	close(fd);
	out->version[sizeof(out->version) - 1] = '\0';
	out->cluster_node[sizeof(out->cluster_node) - 1] = '\0';
	out->cluster_endpoint[sizeof(out->cluster_endpoint) - 1] = '\0';
	return ok;
}

static const char *cluster_state_name(__u32 state)
{
	static const char *const names[] = { "off", "connecting", "connected", "unreachable" };

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "unknown";
}

static int read_status(const struct global_opts *g, struct status *s)
{
	struct stat st;

	if (stat(g->pin_dir, &st) < 0) {
		fprintf(stderr, "vigilctl: %s: %s: vigild never ran with this pin directory "
			"(daemon.pin_dir), or pass the right --pin-dir\n", g->pin_dir, strerror(errno));
		return 1;
	}
	s->pid = ctl_vigild_describe(s->vigild, sizeof(s->vigild));
	s->uptime_s = s->pid ? uptime_of(s->pid) : -1;
	s->have_loss = vigil_loss_read(g->pin_dir, s->loss);
	for (int i = 0; i < VIGIL_LOSS_REASONS; i++)
		s->loss_total += s->loss[i];
	s->have_daemon = read_daemon_status(g->pin_dir, &s->daemon);
	s->have_feeds = vigil_feeds_read(g->pin_dir, s->feeds);
	return read_services(g->pin_dir, s);
}

/* ---- output ---------------------------------------------------------------- */

static void format_duration(char *buf, size_t len, long long s)
{
	if (s < 0)
		snprintf(buf, len, "unknown");
	else if (s >= 86400)
		snprintf(buf, len, "%lldd %02lldh %02lldm", s / 86400, s % 86400 / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%lldh %02lldm %02llds", s / 3600, s % 3600 / 60, s % 60);
}

static void print_losses(const struct status *s)
{
	const char *sep = "";

	if (!s->have_loss) {
		printf("not counted (no '%s' pin: vigild older than this vigilctl)\n", VIGIL_PIN_LOSS);
		return;
	}
	if (!s->loss_total) {
		printf("none\n");
		return;
	}
	for (int i = 0; i < VIGIL_LOSS_REASONS; i++)
		if (s->loss[i]) {
			printf("%s%s %llu", sep, vigil_loss_name(i), (unsigned long long)s->loss[i]);
			sep = ", ";
		}
	printf(": data was lost, see 'vigilctl stats'\n");
}

static void print_cluster(const struct status *s)
{
	const struct vigil_daemon_status *d = &s->daemon;

	printf("%-13s ", "cluster");
	if (!s->have_daemon || d->cluster_state == VIGIL_CLUSTER_OFF) {
		printf("%s\n", s->have_daemon ? "off" : "unknown (vigild older than this vigilctl)");
		return;
	}
	printf("%s as node %s", cluster_state_name(d->cluster_state), d->cluster_node);
	if (d->cluster_state == VIGIL_CLUSTER_CONNECTED)
		printf(" via %s", d->cluster_endpoint);
	if (d->cluster_state == VIGIL_CLUSTER_UNREACHABLE)
		printf(" (failing over on local evidence only)");
	printf("; %u live nodes, %llu verdicts of others known (%llu acted on), %llu own written\n",
	       d->cluster_live_nodes, (unsigned long long)d->cluster_remote_verdicts,
	       (unsigned long long)d->cluster_remote_acted,
	       (unsigned long long)d->cluster_published);
}

static json_t *cluster_json(const struct status *s)
{
	const struct vigil_daemon_status *d = &s->daemon;

	if (!s->have_daemon)
		return json_null();
	return json_pack("{s:s, s:s, s:s, s:i, s:I, s:I, s:I}", "state",
			 cluster_state_name(d->cluster_state), "node", d->cluster_node, "endpoint",
			 d->cluster_endpoint, "live_nodes", (int)d->cluster_live_nodes,
			 "remote_verdicts", (json_int_t)d->cluster_remote_verdicts, "remote_acted",
			 (json_int_t)d->cluster_remote_acted, "published",
			 (json_int_t)d->cluster_published);
}

/* The load balancers vigild feeds, one phrase each (docs/integrations.md). */
static void print_feeds(const struct status *s)
{
	const char *sep = "";

	for (int i = 0; i < VIGIL_FEEDS; i++) {
		const struct vigil_feed_stats *f = &s->feeds[i];

		if (!f->configured)
			continue;
		printf("%s%s %s, %llu pushes (%llu refused), %u pending, %u servers", sep,
		       vigil_feed_name(i), f->reachable ? "reachable" : "NOT REACHABLE",
		       (unsigned long long)f->pushes, (unsigned long long)f->push_errors, f->pending,
		       f->servers);
		sep = "; ";
	}
	printf("%s\n", *sep ? "" : "none (no haproxy: or nginx: section)");
}

static void print_table(const char *pin_dir, const struct status *s)
{
	char up[48];

	format_duration(up, sizeof(up), s->uptime_s);
	printf("%-13s %s%s%s\n", "vigild", s->vigild, s->pid ? ", up " : "", s->pid ? up : "");
	if (s->have_daemon)
		printf("%-13s vigild %s, vigilctl %s\n", "version", s->daemon.version, VIGIL_VERSION);
	else
		printf("%-13s vigilctl %s (vigild older than this vigilctl: no version pinned)\n",
		       "version", VIGIL_VERSION);
	printf("%-13s %s\n", "pin dir", pin_dir);
	if (s->have_services)
		printf("%-13s %u: %u on primaries, %u on backups, %u failing open\n", "services",
		       s->services, s->on_primaries, s->on_backups, s->failing_open);
	else
		printf("%-13s none (vigild only watches: no state maps pinned)\n", "services");
	printf("%-13s %u: %u healthy, %u ejected, %u probing; admin: %u draining, %u disabled\n",
	       "backends", s->backends, s->healthy, s->ejected, s->probing, s->draining, s->disabled);
	printf("%-13s ", "losses");
	print_losses(s);
	printf("%-13s ", "integrations");
	print_feeds(s);
	print_cluster(s);
}

static int print_json(const char *pin_dir, const struct status *s)
{
	json_t *root = json_pack(
		"{s:i, s:s, s:o, s:s, s:o, s:i, s:{s:i, s:i, s:i}, s:{s:i, s:i, s:i, s:i, s:i, s:i}, "
		"s:o, s:o, s:o, s:o}",
		"schema", STATUS_SCHEMA, "version", VIGIL_VERSION, "vigild_version",
		s->have_daemon ? json_string(s->daemon.version) : json_null(), "pin_dir",
		pin_dir, "uptime_s", s->uptime_s >= 0 ? json_integer(s->uptime_s) : json_null(),
		"services", (int)s->services, "serving", "primaries", (int)s->on_primaries, "backups",
		(int)s->on_backups, "fail_open", (int)s->failing_open, "backends", "total",
		(int)s->backends, "healthy", (int)s->healthy, "ejected", (int)s->ejected, "probing",
		(int)s->probing, "draining", (int)s->draining, "disabled", (int)s->disabled, "loss",
		vigil_loss_json(s->loss, s->have_loss), "loss_total",
		s->have_loss ? json_integer((json_int_t)s->loss_total) : json_null(), "integrations",
		vigil_feeds_json(s->feeds, s->have_feeds), "cluster", cluster_json(s));
	int ret;

	if (!root)
		return 1;
	ctl_vigild_add(root);
	ret = json_dumpf(root, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(root);
	return ret ? 1 : 0;
}

int cmd_status(const struct global_opts *g, int argc, char **argv)
{
	static const char usage[] = "usage: vigilctl status [--json]\n";
	struct status s = { 0 };
	bool json = false;
	int ret = ctl_parse_flags(argc, argv, &json, NULL, 0, usage);

	if (ret)
		return ret == 1 ? 0 : ret;
	if (read_status(g, &s))
		return 1;
	if (json)
		return print_json(g->pin_dir, &s);
	print_table(g->pin_dir, &s);
	return 0;
}
