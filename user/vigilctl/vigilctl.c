/* SPDX-License-Identifier: MIT */
/* vigilctl: operator CLI. Reads vigil's pinned maps directly, so it works
 * whether or not vigild is running. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heartbeat.h"
#include "maps.h"
#include "vigilctl.h"
#include "stats_fmt.h"

#define MAX_INTERVAL_S 86400

struct command {
	const char *name;
	const char *summary;
	int (*run)(const struct global_opts *g, int argc, char **argv);
};

static volatile sig_atomic_t stop_requested;

static void request_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int parse_uint(const char *flag, const char *text, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || *end || end == text || v < 1 || v > max || text[0] == '-') {
		fprintf(stderr, "vigilctl: %s %s: expected a whole number from 1 to %u\n", flag,
			text, max);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

static int print_snapshot(const struct vigil_snapshot *snap, bool json, unsigned interval_s)
{
	if (json)
		return vigil_stats_print_json(stdout, snap, interval_s);
	vigil_stats_print_table(stdout, snap, interval_s);
	return 0;
}

/* Every interval_s seconds, print what happened during the interval. */
static int stats_loop(const struct global_opts *g, bool json, unsigned interval_s, unsigned count)
{
	struct vigil_snapshot before, now, delta;
	char err[512];
	int ret = 0;

	if (vigil_snapshot_read(g->pin_dir, &before, err, sizeof(err))) {
		fprintf(stderr, "vigilctl: %s\n", err);
		return 1;
	}
	signal(SIGINT, request_stop);
	signal(SIGTERM, request_stop);
	for (unsigned i = 0; !stop_requested && (count == 0 || i < count); i++) {
		sleep(interval_s);
		if (stop_requested)
			break;
		if (vigil_snapshot_read(g->pin_dir, &now, err, sizeof(err))) {
			fprintf(stderr, "vigilctl: %s\n", err);
			ret = 1;
			break;
		}
		/* One read per interval: this one is both the end of this interval
		 * and the start of the next, so no event falls between the two. */
		if (vigil_snapshot_copy(&delta, &now)) {
			fprintf(stderr, "vigilctl: out of memory\n");
			vigil_snapshot_free(&now);
			ret = 1;
			break;
		}
		vigil_snapshot_delta(&delta, &before);
		print_snapshot(&delta, json, interval_s);
		vigil_snapshot_free(&delta);
		vigil_snapshot_free(&before);
		before = now;
	}
	vigil_snapshot_free(&before);
	return ret;
}

static void stats_usage(FILE *out)
{
	fprintf(out, "usage: vigilctl [--pin-dir DIR] stats [--json] [--interval N [--count M]]\n"
		     "  --json         one JSON object per report (schema in docs/vigilctl.md)\n"
		     "  --interval N   report every N seconds what happened in those N seconds\n"
		     "  --count M      stop after M interval reports\n");
}

static int cmd_stats(const struct global_opts *g, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	unsigned interval_s = 0, count = 0;
	bool json = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "ji:n:h", longopts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 'i' && parse_uint("--interval", optarg, MAX_INTERVAL_S, &interval_s))
			return EXIT_USAGE;
		else if (c == 'n' && parse_uint("--count", optarg, 1u << 30, &count))
			return EXIT_USAGE;
		else if (c == 'h') {
			stats_usage(stdout);
			return 0;
		} else if (c != 'i' && c != 'n') {
			stats_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "vigilctl stats: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (interval_s)
		return stats_loop(g, json, interval_s, count);

	struct vigil_snapshot snap;
	char err[512];

	if (vigil_snapshot_read(g->pin_dir, &snap, err, sizeof(err))) {
		fprintf(stderr, "vigilctl: %s\n", err);
		return 1;
	}
	c = print_snapshot(&snap, json, 0);
	vigil_snapshot_free(&snap);
	return c ? 1 : 0;
}

