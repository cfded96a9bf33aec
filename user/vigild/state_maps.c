/* SPDX-License-Identifier: MIT */
#include "state_maps.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maps.h"
#include "state_maps.skel.h"

struct vigil_state_maps {
	struct state_maps_bpf *skel;
};

int vigil_state_maps_load(struct vigil_state_maps **out, const char *pin_dir, char *err,
			  size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir);
	struct vigil_state_maps *st = calloc(1, sizeof(*st));
	int ret = -ENOMEM;

	if (!st) {
		snprintf(err, errlen, "out of memory loading the state maps");
		return ret;
	}
	st->skel = state_maps_bpf__open_opts(&opts);
	if (!st->skel) {
		ret = -errno;
		snprintf(err, errlen, "cannot open the state maps object: %s", strerror(-ret));
		goto fail;
	}
	ret = vigil_pins_check(st->skel->obj, err, errlen);
	if (ret)
		goto fail;
	ret = state_maps_bpf__load(st->skel);
	if (ret) {
		snprintf(err, errlen, "loading the state maps under %s failed (%s); if a pinned "
			 "map could not be reused, remove old pins with 'vigild --unpin'", pin_dir,
			 strerror(-ret));
		goto fail;
	}
	*out = st;
	return 0;
fail:
	vigil_state_maps_stop(st);
	return ret;
}

void vigil_state_maps_fds(const struct vigil_state_maps *st, struct vigil_svc_maps *maps)
{
	maps->service_sets = bpf_map__fd(st->skel->maps.service_sets);
	maps->services = bpf_map__fd(st->skel->maps.services);
	maps->backend_info = bpf_map__fd(st->skel->maps.backend_info);
	maps->admin = bpf_map__fd(st->skel->maps.admin);
	maps->history = bpf_map__fd(st->skel->maps.history);
	maps->backend_health = bpf_map__fd(st->skel->maps.backend_health);
}

int vigil_state_maps_lb_feeds_fd(const struct vigil_state_maps *st)
{
	return st ? bpf_map__fd(st->skel->maps.lb_feeds) : -1;
}

void vigil_state_maps_stop(struct vigil_state_maps *st)
{
	if (!st)
		return;
	state_maps_bpf__destroy(st->skel);
	free(st);
}

const struct bpf_object *vigil_state_maps_object(const struct vigil_state_maps *st)
{
	return st->skel->obj;
}
