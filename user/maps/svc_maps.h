/* SPDX-License-Identifier: MIT */
/*
 * The service maps, shared by both binaries: backend sets (the socket
 * datapath reads them at connect()), service and backend records, admin
 * states, change history and backend health. vigild gets them from the
 * maps-only state maps object it loads (state_maps.h, whatever the
 * datapath), vigilctl opens their pins.
 * vigil_set_write is the one writer of backend sets.
 */
#ifndef VIGIL_SVC_MAPS_H
#define VIGIL_SVC_MAPS_H

#include <stddef.h>
#include <vigil/abi.h>

/* Map fds; -1 for a map not opened. */
struct vigil_svc_maps {
	int service_sets, services, backend_info, admin, history, backend_health;
};

/* Open the pins of services, service_sets, backend_info and admin under
 * pin_dir (history and backend_health stay -1). Returns 0 or -errno with
 * reason and fix in err. */
int vigil_svc_maps_open(const char *pin_dir, struct vigil_svc_maps *m, char *err, size_t errlen);
/* Close what vigil_svc_maps_open opened (not for vigild's, which its
 * loaded object owns). */
void vigil_svc_maps_close(struct vigil_svc_maps *m);

/* The one writer of backend sets, used by vigild's publisher and vigilctl's
 * admin commands. Stamps set with service_id and version prev_version + 1,
 * builds its slot tables (vigil_set_slots_build) and, when datapath
 * includes VIGIL_DATAPATH_SOCKET, writes it as the set of each of the n_vips
 * vips: one hash update per VIP replaces the whole value, tables included,
 * so connect() sees either the old set or the new one. Every VIP is tried;
 * returns 0 or the -errno of the last write that failed. */
int vigil_set_write(const struct vigil_svc_maps *m, const struct vigil_endpoint *vips,
		    size_t n_vips, __u32 datapath, __u32 service_id, __u64 prev_version,
		    struct vigil_backend_set *set);

/* Copy the summary of set (flags, serving count, version) into a service
 * record, with since_wall_ns the time it was written. */
void vigil_service_info_take_set(struct vigil_service_info *info,
				 const struct vigil_backend_set *set, __u64 since_wall_ns);

#endif
