// SPDX-License-Identifier: MIT
/*
 * Declarative pinning of the BPF objects (maps marked LIBBPF_PIN_BY_NAME,
 * opened with the pin directory as pin_root_path, as vigild does):
 *
 *   - each object pins exactly the maps the ABI names (VIGIL_PIN_*), under
 *     those names, and nothing else;
 *   - a second load reuses every pinned map (a vigild restart), and maps
 *     shared between objects are one map;
 *   - a pinned map whose definition changed is refused by vigil_pins_check()
 *     with the pin, the difference and the fix, before libbpf tries.
 *
 * Loads only (nothing attached). Pins live in a private directory under
 * /sys/fs/bpf, removed after each test. Runner and output: tests/bpf/helpers.h.
 *
 *   test_pins [NAME...]   run all tests, or the named ones
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <vigil/abi.h>

#include "helpers.h"
#include "maps.h"
#include "monitor.skel.h"
#include "sock_lb.skel.h"
#include "sock_rescue.skel.h"
#include "state_maps.skel.h"
#include "xdp_lb.skel.h"

static char pin_dir[128];

static void remove_pins(void)
{
	struct dirent *de;
	DIR *d = opendir(pin_dir);
	char path[512];

	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", pin_dir, de->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(pin_dir);
}

/* ---- the objects, as vigild opens them ---------------------------------------- */

/* What each object must pin (abi.h names), NULL-terminated. */
static const char *const monitor_pins[] = {
	VIGIL_PIN_BACKEND_STATS, VIGIL_PIN_LOCAL_STATS,   VIGIL_PIN_WATCH_EXACT,
	VIGIL_PIN_WATCH_PREFIX,  VIGIL_PIN_INFLIGHT,      VIGIL_PIN_SOCK_STATE,
	VIGIL_PIN_SOCK_COUNTS,   VIGIL_PIN_EVENTS,        VIGIL_PIN_HEALTH,
	VIGIL_PIN_LOSS,          VIGIL_PIN_HEARTBEAT,     VIGIL_PIN_DAEMON_STATUS,
	VIGIL_PIN_RESCUE_FLOWS,  VIGIL_PIN_RESCUE_LIVE,   VIGIL_PIN_TRACKED_PORTS,
	NULL,
};
/* The socket datapath's own maps only: what vigilctl reads is in state_maps. */
static const char *const sock_lb_pins[] = {
	VIGIL_PIN_HEALTH, VIGIL_PIN_SERVICE_SETS, VIGIL_PIN_SOCK_STATE, VIGIL_PIN_LOSS, NULL,
};
/* The rescue records failures as the monitor does: its signal maps too. */
static const char *const sock_rescue_pins[] = {
	VIGIL_PIN_HEALTH,       VIGIL_PIN_SERVICE_SETS, VIGIL_PIN_SOCK_STATE,  VIGIL_PIN_LOSS,
	VIGIL_PIN_BACKEND_STATS, VIGIL_PIN_INFLIGHT,    VIGIL_PIN_EVENTS,      VIGIL_PIN_RESCUE_FLOWS,
	VIGIL_PIN_RESCUE_SVC,   VIGIL_PIN_RESCUE_STATS, VIGIL_PIN_RESCUE_LIVE, NULL,
};
static const char *const state_pins[] = {
	VIGIL_PIN_HEALTH,       VIGIL_PIN_SERVICE_SETS, VIGIL_PIN_SERVICES,
	VIGIL_PIN_BACKEND_INFO, VIGIL_PIN_ADMIN,        VIGIL_PIN_HISTORY,
	VIGIL_PIN_LB_FEEDS,     NULL,
};
static const char *const xdp_lb_pins[] = {
	VIGIL_PIN_HEALTH,       VIGIL_PIN_BACKEND_STATS, VIGIL_PIN_INFLIGHT, VIGIL_PIN_EVENTS,
	VIGIL_PIN_XDP_SERVICES, VIGIL_PIN_XDP_BACKENDS,  VIGIL_PIN_XDP_TABLES, VIGIL_PIN_FLOWS,
	VIGIL_PIN_REV_FLOWS,    VIGIL_PIN_XDP_STATS,     VIGIL_PIN_XDP_DROPS, VIGIL_PIN_XDP_SETS,
	VIGIL_PIN_LOSS,         VIGIL_PIN_PENDING,       NULL,
};

struct objects {
	struct monitor_bpf *mon;
	struct sock_lb_bpf *sock;
	struct sock_rescue_bpf *rescue;
	struct xdp_lb_bpf *xdp;
	struct state_maps_bpf *state;
};

