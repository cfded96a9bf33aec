/* SPDX-License-Identifier: MIT */
#include "svc_maps.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "maps.h"
#include "set_slots.h"

void vigil_svc_maps_close(struct vigil_svc_maps *m)
{
	int *all[] = { &m->service_sets, &m->services, &m->backend_info, &m->admin, &m->history,
		       &m->backend_health };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (*all[i] >= 0)
			close(*all[i]);
		*all[i] = -1;
	}
}

int vigil_svc_maps_open(const char *pin_dir, struct vigil_svc_maps *m, char *err, size_t errlen)
{
	*m = (struct vigil_svc_maps){ -1, -1, -1, -1, -1, -1 };
	m->services = vigil_pin_open(pin_dir, VIGIL_PIN_SERVICES, BPF_MAP_TYPE_HASH,
				     sizeof(struct vigil_endpoint),
				     sizeof(struct vigil_service_info), err, errlen);
	if (m->services >= 0)
		m->service_sets = vigil_pin_open(pin_dir, VIGIL_PIN_SERVICE_SETS, BPF_MAP_TYPE_HASH,
						 sizeof(struct vigil_endpoint),
						 sizeof(struct vigil_backend_set), err, errlen);
	if (m->service_sets >= 0)
		m->backend_info = vigil_pin_open(pin_dir, VIGIL_PIN_BACKEND_INFO, BPF_MAP_TYPE_HASH,
						 sizeof(struct vigil_svc_backend_key),
						 sizeof(struct vigil_backend_info), err, errlen);
	if (m->backend_info >= 0)
		m->admin = vigil_pin_open(pin_dir, VIGIL_PIN_ADMIN, BPF_MAP_TYPE_HASH, sizeof(struct vigil_svc_backend_key),
					  sizeof(__u32), err, errlen);
	if (m->admin >= 0)
		return 0;
	vigil_svc_maps_close(m);
	if (strstr(err, "No such file"))
		snprintf(err + strlen(err), errlen - strlen(err),
			 "; no services are published there: configure services and start vigild");
	return -ENOENT;
}

int vigil_set_write(const struct vigil_svc_maps *m, const struct vigil_endpoint *vips,
		    size_t n_vips, __u32 datapath, __u32 service_id, __u64 prev_version,
		    struct vigil_backend_set *set)
{
	int ret = 0;

	set->service_id = service_id;
	set->version = prev_version + 1;
	/* The slot tables travel in the set's value: connect() never sees
	 * tables of another set. */
	vigil_set_slots_build(set);
	for (size_t v = 0; v < n_vips && (datapath & VIGIL_DATAPATH_SOCKET); v++)
		if (bpf_map_update_elem(m->service_sets, &vips[v], set, BPF_ANY))
			ret = -errno;
	return ret;
}

void vigil_service_info_take_set(struct vigil_service_info *info,
				 const struct vigil_backend_set *set, __u64 since_wall_ns)
{
	info->set_flags = set->flags;
	info->set_count = set->n_preferred;
	info->set_version = set->version;
	info->since_wall_ns = since_wall_ns;
}
