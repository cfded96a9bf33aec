/* SPDX-License-Identifier: MIT */
/* user/lib/reload_plan.c: what a config reload keeps, changes and refuses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "detector.h"
#include "reload_plan.h"
#include "suites.h"

#define MS 1000000ULL
#define SEC (1000 * MS)
#define T0 (100 * SEC)

/* Two configs per test; ~2 x 350 KiB detector state: static, not stack. */
static struct vigil_config old_cfg, new_cfg;
static struct vigil_det_service old_det, new_det;

static void load(struct vigil_config *cfg, const char *text)
{
	char err[512];

	ck_assert_msg(vigil_config_load_string(text, "t.yaml", cfg, err, sizeof(err)) == 0, "%s",
		      err);
}

static void teardown(void)
{
	vigil_config_free(&old_cfg);
	vigil_config_free(&new_cfg);
}

/* A detector for service i of cfg, every backend HEALTHY since T0. */
static void det_of(const struct vigil_config *cfg, size_t i, struct vigil_det_service *det)
{
	const struct vigil_service_cfg *s = &cfg->services[i];

	vigil_det_init(det, &s->detection);
	for (size_t b = 0; b < s->n_backends; b++)
		vigil_det_add_backend(det, &s->backends[b].ep, s->backends[b].weight,
				      s->backends[b].role, T0);
}

#define WEB_V1                                                                            \
	"services:\n"                                                                     \
	"  - name: web\n"                                                                 \
	"    vip: \"10.96.0.10:80\"\n"                                                    \
	"    backends: [\"10.0.0.1:80\", \"10.0.0.2:80\", \"10.0.0.3:80\"]\n"            \
	"    detection: {eject_base_ms: 5000}\n"

/* ---- settings that need a restart --------------------------------------------- */