static bool open_all(struct objects *o, __u32 backend_stats_max)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir);

	memset(o, 0, sizeof(*o));
	o->mon = monitor_bpf__open_opts(&opts);
	o->sock = sock_lb_bpf__open_opts(&opts);
	o->rescue = sock_rescue_bpf__open_opts(&opts);
	o->xdp = xdp_lb_bpf__open_opts(&opts);
	o->state = state_maps_bpf__open_opts(&opts);
	T(ASSERT_TRUE(o->mon && o->sock && o->rescue && o->xdp && o->state));
	T(ASSERT_EQ(bpf_map__set_max_entries(o->mon->maps.backend_stats, backend_stats_max), 0));
	T(ASSERT_EQ(bpf_map__set_max_entries(o->rescue->maps.backend_stats, backend_stats_max), 0));
	T(ASSERT_EQ(bpf_map__set_max_entries(o->xdp->maps.backend_stats, backend_stats_max), 0));
	return true;
}

static void close_all(struct objects *o)
{
	monitor_bpf__destroy(o->mon);
	sock_lb_bpf__destroy(o->sock);
	sock_rescue_bpf__destroy(o->rescue);
	xdp_lb_bpf__destroy(o->xdp);
	state_maps_bpf__destroy(o->state);
	memset(o, 0, sizeof(*o));
}

/* vigild's order (monitor, state maps, datapaths): check the pins, then load. */
static bool load_all(struct objects *o)
{
	char err[512] = "";
	struct bpf_object *objs[] = { o->mon->obj, o->state->obj, o->sock->obj, o->rescue->obj,
				      o->xdp->obj };

	for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
		int ret = vigil_pins_check(objs[i], err, sizeof(err));

		if (ret)
			printf("  vigil_pins_check: %s\n", err);
		T(ASSERT_EQ(ret, 0));
		T(ASSERT_EQ(bpf_object__load(objs[i]), 0));
	}
	return true;
}

static bool listed(const char *const *names, const char *name)
{
	for (; *names; names++)
		if (strcmp(*names, name) == 0)
			return true;
	return false;
}

/* obj pins exactly names, each at pin_dir/NAME. */
static bool pins_exactly(const char *what, struct bpf_object *obj, const char *const *names)
{
	struct bpf_map *m;
	char want[512];
	size_t n = 0, n_names = 0;

	while (names[n_names])
		n_names++;
	bpf_object__for_each_map(m, obj) {
		const char *path = bpf_map__pin_path(m);

		if (!path)
			continue;
		snprintf(want, sizeof(want), "%s/%s", pin_dir, bpf_map__name(m));
		if (!listed(names, bpf_map__name(m)) || strcmp(path, want) != 0) {
			printf("  %s: map %s pinned at %s, not an abi.h pin of this object\n", what,
			       bpf_map__name(m), path);
			return false;
		}
		n++;
	}
	if (n != n_names)
		printf("  %s: pins %zu maps, abi.h names %zu\n", what, n, n_names);
	return n == n_names;
}

