/* SPDX-License-Identifier: MIT */
/* user/lib/cluster_view.c: etcd key layout, verdict kinds, the view of other nodes. */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "cluster_view.h"
#include "suites.h"

static struct vigil_cluster_key verdict_key(const char *node, const char *svc, const char *ep)
{
	struct vigil_cluster_key k;

	memset(&k, 0, sizeof(k));
	k.type = VIGIL_CKEY_VERDICT;
	snprintf(k.node, sizeof(k.node), "%s", node);
	snprintf(k.service, sizeof(k.service), "%s", svc);
	ck_assert_int_eq(vigil_endpoint_parse(ep, &k.backend), 0);
	return k;
}

START_TEST(keys_round_trip)
{
	struct vigil_cluster_key in = verdict_key("host-a", "web", "[fd00::2]:8080"), out;
	char buf[256];

	ck_assert_int_gt(vigil_cluster_key_verdict(buf, sizeof(buf), "/vigil/", in.service,
						   &in.backend, in.node), 0);
	ck_assert_str_eq(buf, "/vigil/verdicts/web/[fd00::2]:8080/host-a");
	vigil_cluster_key_parse("/vigil/", buf, &out);
	ck_assert_int_eq(out.type, VIGIL_CKEY_VERDICT);
	ck_assert_str_eq(out.node, "host-a");
	ck_assert_str_eq(out.service, "web");
	ck_assert_mem_eq(&out.backend, &in.backend, sizeof(in.backend));
	ck_assert_int_gt(vigil_cluster_key_node(buf, sizeof(buf), "/p/", "n1"), 0);
	vigil_cluster_key_parse("/p/", buf, &out);
	ck_assert_int_eq(out.type, VIGIL_CKEY_NODE);
	ck_assert_str_eq(out.node, "n1");
	ck_assert_int_eq(vigil_cluster_key_node(buf, 8, "/p/", "a-long-node"), -1);
}
END_TEST

/* Anything that is not exactly one of the two layouts is ignored. */
static const char *const foreign_keys[] = {
	"/other/nodes/a",                      /* another prefix */
	"/vigil/nodes/",                       /* no node */
	"/vigil/nodes/a/b",                    /* too deep */
	"/vigil/verdicts/web/10.0.0.2:80",     /* no node */
	"/vigil/verdicts/web/10.0.0.2:80/a/b", /* too deep */
	"/vigil/verdicts/web/10.0.0.2/a",      /* no port */
	"/vigil/verdicts//10.0.0.2:80/a",      /* no service */
	"/vigil/status",
};

START_TEST(keys_foreign_ignored)
{
	struct vigil_cluster_key k;

	vigil_cluster_key_parse("/vigil/", foreign_keys[_i], &k);
	ck_assert_msg(k.type == VIGIL_CKEY_OTHER, "%s parsed as type %d", foreign_keys[_i], k.type);
}
END_TEST

START_TEST(kinds)
{
	ck_assert_int_eq(vigil_verdict_kind_of(VIGIL_RULE_FAST_PATH), VIGIL_VERDICT_HARD);
	ck_assert_int_eq(vigil_verdict_kind_of(VIGIL_RULE_STUCK_CONNECT), VIGIL_VERDICT_HARD);
	ck_assert_int_eq(vigil_verdict_kind_of(VIGIL_RULE_PROBE_FAILED), VIGIL_VERDICT_HARD);
	ck_assert_int_eq(vigil_verdict_kind_of(VIGIL_RULE_SLOW), VIGIL_VERDICT_OUTLIER);
	ck_assert_int_eq(vigil_verdict_kind_of(VIGIL_RULE_ERROR_RATIO), VIGIL_VERDICT_OUTLIER);
	/* derived from other nodes: never shared again (no echo between nodes) */
	ck_assert_int_eq(vigil_verdict_kind_of(VIGIL_RULE_REMOTE_HARD), VIGIL_VERDICT_NONE);
	ck_assert_int_eq(vigil_verdict_kind_of(VIGIL_RULE_REMOTE_OUTLIER), VIGIL_VERDICT_NONE);
	ck_assert_int_eq(vigil_verdict_kind_of(VIGIL_RULE_ADMIN), VIGIL_VERDICT_NONE);
	ck_assert_int_eq(vigil_verdict_kind_parse("outlier"), VIGIL_VERDICT_OUTLIER);
	ck_assert_int_eq(vigil_verdict_kind_parse("bogus"), VIGIL_VERDICT_NONE);
	ck_assert_int_eq(vigil_verdict_kind_parse("none"), VIGIL_VERDICT_NONE);
	ck_assert_int_eq(vigil_verdict_kind_parse("suspect"), VIGIL_VERDICT_SUSPECT);
	ck_assert_str_eq(vigil_verdict_kind_name(VIGIL_VERDICT_SUSPECT), "suspect");
	ck_assert_str_eq(vigil_verdict_kind_name((enum vigil_verdict_kind)9), "none");
	ck_assert_str_eq(vigil_verdict_kind_name(VIGIL_VERDICT_HARD), "hard");
}
END_TEST