START_TEST(restart_none_for_live_settings)
{
	char why[256];

	load(&old_cfg, "daemon: {log_level: warn, tick_ms: 10}\n" WEB_V1);
	load(&new_cfg, "daemon: {log_level: debug, tick_ms: 20, watch_all: true}\n"
		       "lb: {cgroup: /sys/fs/cgroup/x}\n"
		       "watch: {backends: [\"10.9.9.9:1\"], local_ports: [8080]}\n");
	ck_assert_int_eq(vigil_reload_restart_needed(&old_cfg, &new_cfg, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "");
}
END_TEST

/* Changes a reload cannot apply: how many, and what the reason names. */
static const struct {
	const char *old_yaml, *new_yaml;
	int restart;
	const char *names[2];
} restart_cases[] = {
	{ "daemon: {pin_dir: /sys/fs/bpf/a}\n", "daemon: {pin_dir: /sys/fs/bpf/b}\n", 1,
	  { "daemon.pin_dir", "restart" } },
	{ "daemon: {watch_all_max: 100}\n", "daemon: {watch_all_max: 200}\n", 1,
	  { "daemon.watch_all_max", "--unpin" } },
	/* both: the first one is named */
	{ "daemon: {pin_dir: /sys/fs/bpf/a, watch_all_max: 100}\n",
	  "daemon: {pin_dir: /sys/fs/bpf/b, watch_all_max: 200}\n", 2, { "daemon.pin_dir" } },
};

START_TEST(restart_for_pin_dir_and_lru_size)
{
	char why[256];

	load(&old_cfg, restart_cases[_i].old_yaml);
	load(&new_cfg, restart_cases[_i].new_yaml);
	ck_assert_int_eq(vigil_reload_restart_needed(&old_cfg, &new_cfg, why, sizeof(why)),
			 restart_cases[_i].restart);
	for (int k = 0; k < 2 && restart_cases[_i].names[k]; k++)
		ck_assert_msg(strstr(why, restart_cases[_i].names[k]), "'%s' not in '%s'",
			      restart_cases[_i].names[k], why);
}
END_TEST

#define XDP_SVC(fwd)                                                                      \
	"xdp: {interfaces: [eth0], forward: " fwd "}\n"                                   \
	"services:\n"                                                                     \
	"  - name: edge\n"                                                                \
	"    vip: \"10.96.0.20:80\"\n"                                                    \
	"    datapath: xdp\n"                                                             \
	"    backends: [\"10.0.0.1:80\"]\n"

START_TEST(restart_for_xdp_forward_only_while_xdp_runs)
{
	char why[256];

	load(&old_cfg, XDP_SVC("redirect"));
	load(&new_cfg, XDP_SVC("kernel"));
	ck_assert_int_eq(vigil_reload_restart_needed(&old_cfg, &new_cfg, why, sizeof(why)), 1);
	ck_assert_ptr_nonnull(strstr(why, "xdp.forward"));
	teardown();
	/* XDP not running yet: the program is loaded with the new value. */
	load(&old_cfg, "xdp: {interfaces: [eth0], forward: redirect}\n");
	load(&new_cfg, XDP_SVC("kernel"));
	ck_assert_int_eq(vigil_reload_restart_needed(&old_cfg, &new_cfg, why, sizeof(why)), 0);
}
END_TEST

/* ---- matching ------------------------------------------------------------------- */

START_TEST(match_services_by_name_backends_by_endpoint)
{
	int idx[VIGIL_MAX_SVC_BACKENDS];

	load(&old_cfg, WEB_V1);
	load(&new_cfg, "services:\n"
		       "  - name: api\n"
		       "    vip: \"10.96.0.11:80\"\n"
		       "    backends: [\"10.0.0.9:80\"]\n"
		       "  - name: web\n"
		       "    vip: \"10.96.0.12:80\"\n" /* a new VIP: still the same service */
		       "    backends: [\"10.0.0.3:80\", \"10.0.0.4:80\"]\n"
		       "    backups: [\"10.0.0.1:80\"]\n");
	ck_assert_int_eq(vigil_reload_find_service(&old_cfg, "web"), 0);
	ck_assert_int_eq(vigil_reload_find_service(&old_cfg, "api"), -1);
	ck_assert_int_eq(vigil_reload_find_service(&new_cfg, "web"), 1);
	vigil_reload_match_backends(&old_cfg.services[0], &new_cfg.services[1], idx);
	ck_assert_int_eq(idx[0], 2);  /* 10.0.0.3 was third */
	ck_assert_int_eq(idx[1], -1); /* 10.0.0.4 is new */
	ck_assert_int_eq(idx[2], 0);  /* 10.0.0.1 stays, now as a backup */
	vigil_reload_match_backends(NULL, &new_cfg.services[0], idx);
	ck_assert_int_eq(idx[0], -1);
}
END_TEST

START_TEST(service_changed_detects_each_kind_of_change)
{
	static const char *const variants[] = {
		/* weight */
		"    backends: [\"10.0.0.1:80\", {address: \"10.0.0.2:80\", weight: 2},\n"
		"               \"10.0.0.3:80\"]\n",
		/* order */
		"    backends: [\"10.0.0.2:80\", \"10.0.0.1:80\", \"10.0.0.3:80\"]\n",
		/* role */
		"    backends: [\"10.0.0.1:80\", \"10.0.0.2:80\"]\n"
		"    backups: [\"10.0.0.3:80\"]\n",
		/* detection */
		"    backends: [\"10.0.0.1:80\", \"10.0.0.2:80\", \"10.0.0.3:80\"]\n"
		"    detection: {error_ratio: 0.3}\n",
		/* probe */
		"    backends: [\"10.0.0.1:80\", \"10.0.0.2:80\", \"10.0.0.3:80\"]\n"
		"    probe: {http_path: /health}\n",
		/* table size */
		"    backends: [\"10.0.0.1:80\", \"10.0.0.2:80\", \"10.0.0.3:80\"]\n"
		"    table_size: 251\n",
	};
	char text[1024];

	load(&old_cfg, "services:\n  - name: web\n    vip: \"10.96.0.10:80\"\n"
		       "    backends: [\"10.0.0.1:80\", \"10.0.0.2:80\", \"10.0.0.3:80\"]\n");
	load(&new_cfg, "services:\n  - name: web\n    vip: \"10.96.0.10:80\"\n"
		       "    backends: [\"10.0.0.1:80\", \"10.0.0.2:80\", \"10.0.0.3:80\"]\n");
	ck_assert(!vigil_reload_service_changed(&old_cfg.services[0], &new_cfg.services[0]));
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		vigil_config_free(&new_cfg);
		snprintf(text, sizeof(text),
			 "services:\n  - name: web\n    vip: \"10.96.0.10:80\"\n%s", variants[i]);
		load(&new_cfg, text);
		ck_assert_msg(vigil_reload_service_changed(&old_cfg.services[0],
							   &new_cfg.services[0]),
			      "variant %zu not seen as a change", i);
	}
	vigil_config_free(&new_cfg);
	load(&new_cfg, "services:\n  - name: web\n    vip: \"10.96.0.99:80\"\n"
		       "    backends: [\"10.0.0.1:80\", \"10.0.0.2:80\", \"10.0.0.3:80\"]\n");
	ck_assert(vigil_reload_service_changed(&old_cfg.services[0], &new_cfg.services[0]));
}
END_TEST

