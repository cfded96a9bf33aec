/* SPDX-License-Identifier: MIT */
/* vigilctl services | backends | events | drain | undrain | disable | enable */
#include <bpf/bpf.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "detector.h"
#include "heartbeat.h"
#include "history_filter.h"
#include "maps.h"
#include "cli_state.h"
#include "vigilctl.h"

static volatile sig_atomic_t stop_requested;

static void request_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

int ctl_parse_flags(int argc, char **argv, bool *json, bool *follow, int max_args,
		    const char *usage)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "follow", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jfh", longopts, NULL)) != -1) {
		if (c == 'j')
			*json = true;
		else if (c == 'f' && follow)
			*follow = true;
		else if (c == 'h') {
			printf("%s", usage);
			return 1;
		} else {
			fprintf(stderr, "%s", usage);
			return EXIT_USAGE;
		}
	}
	if (argc - optind > max_args) {
		fprintf(stderr, "vigilctl %s: unexpected argument '%s'\n%s", argv[0],
			argv[optind + max_args], usage);
		return EXIT_USAGE;
	}
	return 0;
}

static const char *set_mode(__u32 flags)
{
	if (flags & VIGIL_SET_FAIL_OPEN)
		return "FAIL-OPEN";
	return flags & VIGIL_SET_BACKUPS ? "backups" : "primaries";
}

static const char *datapath_name(__u32 datapath)
{
	if ((datapath & VIGIL_DATAPATH_SOCKET) && (datapath & VIGIL_DATAPATH_XDP))
		return "both";
	if (datapath == VIGIL_DATAPATH_NONE)
		return "none";
	return datapath & VIGIL_DATAPATH_XDP ? "xdp" : "socket";
}

static void format_age(char *buf, size_t len, __u64 wall_ns)
{
	double age;

	if (!wall_ns) {
		snprintf(buf, len, "-");
		return;
	}
	age = ((double)vigil_wall_ns() - (double)wall_ns) / 1e9;
	snprintf(buf, len, "%.1fs ago", age < 0 ? 0 : age);
}

static int read_state(const struct global_opts *g, struct vigil_cli_state *st)
{
	char err[512];

	if (vigil_cli_state_read(g->pin_dir, st, err, sizeof(err))) {
		fprintf(stderr, "vigilctl: %s\n", err);
		return 1;
	}
	return 0;
}

/* Every JSON document of these commands carries "vigild" (heartbeat.h). */
static int print_json(json_t *root)
{
	int ret;

	ctl_vigild_add(root);
	ret = json_dumpf(root, stdout, JSON_COMPACT);

	putchar('\n');
	fflush(stdout);
	json_decref(root);
	return ret ? 1 : 0;
}

/* ---- services ------------------------------------------------------------- */

static json_t *service_json(const struct vigil_cli_service_row *s)
{
	char vip[VIGIL_ENDPOINT_STRLEN];

	return json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:i, s:I, s:i, s:I}", "name",
			 s->info.name, "vip", vigil_endpoint_format(&s->vip, vip, sizeof(vip)),
			 "datapath", datapath_name(s->info.datapath), "primaries", s->info.n_primaries,
			 "backups", s->info.n_backups, "serving", set_mode(s->info.set_flags),
			 "selectable", (int)s->info.set_count, "set_version",
			 (json_int_t)s->info.set_version, "table_size", (int)s->info.table_size,
			 "since_wall_ns", (json_int_t)s->info.since_wall_ns);
}

int cmd_services(const struct global_opts *g, int argc, char **argv)
{
	static const char usage[] = "usage: vigilctl services [--json]\n";
	struct vigil_cli_state st;
	char vip[VIGIL_ENDPOINT_STRLEN], age[32];
	bool json = false;
	int ret = ctl_parse_flags(argc, argv, &json, NULL, 0, usage);

	if (ret)
		return ret == 1 ? 0 : ret;
	if (read_state(g, &st))
		return 1;
	if (json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < st.n_services; i++)
			json_array_append_new(arr, service_json(&st.services[i]));
		vigil_cli_state_free(&st);
		return print_json(json_pack("{s:i, s:o}", "schema", 1, "services", arr));
	}
	printf("%-20s %-28s %-8s %9s %7s %-10s %10s %s\n", "SERVICE", "VIP", "DATAPATH", "PRIMARIES",
	       "BACKUPS", "SERVING", "SELECTABLE", "SINCE");
	for (size_t i = 0; i < st.n_services; i++) {
		const struct vigil_cli_service_row *s = &st.services[i];

		format_age(age, sizeof(age), s->info.since_wall_ns);
		printf("%-20s %-28s %-8s %9u %7u %-10s %10u %s\n", s->info.name,
		       vigil_endpoint_format(&s->vip, vip, sizeof(vip)), datapath_name(s->info.datapath),
		       s->info.n_primaries, s->info.n_backups, set_mode(s->info.set_flags),
		       s->info.set_count, age);
	}
	vigil_cli_state_free(&st);
	return 0;
}