START_TEST(view_news_and_counts)
{
	struct vigil_cview *v = vigil_cview_new();
	struct vigil_cluster_key a = verdict_key("a", "web", "10.0.0.2:80");
	struct vigil_cluster_key b = verdict_key("b", "web", "10.0.0.2:80");
	struct vigil_cluster_key c = verdict_key("c", "web", "10.0.0.3:80");

	ck_assert(vigil_cview_put(v, &a, VIGIL_VERDICT_HARD, 5));
	ck_assert(!vigil_cview_put(v, &a, VIGIL_VERDICT_HARD, 5)); /* a repeat: no news */
	ck_assert(vigil_cview_put(v, &a, VIGIL_VERDICT_HARD, 9));  /* written again */
	ck_assert(vigil_cview_put(v, &b, VIGIL_VERDICT_OUTLIER, 6));
	ck_assert(vigil_cview_put(v, &c, VIGIL_VERDICT_OUTLIER, 7));
	ck_assert_uint_eq(vigil_cview_reporters(v, "web", &a.backend, VIGIL_VERDICT_HARD), 1);
	ck_assert_uint_eq(vigil_cview_reporters(v, "web", &a.backend, VIGIL_VERDICT_OUTLIER), 1);
	ck_assert_uint_eq(vigil_cview_reporters(v, "api", &a.backend, VIGIL_VERDICT_HARD), 0);
	ck_assert_uint_eq(vigil_cview_verdicts(v), 3);
	vigil_cview_del(v, &a);
	vigil_cview_del(v, &a);
	ck_assert_uint_eq(vigil_cview_reporters(v, "web", &a.backend, VIGIL_VERDICT_HARD), 0);
	ck_assert_uint_eq(vigil_cview_verdicts(v), 2);
	vigil_cview_node(v, "a", true);
	vigil_cview_node(v, "b", true);
	vigil_cview_node(v, "a", true);
	ck_assert_uint_eq(vigil_cview_live_nodes(v), 2);
	vigil_cview_node(v, "a", false);
	ck_assert_uint_eq(vigil_cview_live_nodes(v), 1);
	vigil_cview_clear(v);
	ck_assert_uint_eq(vigil_cview_verdicts(v), 0);
	ck_assert_uint_eq(vigil_cview_live_nodes(v), 0);
	ck_assert(vigil_cview_put(v, &b, VIGIL_VERDICT_OUTLIER, 6)); /* news again after a clear */
	vigil_cview_free(v);
}
END_TEST

/* A re-read after a broken watch: known verdicts are no news, vanished ones go. */
START_TEST(view_resync)
{
	struct vigil_cview *v = vigil_cview_new();
	struct vigil_cluster_key a = verdict_key("a", "web", "10.0.0.2:80");
	struct vigil_cluster_key b = verdict_key("b", "web", "10.0.0.2:80");

	vigil_cview_put(v, &a, VIGIL_VERDICT_HARD, 5);
	vigil_cview_put(v, &b, VIGIL_VERDICT_HARD, 6);
	vigil_cview_node(v, "a", true);
	vigil_cview_mark_stale(v);
	ck_assert_uint_eq(vigil_cview_live_nodes(v), 0);
	ck_assert(!vigil_cview_put(v, &a, VIGIL_VERDICT_HARD, 5)); /* acted on before */
	vigil_cview_sweep_stale(v);                                 /* b vanished */
	ck_assert_uint_eq(vigil_cview_verdicts(v), 1);
	ck_assert_uint_eq(vigil_cview_reporters(v, "web", &a.backend, VIGIL_VERDICT_HARD), 1);
	vigil_cview_free(v);
}
END_TEST

/* Many nodes x backends, as in a fleet-wide failure. */
START_TEST(view_many)
{
	struct vigil_cview *v = vigil_cview_new();
	char node[16], ep[32];

	for (int n = 0; n < 200; n++) {
		for (int b = 0; b < 50; b++) {
			struct vigil_cluster_key k;

			snprintf(node, sizeof(node), "n%d", n);
			snprintf(ep, sizeof(ep), "10.1.%d.%d:80", b / 250, b % 250 + 1);
			k = verdict_key(node, "web", ep);
			ck_assert(vigil_cview_put(v, &k, VIGIL_VERDICT_HARD, n * 100 + b + 1));
		}
	}
	{
		struct vigil_cluster_key k = verdict_key("x", "web", "10.1.0.7:80");

		ck_assert_uint_eq(vigil_cview_reporters(v, "web", &k.backend, VIGIL_VERDICT_HARD), 200);
	}
	ck_assert_uint_eq(vigil_cview_verdicts(v), 10000);
	vigil_cview_free(v);
}
END_TEST

Suite *cluster_suite(void)
{
	Suite *s = suite_create("cluster");

	UNIT_TCASE(s, "keys", { keys_round_trip }, { keys_foreign_ignored, N(foreign_keys) },
		   { kinds });
	UNIT_TCASE(s, "view", { view_news_and_counts }, { view_resync }, { view_many });
	return s;
}