/* ---- carried-over detector state ------------------------------------------------ */

static __u64 window_attempts(const struct vigil_det_backend *b)
{
	__u64 n = 0;

	for (size_t i = 0; i < VIGIL_DET_WINDOW_SLOTS; i++)
		n += b->window[i].attempts;
	return n;
}

/* web v1 at T0; at T0 + 1 s 10.0.0.1 is ejected by the kernel fast path,
 * 10.0.0.2 is drained and 10.0.0.3 has 42 connects in its window. */
static void old_state(void)
{
	struct vigil_det_observation down = { .kernel_consecutive = 3, .kernel_down = true };
	struct vigil_det_observation busy = { .connect_attempts = 42, .established = 42 };
	struct vigil_det_change ch[VIGIL_MAX_SVC_BACKENDS + 1];

	load(&old_cfg, WEB_V1);
	det_of(&old_cfg, 0, &old_det);
	vigil_det_observe(&old_det, 0, &down, T0 + SEC);
	vigil_det_observe(&old_det, 2, &busy, T0 + SEC);
	ck_assert_uint_eq(vigil_det_evaluate(&old_det, T0 + SEC, ch, VIGIL_MAX_SVC_BACKENDS + 1),
			  1);
	ck_assert_int_eq(old_det.backends[0].state, VIGIL_STATE_EJECTED);
	vigil_det_set_admin(&old_det, 1, VIGIL_ADMIN_DRAINING, T0 + SEC);
}

/* The reload of old_state() to the config text at T0 + 2 s: new_cfg, new_det. */
static void reload_old_state(const char *text)
{
	int idx[VIGIL_MAX_SVC_BACKENDS];

	load(&new_cfg, text);
	vigil_reload_match_backends(&old_cfg.services[0], &new_cfg.services[0], idx);
	vigil_reload_carry_det(&old_det, idx, &new_cfg.services[0], T0 + 2 * SEC, &new_det);
}

START_TEST(carry_keeps_ejection_and_drain)
{
	struct vigil_backend_set set;
	__u64 until;

	old_state();
	until = old_det.backends[0].eject_until_ns;
	ck_assert_uint_eq(until, T0 + SEC + 5000 * MS);
	reload_old_state("services:\n"
			 "  - name: web\n"
			 "    vip: \"10.96.0.10:80\"\n"
			 "    backends: [\"10.0.0.4:80\", {address: \"10.0.0.2:80\", weight: 5},\n"
			 "               \"10.0.0.1:80\", \"10.0.0.3:80\"]\n"
			 "    detection: {eject_base_ms: 5000}\n");
	ck_assert_uint_eq(new_det.n_backends, 4);
	/* new: healthy from the reload on */
	ck_assert_int_eq(new_det.backends[0].state, VIGIL_STATE_HEALTHY);
	ck_assert_uint_eq(new_det.backends[0].since_ns, T0 + 2 * SEC);
	ck_assert_uint_eq(new_det.backends[0].ejections, 0);
	/* drained: still drained, new weight */
	ck_assert_int_eq(new_det.backends[1].admin, VIGIL_ADMIN_DRAINING);
	ck_assert_uint_eq(new_det.backends[1].weight, 5);
	/* ejected: same state, count and deadline (no re-admission, no reset of the backoff) */
	ck_assert_int_eq(new_det.backends[2].state, VIGIL_STATE_EJECTED);
	ck_assert_uint_eq(new_det.backends[2].ejections, 1);
	ck_assert_uint_eq(new_det.backends[2].eject_until_ns, until);
	ck_assert_int_eq(new_det.backends[2].last_rule, VIGIL_RULE_FAST_PATH);
	/* healthy one keeps its window (same window_ms) */
	ck_assert_uint_eq(window_attempts(&new_det.backends[3]), 42);
	/* selection: the new and the healthy backend serve; ejected and drained do not */
	vigil_det_select(&new_det, &set);
	ck_assert_uint_eq(set.n_preferred, 2);
	ck_assert(vigil_set_serves(&set, &new_det.backends[0].ep));
	ck_assert(vigil_set_serves(&set, &new_det.backends[3].ep));
	ck_assert(!vigil_set_serves(&set, &new_det.backends[1].ep));
	ck_assert(!vigil_set_serves(&set, &new_det.backends[2].ep));
}
END_TEST

