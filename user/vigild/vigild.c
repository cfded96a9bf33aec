/* SPDX-License-Identifier: MIT */
/* vigild: loads the in-kernel monitor, keeps its watch maps in line with the
 * config and consumes its failure events until SIGTERM/SIGINT; SIGHUP
 * reloads the config (vigild_reload.c). */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "addr.h"
#include "caps.h"
#include "cluster.h"
#include "clock.h"
#include "config.h"
#include "config_host.h"
#include "failover.h"
#include "host.h"
#include "journal_sink.h"
#include "lbfeeds.h"
#include "log.h"
#include "monitor.h"
#include "pins.h"
#include "pkt_dp.h"
#include "safefile.h"
#include "sd_notify.h"
#include "sock_census.h"
#include "sock_dp.h"
#include "sock_rescue.h"
#include "state_maps.h"
#include "version.h"
#include "vigild.h"

#define DEFAULT_CONFIG "/etc/vigil/vigil.yaml"

struct options {
	const char *config_path;
	const char *ready_file;
	int log_level; /* -1: from config */
	bool unpin;
	bool check_only;
};

static volatile sig_atomic_t stop_requested, reload_requested;

static void request_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* The reload itself runs in the event loop: it allocates, logs and writes
 * maps, none of which is safe in a signal handler. */
static void request_reload(int sig)
{
	(void)sig;
	reload_requested = 1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vigild [-c FILE] [--log-level LEVEL] [--ready-file PATH]\n"
		"       vigild --check [-c FILE]    validate the config and exit\n"
		"       vigild --unpin [-c FILE]    remove the maps pinned under daemon.pin_dir\n"
		"\n"
		"  -c, --config FILE     config file (default %s)\n"
		"  -l, --log-level L     error|warn|info|debug (overrides daemon.log_level)\n"
		"  -r, --ready-file P    create P once all hooks are attached; removed on exit\n"
		"  -V, --version         print the version\n"
		"\n"
		"Runs in the foreground until SIGTERM or SIGINT; SIGHUP re-reads the config\n"
		"(docs/config.md, Reload). Exit status: 0 clean stop, 1 runtime failure,\n"
		"2 bad usage or config, 3 missing privileges/kernel feature.\n",
		DEFAULT_CONFIG);
}

