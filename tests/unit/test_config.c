/* SPDX-License-Identifier: MIT */
/*
 * user/lib/config.c: good files load with the right values, every bad-file class
 * fails with "FILE:LINE: reason" and leaves the config empty. Fixtures live in
 * $VIGIL_TEST_DATA (default tests/unit/data).
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "config.h"
#include "suites.h"


static const char *data_dir(void)
{
	const char *d = getenv("VIGIL_TEST_DATA");

	return d && *d ? d : "tests/unit/data";
}

static void data_path(char *buf, size_t len, const char *file)
{
	snprintf(buf, len, "%s/%s", data_dir(), file);
}

/* The config must be back to defaults with nothing allocated. */
static void assert_empty(const struct vigil_config *cfg)
{
	ck_assert_str_eq(cfg->pin_dir, VIGIL_DEFAULT_PIN_DIR);
	ck_assert_int_eq(cfg->log_level, VIGIL_LOG_WARN);
	ck_assert(!cfg->watch_all);
	ck_assert(!cfg->watch_all_local);
	ck_assert_uint_eq(cfg->watch_all_max, VIGIL_MAX_BACKENDS);
	ck_assert_ptr_null(cfg->backends);
	ck_assert_ptr_null(cfg->prefixes);
	ck_assert_ptr_null(cfg->local_ports);
	ck_assert_uint_eq(cfg->n_backends, 0);
	ck_assert_uint_eq(cfg->n_prefixes, 0);
	ck_assert_uint_eq(cfg->n_local_ports, 0);
	ck_assert_ptr_null(cfg->haproxy.backends);
	ck_assert_ptr_null(cfg->nginx.upstreams);
}

static void load_ok(const char *file, struct vigil_config *cfg)
{
	char path[512], err[512] = "";
	int ret;

	data_path(path, sizeof(path), file);
	ret = vigil_config_load_file(path, cfg, err, sizeof(err));
	ck_assert_msg(ret == 0, "%s: %d %s", file, ret, err);
}

/* ---- good files ---------------------------------------------------------- */

START_TEST(good_full)
{
	struct vigil_config cfg;
	char buf[64];

	load_ok("good-full.yaml", &cfg);
	ck_assert_str_eq(cfg.pin_dir, "/sys/fs/bpf/vigil-test"); /* trailing '/' dropped */
	ck_assert_int_eq(cfg.log_level, VIGIL_LOG_DEBUG);
	ck_assert(cfg.watch_all);
	ck_assert_uint_eq(cfg.watch_all_max, 2048);
	ck_assert(cfg.watch_all_local);

	ck_assert_uint_eq(cfg.n_backends, 3);
	ck_assert_str_eq(vigil_endpoint_format(&cfg.backends[0], buf, sizeof(buf)), "10.0.0.2:80");
	ck_assert_str_eq(vigil_endpoint_format(&cfg.backends[1], buf, sizeof(buf)),
			 "[fd00::2]:8080");
	ck_assert_str_eq(vigil_endpoint_format(&cfg.backends[2], buf, sizeof(buf)), "10.0.0.3:443");

	ck_assert_uint_eq(cfg.n_prefixes, 4);
	ck_assert_str_eq(vigil_prefix_format(&cfg.prefixes[0].key, buf, sizeof(buf)), "10.1.0.0/16");
	ck_assert_uint_eq(cfg.prefixes[0].port, 0);
	ck_assert_uint_eq(cfg.prefixes[1].key.prefixlen, 96 + 16);
	ck_assert_uint_eq(cfg.prefixes[1].port, 443);
	ck_assert_str_eq(vigil_prefix_format(&cfg.prefixes[2].key, buf, sizeof(buf)), "fd00:1::/64");
	ck_assert_str_eq(vigil_prefix_format(&cfg.prefixes[3].key, buf, sizeof(buf)), "fd00:2::/48");
	ck_assert_uint_eq(cfg.prefixes[3].port, 8443);

	ck_assert_uint_eq(cfg.n_local_ports, 2);
	ck_assert_uint_eq(cfg.local_ports[0], 8080);
	ck_assert_uint_eq(cfg.local_ports[1], 9090);
	vigil_config_free(&cfg);
	assert_empty(&cfg);
	vigil_config_free(&cfg); /* twice is harmless */
}
END_TEST

/* Files that must give exactly the defaults. */
/* cluster: every key, and its defaults when absent. */
START_TEST(good_cluster)
{
	struct vigil_config cfg;

	load_ok("good-cluster.yaml", &cfg);
	ck_assert(cfg.cluster.enabled);
	ck_assert_uint_eq(cfg.cluster.n_endpoints, 3);
	ck_assert_str_eq(cfg.cluster.endpoints[1], "https://[fd00::1]:2379");
	ck_assert_str_eq(cfg.cluster.node, "host-a");
	ck_assert_str_eq(cfg.cluster.prefix, "/vigil/prod/");
	ck_assert_uint_eq(cfg.cluster.lease_ttl_s, 5);
	ck_assert_uint_eq(cfg.cluster.timeout_ms, 250);
	ck_assert_double_eq_tol(cfg.cluster.outlier_quorum, 0.34, 1e-9);
	ck_assert_str_eq(cfg.cluster.key_file, "/etc/vigil/node-key.pem");
	ck_assert_str_eq(cfg.monitor_netns, "/var/run/netns/host-a");
	vigil_config_free(&cfg);
	load_ok("good-empty.yaml", &cfg);
	ck_assert(!cfg.cluster.enabled);
	ck_assert_str_eq(cfg.cluster.prefix, "/vigil/");
	ck_assert_uint_eq(cfg.cluster.lease_ttl_s, 3);
	ck_assert_str_eq(cfg.monitor_netns, "");
	vigil_config_free(&cfg);
}
END_TEST