/* ---- backends ------------------------------------------------------------- */

static void format_evidence(char *buf, size_t len, const struct vigil_backend_info *info)
{
	const struct vigil_evidence *e = &info->evidence;

	switch (info->last_rule) {
	case VIGIL_RULE_CONSECUTIVE:
	case VIGIL_RULE_FAST_PATH:
		snprintf(buf, len, "%u failures (threshold %u)", e->failures, e->threshold);
		break;
	case VIGIL_RULE_STUCK_CONNECT:
	case VIGIL_RULE_STUCK_REQUEST:
	case VIGIL_RULE_STALLED:
		snprintf(buf, len, "%u stuck/failed, oldest %.1fms > limit %.1fms", e->failures,
			 e->latency_us / 1000.0, e->limit_us / 1000.0);
		break;
	case VIGIL_RULE_ERROR_RATIO:
		snprintf(buf, len, "%u errors / %u attempts", e->errors, e->requests);
		break;
	case VIGIL_RULE_SLOW:
		snprintf(buf, len, "p99 %.1fms vs peers %.1fms (limit %.1fms)", e->latency_us / 1000.0,
			 e->peer_latency_us / 1000.0, e->limit_us / 1000.0);
		break;
	case VIGIL_RULE_PROBE_OK:
	case VIGIL_RULE_PROBE_FAILED:
		snprintf(buf, len, "%u probes", e->probes);
		break;
	default:
		snprintf(buf, len, "-");
	}
}

static json_t *evidence_json(const struct vigil_evidence *e)
{
	return json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "failures", e->failures,
			 "threshold", e->threshold, "requests", e->requests, "errors", e->errors,
			 "latency_us", e->latency_us, "peer_latency_us", e->peer_latency_us,
			 "limit_us", e->limit_us, "probes", e->probes);
}

static json_t *backend_json(const struct vigil_cli_backend_row *b)
{
	char vip[VIGIL_ENDPOINT_STRLEN], ep[VIGIL_ENDPOINT_STRLEN];

	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:f, s:i, s:b, s:I, s:s, s:o}",
			 "service", b->service, "vip",
			 vigil_endpoint_format(&b->key.vip, vip, sizeof(vip)), "backend",
			 vigil_endpoint_format(&b->key.backend, ep, sizeof(ep)), "role",
			 b->info.role == VIGIL_ROLE_BACKUP ? "backup" : "primary", "state",
			 vigil_state_name(b->info.state), "admin", vigil_admin_name(b->info.admin),
			 "weight", (int)b->info.weight, "share", b->share, "ejections",
			 (int)b->info.ejections, "selected", b->info.selected != 0, "since_wall_ns",
			 (json_int_t)b->info.since_wall_ns, "rule", vigil_rule_name(b->info.last_rule),
			 "evidence", evidence_json(&b->info.evidence));
}

static void print_backend_row(const struct vigil_cli_backend_row *b)
{
	char ep[VIGIL_ENDPOINT_STRLEN], age[32], evidence[96];
	const char *state = b->info.admin != VIGIL_ADMIN_NONE ? vigil_admin_name(b->info.admin)
							     : vigil_state_name(b->info.state);

	format_age(age, sizeof(age), b->info.since_wall_ns);
	format_evidence(evidence, sizeof(evidence), &b->info);
	printf("%-16s %-26s %-7s %-9s %6u %6.1f%% %4u %-12s %-20s %s\n", b->service,
	       vigil_endpoint_format(&b->key.backend, ep, sizeof(ep)),
	       b->info.role == VIGIL_ROLE_BACKUP ? "backup" : "primary", state, b->info.weight,
	       100.0 * b->share, b->info.ejections, age, vigil_rule_name(b->info.last_rule), evidence);
}

