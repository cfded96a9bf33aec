/* SPDX-License-Identifier: MIT */
/*
 * Feeding load balancers, the pure half: the haproxy: and nginx: sections
 * (config_lb.c), HAProxy's runtime API answers and the services made from
 * them (haproxy_table.c, haproxy_derive.c), what is pushed when
 * (lbfeed.c), and the nginx include file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "config.h"
#include "haproxy_table.h"
#include "lbfeed.h"
#include "suites.h"

static struct vigil_config cfg;

static void teardown(void)
{
	vigil_config_free(&cfg);
}

static void load(const char *text)
{
	char err[512];

	ck_assert_msg(vigil_config_load_string(text, "t.yaml", &cfg, err, sizeof(err)) == 0, "%s",
		      err);
}

static struct vigil_endpoint ep_of(const char *text)
{
	struct vigil_endpoint ep;

	ck_assert_int_eq(vigil_endpoint_parse(text, &ep), 0);
	return ep;
}

#define WEB_NONE                                                                          \
	"services:\n"                                                                     \
	"  - name: web\n"                                                                 \
	"    datapath: none\n"                                                            \
	"    backends: [\"10.0.0.1:80\", {address: \"10.0.0.2:80\", weight: 3}]\n"        \
	"    backups: [\"10.0.0.9:80\"]\n"

/* ---- config ------------------------------------------------------------------- */

START_TEST(config_datapath_none)
{
	struct vigil_endpoint key;
	char buf[VIGIL_ENDPOINT_STRLEN];

	load(WEB_NONE);
	ck_assert_uint_eq(cfg.services[0].datapath, VIGIL_DATAPATH_NONE);
	ck_assert_uint_eq(cfg.services[0].n_vips, 1);
	vigil_name_key("web", &key);
	ck_assert_mem_eq(&cfg.services[0].vips[0], &key, sizeof(key));
	ck_assert_int_eq(key.family, 0);
	ck_assert_str_eq(vigil_endpoint_format(&key, buf, sizeof(buf)), "-");
	vigil_name_key("api", &key); /* another name, another key */
	ck_assert_int_ne(memcmp(&cfg.services[0].vips[0], &key, sizeof(key)), 0);
}
END_TEST

START_TEST(config_haproxy)
{
	const struct vigil_haproxy_cfg *h = &cfg.haproxy;

	load(WEB_NONE "detection: {consecutive_failures: 5}\n"
	     "haproxy:\n"
	     "  socket: /run/haproxy/admin.sock\n"
	     "  backends:\n"
	     "    - be_api\n"
	     "    - {backend: be_web, service: web}\n"
	     "    - {backend: \"be:x\", service: x, detection: {eject_base_ms: 500}, probe: {http_path: /h}}\n");
	ck_assert(h->enabled);
	ck_assert_str_eq(h->socket, "/run/haproxy/admin.sock");
	ck_assert_uint_eq(h->resync_ms, 1000);
	ck_assert_uint_eq(h->retry_ms, 100);
	ck_assert_uint_eq(h->timeout_ms, 1000);
	ck_assert(h->shutdown_sessions);
	ck_assert_uint_eq(h->n_backends, 3);
	ck_assert_str_eq(h->backends[0].backend, "be_api");
	ck_assert_str_eq(h->backends[0].tmpl.name, "be_api"); /* named after the backend */
	ck_assert(h->backends[0].derived);
	ck_assert_uint_eq(h->backends[0].tmpl.detection.consecutive_failures, 5); /* global */
	ck_assert_uint_eq(h->backends[0].tmpl.datapath, VIGIL_DATAPATH_NONE);
	ck_assert(!h->backends[1].derived); /* web is configured */
	ck_assert(h->backends[2].derived);
	ck_assert_uint_eq(h->backends[2].tmpl.detection.eject_base_ms, 500);
	ck_assert_uint_eq(h->backends[2].tmpl.detection.consecutive_failures, 5);
	ck_assert_str_eq(h->backends[2].tmpl.probe_http_path, "/h");
}
END_TEST