static const char *const good_default_files[] = {
	"good-empty.yaml",
	"good-comments.yaml",
	"good-null-sections.yaml",
};

START_TEST(good_defaults)
{
	struct vigil_config cfg;

	load_ok(good_default_files[_i], &cfg);
	assert_empty(&cfg);
	vigil_config_free(&cfg);
}
END_TEST

START_TEST(good_bools)
{
	struct vigil_config cfg;

	load_ok("good-bools.yaml", &cfg);
	ck_assert(cfg.watch_all);        /* On */
	ck_assert(!cfg.watch_all_local); /* "no" */
	ck_assert_uint_eq(cfg.n_local_ports, 1);
	ck_assert_uint_eq(cfg.local_ports[0], 443); /* "443" */
	vigil_config_free(&cfg);
}
END_TEST

START_TEST(good_anchors)
{
	struct vigil_config cfg;

	load_ok("good-anchors.yaml", &cfg);
	ck_assert_uint_eq(cfg.n_backends, 1);
	ck_assert_uint_eq(cfg.backends[0].port, 80);
	ck_assert_uint_eq(cfg.n_prefixes, 1);
	vigil_config_free(&cfg);
}
END_TEST

/* The shipped example must always be valid. */
START_TEST(good_example)
{
	const char *dir = getenv("VIGIL_EXAMPLES");
	struct vigil_config cfg;
	char path[512], err[512] = "";
	int ret;

	snprintf(path, sizeof(path), "%s/vigil.yaml", dir && *dir ? dir : "examples");
	ret = vigil_config_load_file(path, &cfg, err, sizeof(err));
	ck_assert_msg(ret == 0, "%s", err);
	ck_assert_uint_gt(cfg.n_backends + cfg.n_prefixes + cfg.n_local_ports, 0);
	vigil_config_free(&cfg);
}
END_TEST

/* The detection defaults are stated once in the code
 * (vigil_det_params_defaults); docs/detection.md's "Configuration" table
 * repeats them for users and must not drift from it. */
#define DET_FIELD(f) { #f, offsetof(struct vigil_det_params, f), \
		       __builtin_types_compatible_p(__typeof__(((struct vigil_det_params *)0)->f), double) }
static const struct {
	const char *key;
	size_t off;
	bool is_double;
} det_fields[] = {
	DET_FIELD(consecutive_failures), DET_FIELD(error_ratio), DET_FIELD(error_min_requests),
	DET_FIELD(window_ms), DET_FIELD(slow_factor), DET_FIELD(slow_floor_ms),
	DET_FIELD(slow_min_samples), DET_FIELD(stuck_factor), DET_FIELD(stuck_connect_floor_ms),
	DET_FIELD(stuck_request_floor_ms), DET_FIELD(stall_floor_ms),
	DET_FIELD(stuck_unacked_floor_ms), DET_FIELD(eject_base_ms), DET_FIELD(eject_max_ms),
	DET_FIELD(probe_interval_ms), DET_FIELD(probe_successes), DET_FIELD(max_ejection_share),
};

static double det_value(const struct vigil_det_params *p, int i)
{
	const char *base = (const char *)p + det_fields[i].off;

	return det_fields[i].is_double ? *(const double *)base : *(const __u32 *)base;
}

/* "| `key` | value | ..." -> 1 and key, value; 0 for any other line. */
static int doc_row(const char *line, char *key, size_t keylen, double *value)
{
	const char *k = line + 3, *end;

	if (strncmp(line, "| `", 3) != 0 || !(end = strchr(k, '`')) || (size_t)(end - k) >= keylen)
		return 0;
	memcpy(key, k, end - k);
	key[end - k] = '\0';
	return sscanf(end, "` | %lf |", value) == 1;
}

START_TEST(docs_detection_defaults)
{
	const char *dir = getenv("VIGIL_EXAMPLES");
	struct vigil_det_params p;
	char path[512], line[512], key[64];
	int seen[N(det_fields)] = { 0 }, in_config = 0;
	double v;
	FILE *f;

	vigil_det_params_defaults(&p);
	snprintf(path, sizeof(path), "%s/../docs/detection.md", dir && *dir ? dir : "examples");
	f = fopen(path, "r");
	ck_assert_msg(f, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "## ", 3) == 0)
			in_config = strncmp(line, "## Configuration", 16) == 0;
		if (!in_config || !doc_row(line, key, sizeof(key), &v))
			continue;
		for (int i = 0; i < N(det_fields); i++) {
			if (strcmp(key, det_fields[i].key) != 0)
				continue;
			ck_assert_msg(v == det_value(&p, i), "%s: %s is %g in the docs, %g in "
				      "vigil_det_params_defaults()", path, key, v, det_value(&p, i));
			seen[i] = 1;
		}
	}
	fclose(f);
	for (int i = 0; i < N(det_fields); i++)
		ck_assert_msg(seen[i], "%s: no row for %s in its Configuration table", path,
			      det_fields[i].key);
}
END_TEST

