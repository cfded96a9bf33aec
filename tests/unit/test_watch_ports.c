/* SPDX-License-Identifier: MIT */
/* user/lib/watch_ports.c: the monitor's settings and port bitmaps. */
#include <stdlib.h>

#include "suites.h"
#include "watch_ports.h"

/* The settings of a config text (caller frees). */
static struct vigil_settings *settings_of(const char *text)
{
	struct vigil_settings *s = malloc(sizeof(*s));
	struct vigil_config cfg;
	char err[256];

	ck_assert_ptr_nonnull(s);
	ck_assert_msg(vigil_config_load_string(text, "inline.yaml", &cfg, err, sizeof(err)) == 0,
		      "%s", err);
	vigil_watch_settings(&cfg, s);
	vigil_config_free(&cfg);
	return s;
}

START_TEST(ports_of_every_watch)
{
	struct vigil_settings *s = settings_of("watch:\n"
					       "  backends: [\"10.0.0.2:80\", \"[fd00::2]:8080\"]\n"
					       "  prefixes: [\"10.2.0.0/16:443\"]\n"
					       "  local_ports: [9090, 65535]\n"
					       "services:\n"
					       "  - name: web\n"
					       "    vip: \"10.96.0.10:80\"\n"
					       "    backends: [\"10.0.1.2:8443\"]\n"
					       "    backups: [\"10.0.1.9:8444\"]\n");

	ck_assert_uint_eq(s->watch_all, 0);
	ck_assert_uint_eq(s->remote_any_port, 0);
	for (unsigned p = 0; p < 65536; p++) {
		bool remote = p == 80 || p == 8080 || p == 443 || p == 8443 || p == 8444;
		bool local = p == 9090 || p == 65535;

		ck_assert_msg(vigil_port_bit(s->remote_ports, (__u16)p) == remote, "remote %u", p);
		ck_assert_msg(vigil_port_bit(s->local_ports, (__u16)p) == local, "local %u", p);
	}
	free(s);
}
END_TEST

/* A prefix without a port watches every port: the bitmap cannot filter. */
START_TEST(prefix_without_port)
{
	struct vigil_settings *s = settings_of("daemon:\n  watch_all: true\n  watch_all_local: true\n"
					       "watch:\n  prefixes: [\"10.1.0.0/16\"]\n");

	ck_assert_uint_eq(s->remote_any_port, 1);
	ck_assert_uint_eq(s->watch_all, 1);
	ck_assert_uint_eq(s->watch_all_local, 1);
	free(s);
}
END_TEST

Suite *watch_ports_suite(void)
{
	Suite *s = suite_create("watch_ports");

	UNIT_TCASE(s, "settings", { ports_of_every_watch }, { prefix_without_port });
	return s;
}