static const struct command commands[] = {
	{ "status", "vigild running or not, services and backends by state, losses", cmd_status },
	{ "stats", "per-backend and per-local-port TCP signals", cmd_stats },
	{ "services", "services, their virtual addresses and serving sets", cmd_services },
	{ "backends", "backend states, last rule and evidence, share of new connections",
	  cmd_backends },
	{ "events", "history of state changes (--follow to stream, --service, --backend)",
	  cmd_events },
	{ "drain", "SERVICE BACKEND: no new connections, existing ones untouched", cmd_drain },
	{ "undrain", "SERVICE BACKEND: end a drain", cmd_undrain },
	{ "disable", "SERVICE BACKEND: out of selection and probing", cmd_disable },
	{ "enable", "SERVICE BACKEND: end a disable", cmd_enable },
	{ "xdp", "packet load balancer counters and drops by reason (XDP and tc)", cmd_xdp },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: vigilctl [--pin-dir DIR] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
		"\noptions:\n"
		"  --pin-dir DIR   where vigild pinned its maps (default $VIGIL_PIN_DIR or %s)\n"
		"  -h, --help      this text; 'vigilctl COMMAND --help' for a command\n"
		"\nevery command takes --json (one JSON document; NDJSON with --follow/--interval).\n"
		"exit status: 0 success, 1 the maps could not be read or written (the message\n"
		"says why and what to do), 2 bad command line.\n", VIGIL_DEFAULT_PIN_DIR);
}

/* A pin directory that fits PATH_MAX with the longest pin name after it. */
static int check_pin_dir(const char *what, const char *dir)
{
	size_t len = strlen(dir);

	if (!len) {
		fprintf(stderr, "vigilctl: %s: empty: give the directory vigild pins its maps "
			"in (daemon.pin_dir, default %s)\n", what, VIGIL_DEFAULT_PIN_DIR);
		return -EINVAL;
	}
	if (len > VIGILCTL_PIN_DIR_MAX) {
		fprintf(stderr, "vigilctl: %s: %zu characters, at most %d: use a shorter path\n",
			what, len, VIGILCTL_PIN_DIR_MAX);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* Global options before the command; returns the index of the command,
 * 0 after --help, or -1 on a usage error (printed). */
static int parse_global(int argc, char **argv, struct global_opts *g)
{
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *dir = NULL;

		if (strncmp(argv[i], "--pin-dir=", 10) == 0) {
			dir = argv[i] + 10;
		} else if (strcmp(argv[i], "--pin-dir") == 0) {
			if (i + 1 == argc) {
				fprintf(stderr, "vigilctl: --pin-dir needs a value: --pin-dir DIR\n");
				return -1;
			}
			dir = argv[++i];
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "vigilctl: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return -1;
		}
		if (check_pin_dir("--pin-dir", dir))
			return -1;
		g->pin_dir = dir;
	}
	return i;
}

/* Whether the command's arguments include flag (before any "--"). */
static bool has_flag(int argc, char **argv, const char *flag)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], flag) == 0)
			return true;
	return false;
}

/* Before every command but --help: the heartbeat goes in the JSON ("vigild")
 * with --json, on stderr otherwise. */
static void check_vigild(const struct global_opts *g, int argc, char **argv)
{
	if (has_flag(argc, argv, "--help") || has_flag(argc, argv, "-h"))
		return;
	ctl_vigild_check(g->pin_dir, has_flag(argc, argv, "--json"));
}

int main(int argc, char **argv)
{
	struct global_opts g = { .pin_dir = getenv("VIGIL_PIN_DIR") };
	int i;

	if (!g.pin_dir || !*g.pin_dir)
		g.pin_dir = VIGIL_DEFAULT_PIN_DIR;
	else if (check_pin_dir("$VIGIL_PIN_DIR", g.pin_dir))
		return EXIT_USAGE;
	i = parse_global(argc, argv, &g);
	if (i <= 0)
		return i ? EXIT_USAGE : 0;
	if (i == argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
		if (strcmp(argv[i], commands[c].name) == 0) {
			check_vigild(&g, argc - i, argv + i);
			return commands[c].run(&g, argc - i, argv + i);
		}
	fprintf(stderr, "vigilctl: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return EXIT_USAGE;
}