/* ---- bad files: every rejection class with its line and reason ----------- */

static const struct {
	const char *file;
	int line;
	const char *reason;
} bad_files[] = {
	/* YAML itself */
	{ "bad-syntax.yaml", 4, "YAML syntax error: did not find expected ',' or ']'" },
	{ "bad-syntax.yaml", 4, "flow sequence that started at line 3" },
	{ "bad-tab.yaml", 2, "YAML does not allow tabs" },
	{ "bad-utf8.yaml", 3, "invalid leading UTF-8 octet" },
	{ "bad-nul.yaml", 2, "control characters are not allowed" },
	{ "bad-two-docs.yaml", 4, "a second YAML document" },
	/* shape: wrong node types */
	{ "bad-top-list.yaml", 2, "top level: expected a mapping, got a list" },
	{ "bad-top-scalar.yaml", 1, "top level: expected a mapping, got a scalar" },
	{ "bad-daemon-list.yaml", 3, "daemon: expected a mapping, got a list" },
	{ "bad-daemon-scalar.yaml", 1, "daemon: expected a mapping, got a scalar" },
	{ "bad-backends-map.yaml", 3, "watch.backends: expected a list, got a mapping" },
	{ "bad-backends-scalar.yaml", 2, "watch.backends: expected a list, got a scalar" },
	{ "bad-backend-item-list.yaml", 4, "watch.backends[1]: expected a quoted string, got a list" },
	{ "bad-backend-empty-item.yaml", 3, "watch.backends[0]: expected a quoted string, got an empty value" },
	{ "bad-local-ports-map.yaml", 2, "watch.local_ports: expected a list, got a mapping" },
	{ "bad-watch-all-max-list.yaml", 2, "daemon.watch_all_max: expected an integer, got a list" },
	{ "bad-bool-empty.yaml", 2, "daemon.watch_all_local: expected a boolean, got an empty value" },
	{ "bad-key-not-scalar.yaml", 2, "daemon: keys must be plain words" },
	/* keys */
	{ "bad-unknown-top.yaml", 3, "top level: unknown key \"deamon\" (known: daemon, watch, services, detection, lb, xdp, cluster, metrics, haproxy, nginx)" },
	{ "bad-unknown-daemon.yaml", 3, "daemon: unknown key \"log_lvl\" (known: pin_dir, log_level, "
	  "watch_all, watch_all_max, watch_all_local, tick_ms, probe_netns, sched_priority, monitor_netns)" },
	/* cluster: */
	{ "bad-cluster-dup.yaml", 3, "cluster: duplicate key \"endpoints\" (first at line 2)" },
	{ "bad-cluster-no-endpoints.yaml", 2, "cluster: no endpoints: list the etcd members" },
	{ "bad-cluster-url.yaml", 4, "cluster.endpoints: \"10.0.0.2:2379\": not an etcd client URL" },
	{ "bad-cluster-tls-pair.yaml", 4, "cluster.tls: cert_file and key_file go together" },
	{ "bad-cluster-quorum.yaml", 3, "cluster.outlier_quorum: \"0\": must be a number from 0.01 to 1" },
	{ "bad-cluster-prefix.yaml", 3, "cluster.prefix: \"vigil\": must start and end with '/'" },
	{ "bad-monitor-netns.yaml", 2, "daemon.monitor_netns: \"run/netns/a\": must be an absolute path" },
	{ "bad-unknown-watch.yaml", 3, "watch: unknown key \"backend\" (known: backends, prefixes, "
	  "local_ports)" },
	{ "bad-dup-key.yaml", 4, "daemon: duplicate key \"log_level\" (first at line 2)" },
	{ "bad-dup-section.yaml", 5, "top level: duplicate key \"daemon\" (first at line 1)" },
	{ "bad-services.yaml", 4, "services[0]: service web has no \"vip\": add vip:" },
	{ "bad-svc-dup-name.yaml", 5, "services[1]: service name \"web\" is used twice" },
	{ "bad-svc-weight0.yaml", 5, "services[0].backends[0].weight: \"0\": must be an integer 1-1000000" },
	{ "bad-svc-weight-neg.yaml", 5, "\"-2\": must be an integer 1-1000000" },
	{ "bad-svc-empty-backends.yaml", 2, "service web has no backends" },
	{ "bad-svc-bad-vip.yaml", 3, "services[0].vip: \"10.96.0.300:80\"" },
	{ "bad-svc-unknown-key.yaml", 4, "unknown key \"backend\"" },
	{ "bad-svc-dup-backend.yaml", 5, "services[0].backups[0]: backend listed twice" },
	{ "bad-svc-dup-vip.yaml", 5, "service api uses the vip of service web" },
	{ "bad-detection-unknown.yaml", 2, "detection: unknown key \"consecutive_failure\"" },
	{ "bad-detection-dup.yaml", 3, "detection: duplicate key \"consecutive_failures\" (first at line 2)" },
	{ "bad-svc-detection-dup.yaml", 7, "services[0].detection: duplicate key \"slow_factor\" (first at line 6)" },
	{ "bad-svc-weight-dup.yaml", 5, "services[0].backends[0]: duplicate key \"weight\"" },
	{ "bad-svc-weight-key.yaml", 5, "services[0].backends[0]: unknown key \"wieght\" (known: address, weight)" },
	{ "bad-svc-vip-and-vips.yaml", 4, "services[0]: both \"vip\" and \"vips\" are given" },
	{ "bad-svc-vip-self.yaml", 4, "backend 10.96.0.10:80 is the service's own vip" },
	{ "bad-svc-vip-any.yaml", 3, "services[0].vip: \"0.0.0.0:80\": 0.0.0.0 is no host" },
	{ "bad-svc-vip-any6.yaml", 3, "services[0].vips[0]: \"[::]:80\": :: is no host" },
	{ "bad-svc-vip-multicast.yaml", 3, "\"239.1.2.3:80\": a multicast address cannot take TCP" },
	{ "bad-svc-backend-broadcast.yaml", 6, "services[0].backends[1]: \"255.255.255.255:80\": the broadcast address" },
	{ "bad-svc-backend-multicast6.yaml", 5, "services[0].backups[0]: \"[ff02::1]:80\": a multicast address" },
	{ "bad-backend-any.yaml", 3, "watch.backends[0]: \"0.0.0.0:80\": 0.0.0.0 is no host" },
	{ "bad-svc-watch-all-max.yaml", 2, "3 backends but daemon.watch_all_max is 2" },
	{ "bad-nul-quoted.yaml", 2, "a value contains a NUL byte" },
	{ "bad-nul-quoted-hex.yaml", 2, "a value contains a NUL byte" },
	{ "bad-detection-range.yaml", 2, "detection.error_ratio: \"1.5\": must be a number from 0.01 to 1" },
	{ "bad-svc-v4-vip-v6-backends.yaml", 2, "an IPv4 vip needs at least one IPv4 backend" },
	/* daemon values */
	{ "bad-log-level.yaml", 2, "daemon.log_level: \"verbose\" is not a log level: use error, warn, info or debug" },
	{ "bad-bool.yaml", 2, "daemon.watch_all: \"maybe\" is not a boolean" },
	{ "bad-watch-all-max-0.yaml", 2, "daemon.watch_all_max: \"0\": must be an integer 1-4096" },
	{ "bad-watch-all-max-big.yaml", 2, "daemon.watch_all_max: \"5000\": must be an integer 1-4096" },
	{ "bad-watch-all-max-neg.yaml", 2, "\"-1\": must be an integer 1-4096" },
	{ "bad-pin-dir.yaml", 2, "daemon.pin_dir: \"/tmp/vigil\": must be a directory under /sys/fs/bpf/" },
	{ "bad-pin-dir-relative.yaml", 2, "must be a directory under /sys/fs/bpf/" },
	{ "bad-pin-dir-root.yaml", 2, "must be a directory under /sys/fs/bpf/" },
	{ "bad-pin-dir-dotdot.yaml", 2, "\"..\" are not allowed" },
	/* backends */
	{ "bad-backend-port0.yaml", 8, "watch.backends[1]: \"10.0.0.1:0\": port must be 1-65535" },
	{ "bad-backend-flow-port.yaml", 2, "watch.backends[1]: \"10.0.0.1:65536\": port must be 1-65535" },
	{ "bad-backend-noport.yaml", 3, "watch.backends[0]: \"10.0.0.2\": missing port" },
	{ "bad-backend-v6-brackets.yaml", 3, "\"fd00::2\": IPv6 addresses need brackets" },
	{ "bad-backend-garbage.yaml", 4, "\"web-1:80\": not a valid IPv4 address" },
	{ "bad-backend-dup.yaml", 5, "watch.backends[2]: \"[::ffff:10.0.0.2]:80\" is listed twice (first at line 3)" },
	{ "bad-max-backends.yaml", 2, "3 backends but daemon.watch_all_max is 2" },
	/* prefixes */
	{ "bad-prefix-len.yaml", 3, "watch.prefixes[0]: \"10.0.0.0/33\": prefix length must be 0-32" },
	{ "bad-prefix-len6.yaml", 2, "\"fd00::/200\": prefix length must be 0-128" },
	{ "bad-prefix-hostbits.yaml", 4, "watch.prefixes[1]: \"10.2.3.0/16\": host bits are set" },
	{ "bad-prefix-nolen.yaml", 3, "\"10.1.0.0\": missing prefix length" },
	{ "bad-prefix-v6-port.yaml", 3, "\"fd00::/64:443\": an IPv6 prefix with a port needs brackets" },
	{ "bad-prefix-port.yaml", 3, "\"10.2.0.0/16:70000\": port must be 0-65535" },
	{ "bad-prefix-dup.yaml", 5, "watch.prefixes[2]: \"10.2.0.0/16:443\" is listed twice (first at line 4)" },
	{ "bad-prefix-conflict.yaml", 5, "\"10.2.0.0/16:80\" conflicts with line 3" },
	/* local ports */
	{ "bad-local-port0.yaml", 2, "watch.local_ports[0]: \"0\": must be an integer 1-65535" },
	{ "bad-local-port-big.yaml", 4, "watch.local_ports[1]: \"65536\": must be an integer 1-65535" },
	{ "bad-local-port-name.yaml", 3, "\"http\": must be an integer 1-65535" },
	{ "bad-local-port-octal.yaml", 3, "\"0443\": must be an integer 1-65535" },
	{ "bad-local-port-dup.yaml", 5, "watch.local_ports[2]: \"8080\" is listed twice (first at line 3)" },
	{ "bad-late-error.yaml", 8, "watch.local_ports[2]: \"99999\"" },
	/* lb */
	{ "bad-lb-rescue.yaml", 2, "lb.rescue: \"sometimes\" is not a boolean" },
	{ "bad-lb-rescue-interfaces.yaml", 4, "lb.rescue_interfaces: \"veth0\" is listed twice" },
	{ "bad-svc-syn-rto-short.yaml", 5, "services[0].syn_rto_ms: \"5\": must be 0 (the kernel's 1 s) "
	  "or 20-3000 ms" },
	{ "bad-svc-syn-rto-long.yaml", 4, "services[0].syn_rto_ms: \"5000\": must be an integer 0-3000" },
	/* xdp */
	{ "bad-xdp-hook.yaml", 3, "xdp.hook: \"ebpf\": use xdp or tc (the hook the load balancer runs at)" },
	{ "bad-xdp-forward.yaml", 3, "xdp.forward: \"fib\": use redirect or kernel" },
	{ "bad-xdp-mode-tc.yaml", 4, "xdp.mode: applies to hook xdp only" },
	{ "bad-xdp-syn-replay.yaml", 3, "xdp.syn_replay: \"sometimes\" is not a boolean: use true or false" },
	/* datapath none, haproxy:, nginx: (docs/integrations.md) */
	{ "bad-lb-svc-datapath-tcp.yaml", 3, "use socket (local clients), xdp (packets from other hosts), both, or none" },
	{ "bad-lb-svc-no-vip.yaml", 2, "(only datapath: none needs none)" },
	{ "bad-lb-hp-no-socket.yaml", 2, "haproxy: missing \"socket\"" },
	{ "bad-lb-hp-no-backends.yaml", 2, "haproxy: missing \"backends\"" },
	{ "bad-lb-hp-socket-relative.yaml", 2, "haproxy.socket: \"run/admin.sock\": give HAProxy's stats socket" },
	{ "bad-lb-hp-backend-space.yaml", 3, "haproxy.backends[0]: \"be web\": an HAProxy backend name has" },
	{ "bad-lb-hp-backend-colon-name.yaml", 3, "haproxy.backends[0]: \"be:web\": a service name has" },
	{ "bad-lb-hp-backend-dup.yaml", 5, "haproxy.backends[1]: backend be is listed twice (first at line 4)" },
	{ "bad-lb-hp-service-dup.yaml", 5, "service s feeds backend a already (line 4)" },
	{ "bad-lb-hp-entry-no-backend.yaml", 3, "haproxy.backends[0]: missing \"backend\"" },
	{ "bad-lb-hp-detection-range.yaml", 3, "haproxy.backends[0].detection.slow_factor: \"0\": must be a number from 1.5" },
	{ "bad-lb-hp-configured-overrides.yaml", 9, "service web is configured under services: set its detection and probe there" },
	{ "bad-lb-hp-resync-range.yaml", 4, "haproxy.resync_ms: \"5\": must be an integer 100-60000" },
	{ "bad-lb-ng-no-reload.yaml", 7, "nginx: give one of pid_file (vigild signals the master named there) and reload_command" },
	{ "bad-lb-ng-both-reloads.yaml", 7, "nginx: give one of pid_file" },
	{ "bad-lb-ng-no-upstreams.yaml", 7, "nginx: missing \"upstreams\"" },
	{ "bad-lb-ng-unknown-service.yaml", 8, "nginx.upstreams[0]: no service api under services:" },
	{ "bad-lb-ng-dup-service.yaml", 10, "nginx.upstreams[1]: the service or file of line 9 again" },
	{ "bad-lb-ng-no-file.yaml", 8, "nginx.upstreams[0]: missing \"file\"" },
	{ "bad-lb-ng-pid-relative.yaml", 7, "nginx.pid_file: \"p\": must be an absolute path" },
	{ "bad-lb-ng-options-semicolon.yaml", 8, "nginx.upstreams[0].options: \"a;b\": server parameters such as" },
	{ "bad-lb-ng-options-weight.yaml", 8, "weight, down and backup are written by vigil" },
};