static bool has_service(const struct vigil_cli_state *st, const char *name)
{
	for (size_t i = 0; i < st->n_services; i++)
		if (strncmp(st->services[i].info.name, name, VIGIL_NAME_LEN) == 0)
			return true;
	return false;
}

int cmd_backends(const struct global_opts *g, int argc, char **argv)
{
	static const char usage[] = "usage: vigilctl backends [SERVICE] [--json]\n";
	struct vigil_cli_state st;
	const char *only = NULL;
	bool json = false;
	int ret = ctl_parse_flags(argc, argv, &json, NULL, 1, usage);
	json_t *arr;

	if (ret)
		return ret == 1 ? 0 : ret;
	if (optind < argc)
		only = argv[optind++];
	if (read_state(g, &st))
		return 1;
	if (only && !has_service(&st, only)) {
		fprintf(stderr, "vigilctl backends: no such service '%s': 'vigilctl services' "
			"lists them\n", only);
		vigil_cli_state_free(&st);
		return 1;
	}
	arr = json ? json_array() : NULL;
	if (!json)
		printf("%-16s %-26s %-7s %-9s %6s %7s %4s %-12s %-20s %s\n", "SERVICE", "BACKEND",
		       "ROLE", "STATE", "WEIGHT", "SHARE", "EJEC", "SINCE", "RULE", "EVIDENCE");
	for (size_t i = 0; i < st.n_backends; i++) {
		const struct vigil_cli_backend_row *b = &st.backends[i];

		if ((only && strcmp(b->service, only) != 0) || !vigil_cli_backend_first_vip(&st, i))
			continue;
		if (json)
			json_array_append_new(arr, backend_json(b));
		else
			print_backend_row(b);
	}
	vigil_cli_state_free(&st);
	return json ? print_json(json_pack("{s:i, s:o}", "schema", 1, "backends", arr)) : 0;
}

/* ---- events --------------------------------------------------------------- */

static const char *change_from_name(const struct vigil_change *c, bool to)
{
	static const char *const modes[] = { "primaries", "backups", "fail-open", "fail-open" };
	__u8 v = to ? c->to : c->from;

	if (c->key.backend.family == 0)
		return modes[v & 3];
	if (c->rule == VIGIL_RULE_ADMIN)
		return vigil_admin_name((enum vigil_admin_state)v);
	return vigil_state_name((enum vigil_backend_state)v);
}

/* The name of the service a change belongs to ("" once it is gone). */
static void service_name_of(int services_fd, const struct vigil_endpoint *vip, char *name)
{
	struct vigil_service_info info;

	name[0] = '\0';
	if (services_fd >= 0 && bpf_map_lookup_elem(services_fd, vip, &info) == 0)
		snprintf(name, VIGIL_NAME_LEN, "%.*s", VIGIL_NAME_LEN - 1, info.name);
}

static void print_change(const struct vigil_change *c, bool json, int services_fd)
{
	char vip[VIGIL_ENDPOINT_STRLEN], ep[VIGIL_ENDPOINT_STRLEN] = "-", when[48];
	char service[VIGIL_NAME_LEN];
	time_t secs = (time_t)(c->wall_ns / 1000000000ull);
	struct tm tm;

	service_name_of(services_fd, &c->key.vip, service);
	vigil_endpoint_format(&c->key.vip, vip, sizeof(vip));
	if (c->key.vip.family == 0 && service[0]) /* a service without a vip: its name */
		snprintf(vip, sizeof(vip), "%s", service);
	if (c->key.backend.family)
		vigil_endpoint_format(&c->key.backend, ep, sizeof(ep));
	localtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	if (json) {
		print_json(json_pack("{s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "seq",
				     (json_int_t)c->seq, "wall_ns", (json_int_t)c->wall_ns, "mono_ns",
				     (json_int_t)c->mono_ns, "service", service,
				     "vip", c->key.vip.family ? vip : "-", "backend", ep, "from",
				     change_from_name(c, false), "to", change_from_name(c, true), "rule",
				     vigil_rule_name(c->rule), "evidence", evidence_json(&c->evidence)));
		return;
	}
	if (c->rule == VIGIL_RULE_RESTART) {
		printf("%s.%03llu #%llu vigild restarted: %u backends out of service restored, %u "
		       "marked down by the kernel fast path, %u sockets waiting since before\n", when,
		       (unsigned long long)(c->wall_ns / 1000000ull % 1000), (unsigned long long)c->seq,
		       c->evidence.failures, c->evidence.errors, c->evidence.requests);
		fflush(stdout);
		return;
	}
	printf("%s.%03llu #%llu %-24s %-26s %s%s -> %s  rule=%s failures=%u latency_us=%u "
	       "limit_us=%u errors=%u/%u\n", when,
	       (unsigned long long)(c->wall_ns / 1000000ull % 1000), (unsigned long long)c->seq, vip,
	       ep, c->key.backend.family && c->rule == VIGIL_RULE_ADMIN ? "admin " : "",
	       change_from_name(c, false), change_from_name(c, true), vigil_rule_name(c->rule),
	       c->evidence.failures, c->evidence.latency_us, c->evidence.limit_us,
	       c->evidence.errors, c->evidence.requests);
	fflush(stdout);
}

