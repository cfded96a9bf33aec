/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <string.h>

#include "addr.h"
#include "history_filter.h"
#include "suites.h"

static struct vigil_change change(const char *vip, const char *backend)
{
	struct vigil_change c;

	memset(&c, 0, sizeof(c));
	if (vip)
		ck_assert_int_eq(vigil_endpoint_parse(vip, &c.key.vip), 0);
	if (backend)
		ck_assert_int_eq(vigil_endpoint_parse(backend, &c.key.backend), 0);
	return c;
}

/* web has two VIPs, api one; b1 is in both. */
static struct vigil_history_filter web_filter(void)
{
	struct vigil_history_filter f = { .by_service = true, .n_vips = 2 };

	ck_assert_int_eq(vigil_endpoint_parse("10.96.0.10:80", &f.vips[0]), 0);
	ck_assert_int_eq(vigil_endpoint_parse("[fd00::10]:80", &f.vips[1]), 0);
	return f;
}

START_TEST(no_filter)
{
	struct vigil_history_filter f = { 0 };
	struct vigil_change restart = change(NULL, NULL), c = change("10.96.0.11:80", "10.0.0.1:8080");

	ck_assert(vigil_history_match(&f, &restart));
	ck_assert(vigil_history_match(&f, &c));
}
END_TEST

START_TEST(by_service)
{
	struct vigil_history_filter f = web_filter();
	struct vigil_change v4 = change("10.96.0.10:80", "10.0.0.1:8080"),
			    v6 = change("[fd00::10]:80", "10.0.0.1:8080"),
			    level = change("10.96.0.10:80", NULL),
			    api = change("10.96.0.11:80", "10.0.0.1:8080"),
			    restart = change(NULL, NULL);

	ck_assert(vigil_history_match(&f, &v4));
	ck_assert(vigil_history_match(&f, &v6));
	ck_assert(vigil_history_match(&f, &level)); /* service-level: web's */
	ck_assert(!vigil_history_match(&f, &api));
	ck_assert(!vigil_history_match(&f, &restart));
}
END_TEST

START_TEST(by_backend_and_both)
{
	struct vigil_history_filter f = { .by_backend = true }, both = web_filter();
	struct vigil_change b1_web = change("10.96.0.10:80", "10.0.0.1:8080"),
			    b1_api = change("10.96.0.11:80", "10.0.0.1:8080"),
			    b2_web = change("10.96.0.10:80", "10.0.0.2:8080"),
			    level = change("10.96.0.10:80", NULL);

	ck_assert_int_eq(vigil_endpoint_parse("10.0.0.1:8080", &f.backend), 0);
	ck_assert(vigil_history_match(&f, &b1_web));
	ck_assert(vigil_history_match(&f, &b1_api));
	ck_assert(!vigil_history_match(&f, &b2_web));
	ck_assert(!vigil_history_match(&f, &level));
	both.by_backend = true;
	both.backend = f.backend;
	ck_assert(vigil_history_match(&both, &b1_web));
	ck_assert(!vigil_history_match(&both, &b1_api));
	ck_assert(!vigil_history_match(&both, &b2_web));
}
END_TEST

Suite *history_filter_suite(void)
{
	Suite *s = suite_create("history_filter");

	UNIT_TCASE(s, "match", { no_filter }, { by_service }, { by_backend_and_both });
	return s;
}
