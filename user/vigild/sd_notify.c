/* SPDX-License-Identifier: MIT */
#include "sd_notify.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "log.h"

static __u64 watchdog_usec;   /* 0: no watchdog */
static __u64 last_watchdog_ns;

static void notify(const char *what, const char *msg)
{
	int ret = sd_notify(0, msg);

	/* 0: no NOTIFY_SOCKET, nothing to tell. */
	if (ret < 0)
		pr_warn("cannot tell systemd '%s': %s", what, strerror(-ret));
}

void vigil_sd_init(void)
{
	__u64 usec = 0;
	int ret = sd_watchdog_enabled(0, (uint64_t *)&usec);

	if (ret < 0) {
		pr_warn("ignoring the systemd watchdog settings: WATCHDOG_USEC/WATCHDOG_PID: %s",
			strerror(-ret));
		return;
	}
	if (ret == 0 || usec == 0)
		return;
	watchdog_usec = usec;
	pr_info("systemd watchdog: %llu ms; feeding it every %llu ms from the tick loop",
		(unsigned long long)usec / 1000, (unsigned long long)usec / 2000);
}

void vigil_sd_ready(const char *status)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
	notify("READY=1", msg);
}

void vigil_sd_reloading(void)
{
	char msg[128];
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
		 (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
	notify("RELOADING=1", msg);
}

void vigil_sd_status(const char *status)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "STATUS=%s", status);
	notify("STATUS=", msg);
}

void vigil_sd_stopping(void)
{
	notify("STOPPING=1", "STOPPING=1\nSTATUS=stopping: detaching hooks");
}

void vigil_sd_watchdog_tick(__u64 now_ns)
{
	if (!watchdog_usec || now_ns - last_watchdog_ns < watchdog_usec * 1000 / 2)
		return;
	last_watchdog_ns = now_ns;
	notify("WATCHDOG=1", "WATCHDOG=1");
}

int vigil_sd_watchdog_max_sleep_ms(int max_ms)
{
	__u64 quarter_ms = watchdog_usec / 4000;

	if (!watchdog_usec)
		return max_ms;
	if (quarter_ms < 1)
		quarter_ms = 1;
	return quarter_ms < (__u64)max_ms ? (int)quarter_ms : max_ms;
}