/* The first evaluation after a reload changes nothing by itself: the
 * ejected backend waits for its deadline, the healthy ones stay. */
START_TEST(carry_then_evaluate_changes_nothing)
{
	struct vigil_det_change ch[VIGIL_MAX_SVC_BACKENDS + 1];
	size_t n;

	old_state();
	n = vigil_det_evaluate(&old_det, T0 + SEC, ch, VIGIL_MAX_SVC_BACKENDS + 1);
	ck_assert_uint_eq(n, 1); /* the drain, reported once */
	reload_old_state(WEB_V1);
	n = vigil_det_evaluate(&new_det, T0 + 2 * SEC, ch, VIGIL_MAX_SVC_BACKENDS + 1);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(new_det.backends[0].state, VIGIL_STATE_EJECTED);
	ck_assert_int_eq(new_det.backends[2].state, VIGIL_STATE_HEALTHY);
	/* and at its deadline it goes on to probing, as it would have without a reload */
	n = vigil_det_evaluate(&new_det, old_det.backends[0].eject_until_ns, ch,
			       VIGIL_MAX_SVC_BACKENDS + 1);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(ch[0].to, VIGIL_STATE_PROBING);
}
END_TEST

START_TEST(carry_clears_window_when_its_length_changes)
{
	old_state();
	reload_old_state("services:\n"
			 "  - name: web\n"
			 "    vip: \"10.96.0.10:80\"\n"
			 "    backends: [\"10.0.0.1:80\", \"10.0.0.2:80\", \"10.0.0.3:80\"]\n"
			 "    detection: {eject_base_ms: 5000, window_ms: 20000}\n");
	ck_assert_uint_eq(new_det.params.window_ms, 20000);
	ck_assert_uint_eq(window_attempts(&old_det.backends[2]), 42);
	ck_assert_uint_eq(window_attempts(&new_det.backends[2]), 0);
	ck_assert_int_eq(new_det.backends[0].state, VIGIL_STATE_EJECTED); /* the rest stays */
	ck_assert_int_eq(new_det.backends[1].admin, VIGIL_ADMIN_DRAINING);
}
END_TEST

START_TEST(carry_new_service_starts_healthy)
{
	load(&new_cfg, WEB_V1);
	vigil_reload_carry_det(NULL, NULL, &new_cfg.services[0], T0, &new_det);
	ck_assert_uint_eq(new_det.n_backends, 3);
	for (size_t b = 0; b < 3; b++) {
		ck_assert_int_eq(new_det.backends[b].state, VIGIL_STATE_HEALTHY);
		ck_assert_int_eq(new_det.backends[b].admin, VIGIL_ADMIN_NONE);
	}
	ck_assert_uint_eq(new_det.params.eject_base_ms, 5000);
}
END_TEST

/* ---- ids, summary, datapaths, capacity ------------------------------------------ */

START_TEST(ids_kept_and_smallest_free)
{
	const __u32 kept[] = { 0, 3, 0, 1, 0 };
	__u32 ids[5];

	vigil_reload_assign_ids(kept, 5, ids);
	ck_assert_uint_eq(ids[0], 2);
	ck_assert_uint_eq(ids[1], 3);
	ck_assert_uint_eq(ids[2], 4);
	ck_assert_uint_eq(ids[3], 1);
	ck_assert_uint_eq(ids[4], 5);
}
END_TEST

