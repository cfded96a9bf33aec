/* SPDX-License-Identifier: MIT */
/* Unit-test runner: every suite in one SRunner. CK_FORK=no (set by run.sh under
 * valgrind) runs them in-process so leaks are attributed to the test. */
#include <stdlib.h>

#include "suites.h"

int main(void)
{
	SRunner *sr = srunner_create(addr_suite());
	int failed;

	srunner_add_suite(sr, hist_suite());
	srunner_add_suite(sr, config_suite());
	srunner_add_suite(sr, detector_suite());
	srunner_add_suite(sr, cluster_suite());
	srunner_add_suite(sr, maglev_suite());
	srunner_add_suite(sr, stats_suite());
	srunner_add_suite(sr, reload_suite());
	srunner_add_suite(sr, log_suite());
	srunner_add_suite(sr, maperr_suite());
	srunner_add_suite(sr, path_suite());
	srunner_add_suite(sr, procstat_suite());
	srunner_add_suite(sr, history_filter_suite());
	srunner_add_suite(sr, metrics_suite());
	srunner_add_suite(sr, lbfeed_suite());
	srunner_add_suite(sr, set_slots_suite());
	srunner_add_suite(sr, watch_ports_suite());
	srunner_add_suite(sr, pending_suite());
	srunner_add_suite(sr, syn_frame_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