START_TEST(bad_file)
{
	struct vigil_config cfg;
	char path[512], err[512] = "", where[600];
	int ret;

	data_path(path, sizeof(path), bad_files[_i].file);
	memset(&cfg, 0x5a, sizeof(cfg)); /* loading must not read or free old contents */
	ret = vigil_config_load_file(path, &cfg, err, sizeof(err));
	ck_assert_msg(ret == -EINVAL, "%s: ret %d (%s)", bad_files[_i].file, ret, err);
	snprintf(where, sizeof(where), "%s:%d: ", path, bad_files[_i].line);
	ck_assert_msg(strncmp(err, where, strlen(where)) == 0, "error \"%s\" does not start with \"%s\"",
		      err, where);
	ck_assert_msg(strstr(err, bad_files[_i].reason), "error \"%s\" lacks \"%s\"", err,
		      bad_files[_i].reason);
	ck_assert_ptr_null(strchr(err, '\n'));
	assert_empty(&cfg);
}
END_TEST

/* Every bad-*.yaml fixture must be in the table above, so none goes untested. */
START_TEST(bad_files_all_listed)
{
	DIR *dir = opendir(data_dir());
	struct dirent *de;
	int found = 0;

	ck_assert_msg(dir != NULL, "%s: %s", data_dir(), strerror(errno));
	while ((de = readdir(dir))) {
		int listed = 0;

		if (strncmp(de->d_name, "bad-", 4))
			continue;
		for (int i = 0; i < N(bad_files); i++)
			listed |= !strcmp(de->d_name, bad_files[i].file);
		ck_assert_msg(listed, "%s is not in the bad_files table", de->d_name);
		found++;
	}
	closedir(dir);
	ck_assert_int_gt(found, 40);
}
END_TEST