static __u32 map_id(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/* Both objects use the same kernel map (reused from its pin). */
static bool same_map(const struct bpf_map *x, const struct bpf_map *y)
{
	return map_id(bpf_map__fd(x)) == map_id(bpf_map__fd(y));
}

static __u32 pinned_id(const char *name)
{
	char path[512];
	int fd;
	__u32 id;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	id = map_id(fd);
	close(fd);
	return id;
}

/* ---- tests ------------------------------------------------------------------------ */

BPF_TEST(pin_names)
{
	struct objects o;
	bool ok;

	T(ASSERT_TRUE(open_all(&o, VIGIL_MAX_BACKENDS)));
	ok = pins_exactly("monitor", o.mon->obj, monitor_pins) &&
	     pins_exactly("sock_lb", o.sock->obj, sock_lb_pins) &&
	     pins_exactly("sock_rescue", o.rescue->obj, sock_rescue_pins) &&
	     pins_exactly("xdp_lb", o.xdp->obj, xdp_lb_pins) &&
	     pins_exactly("state_maps", o.state->obj, state_pins);
	/* the device map stays private to each loaded XDP program */
	ok = ok && bpf_map__pin_path(o.xdp->maps.xdp_tx_ports) == NULL;
	close_all(&o);
	return ok;
}

/* Loaded twice (a restart): the second load reuses every pin; objects that
 * share a map share one map. */
BPF_TEST(reuse)
{
	const char *const *lists[] = { monitor_pins, sock_lb_pins, sock_rescue_pins, xdp_lb_pins,
				       state_pins };
	struct objects a, b = { 0 };
	bool ok = true;

	T(ASSERT_TRUE(open_all(&a, 100) && load_all(&a)));
	for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++)
		for (const char *const *n = lists[l]; *n; n++)
			if (!pinned_id(*n)) {
				printf("  %s not pinned\n", *n);
				ok = false;
			}
	ok = ok && pinned_id(VIGIL_PIN_HEALTH) == map_id(bpf_map__fd(a.mon->maps.backend_health)) &&
	     same_map(a.sock->maps.backend_health, a.xdp->maps.backend_health) &&
	     same_map(a.state->maps.backend_health, a.xdp->maps.backend_health) &&
	     same_map(a.state->maps.service_sets, a.sock->maps.service_sets) &&
	     same_map(a.rescue->maps.sock_state, a.sock->maps.sock_state) &&
	     same_map(a.rescue->maps.rescue_flows, a.mon->maps.rescue_flows) &&
	     same_map(a.rescue->maps.rescue_live, a.mon->maps.rescue_live) &&
	     same_map(a.mon->maps.backend_stats, a.xdp->maps.backend_stats);
	if (ok && open_all(&b, 100) && load_all(&b)) {
		ok = same_map(b.xdp->maps.xdp_flows, a.xdp->maps.xdp_flows) &&
		     same_map(b.mon->maps.inflight, a.mon->maps.inflight) &&
		     same_map(b.mon->maps.sock_state, a.mon->maps.sock_state) &&
		     same_map(a.sock->maps.sock_state, a.mon->maps.sock_state) &&
		     same_map(b.mon->maps.sock_counts, a.mon->maps.sock_counts) &&
		     same_map(b.state->maps.history, a.state->maps.history) &&
		     same_map(b.sock->maps.sock_state, a.sock->maps.sock_state);
		/* the device map is the new program's own */
		ok = ok && !same_map(b.xdp->maps.xdp_tx_ports, a.xdp->maps.xdp_tx_ports);
	} else {
		ok = false;
	}
	close_all(&b);
	close_all(&a);
	remove_pins();
	return ok;
}

/* The heartbeat moved from the state maps to the monitor (always loaded):
 * one pinned by an older vigild (the same definition, created here as it
 * would have been) is the map the monitor uses after the upgrade. */
BPF_TEST(heartbeat_upgrade)
{
	struct objects o;
	char path[512];
	__u32 old_id;
	int fd;
	bool ok;

	T(ASSERT_EQ(mkdir(pin_dir, 0700), 0));
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, VIGIL_PIN_HEARTBEAT, sizeof(__u32),
			    sizeof(struct vigil_heartbeat), 1, NULL);
	T(ASSERT_TRUE(fd >= 0));
	snprintf(path, sizeof(path), "%s/%s", pin_dir, VIGIL_PIN_HEARTBEAT);
	old_id = map_id(fd);
	ok = bpf_obj_pin(fd, path) == 0;
	close(fd);
	ok = ok && open_all(&o, 100) && load_all(&o);
	ok = ok && map_id(bpf_map__fd(o.mon->maps.heartbeat)) == old_id &&
	     pinned_id(VIGIL_PIN_HEARTBEAT) == old_id;
	close_all(&o);
	remove_pins();
	return ok;
}

/* backend_stats pinned with 100 entries (daemon.watch_all_max: 100), the next
 * start wants 4096: refused with the pin and the fix, before libbpf tries. */
BPF_TEST(changed_definition)
{
	struct objects a, b;
	char err[512] = "", path[512];
	bool ok;

	T(ASSERT_TRUE(open_all(&a, 100) && load_all(&a)));
	close_all(&a);
	T(ASSERT_TRUE(open_all(&b, VIGIL_MAX_BACKENDS)));
	ok = vigil_pins_check(b.mon->obj, err, sizeof(err)) == -EEXIST;
	snprintf(path, sizeof(path), "%s/%s", pin_dir, VIGIL_PIN_BACKEND_STATS);
	printf("  info: %s\n", err);
	ok = ok && strstr(err, path) && strstr(err, "max_entries 100") &&
	     strstr(err, "needs 4096") && strstr(err, "vigild --unpin");
	/* an object none of whose pins changed passes */
	ok = ok && vigil_pins_check(b.sock->obj, err, sizeof(err)) == 0;
	/* and libbpf itself refuses too */
	ok = ok && bpf_object__load(b.mon->obj) != 0;
	close_all(&b);
	remove_pins();
	return ok;
}

static int init(void)
{
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/vigil-test-pins-%d", (int)getpid());
	return 0;
}

int main(int argc, char **argv)
{
	return bpf_test_main(&(const struct bpf_test_suite){ .name = "pins",
							     .init = init,
							     .teardown = remove_pins,
							     .skip_why = "loading BPF objects needs root" },
			     argc, argv);
}
