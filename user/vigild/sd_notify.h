/* SPDX-License-Identifier: MIT */
/* The systemd service protocol (sd_notify(3)): READY=1 once every hook is
 * attached, RELOADING=1 / READY=1 around a SIGHUP reload, STATUS= with a
 * one-line summary, STOPPING=1, and WATCHDOG=1 from the tick loop when the
 * unit sets WatchdogSec=. Without NOTIFY_SOCKET (not started by systemd, or
 * Type= other than notify) every call does nothing. */
#ifndef VIGIL_SD_NOTIFY_H
#define VIGIL_SD_NOTIFY_H

#include <linux/types.h>

/* Reads WATCHDOG_USEC/WATCHDOG_PID once (sd_watchdog_enabled(3)); logs the
 * interval when the watchdog is on. Call once at start. */
void vigil_sd_init(void);

/* READY=1 with STATUS=status (also after a reload: ends RELOADING=1). */
void vigil_sd_ready(const char *status);
/* RELOADING=1 and MONOTONIC_USEC= (now): sent before a reload starts. */
void vigil_sd_reloading(void);
void vigil_sd_status(const char *status);
void vigil_sd_stopping(void);

/* WATCHDOG=1 if half the watchdog interval has passed since the last one;
 * call from every tick of the event loop (now: CLOCK_MONOTONIC ns), so a
 * stalled loop stops feeding the watchdog and systemd restarts vigild. */
void vigil_sd_watchdog_tick(__u64 now_ns);
/* The longest the loop may sleep and still feed the watchdog in time
 * (a quarter of the interval), or max_ms when the watchdog is off. */
int vigil_sd_watchdog_max_sleep_ms(int max_ms);

#endif