START_TEST(config_haproxy_tcp_and_nginx)
{
	load(WEB_NONE "haproxy:\n"
	     "  socket: \"127.0.0.1:9999\"\n  backends: [be]\n  resync_ms: 250\n"
	     "  shutdown_sessions: false\n"
	     "nginx:\n  pid_file: /run/nginx.pid\n  reload_interval_ms: 50\n"
	     "  upstreams: [{service: web, file: /etc/nginx/vigil/web.conf, "
	     "options: \"max_fails=1 fail_timeout=10s\"}]\n");
	ck_assert_int_eq(cfg.haproxy.socket_ep.family, VIGIL_AF_INET);
	ck_assert_uint_eq(cfg.haproxy.socket_ep.port, 9999);
	ck_assert_uint_eq(cfg.haproxy.resync_ms, 250);
	ck_assert(!cfg.haproxy.shutdown_sessions);
	ck_assert(cfg.nginx.enabled);
	ck_assert_str_eq(cfg.nginx.pid_file, "/run/nginx.pid");
	ck_assert_uint_eq(cfg.nginx.reload_interval_ms, 50);
	ck_assert_uint_eq(cfg.nginx.n_upstreams, 1);
	ck_assert_str_eq(cfg.nginx.upstreams[0].options, "max_fails=1 fail_timeout=10s");
}
END_TEST

START_TEST(config_copy)
{
	struct vigil_config copy;

	load(WEB_NONE "watch: {backends: [\"10.1.0.1:1\"]}\nhaproxy: {socket: /s, backends: [be]}\n"
	     "nginx: {reload_command: \"nginx -s reload\", upstreams: [{service: web, file: /f}]}\n");
	ck_assert_int_eq(vigil_config_copy(&copy, &cfg), 0);
	ck_assert_ptr_ne(copy.services, cfg.services);
	ck_assert_ptr_ne(copy.haproxy.backends, cfg.haproxy.backends);
	ck_assert_ptr_ne(copy.nginx.upstreams, cfg.nginx.upstreams);
	ck_assert_str_eq(copy.services[0].name, "web");
	ck_assert_str_eq(copy.haproxy.backends[0].backend, "be");
	ck_assert_str_eq(copy.nginx.upstreams[0].file, "/f");
	ck_assert_uint_eq(copy.n_backends, 1);
	vigil_config_free(&copy);
}
END_TEST


/* ---- HAProxy's answers ------------------------------------------------------------ */

/* As HAProxy 2.6 answers "show servers state be; show stat be 4 -1" for
 * backends be and gone (one it does not know). */
static const char discovery_answer[] =
	"1\n"
	"# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
	"srv_iweight srv_time_since_last_change srv_check_status srv_check_result "
	"srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id "
	"srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr "
	"srv_agent_port\n"
	"2 be 1 b1 10.0.0.1 2 0 1 1 1 1 0 2 0 0 0 0 - 80 - 0 0 - - 0\n"
	"2 be 2 b2 10.0.0.2 0 8 3 3 1 6 3 4 6 0 0 0 - 80 - 0 0 - - 0\n"
	"2 be 3 b3 10.0.0.9 2 0 1 1 1 1 0 2 0 0 0 0 - 80 - 0 0 - - 0\n"
	"2 be 4 b2bis 10.0.0.2 2 0 1 1 1 1 0 2 0 0 0 0 - 80 - 0 0 - - 0\n"
	"2 be 5 v6 fd00::5 2 0 1 1 1 1 0 2 0 0 0 0 - 8080 - 0 0 - - 0\n"
	"2 be 6 nowhere 0.0.0.0 2 0 1 1 1 1 0 2 0 0 0 0 - 0 - 0 0 - - 0\n"
	"\n"
	"# pxname,svname,qcur,status,weight,act,bck,addr,\n"
	"be,b1,0,UP,1,1,0,10.0.0.1:80,\n"
	"be,b2,0,DOWN,3,1,0,10.0.0.2:80,\n"
	"be,b3,0,UP,1,0,1,10.0.0.9:80,\n"
	"\n"
	"Can't find backend.\n"
	"\n"
	"No such proxy.\n"
	"\n";

static struct vigil_hp_table table;

static void table_teardown(void)
{
	vigil_hp_table_free(&table);
	vigil_config_free(&cfg);
}

static void load_table(void)
{
	char *text = strdup(discovery_answer), err[256];

	load("haproxy: {socket: /s, backends: [be, gone]}\n");
	ck_assert_int_eq(vigil_hp_parse_discovery(text, &cfg.haproxy, &table, err, sizeof(err)), 0);
	free(text);
}