static void events_usage(FILE *out)
{
	fprintf(out, "usage: vigilctl events [--service NAME] [--backend ADDR:PORT] [--follow] "
		     "[--json]\n"
		     "  --service NAME       only changes of this service (of its current virtual "
		     "addresses)\n"
		     "  --backend ADDR:PORT  only changes of this backend (10.0.0.2:8080, "
		     "[fd00::2]:8080)\n"
		     "  --follow             print changes as they happen, until Ctrl-C\n"
		     "  --json               one JSON object per change (NDJSON)\n");
}

struct events_opts {
	bool json, follow;
	const char *service, *backend;
	struct vigil_history_filter filter;
};

/* 0, 1 after --help, or EXIT_USAGE (said why). */
static int parse_events(int argc, char **argv, struct events_opts *o)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },	    { "follow", no_argument, NULL, 'f' },
		{ "service", required_argument, NULL, 's' }, { "backend", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },	    {},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jfs:b:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': o->json = true; break;
		case 'f': o->follow = true; break;
		case 's': o->service = optarg; break;
		case 'b': o->backend = optarg; break;
		case 'h': events_usage(stdout); return 1;
		default: events_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vigilctl events: unexpected argument '%s'\n", argv[optind]);
		events_usage(stderr);
		return EXIT_USAGE;
	}
	if (o->service && (!*o->service || strlen(o->service) >= VIGIL_NAME_LEN)) {
		fprintf(stderr, "vigilctl events: --service '%s': %s: give a name of 'vigilctl "
			"services'\n", o->service, *o->service ? "longer than any service name" : "empty");
		return EXIT_USAGE;
	}
	o->filter.by_backend = o->backend != NULL;
	if (o->backend && vigil_endpoint_parse(o->backend, &o->filter.backend)) {
		fprintf(stderr, "vigilctl events: --backend '%s' is not ADDRESS:PORT (e.g. "
			"10.0.0.2:8080 or [fd00::2]:8080)\n", o->backend);
		return EXIT_USAGE;
	}
	return 0;
}

/* The service's current virtual addresses; 1 (said why) when there is no
 * such service. */
static int filter_service(const struct vigil_cli_state *st, const char *name,
			  struct vigil_history_filter *f)
{
	f->by_service = true;
	for (size_t i = 0; i < st->n_services && f->n_vips < VIGIL_FILTER_MAX_VIPS; i++)
		if (strncmp(st->services[i].info.name, name, VIGIL_NAME_LEN) == 0)
			f->vips[f->n_vips++] = st->services[i].vip;
	if (f->n_vips)
		return 0;
	fprintf(stderr, "vigilctl events: no such service '%s': 'vigilctl services' lists them\n",
		name);
	return 1;
}

/* A backend is known when it is configured (in the service, with
 * --service) or has a change in the history that passes the filter. */
static bool backend_known(const struct global_opts *g, const struct vigil_cli_state *st,
			  const struct events_opts *o)
{
	struct vigil_change *recs;
	size_t n;
	char err[512];
	bool known = false;

	for (size_t i = 0; i < st->n_backends && !known; i++)
		known = (!o->service || strcmp(st->backends[i].service, o->service) == 0) &&
			memcmp(&st->backends[i].key.backend, &o->filter.backend,
			       sizeof(o->filter.backend)) == 0;
	if (known || vigil_cli_history_read(g->pin_dir, 0, &recs, &n, err, sizeof(err)))
		return known;
	for (size_t i = 0; i < n && !known; i++)
		known = vigil_history_match(&o->filter, &recs[i]);
	free(recs);
	return known;
}

