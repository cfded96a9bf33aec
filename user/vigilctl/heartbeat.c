/* SPDX-License-Identifier: MIT */
#include "heartbeat.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <vigil/abi.h>

#include "clock.h"
#include "health.h"
#include "maps.h"

enum hb_state { HB_UNREAD, HB_UNKNOWN, HB_RUNNING, HB_STOPPED, HB_GONE, HB_LATE };

static struct {
	enum hb_state state;
	const char *unknown_why; /* for HB_UNKNOWN */
	char err[512];
	struct vigil_heartbeat hb;
	unsigned long long age_ns;
} status;

static enum hb_state classify(const struct vigil_heartbeat *hb, unsigned long long age_ns)
{
	if (hb->pid == 0 && hb->wall_ns == 0) {
		status.unknown_why = "never written: vigild has not ticked yet";
		return HB_UNKNOWN;
	}
	if (hb->pid == 0)
		return HB_STOPPED;
	if (kill((pid_t)hb->pid, 0) < 0 && errno == ESRCH)
		return HB_GONE;
	if (vigil_tick_stale(age_ns, hb->tick_ms))
		return HB_LATE;
	return HB_RUNNING;
}

static enum hb_state read_heartbeat(const char *pin_dir)
{
	__u64 now;
	__u32 key = 0;
	int fd = vigil_pin_open(pin_dir, VIGIL_PIN_HEARTBEAT, BPF_MAP_TYPE_ARRAY, sizeof(__u32),
				sizeof(struct vigil_heartbeat), status.err, sizeof(status.err));
	int ret;

	status.unknown_why = status.err;
	if (fd == -ENOENT)
		status.unknown_why = "no '" VIGIL_PIN_HEARTBEAT "' map: vigild never ran with this "
				     "pin directory since it was created, or is older than this "
				     "vigilctl";
	if (fd < 0)
		return HB_UNKNOWN;
	ret = bpf_map_lookup_elem(fd, &key, &status.hb);
	close(fd);
	if (ret < 0) {
		status.unknown_why = "reading the heartbeat map failed";
		return HB_UNKNOWN;
	}
	now = vigil_now_ns(); /* monotonic, as mono_ns: a wall-clock step fakes no age */
	status.age_ns = now > status.hb.mono_ns ? now - status.hb.mono_ns : 0;
	return classify(&status.hb, status.age_ns);
}

static void wall_hms(unsigned long long wall_ns, char *buf, size_t len)
{
	time_t t = (time_t)(wall_ns / 1000000000ULL);
	struct tm tm;

	if (!localtime_r(&t, &tm) || !strftime(buf, len, "%H:%M:%S", &tm))
		snprintf(buf, len, "?");
}

static void print_line(const char *pin_dir)
{
	struct stat st;
	char when[16];

	wall_hms(status.hb.wall_ns, when, sizeof(when));
	if (status.state == HB_STOPPED)
		fprintf(stderr, "vigilctl: vigild not running since %s (stopped): state may be "
			"stale; start vigild\n", when);
	else if (status.state == HB_GONE)
		fprintf(stderr, "vigilctl: vigild (pid %u) not running since %s (it exited "
			"without a clean stop): state may be stale; start vigild\n", status.hb.pid,
			when);
	else if (status.state == HB_LATE)
		fprintf(stderr, "vigilctl: vigild's last tick was %.1f s ago (at %s): state may be "
			"stale; check vigild (pid %u) is not stuck\n", status.age_ns / 1e9, when,
			status.hb.pid);
	/* A missing pin dir is the command's own error to report. */
	else if (status.state == HB_UNKNOWN && stat(pin_dir, &st) == 0)
		fprintf(stderr, "vigilctl: vigild heartbeat unknown (%s)\n", status.unknown_why);
}

void ctl_vigild_check(const char *pin_dir, bool json)
{
	status.state = read_heartbeat(pin_dir);
	if (!json)
		print_line(pin_dir);
}

void ctl_vigild_add(json_t *root)
{
	json_t *o;

	if (!json_is_object(root) || status.state == HB_UNREAD)
		return;
	if (status.state == HB_UNKNOWN)
		o = json_pack("{s:n, s:n, s:b}", "running", "stale", "heartbeat_known", 0);
	else
		o = json_pack("{s:b, s:I, s:I, s:i, s:b, s:b}", "running",
			      status.state == HB_RUNNING,
			      "last_tick_wall_ns", (json_int_t)status.hb.wall_ns, "last_tick_age_ms",
			      (json_int_t)(status.age_ns / 1000000ULL), "pid", (int)status.hb.pid,
			      "stale", status.state != HB_RUNNING, "heartbeat_known", 1);
	json_object_set_new(root, "vigild", o);
}

unsigned ctl_vigild_describe(char *buf, size_t len)
{
	char when[16];

	wall_hms(status.hb.wall_ns, when, sizeof(when));
	switch (status.state) {
	case HB_RUNNING:
		snprintf(buf, len, "running (pid %u, last tick %.1f s ago)", status.hb.pid,
			 status.age_ns / 1e9);
		return status.hb.pid;
	case HB_STOPPED:
		snprintf(buf, len, "not running since %s (stopped)", when);
		break;
	case HB_GONE:
		snprintf(buf, len, "not running since %s (pid %u exited without a clean stop)", when,
			 status.hb.pid);
		break;
	case HB_LATE:
		snprintf(buf, len, "not ticking: last tick %.1f s ago (at %s), pid %u: stuck?",
			 status.age_ns / 1e9, when, status.hb.pid);
		break;
	default:
		snprintf(buf, len, "unknown (%s)", status.unknown_why ? status.unknown_why
								   : "heartbeat not read");
	}
	return 0;
}