START_TEST(hp_request)
{
	char buf[256];

	load("haproxy: {socket: /s, backends: [be, gone]}\n");
	ck_assert_int_eq(vigil_hp_discovery_request(&cfg.haproxy, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "show servers state be; show stat be 4 -1; show servers state gone; "
			 "show stat gone 4 -1\n");
	ck_assert_int_eq(vigil_hp_discovery_request(&cfg.haproxy, buf, 20), -ENOSPC);
}
END_TEST

START_TEST(hp_split)
{
	char text[] = "\nNo such server.\n\n1\n# x\nrow\n\n\npartial";
	char *out[8];

	ck_assert_uint_eq(vigil_hp_split_answers(text, out, 8), 4);
	ck_assert_str_eq(out[0], "");
	ck_assert_str_eq(out[1], "No such server.\n");
	ck_assert_str_eq(out[2], "1\n# x\nrow\n");
	ck_assert_str_eq(out[3], "");
}
END_TEST

START_TEST(hp_parse)
{
	struct vigil_endpoint ep = ep_of("10.0.0.2:80");
	size_t idx[4];

	load_table();
	ck_assert_uint_eq(table.n, 6);
	ck_assert_str_eq(table.srv[1].name, "b2");
	ck_assert_uint_eq(table.srv[1].weight, 3);
	ck_assert_uint_eq(table.srv[1].op_state, VIGIL_HP_OP_STOPPED);
	ck_assert_uint_eq(table.srv[1].admin_flags, VIGIL_HP_ADMF_FDRAIN);
	ck_assert(table.srv[1].checked);
	ck_assert(!table.srv[0].checked);
	ck_assert(table.srv[2].backup && !table.srv[0].backup);
	ck_assert_int_eq(table.srv[4].ep.family, VIGIL_AF_INET6);
	ck_assert_uint_eq(table.srv[4].ep.port, 8080);
	ck_assert_int_eq(table.srv[5].ep.family, 0); /* no usable address */
	ck_assert_uint_eq(vigil_hp_find(&table, "be", &ep, idx, 4), 2);
	ck_assert_uint_eq(idx[0], 1);
	ck_assert_uint_eq(idx[1], 3);
	ck_assert_uint_eq(vigil_hp_find(&table, "gone", &ep, idx, 4), 0);
}
END_TEST

START_TEST(hp_parse_short)
{
	char text[64] = "1\n# be_name srv_name\n\n", err[256] = "";

	load("haproxy: {socket: /s, backends: [be]}\n");
	ck_assert_int_eq(vigil_hp_parse_discovery(text, &cfg.haproxy, &table, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "the answer ended before the 2 outputs"));
	strcpy(text, "1\n# be_name srv_name\n\n\n");
	ck_assert_int_eq(vigil_hp_parse_discovery(text, &cfg.haproxy, &table, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "unexpected header"));
}
END_TEST

/* ---- services made from the table ----------------------------------------------- */

START_TEST(hp_derive)
{
	struct vigil_service_cfg *svcs;
	struct vigil_config next;
	char note[256], err[256];
	size_t n;

	load_table();
	ck_assert_int_eq(vigil_hp_derive(&cfg, &table, &svcs, &n, note, sizeof(note)), 0);
	ck_assert_uint_eq(n, 1); /* "gone" lists no server: no service */
	ck_assert_str_eq(svcs[0].name, "be");
	ck_assert_uint_eq(svcs[0].datapath, VIGIL_DATAPATH_NONE);
	ck_assert(svcs[0].from_haproxy);
	ck_assert_uint_eq(svcs[0].n_backends, 4); /* b2bis is b2's address; "nowhere" has none */
	ck_assert_uint_eq(svcs[0].n_primaries, 3);
	ck_assert_uint_eq(svcs[0].backends[1].weight, 3);
	ck_assert_uint_eq(svcs[0].backends[2].ep.family, VIGIL_AF_INET6);
	ck_assert_uint_eq(svcs[0].backends[3].role, VIGIL_ROLE_BACKUP);
	ck_assert_str_eq(note, "");
	ck_assert(!vigil_hp_same_derived(&cfg, svcs, n));
	ck_assert_int_eq(vigil_hp_config_with(&cfg, svcs, n, &next, err, sizeof(err)), 0);
	ck_assert_uint_eq(next.n_services, 1);
	ck_assert(vigil_hp_same_derived(&next, svcs, n));
	svcs[0].backends[1].weight = 4;
	ck_assert(!vigil_hp_same_derived(&next, svcs, n));
	vigil_config_free(&next);
	free(svcs);
}
END_TEST

START_TEST(hp_derive_limits)
{
	struct vigil_hp_table big = { calloc(40, sizeof(struct vigil_hp_server)), 40 };
	struct vigil_service_cfg *svcs;
	struct vigil_config next;
	char note[256], err[256];
	size_t n;

	load("daemon: {watch_all_max: 20}\nhaproxy: {socket: /s, backends: [be]}\n");
	for (int i = 0; i < 40; i++) {
		char text[32];

		snprintf(big.srv[i].backend, sizeof(big.srv[i].backend), "be");
		snprintf(big.srv[i].name, sizeof(big.srv[i].name), "s%d", i);
		snprintf(text, sizeof(text), "10.0.1.%d:80", i + 1);
		big.srv[i].ep = ep_of(text);
	}
	ck_assert_int_eq(vigil_hp_derive(&cfg, &big, &svcs, &n, note, sizeof(note)), 0);
	ck_assert_uint_eq(svcs[0].n_backends, VIGIL_MAX_SET);
	ck_assert_ptr_nonnull(strstr(note, "HAProxy backend be: 8 servers left out"));
	ck_assert_int_eq(vigil_hp_config_with(&cfg, svcs, n, &next, err, sizeof(err)), -E2BIG);
	ck_assert_ptr_nonnull(strstr(err, "32 distinct backends"));
	free(svcs);
	vigil_hp_table_free(&big);
}
END_TEST

/* ---- what is pushed when ------------------------------------------------------------ */

#define T(ms) ((__u64)(ms) * 1000000ull)

START_TEST(want_edges)
{
	struct vigil_lb_want w = { .ep = ep_of("10.0.0.1:80") };
	struct vigil_lb_verdict up = { 0 }, down = { .down = true, .hard = true },
				drained = { .admin = VIGIL_ADMIN_DRAINING };

	/* First verdict: only what differs from a fresh HAProxy server. */
	ck_assert_uint_eq(vigil_lb_want_update(&w, &up, true, T(1)), 0);
	ck_assert_uint_eq(vigil_lb_want_update(&w, &down, true, T(2)),
			  VIGIL_LB_OP_DOWN | VIGIL_LB_OP_SHUTDOWN);
	ck_assert_uint_eq(w.decided_ns, T(2));
	w.pending = 0; /* pushed */
	ck_assert_uint_eq(vigil_lb_want_update(&w, &down, true, T(3)), 0);
	ck_assert_uint_eq(vigil_lb_want_update(&w, &up, true, T(4)), VIGIL_LB_OP_UP);
	/* Down again before the up went out: they cancel out. */
	ck_assert_uint_eq(vigil_lb_want_update(&w, &down, true, T(5)), 0);
	ck_assert_uint_eq(w.pending, 0);
	ck_assert_uint_eq(vigil_lb_want_update(&w, &up, false, T(6)), VIGIL_LB_OP_UP);
	w.pending = 0;
	down.hard = false; /* an outlier ejection: no shutdown */
	ck_assert_uint_eq(vigil_lb_want_update(&w, &down, true, T(7)), VIGIL_LB_OP_DOWN);
	ck_assert_uint_eq(vigil_lb_want_update(&w, &drained, true, T(8)),
			  VIGIL_LB_OP_ADMIN); /* and the down edge cancelled */
	ck_assert_uint_eq(w.pending, VIGIL_LB_OP_ADMIN);
}
END_TEST

START_TEST(want_check)
{
	struct vigil_lb_want w = { .ep = ep_of("10.0.0.1:80") };
	struct vigil_lb_verdict down = { .down = true, .admin = VIGIL_ADMIN_DISABLED };
	struct vigil_hp_server srv = { .op_state = 2 };

	ck_assert_uint_eq(vigil_lb_want_check(&w, &srv, T(1)), 0); /* nothing decided yet */
	vigil_lb_want_update(&w, &down, true, T(1));
	w.pending = 0;
	/* HAProxy restarted: the server is up and ready again. */
	ck_assert_uint_eq(vigil_lb_want_check(&w, &srv, T(2)), VIGIL_LB_OP_DOWN | VIGIL_LB_OP_ADMIN);
	ck_assert_uint_eq(w.reapply, VIGIL_LB_OP_DOWN | VIGIL_LB_OP_ADMIN);
	ck_assert_uint_eq(w.decided_ns, T(2));
	w.pending = w.reapply = 0;
	srv.op_state = VIGIL_HP_OP_STOPPED;
	srv.admin_flags = VIGIL_HP_ADMF_FMAINT;
	ck_assert_uint_eq(vigil_lb_want_check(&w, &srv, T(3)), 0);
	/* Up and ready are never forced: HAProxy's checks and operators decide. */
	vigil_lb_want_update(&w, &(struct vigil_lb_verdict){ 0 }, true, T(4));
	w.pending = 0;
	ck_assert_uint_eq(vigil_lb_want_check(&w, &srv, T(5)), 0);
}
END_TEST

START_TEST(hp_commands)
{
	static const struct {
		__u32 op;
		__u8 admin;
		const char *cmd;
	} cmds[] = {
		{ VIGIL_LB_OP_DOWN, 0, "set server be/s1 health down" },
		{ VIGIL_LB_OP_SHUTDOWN, 0, "shutdown sessions server be/s1" },
		{ VIGIL_LB_OP_UP, 0, "set server be/s1 health up" },
		{ VIGIL_LB_OP_ADMIN, VIGIL_ADMIN_NONE, "set server be/s1 state ready" },
		{ VIGIL_LB_OP_ADMIN, VIGIL_ADMIN_DRAINING, "set server be/s1 state drain" },
		{ VIGIL_LB_OP_ADMIN, VIGIL_ADMIN_DISABLED, "set server be/s1 state maint" },
	};
	char buf[64];

	for (int i = 0; i < N(cmds); i++) {
		ck_assert_int_eq(vigil_hp_command(cmds[i].op, cmds[i].admin, "be", "s1", buf,
						  sizeof(buf)), 0);
		ck_assert_str_eq(buf, cmds[i].cmd);
	}
	ck_assert_int_eq(vigil_hp_command(VIGIL_LB_OP_UP, 0, "be", "s1", buf, 10), -ENOSPC);
}
END_TEST

START_TEST(verdicts)
{
	static struct vigil_desired want;
	struct vigil_lb_verdict v[3];

	memset(&want, 0, sizeof(want));
	want.n_backends = 3;
	want.backends[0].info.state = VIGIL_STATE_HEALTHY;
	want.backends[1].info.state = VIGIL_STATE_EJECTED;
	want.backends[2].info.state = VIGIL_STATE_PROBING;
	want.backends[2].info.admin = VIGIL_ADMIN_DRAINING;
	want.n_changes = 1;
	want.changes[0] = (struct vigil_det_change){ .backend_index = 1, .to = VIGIL_STATE_EJECTED,
						     .teardown = VIGIL_TEARDOWN_ALL };
	vigil_lb_verdicts(&want, v);
	ck_assert(!v[0].down && v[1].down && v[2].down);
	ck_assert(v[1].hard && !v[2].hard);
	ck_assert_uint_eq(v[2].admin, VIGIL_ADMIN_DRAINING);
	want.set.flags = VIGIL_SET_FAIL_OPEN; /* nothing healthy: every backend is tried */
	vigil_lb_verdicts(&want, v);
	ck_assert(!v[1].down && !v[2].down);
}
END_TEST

START_TEST(nginx_include)
{
	struct vigil_lb_verdict v[3] = { { 0 }, { .down = true }, { .admin = VIGIL_ADMIN_DISABLED } };
	char buf[512];

	load(WEB_NONE);
	ck_assert_int_gt(vigil_nginx_render(&cfg.services[0], v, "max_fails=1", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "# Written by vigild for service web: rewritten on every change "
			 "(docs/integrations.md).\n"
			 "server 10.0.0.1:80 weight=1 max_fails=1;\n"
			 "server 10.0.0.2:80 weight=3 down max_fails=1;\n"
			 "server 10.0.0.9:80 weight=1 backup down max_fails=1;\n");
	ck_assert_int_gt(vigil_nginx_render(&cfg.services[0], NULL, "", buf, sizeof(buf)), 0);
	ck_assert_ptr_nonnull(strstr(buf, "server 10.0.0.2:80 weight=3;\n"));
	ck_assert_int_eq(vigil_nginx_render(&cfg.services[0], v, "", buf, 120), -ENOSPC);
}
END_TEST

Suite *lbfeed_suite(void)
{
	Suite *s = suite_create("lbfeed");
	TCase *tc;

	tc = UNIT_TCASE(s, "config", { config_datapath_none }, { config_haproxy },
			{ config_haproxy_tcp_and_nginx }, { config_copy });
	tcase_add_checked_fixture(tc, NULL, teardown);
	tc = UNIT_TCASE(s, "haproxy", { hp_request }, { hp_split }, { hp_parse },
			{ hp_parse_short }, { hp_derive }, { hp_derive_limits });
	tcase_add_checked_fixture(tc, NULL, table_teardown);
	tc = UNIT_TCASE(s, "push", { want_edges }, { want_check }, { hp_commands }, { verdicts },
			{ nginx_include });
	tcase_add_checked_fixture(tc, NULL, teardown);
	return s;
}