/* ---- strings, limits and API edge cases ---------------------------------- */

static int load(const char *text, struct vigil_config *cfg, char *err, size_t errlen)
{
	return vigil_config_load_string(text, "inline.yaml", cfg, err, errlen);
}

START_TEST(string_name_in_errors)
{
	struct vigil_config cfg;
	char err[256];

	ck_assert_int_eq(load("daemon:\n  log_level: loud\n", &cfg, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "inline.yaml:2: daemon.log_level: \"loud\" is not a log level: "
			 "use error, warn, info or debug");
	ck_assert_int_eq(vigil_config_load_string("watch: 1\n", NULL, &cfg, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "<config>:1: watch: expected a mapping, got a scalar: write "
			 "indented \"key: value\" lines");
	assert_empty(&cfg);
}
END_TEST

START_TEST(string_services)
{
	struct vigil_config cfg;
	char err[256];

	ck_assert_int_eq(load("services: []\n", &cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.n_services, 0);
	ck_assert(cfg.lb_rescue); /* on unless lb.rescue: false */
	ck_assert_uint_eq(cfg.n_lb_rescue_interfaces, 0);
	vigil_config_free(&cfg);
}
END_TEST

START_TEST(file_services)
{
	struct vigil_config cfg;
	const struct vigil_service_cfg *web, *db;
	char ep[VIGIL_ENDPOINT_STRLEN];

	load_ok("good-services.yaml", &cfg);
	ck_assert_uint_eq(cfg.tick_ms, 5);
	ck_assert_str_eq(cfg.probe_netns, "/var/run/netns/client");
	ck_assert_str_eq(cfg.lb_cgroup, "/sys/fs/cgroup/unified");
	ck_assert_uint_eq(cfg.n_services, 2);
	web = &cfg.services[0];
	db = &cfg.services[1];
	ck_assert_str_eq(web->name, "web");
	ck_assert_uint_eq(web->n_vips, 2);
	ck_assert_str_eq(vigil_endpoint_format(&web->vips[1], ep, sizeof(ep)), "[fd00:96::10]:80");
	ck_assert_uint_eq(web->n_backends, 3);
	ck_assert_uint_eq(web->n_primaries, 2);
	ck_assert_uint_eq(web->backends[0].weight, 1);
	ck_assert_uint_eq(web->backends[1].weight, 3);
	ck_assert_uint_eq(web->backends[2].role, VIGIL_ROLE_BACKUP);
	ck_assert_str_eq(vigil_endpoint_format(&web->backends[2].ep, ep, sizeof(ep)), "10.0.0.9:8080");
	/* per-service override wins; other keys come from the global section,
	 * even though it appears after the services in the file */
	ck_assert_uint_eq(web->detection.consecutive_failures, 2);
	ck_assert_double_eq_tol(web->detection.slow_factor, 8.0, 1e-9);
	ck_assert_double_eq_tol(web->detection.error_ratio, 0.25, 1e-9);
	ck_assert_uint_eq(db->detection.consecutive_failures, 4);
	ck_assert_str_eq(web->probe_http_path, "/healthz");
	ck_assert_uint_eq(web->probe_timeout_ms, 300);
	ck_assert_uint_eq(db->probe_timeout_ms, 1000);
	ck_assert_uint_eq(web->syn_rto_ms, 0);
	ck_assert_uint_eq(db->syn_rto_ms, VIGIL_DEFAULT_SYN_RTO_MS);
	ck_assert(!cfg.lb_rescue);
	ck_assert_uint_eq(cfg.n_lb_rescue_interfaces, 2);
	ck_assert_str_eq(cfg.lb_rescue_interfaces[1], "eth1");
	ck_assert_uint_eq(cfg.n_xdp_interfaces, 2);
	ck_assert_uint_eq(cfg.xdp_hook, VIGIL_HOOK_TC);
	ck_assert_uint_eq(cfg.xdp_forward, VIGIL_FWD_KERNEL);
	ck_assert_uint_eq(cfg.xdp_mode, VIGIL_XDP_MODE_AUTO);
	ck_assert(!cfg.xdp_syn_replay);
	vigil_config_free(&cfg);
}
END_TEST

/* backups: before backends: means the same as after. */
START_TEST(good_backups_first)
{
	struct vigil_config cfg;
	const struct vigil_service_cfg *web;
	char ep[VIGIL_ENDPOINT_STRLEN];

	load_ok("good-backups-first.yaml", &cfg);
	web = &cfg.services[0];
	ck_assert_uint_eq(web->n_backends, 4);
	ck_assert_uint_eq(web->n_primaries, 2);
	ck_assert_str_eq(vigil_endpoint_format(&web->backends[0].ep, ep, sizeof(ep)), "10.0.0.2:80");
	ck_assert_uint_eq(web->backends[0].role, VIGIL_ROLE_PRIMARY);
	ck_assert_uint_eq(web->backends[1].role, VIGIL_ROLE_PRIMARY);
	ck_assert_str_eq(vigil_endpoint_format(&web->backends[2].ep, ep, sizeof(ep)), "10.0.0.9:80");
	ck_assert_uint_eq(web->backends[2].role, VIGIL_ROLE_BACKUP);
	ck_assert_uint_eq(web->backends[3].role, VIGIL_ROLE_BACKUP);
	ck_assert_uint_eq(web->backends[3].weight, 2);
	vigil_config_free(&cfg);
}
END_TEST

/* 80k levels used to take libyaml's loader tens of seconds: refused at
 * level 65 while reading events, before a document is built. */
START_TEST(string_deep_nesting)
{
	size_t levels = 80000, n = 0;
	char *text = malloc(2 * levels + 16), err[256];
	struct vigil_config cfg;

	ck_assert_ptr_nonnull(text);
	n += (size_t)sprintf(text, "a: ");
	memset(text + n, '[', levels);
	memset(text + n + levels, ']', levels);
	text[n + 2 * levels] = '\0';
	ck_assert_int_eq(load(text, &cfg, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "inline.yaml:1: nested more than 64 levels deep"), "%s", err);
	assert_empty(&cfg);
	/* block style too, and 64 levels are still only a schema error */
	n = 0;
	for (int i = 0; i < 70; i++)
		n += (size_t)sprintf(text + n, "%*sk:\n", i, "");
	ck_assert_int_eq(load(text, &cfg, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "inline.yaml:65: nested more than 64 levels deep"), "%s", err);
	memset(text, 0, 8);
	sprintf(text, "a: %.*s%.*s\n", 63, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
		63, "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
	ck_assert_int_eq(load(text, &cfg, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "unknown key \"a\""), "%s", err);
	free(text);
}
END_TEST

/* n services of per backends each, all distinct; malloc'ed. */
static char *make_services(int n, int per, const char *daemon)
{
	size_t cap = 256 + (size_t)n * (96 + (size_t)per * 24), len;
	char *text = malloc(cap);

	ck_assert_ptr_nonnull(text);
	len = (size_t)snprintf(text, cap, "%sservices:\n", daemon);
	for (int s = 0; s < n; s++) {
		len += (size_t)snprintf(text + len, cap - len, "  - name: s%d\n    vip: "
					"\"10.96.%d.%d:80\"\n    backends:\n", s, s / 250, s % 250 + 1);
		for (int b = 0; b < per; b++)
			len += (size_t)snprintf(text + len, cap - len, "      - \"10.%d.%d.%d:80\"\n",
						1 + s / 250, s % 250, b + 1);
	}
	return text;
}

/* What the maps cannot hold is refused with FILE:LINE by the validator, not
 * at start-up after some maps are pinned. */
START_TEST(string_capacity)
{
	struct vigil_config cfg;
	char err[512];
	char *text = make_services(256, 16, ""); /* 4096: the limit */

	ck_assert_msg(load(text, &cfg, err, sizeof(err)) == 0, "%s", err);
	vigil_config_free(&cfg);
	free(text);
	text = make_services(256, 17, "");
	ck_assert_int_eq(load(text, &cfg, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "inline.yaml:2: 4352 distinct backends in watch.backends and "
			      "services (4352 of services, 0 with datapath xdp), at most 4096"),
		      "%s", err);
	assert_empty(&cfg);
	free(text);
	text = make_services(3, 4, "daemon:\n  watch_all_max: 10\n");
	ck_assert_int_eq(load(text, &cfg, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "inline.yaml:2: 12 backends but daemon.watch_all_max is 10"),
		      "%s", err);
	free(text);
}
END_TEST

/* A FIFO would block open() until a writer comes; a device is no config. */
START_TEST(file_not_regular)
{
	struct vigil_config cfg;
	char path[64], err[512];

	snprintf(path, sizeof(path), "/tmp/vigil-unit-fifo.%d", (int)getpid());
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(vigil_config_load_file(path, &cfg, err, sizeof(err)), -EFTYPE);
	unlink(path);
	ck_assert_msg(strstr(err, ": not a regular file (a FIFO, device or socket)"), "%s", err);
	assert_empty(&cfg);
	ck_assert_int_eq(vigil_config_load_file("/dev/null", &cfg, err, sizeof(err)), -EFTYPE);
	ck_assert_msg(!strncmp(err, "/dev/null: not a regular file", 29), "%s", err);
}
END_TEST

START_TEST(string_null_document)
{
	struct vigil_config cfg;
	char err[256] = "x";

	ck_assert_int_eq(load("~\n", &cfg, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "");
	assert_empty(&cfg);
	ck_assert_int_eq(load("", &cfg, err, sizeof(err)), 0);
	assert_empty(&cfg);
	ck_assert_int_eq(load("---\n...\n", &cfg, err, sizeof(err)), 0);
	assert_empty(&cfg);
}
END_TEST

START_TEST(string_pin_dir_too_long)
{
	struct vigil_config cfg;
	char text[512], err[256];

	snprintf(text, sizeof(text), "daemon:\n  pin_dir: /sys/fs/bpf/%0300d\n", 0);
	ck_assert_int_eq(load(text, &cfg, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "inline.yaml:2: daemon.pin_dir: path is 312 characters long: "
			      "use at most 255"), "%s", err);
	/* 255 characters exactly is fine */
	snprintf(text, sizeof(text), "daemon:\n  pin_dir: /sys/fs/bpf/%0243d\n", 0);
	ck_assert_int_eq(load(text, &cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(cfg.pin_dir), 255);
	vigil_config_free(&cfg);
}
END_TEST

static const struct {
	const char *key;
	int max;
} limits[] = {
	{ "backends", VIGIL_MAX_WATCH_EXACT },
	{ "prefixes", VIGIL_MAX_WATCH_PREFIX },
	{ "local_ports", VIGIL_MAX_LOCAL_PORTS },
};

/* "watch: <key>:" with n distinct entries; returns a malloc'ed text. */
static char *make_list(int kind, int n)
{
	size_t cap = 64 + (size_t)n * 40, len;
	char *text = malloc(cap);

	ck_assert_ptr_nonnull(text);
	len = (size_t)snprintf(text, cap, "watch:\n  %s:\n", limits[kind].key);
	for (int i = 0; i < n; i++) {
		int a = i / 250 + 1, b = i % 250 + 1;

		if (kind == 0)
			len += (size_t)snprintf(text + len, cap - len, "    - \"10.%d.%d.1:80\"\n", a, b);
		else if (kind == 1)
			len += (size_t)snprintf(text + len, cap - len, "    - 10.%d.%d.0/24\n", a, b);
		else
			len += (size_t)snprintf(text + len, cap - len, "    - %d\n", i + 1);
	}
	return text;
}

START_TEST(limit_at_max_ok)
{
	char *text = make_list(_i, limits[_i].max);
	struct vigil_config cfg;
	char err[256] = "";

	ck_assert_msg(load(text, &cfg, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(cfg.n_backends + cfg.n_prefixes + cfg.n_local_ports,
			  (size_t)limits[_i].max);
	vigil_config_free(&cfg);
	free(text);
}
END_TEST

START_TEST(limit_exceeded)
{
	char *text = make_list(_i, limits[_i].max + 1);
	struct vigil_config cfg;
	char err[256], want[128];

	ck_assert_int_eq(load(text, &cfg, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "inline.yaml:3: watch.%s: %d entries, at most %d are supported",
		 limits[_i].key, limits[_i].max + 1, limits[_i].max);
	ck_assert_msg(strstr(err, want), "error \"%s\" lacks \"%s\"", err, want);
	assert_empty(&cfg);
	free(text);
}
END_TEST

START_TEST(error_buffer_edge_cases)
{
	const char *text = "daemon:\n  log_level: loud\n";
	struct vigil_config cfg;
	char err[16];

	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(load(text, &cfg, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "inline.yaml:2: ");
	ck_assert_int_eq(load(text, &cfg, err, 5), -EINVAL);
	ck_assert_str_eq(err, "inli");
	ck_assert_int_eq(load(text, &cfg, NULL, 0), -EINVAL);
	ck_assert_int_eq(load(text, &cfg, err, 0), -EINVAL);
	assert_empty(&cfg);
}
END_TEST

START_TEST(unreadable_file)
{
	struct vigil_config cfg;
	char path[512], err[512];

	data_path(path, sizeof(path), "does-not-exist.yaml");
	ck_assert_int_eq(vigil_config_load_file(path, &cfg, err, sizeof(err)), -ENOENT);
	ck_assert_msg(!strncmp(err, path, strlen(path)) && strstr(err, "No such file or directory"),
		      "%s", err);
	assert_empty(&cfg);
	ck_assert_int_eq(vigil_config_load_file(data_dir(), &cfg, err, sizeof(err)), -EISDIR);
	ck_assert_msg(strstr(err, "Is a directory"), "%s", err);
	assert_empty(&cfg);
}
END_TEST

/* Reloading into a freed config and failing leaves nothing behind. */
START_TEST(reload_after_free)
{
	struct vigil_config cfg;
	char err[512];

	load_ok("good-full.yaml", &cfg);
	vigil_config_free(&cfg);
	ck_assert_int_eq(load("watch:\n  backends: [\"10.0.0.1:80\", \"10.0.0.1:80\"]\n", &cfg,
			      err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "inline.yaml:2: watch.backends[1]: \"10.0.0.1:80\" is listed "
			      "twice (first at line 2)"), "%s", err);
	assert_empty(&cfg);
}
END_TEST

Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	UNIT_TCASE(s, "good", { good_full }, { good_cluster }, { good_defaults, N(good_default_files) },
		   { good_bools }, { good_anchors }, { good_example }, { good_backups_first },
		   { docs_detection_defaults });
	UNIT_TCASE(s, "bad", { bad_file, N(bad_files) }, { bad_files_all_listed });
	tc = UNIT_TCASE(s, "edge", { string_name_in_errors }, { string_services },
			{ file_services }, { string_null_document }, { string_deep_nesting },
			{ string_capacity }, { file_not_regular }, { string_pin_dir_too_long },
			{ limit_at_max_ok, N(limits) }, { limit_exceeded, N(limits) },
			{ error_buffer_edge_cases }, { unreadable_file },
			{ reload_after_free });
	tcase_set_timeout(tc, 60); /* 4096 entries under valgrind */
	return s;
}