static int parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "ready-file", required_argument, NULL, 'r' },
		{ "unpin", no_argument, NULL, 'U' },
		{ "check", no_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c;

	*opt = (struct options){ .config_path = DEFAULT_CONFIG, .log_level = -1 };
	while ((c = getopt_long(argc, argv, "c:l:r:Vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': opt->config_path = optarg; break;
		case 'r': opt->ready_file = optarg; break;
		case 'U': opt->unpin = true; break;
		case 'C': opt->check_only = true; break;
		case 'V': printf("vigild %s\n", VIGIL_VERSION); exit(0);
		case 'h': usage(stdout); exit(0);
		case 'l':
			opt->log_level = vigil_log_level_parse(optarg);
			if (opt->log_level < 0) {
				fprintf(stderr, "vigild: --log-level %s: use error, warn, info or debug\n",
					optarg);
				return -EINVAL;
			}
			break;
		default: usage(stderr); return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "vigild: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static int libbpf_to_log(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char line[1024];

	/* libbpf's debug output is a flood; only surface it at debug level. */
	if (level == LIBBPF_DEBUG && vigil_log_get_level() < VIGIL_LOG_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, args);
	vigil_log(level == LIBBPF_WARN ? VIGIL_LOG_WARN : VIGIL_LOG_DEBUG, "libbpf: %s", line);
	return 0;
}

static const char *event_kind_name(__u32 kind)
{
	switch (kind) {
	case VIGIL_EV_REFUSED: return "refused";
	case VIGIL_EV_TIMEOUT: return "timeout";
	case VIGIL_EV_RESET: return "reset";
	case VIGIL_EV_KERNEL_DOWN: return "fast_path_down";
	default: return "unknown";
	}
}

static void log_failure_event(const struct vigil_event *ev, void *ctx)
{
	char ep[VIGIL_ENDPOINT_STRLEN];
	struct vigil_log_fields f = { .backend = vigil_endpoint_format(&ev->backend, ep,
								       sizeof(ep)) };

	(void)ctx;
	pr_info_f(&f, "failure kind=%s backend=%s ts_ns=%llu", event_kind_name(ev->kind), ep,
		  (unsigned long long)ev->ts_ns);
}

static int check_host(const struct vigil_config *cfg)
{
	char err[512];

	if (vigil_host_check_privileges(err, sizeof(err)) ||
	    vigil_host_check_btf(err, sizeof(err)) ||
	    vigil_host_prepare_bpffs(cfg->pin_dir, err, sizeof(err))) {
		pr_err("%s", err);
		return 3;
	}
	vigil_host_set_sched_priority(cfg->sched_priority);
	return 0;
}

static void install_signal_handlers(void)
{
	struct sigaction sa = { .sa_handler = request_stop };

	/* No SA_RESTART: the poll must return so the loop sees the flag. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = request_reload;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void on_kernel_event(const struct vigil_event *ev, void *ctx)
{
	struct vigild *d = ctx;

	log_failure_event(ev, NULL);
	if (d->fo)
		vigil_failover_on_event(d->fo, ev);
}

/* Without services there are no stuck rules to reconcile (failover.c does
 * it with them), only the count of tracked sockets vigilctl shows. */
static void census_without_services(const struct vigild *d)
{
	struct vigil_monitor_maps m;
	char err[256];

	vigil_monitor_maps(d->mon, &m);
	if (vigil_sock_census(m.sock_state, m.sock_counts, NULL, err, sizeof(err)) < 0)
		pr_warn("%s: tracked sockets that closed while no monitor hook ran stay counted",
			err);
}

void vigild_rescue_sync(struct vigild *d, const struct vigil_config *cfg)
{
	vigil_sock_rescue_apply(&d->rescue, cfg);
	if (d->fo)
		vigil_failover_set_rescue(d->fo, vigil_sock_rescue_moves_connects(d->rescue));
}

static int start_failover(struct vigild *d, const struct vigil_config *cfg, char *err, size_t errlen)
{
	struct vigil_monitor_maps mon_maps;
	struct vigil_svc_maps svc_maps;
	int ret;

	__u32 datapaths = 0;

	for (size_t i = 0; i < cfg->n_services; i++)
		datapaths |= cfg->services[i].datapath;
	if (!(datapaths & VIGIL_DATAPATH_SOCKET)) {
		vigil_sock_dp_detach_pinned(cfg->pin_dir);
		vigil_sock_rescue_apply(&d->rescue, cfg); /* removes what a previous run left */
	}
	if (!(datapaths & VIGIL_DATAPATH_XDP))
		vigil_pkt_dp_detach_pinned(cfg->pin_dir, cfg->xdp_netns);
	if (!vigild_needs_state(cfg))
		return 0;
	ret = vigil_state_maps_load(&d->state, cfg->pin_dir, err, errlen);
	if (ret || cfg->n_services == 0)
		return ret;
	if (datapaths & VIGIL_DATAPATH_SOCKET)
		ret = vigil_sock_dp_load(&d->sock, cfg->pin_dir, err, errlen);
	if (!ret && (datapaths & VIGIL_DATAPATH_XDP))
		ret = vigil_pkt_dp_start(&d->pkt, cfg, err, errlen);
	if (ret)
		return ret;
	if (d->pkt)
		vigil_pkt_dp_remove_stale(d->pkt, cfg);
	vigil_state_maps_fds(d->state, &svc_maps);
	vigil_monitor_maps(d->mon, &mon_maps);
	/* Sets and thresholds are published before the hooks switch over. */
	ret = vigil_failover_start(&d->fo, cfg, &mon_maps, &svc_maps, d->pkt, err, errlen);
	if (ret)
		return ret;
	vigil_failover_set_feeds(d->fo, d->feeds);
	vigil_failover_run(d->fo, vigil_now_ns());
	if (!(datapaths & VIGIL_DATAPATH_SOCKET))
		return 0;
	ret = vigil_sock_dp_attach(d->sock, cfg->lb_cgroup, err, errlen);
	if (!ret)
		vigild_rescue_sync(d, cfg);
	return ret;
}

void vigild_cluster_sync(struct vigild *d)
{
	const struct vigil_cluster_cfg *want = &d->cfg->cluster;
	char err[256];

	if (d->cluster && !memcmp(want, &d->cluster_cfg, sizeof(*want)) && want->enabled) {
		if (d->fo)
			vigil_failover_set_listener(d->fo, vigil_cluster_on_change, d->cluster);
		return;
	}
	if (d->cluster)
		pr_warn("cluster: %s", want->enabled ? "settings changed: reconnecting" : "leaving");
	if (d->fo)
		vigil_failover_set_listener(d->fo, NULL, NULL);
	vigil_cluster_stop(d->cluster);
	d->cluster = NULL;
	d->cluster_cfg = *want;
	if (!want->enabled)
		return;
	if (!d->fo)
		pr_warn("cluster: no services configured: this node only watches the others' "
			"verdicts");
	d->cluster = vigil_cluster_start(want, err, sizeof(err));
	if (!d->cluster)
		pr_err("%s: running local-only", err);
	else if (d->fo)
		vigil_failover_set_listener(d->fo, vigil_cluster_on_change, d->cluster);
}

static void stop_daemon(struct vigild *d)
{
	if (d->fo)
		vigil_failover_set_listener(d->fo, NULL, NULL);
	vigil_cluster_stop(d->cluster);
	d->cluster = NULL;
	vigil_failover_stop(d->fo);
	vigil_lbfeeds_free(d->feeds);
	vigil_pkt_dp_stop(d->pkt);
	vigil_sock_rescue_stop(d->rescue);
	vigil_sock_dp_stop(d->sock);
	vigil_state_maps_stop(d->state);
	vigil_monitor_stop(d->mon);
	vigil_pin_watch_free(d->pin_watch);
}

#define MAX_POLLFDS 260
#define TICK_MS 200 /* longest sleep of the main loop: the heartbeat's period */
#define STATUS_INTERVAL_NS (60 * 1000000000ULL)
/* Pins removed under vigild are put back within this: checking them costs a
 * dozen path lookups, too many for every turn of the loop. */
#define PIN_CHECK_NS (100 * 1000000ULL)

/* What the previous status line reported, to report the change since. */
struct status_mark {
	__u64 next_ns;       /* the next line is due */
	__u64 failures_seen; /* map writes failed until the last line */
	__u64 at_ns, cpu_ns; /* when it was written, vigild's CPU time then */
};

/* vigild's own CPU time so far (user + system, every thread), in ns. */
static __u64 own_cpu_ns(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return ((__u64)ru.ru_utime.tv_sec + (__u64)ru.ru_stime.tv_sec) * 1000000000ull +
	       ((__u64)ru.ru_utime.tv_usec + (__u64)ru.ru_stime.tv_usec) * 1000ull;
}

/* The periodic status line, with vigild's own CPU use since the previous
 * one: at info level, or warn when map writes failed since the previous one
 * (each failure was logged, rate-limited, already; this keeps the running
 * total in view). */
static void log_status(const struct vigild *d, __u64 now, struct status_mark *m)
{
	__u64 failures = d->fo ? vigil_failover_write_failures(d->fo) : 0, cpu;

	if (now < m->next_ns)
		return;
	cpu = own_cpu_ns();
	m->next_ns = now + STATUS_INTERVAL_NS;
	vigil_log(failures > m->failures_seen ? VIGIL_LOG_WARN : VIGIL_LOG_INFO,
		  "status: %zu services; vigild used %.2f%% of one CPU over the last %.0f s; %llu map "
		  "writes failed since the start%s", d->cfg->n_services,
		  now > m->at_ns ? 100.0 * (double)(cpu - m->cpu_ns) / (double)(now - m->at_ns) : 0.0,
		  (double)(now - m->at_ns) / 1e9, (unsigned long long)failures,
		  failures > m->failures_seen
		  ? " (see the 'map ...: writing' lines above): check the datapath with vigilctl" : "");
	m->failures_seen = failures;
	m->at_ns = now;
	m->cpu_ns = cpu;
}

/* STATUS= for systemd: one line on what runs. */
static void status_line(const struct vigild *d, const char *prefix, char *buf, size_t len)
{
	const struct vigil_config *c = d->cfg;

	snprintf(buf, len, "%swatching %zu endpoints, %zu prefixes, %zu local ports%s; "
		 "%zu services", prefix, c->n_backends, c->n_prefixes, c->n_local_ports,
		 c->watch_all ? ", every outgoing connection" : "", c->n_services);
}

/* SIGHUP: RELOADING=1 before, READY=1 after, also when the reload was
 * refused (the running config then stays, and STATUS= says so). */
static void reload(struct vigild *d)
{
	char status[400], why[512] = "";
	int ret;

	vigil_sd_reloading();
	/* A refused reload logs why; /readyz repeats it. */
	vigil_log_capture_errors(why, sizeof(why));
	ret = vigild_reload(d);
	vigil_log_capture_errors(NULL, 0);
	vigild_metrics_reloaded(d, ret == 0, why);
	status_line(d, ret ? "reload refused, running config kept: " : "", status, sizeof(status));
	vigil_sd_ready(status);
}

/* The heartbeat vigilctl reads (abi.h, struct vigil_heartbeat): our pid while
 * the loop turns, 0 on a clean stop. It is the monitor's map, so a vigild
 * without services beats too. */
static void heartbeat_write(const struct vigild *d, __u32 pid)
{
	struct vigil_heartbeat hb = { .wall_ns = vigil_wall_ns(), .mono_ns = vigil_now_ns(),
				      .pid = pid, .tick_ms = TICK_MS };
	__u32 key = 0;

	if (bpf_map_update_elem(vigil_monitor_heartbeat_fd(d->mon), &key, &hb, BPF_ANY) < 0)
		pr_debug("writing the heartbeat failed: %s", strerror(errno));
}

static void cluster_status(struct vigild *d, struct vigil_daemon_status *st)
{
	struct vigil_cluster_status cs;

	if (!d->cluster)
		return;
	vigil_cluster_get_status(d->cluster, &cs);
	st->cluster_state = vigil_cluster_state_of(&cs);
	st->cluster_live_nodes = cs.live_nodes;
	st->cluster_remote_verdicts = cs.remote_verdicts;
	st->cluster_remote_acted = cs.remote_acted;
	st->cluster_published = cs.published;
	snprintf(st->cluster_node, sizeof(st->cluster_node), "%s", cs.node);
	snprintf(st->cluster_endpoint, sizeof(st->cluster_endpoint), "%s", cs.endpoint);
}

/* The pinned daemon_status, written only when it changed. */
static void status_write(struct vigild *d)
{
	struct vigil_daemon_status st = { 0 };
	__u32 key = 0;

	snprintf(st.version, sizeof(st.version), "%s", VIGIL_VERSION);
	cluster_status(d, &st);
	if (d->status_written && !memcmp(&st, &d->status, sizeof(st)))
		return;
	if (bpf_map_update_elem(vigil_monitor_status_fd(d->mon), &key, &st, BPF_ANY) < 0) {
		pr_debug("writing daemon_status failed: %s", strerror(errno));
		return;
	}
	d->status = st;
	d->status_written = true;
}

static int event_loop(struct vigild *d)
{
	struct pollfd fds[MAX_POLLFDS];
	__u64 start = vigil_now_ns(), next_pin_check = start;
	struct status_mark status = { start + STATUS_INTERVAL_NS, 0, start, own_cpu_ns() };
	__u32 pid = (__u32)getpid();
	int ret = 0;

	while (!stop_requested) {
		__u64 now, lag = VIGILD_NO_LAG;
		int timeout, ready;
		size_t n = 1;

		if (reload_requested) {
			reload_requested = 0;
			reload(d);
		}
		now = vigil_now_ns();
		/* The watchdog is fed here, once per tick: a loop that stops
		 * turning stops feeding it. */
		vigil_sd_watchdog_tick(now);
		heartbeat_write(d, pid);
		status_write(d);
		timeout = d->fo ? vigil_failover_timeout_ms(d->fo, now) : TICK_MS;
		timeout = vigil_lbfeeds_timeout_ms(d->feeds, now, timeout);
		timeout = vigil_sd_watchdog_max_sleep_ms(timeout > TICK_MS ? TICK_MS : timeout);
		fds[0] = (struct pollfd){ .fd = vigil_monitor_epoll_fd(d->mon), .events = POLLIN };
		if (d->cluster)
			fds[n++] = (struct pollfd){ .fd = vigil_cluster_fd(d->cluster), .events = POLLIN };
		if (d->fo)
			n += vigil_failover_pollfds(d->fo, fds + n, MAX_POLLFDS - n);
		n += vigil_lbfeeds_pollfds(d->feeds, fds + n, MAX_POLLFDS - n);
		now = vigil_now_ns();
		ready = poll(fds, n, timeout);
		if (ready < 0 && errno != EINTR) {
			ret = -errno;
			pr_err("poll failed: %s", strerror(-ret));
			break;
		}
		if (ready == 0) { /* slept the whole timeout: how much later than planned it woke */
			__u64 slept = vigil_now_ns() - now, planned = (__u64)timeout * 1000000ull;

			lag = slept > planned ? slept - planned : 0;
		}
		ret = vigil_monitor_consume(d->mon);
		if (ret < 0 && ret != -EINTR) {
			pr_err("reading events failed: %s", strerror(-ret));
			break;
		}
		ret = 0;
		now = vigil_now_ns();
		if (now >= next_pin_check) {
			vigild_check_pins(d);
			next_pin_check = now + PIN_CHECK_NS;
		}
		if (d->cluster)
			vigil_cluster_apply(d->cluster, d->fo, now);
		if (d->fo)
			vigil_failover_run(d->fo, now);
		vigild_feeds_tick(d, vigil_now_ns());
		log_status(d, vigil_now_ns(), &status);
		vigild_metrics_round(d, lag);
	}
	return ret;
}

/* *cfgp is the running config: a reload replaces it (and frees the one it
 * replaces), so the caller frees whatever *cfgp holds on return. */
static int run(struct vigil_config **cfgp, const struct options *opt)
{
	struct vigild d = { .config_path = opt->config_path, .log_level_override = opt->log_level,
			    .cfg = *cfgp };
	const struct vigil_config *cfg;
	char err[512] = "out of memory starting the load balancer feeds";
	int ret;

	/* First: the services made from HAProxy's servers are watched and
	 * judged from the start. */
	ret = vigild_feeds_start(&d);
	*cfgp = d.cfg;
	cfg = d.cfg;
	if (!ret)
		ret = vigild_metrics_start(&d, TICK_MS, err, sizeof(err));
	if (!ret)
		ret = vigil_monitor_start(&d.mon, cfg, on_kernel_event, &d, err, sizeof(err));
	if (!ret)
		ret = start_failover(&d, cfg, err, sizeof(err));
	if (!ret && !d.fo)
		census_without_services(&d);
	if (!ret && !(d.pin_watch = vigil_pin_watch_new(cfg->pin_dir))) {
		snprintf(err, sizeof(err), "out of memory watching %s", cfg->pin_dir);
		ret = -ENOMEM;
	}
	if (ret) {
		pr_err("%s", err);
		vigild_metrics_stop(&d);
		stop_daemon(&d);
		return 1;
	}
	vigild_cluster_sync(&d);
	pr_info("monitor attached; maps pinned under %s; watching %zu endpoints, %zu prefixes, "
		"%zu local ports%s; %zu services", cfg->pin_dir, cfg->n_backends, cfg->n_prefixes,
		cfg->n_local_ports, cfg->watch_all ? ", and every outgoing connection" : "",
		cfg->n_services);
	/* Everything that needs more than the running daemon does is done. */
	ret = vigil_caps_drop(cfg->sched_priority > 0, err, sizeof(err));
	if (ret)
		pr_warn("%s: vigild keeps every capability it was started with", err);
	if (opt->ready_file && vigil_ready_file_write(opt->ready_file) < 0) {
		vigild_metrics_stop(&d);
		stop_daemon(&d);
		return 1;
	}
	vigild_metrics_applied(&d);
	status_line(&d, "", err, sizeof(err));
	vigil_sd_ready(err);
	ret = event_loop(&d);
	vigil_sd_stopping();
	*cfgp = d.cfg;
	pr_info("stopping: the monitor hooks, maps and socket load balancer stay pinned under %s "
		"(the kernel fast path keeps working; 'vigild --unpin' removes them); %llu map "
		"writes failed", d.cfg->pin_dir,
		(unsigned long long)(d.fo ? vigil_failover_write_failures(d.fo) : 0));
	heartbeat_write(&d, 0);
	vigild_metrics_stop(&d);
	stop_daemon(&d);
	if (opt->ready_file)
		unlink(opt->ready_file);
	return ret < 0 ? 1 : 0;
}

/* --unpin: refused while a vigild owns the pin directory. */
static int unpin(const struct vigil_config *cfg)
{
	char err[512];
	int lock = vigil_pin_lock(cfg->pin_dir, err, sizeof(err)), ret;

	if (lock < 0) {
		pr_err("not unpinning: %s", err);
		return 1;
	}
	/* tc filters hold their program, not a pin: detach them first. */
	vigil_pkt_dp_detach_pinned(cfg->pin_dir, cfg->xdp_netns);
	vigil_sock_rescue_detach_pinned(cfg->pin_dir, cfg->probe_netns);
	ret = vigil_monitor_unpin(cfg->pin_dir);
	if (ret)
		pr_err("unpinning %s failed: %s", cfg->pin_dir, strerror(-ret));
	vigil_pin_unlock(lock, cfg->pin_dir);
	return ret ? 1 : 0;
}

/* One vigild per pin directory: the lock is held until exit. A reload cannot
 * change daemon.pin_dir, so the lock stays the right one. */
static int run_locked(struct vigil_config **cfgp, const struct options *opt)
{
	char err[512], pin_dir[256];
	int lock = vigil_pin_lock((*cfgp)->pin_dir, err, sizeof(err)), ret;

	if (lock < 0) {
		pr_err("%s", err);
		return 1;
	}
	snprintf(pin_dir, sizeof(pin_dir), "%s", (*cfgp)->pin_dir);
	ret = run(cfgp, opt);
	vigil_pin_unlock(lock, pin_dir);
	return ret;
}

int main(int argc, char **argv)
{
	struct vigil_config *cfg = calloc(1, sizeof(*cfg)); /* heap: a reload replaces it */
	struct options opt;
	char err[512];
	int ret;

	if (!cfg || parse_options(argc, argv, &opt)) {
		free(cfg);
		return 2;
	}
	if (vigil_config_file_check(opt.config_path, err, sizeof(err)) ||
	    vigil_config_load_file(opt.config_path, cfg, err, sizeof(err)) ||
	    (!opt.unpin && vigil_config_host_check(cfg, opt.config_path, err, sizeof(err)))) {
		fprintf(stderr, "vigild: %s\n", err);
		vigil_config_free(cfg);
		free(cfg);
		return 2;
	}
	vigild_log_setup();
	vigil_log_set_level(opt.log_level >= 0 ? (enum vigil_log_level)opt.log_level
					       : cfg->log_level);
	if (opt.check_only) {
		printf("%s: ok\n", opt.config_path);
		ret = 0;
	} else if (opt.unpin) {
		ret = unpin(cfg);
	} else {
		libbpf_set_print(libbpf_to_log);
		install_signal_handlers();
		vigil_sd_init();
		ret = check_host(cfg);
		if (!ret)
			ret = run_locked(&cfg, &opt);
	}
	vigil_config_free(cfg);
	free(cfg);
	return ret;
}