/* Resolve --service and check --backend against what vigild published:
 * 0, or 1 (said why). */
static int resolve_filter(const struct global_opts *g, struct events_opts *o)
{
	struct vigil_cli_state st;
	int ret = 0;

	if (!o->service && !o->backend)
		return 0;
	if (read_state(g, &st))
		return 1;
	if (o->service)
		ret = filter_service(&st, o->service, &o->filter);
	if (!ret && o->backend && !backend_known(g, &st, o)) {
		fprintf(stderr, "vigilctl events: no backend %s %s%s, and no change of it in the "
			"history: 'vigilctl backends' lists them\n", o->backend,
			o->service ? "in service " : "in any service", o->service ? o->service : "");
		ret = 1;
	}
	vigil_cli_state_free(&st);
	return ret;
}

int cmd_events(const struct global_opts *g, int argc, char **argv)
{
	struct events_opts o = { 0 };
	int ret = parse_events(argc, argv, &o);
	__u64 last = 0;
	char err[512];

	if (ret)
		return ret == 1 ? 0 : ret;
	if (resolve_filter(g, &o))
		return 1;
	signal(SIGINT, request_stop);
	signal(SIGTERM, request_stop);
	do {
		struct vigil_change *recs;
		size_t n;
		int services_fd = -1;

		if (vigil_cli_history_read(g->pin_dir, last, &recs, &n, err, sizeof(err))) {
			fprintf(stderr, "vigilctl: %s\n", err);
			return 1;
		}
		if (n)
			services_fd = vigil_pin_open(g->pin_dir, VIGIL_PIN_SERVICES, BPF_MAP_TYPE_HASH,
						     sizeof(struct vigil_endpoint),
						     sizeof(struct vigil_service_info), err, sizeof(err));
		for (size_t i = 0; i < n; i++)
			if (vigil_history_match(&o.filter, &recs[i]))
				print_change(&recs[i], o.json, services_fd);
		if (services_fd >= 0)
			close(services_fd);
		if (n)
			last = recs[n - 1].seq;
		free(recs);
		if (o.follow)
			usleep(100 * 1000);
	} while (o.follow && !stop_requested);
	return 0;
}

/* ---- admin ---------------------------------------------------------------- */

static void admin_usage(FILE *out, const char *verb)
{
	fprintf(out, "usage: vigilctl %s SERVICE BACKEND   (BACKEND as 10.0.0.2:8080 or "
		"[fd00::2]:8080)\n", verb);
}

static int admin_command(const struct global_opts *g, int argc, char **argv,
			 enum vigil_admin_state admin, const char *verb)
{
	struct vigil_endpoint ep;
	char err[512];

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			admin_usage(stdout, verb);
			return 0;
		}
	if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-') {
		admin_usage(stderr, verb);
		return EXIT_USAGE;
	}
	if (vigil_endpoint_parse(argv[2], &ep)) {
		fprintf(stderr, "vigilctl %s: backend '%s' is not ADDRESS:PORT (e.g. 10.0.0.2:8080 or "
			"[fd00::2]:8080)\n", verb, argv[2]);
		return EXIT_USAGE;
	}
	if (vigil_cli_set_admin(g->pin_dir, argv[1], &ep, admin, err, sizeof(err))) {
		fprintf(stderr, "vigilctl %s: %s\n", verb, err);
		return 1;
	}
	printf("%s %s: %s (datapath updated; kept across vigild restarts)\n", argv[1], argv[2],
	       admin == VIGIL_ADMIN_NONE ? "back in service" : vigil_admin_name(admin));
	return 0;
}

int cmd_drain(const struct global_opts *g, int argc, char **argv)
{
	return admin_command(g, argc, argv, VIGIL_ADMIN_DRAINING, "drain");
}

int cmd_undrain(const struct global_opts *g, int argc, char **argv)
{
	return admin_command(g, argc, argv, VIGIL_ADMIN_NONE, "undrain");
}

int cmd_disable(const struct global_opts *g, int argc, char **argv)
{
	return admin_command(g, argc, argv, VIGIL_ADMIN_DISABLED, "disable");
}

int cmd_enable(const struct global_opts *g, int argc, char **argv)
{
	return admin_command(g, argc, argv, VIGIL_ADMIN_NONE, "enable");
}
