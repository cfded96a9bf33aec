/* SPDX-License-Identifier: MIT */
/* Check suites linked into build/unit-tests; test_main.c runs them all. */
#ifndef VIGIL_TEST_SUITES_H
#define VIGIL_TEST_SUITES_H

#include <check.h>

Suite *addr_suite(void);
Suite *hist_suite(void);
Suite *config_suite(void);
Suite *detector_suite(void);
Suite *maglev_suite(void);
Suite *stats_suite(void);
Suite *reload_suite(void);
Suite *log_suite(void);
Suite *maperr_suite(void);
Suite *path_suite(void);

#endif