START_TEST(summary_counts)
{
	struct vigil_reload_summary sum;

	load(&old_cfg, WEB_V1 "  - name: old\n    vip: \"10.96.0.30:80\"\n"
			      "    backends: [\"10.0.1.1:80\", \"10.0.1.2:80\"]\n"
			      "  - name: same\n    vip: \"10.96.0.31:80\"\n"
			      "    backends: [\"10.0.2.1:80\"]\n");
	load(&new_cfg, "services:\n"
		       "  - name: web\n"
		       "    vip: \"10.96.0.10:80\"\n"
		       "    backends: [\"10.0.0.1:80\", \"10.0.0.3:80\", \"10.0.0.4:80\"]\n"
		       "    detection: {eject_base_ms: 5000}\n"
		       "  - name: same\n    vip: \"10.96.0.31:80\"\n"
		       "    backends: [\"10.0.2.1:80\"]\n"
		       "  - name: api\n    vip: \"10.96.0.32:80\"\n"
		       "    backends: [\"10.0.3.1:80\"]\n");
	vigil_reload_summarize(&old_cfg, &new_cfg, &sum);
	ck_assert_uint_eq(sum.services_added, 1);   /* api */
	ck_assert_uint_eq(sum.services_removed, 1); /* old */
	ck_assert_uint_eq(sum.services_changed, 1); /* web */
	ck_assert_uint_eq(sum.backends_added, 2);   /* web 10.0.0.4, api 10.0.3.1 */
	ck_assert_uint_eq(sum.backends_removed, 3); /* web 10.0.0.2, old's two */
}
END_TEST

START_TEST(datapaths_in_use)
{
	load(&old_cfg, "");
	ck_assert_uint_eq(vigil_reload_datapaths(&old_cfg), 0);
	load(&new_cfg, XDP_SVC("redirect") "  - name: web\n    vip: \"10.96.0.10:80\"\n"
					    "    backends: [\"10.0.0.1:80\"]\n");
	ck_assert_uint_eq(vigil_reload_datapaths(&new_cfg),
			  VIGIL_DATAPATH_XDP | VIGIL_DATAPATH_SOCKET);
}
END_TEST

START_TEST(exact_endpoints_counted_once)
{
	load(&old_cfg, "watch: {backends: [\"10.0.0.1:80\", \"10.9.0.1:80\"]}\n" WEB_V1);
	load(&new_cfg, "watch: {backends: [\"10.0.0.1:80\"]}\n"
		       "services:\n  - name: web\n    vip: \"10.96.0.10:80\"\n"
		       "    backends: [\"10.0.0.3:80\", \"10.0.0.5:80\"]\n");
	ck_assert_uint_eq(vigil_reload_exact_endpoints(&old_cfg, NULL), 4);
	ck_assert_uint_eq(vigil_reload_exact_endpoints(&new_cfg, NULL), 3);
	/* 10.0.0.1-3, 10.9.0.1, 10.0.0.5 */
	ck_assert_uint_eq(vigil_reload_exact_endpoints(&old_cfg, &new_cfg), 5);
}
END_TEST

Suite *reload_suite(void)
{
	Suite *s = suite_create("reload");
	TCase *tc;

	tc = UNIT_TCASE(s, "restart", { restart_none_for_live_settings },
			{ restart_for_pin_dir_and_lru_size, N(restart_cases) },
			{ restart_for_xdp_forward_only_while_xdp_runs });
	tcase_add_checked_fixture(tc, NULL, teardown);
	tc = UNIT_TCASE(s, "match", { match_services_by_name_backends_by_endpoint },
			{ service_changed_detects_each_kind_of_change });
	tcase_add_checked_fixture(tc, NULL, teardown);
	tc = UNIT_TCASE(s, "carry", { carry_keeps_ejection_and_drain },
			{ carry_then_evaluate_changes_nothing },
			{ carry_clears_window_when_its_length_changes },
			{ carry_new_service_starts_healthy });
	tcase_add_checked_fixture(tc, NULL, teardown);
	tc = UNIT_TCASE(s, "misc", { ids_kept_and_smallest_free }, { summary_counts },
			{ datapaths_in_use }, { exact_endpoints_counted_once });
	tcase_add_checked_fixture(tc, NULL, teardown);
	return s;
}
