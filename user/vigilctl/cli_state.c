/* SPDX-License-Identifier: MIT */
#include "cli_state.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "detector.h"
#include "maps.h"
#include "svc_maps.h"

static int read_services(const struct vigil_svc_maps *f, struct vigil_cli_state *st)
{
	struct vigil_endpoint key, prev, *p = NULL;

	while (bpf_map_get_next_key(f->services, p, &key) == 0) {
		prev = key;
		p = &prev;
		if (vigil_grow_rows((void **)&st->services, st->n_services, sizeof(*st->services)))
			return -ENOMEM;
		struct vigil_cli_service_row *row = &st->services[st->n_services];

		memset(row, 0, sizeof(*row));
		row->vip = key;
		if (bpf_map_lookup_elem(f->services, &key, &row->info))
			continue;
		row->has_set = bpf_map_lookup_elem(f->service_sets, &key, &row->set) == 0;
		st->n_services++;
	}
	return 0;
}

static const struct vigil_cli_service_row *service_of(const struct vigil_cli_state *st,
						     const struct vigil_endpoint *vip)
{
	for (size_t i = 0; i < st->n_services; i++)
		if (memcmp(&st->services[i].vip, vip, sizeof(*vip)) == 0)
			return &st->services[i];
	return NULL;
}

/* Share of new connections: weight over the weights of the backends selected
 * for the same VIP (what both datapaths use). */
static void compute_shares(struct vigil_cli_state *st)
{
	for (size_t i = 0; i < st->n_backends; i++) {
		struct vigil_cli_backend_row *row = &st->backends[i];
		__u64 total = 0;

		for (size_t j = 0; j < st->n_backends; j++)
			if (st->backends[j].info.selected &&
			    memcmp(&st->backends[j].key.vip, &row->key.vip, sizeof(row->key.vip)) == 0)
				total += st->backends[j].info.weight;
		row->share = vigil_share_of(row->info.weight, row->info.selected, total);
	}
}

static int read_backends(const struct vigil_svc_maps *f, struct vigil_cli_state *st)
{
	struct vigil_svc_backend_key key, prev, *p = NULL;

	while (bpf_map_get_next_key(f->backend_info, p, &key) == 0) {
		prev = key;
		p = &prev;
		if (vigil_grow_rows((void **)&st->backends, st->n_backends, sizeof(*st->backends)))
			return -ENOMEM;
		struct vigil_cli_backend_row *row = &st->backends[st->n_backends];
		const struct vigil_cli_service_row *svc = service_of(st, &key.vip);

		memset(row, 0, sizeof(*row));
		row->key = key;
		if (bpf_map_lookup_elem(f->backend_info, &key, &row->info))
			continue;
		if (svc)
			memcpy(row->service, svc->info.name, sizeof(row->service) - 1);
		st->n_backends++;
	}
	return 0;
}

static int compare_services(const void *a, const void *b)
{
	const struct vigil_cli_service_row *x = a, *y = b;
	int c = strcmp(x->info.name, y->info.name);

	return c ? c : memcmp(&x->vip, &y->vip, sizeof(x->vip));
}

static int compare_backends(const void *a, const void *b)
{
	const struct vigil_cli_backend_row *x = a, *y = b;
	int c = strcmp(x->service, y->service);

	if (c)
		return c;
	c = memcmp(&x->key.vip, &y->key.vip, sizeof(x->key.vip));
	if (c)
		return c;
	if (x->info.role != y->info.role)
		return (int)x->info.role - (int)y->info.role;
	return memcmp(&x->key.backend, &y->key.backend, sizeof(x->key.backend));
}

int vigil_cli_state_read(const char *pin_dir, struct vigil_cli_state *st, char *err, size_t errlen)
{
	struct vigil_svc_maps f;
	int ret;

	memset(st, 0, sizeof(*st));
	ret = vigil_svc_maps_open(pin_dir, &f, err, errlen);
	if (ret)
		return ret;
	ret = read_services(&f, st);
	if (!ret)
		ret = read_backends(&f, st);
	if (!ret)
		compute_shares(st);
	vigil_svc_maps_close(&f);
	if (ret) {
		snprintf(err, errlen, "out of memory reading %s", pin_dir);
		vigil_cli_state_free(st);
		return ret;
	}
	if (st->n_services)
		qsort(st->services, st->n_services, sizeof(*st->services), compare_services);
	if (st->n_backends)
		qsort(st->backends, st->n_backends, sizeof(*st->backends), compare_backends);
	return 0;
}

bool vigil_cli_backend_first_vip(const struct vigil_cli_state *st, size_t i)
{
	size_t first = i;

	/* Rows are sorted by service, then VIP. */
	while (first > 0 && strcmp(st->backends[first - 1].service, st->backends[i].service) == 0)
		first--;
	return memcmp(&st->backends[first].key.vip, &st->backends[i].key.vip,
		      sizeof(st->backends[i].key.vip)) == 0;
}

void vigil_cli_state_free(struct vigil_cli_state *st)
{
	free(st->services);
	free(st->backends);
	memset(st, 0, sizeof(*st));
}

static int compare_seq(const void *a, const void *b)
{
	const struct vigil_change *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int vigil_cli_history_read(const char *pin_dir, __u64 after_seq, struct vigil_change **out,
			  size_t *n, char *err, size_t errlen)
{
	int fd = vigil_pin_open(pin_dir, VIGIL_PIN_HISTORY, BPF_MAP_TYPE_ARRAY, sizeof(__u32),
				sizeof(struct vigil_change),
				err, errlen);
	struct vigil_change *recs;

	*n = 0;
	*out = NULL;
	if (fd < 0)
		return fd;
	recs = calloc(VIGIL_HISTORY_SLOTS, sizeof(*recs));
	if (!recs) {
		close(fd);
		return -ENOMEM;
	}
	for (__u32 slot = 0; slot < VIGIL_HISTORY_SLOTS; slot++)
		if (bpf_map_lookup_elem(fd, &slot, &recs[*n]) == 0 && recs[*n].seq > after_seq)
			(*n)++;
	close(fd);
	qsort(recs, *n, sizeof(*recs), compare_seq);
	*out = recs;
	return 0;
}

/* Keep the published records in step with the admin change, so vigilctl
 * backends shows it at once, vigild running or not. 0, or the first -errno
 * of a record that could not be written (the others are still written). */
static int refresh_backend_info(const struct vigil_svc_maps *f, const struct vigil_cli_state *st,
				 const struct vigil_cli_service_row *svc,
				 const struct vigil_backend_set *set)
{
	int ret = 0;

	for (size_t i = 0; i < st->n_backends; i++) {
		const struct vigil_cli_backend_row *row = &st->backends[i];
		struct vigil_backend_info info = row->info;
		__u32 admin = VIGIL_ADMIN_NONE;

		if (memcmp(&row->key.vip, &svc->vip, sizeof(svc->vip)) != 0)
			continue;
		bpf_map_lookup_elem(f->admin, &row->key, &admin);
		info.admin = (__u8)admin;
		info.selected = vigil_set_serves(set, &row->key.backend);
		if (bpf_map_update_elem(f->backend_info, &row->key, &info, BPF_ANY) && !ret)
			ret = -errno;
	}
	return ret;
}

/* Rebuild the set of vip from the published backend records, with the admin
 * states now in the map, using the detector's own selection rule. */
static int republish_set(const struct vigil_svc_maps *f, const struct vigil_cli_state *st,
			 const struct vigil_cli_service_row *svc)
{
	struct vigil_det_service *det = calloc(1, sizeof(*det));
	struct vigil_det_params params;
	struct vigil_backend_set set;
	int ret = 0;

	if (!det)
		return -ENOMEM;
	vigil_det_params_defaults(&params);
	vigil_det_init(det, &params);
	for (size_t i = 0; i < st->n_backends; i++) {
		const struct vigil_cli_backend_row *row = &st->backends[i];
		__u32 admin = VIGIL_ADMIN_NONE;

		if (memcmp(&row->key.vip, &svc->vip, sizeof(svc->vip)) != 0 ||
		    vigil_det_add_backend(det, &row->key.backend, row->info.weight, row->info.role, 0))
			continue;
		bpf_map_lookup_elem(f->admin, &row->key, &admin);
		det->backends[det->n_backends - 1].state = (enum vigil_backend_state)row->info.state;
		det->backends[det->n_backends - 1].admin = (enum vigil_admin_state)admin;
	}
	memset(&set, 0, sizeof(set));
	vigil_det_select(det, &set);
	ret = vigil_set_write(f, &svc->vip, 1, svc->info.datapath, svc->info.service_id,
			      svc->has_set ? svc->set.version : 0, &set);
	if (!ret)
		ret = refresh_backend_info(f, st, svc, &set);
	if (!ret) {
		struct vigil_service_info info = svc->info;

		vigil_service_info_take_set(&info, &set, vigil_wall_ns());
		if (bpf_map_update_elem(f->services, &svc->vip, &info, BPF_ANY))
			ret = -errno;
	}
	free(det);
	return ret;
}

static int admin_write(const struct vigil_svc_maps *f, const struct vigil_svc_backend_key *key,
		       enum vigil_admin_state admin)
{
	__u32 v = admin;

	if (admin == VIGIL_ADMIN_NONE)
		return bpf_map_delete_elem(f->admin, key) == 0 || errno == ENOENT ? 0 : -errno;
	return bpf_map_update_elem(f->admin, key, &v, BPF_ANY) ? -errno : 0;
}

static bool has_backend(const struct vigil_cli_state *st, const struct vigil_svc_backend_key *key)
{
	for (size_t i = 0; i < st->n_backends; i++)
		if (memcmp(&st->backends[i].key, key, sizeof(*key)) == 0)
			return true;
	return false;
}

static int apply_admin(const struct vigil_svc_maps *f, const struct vigil_cli_state *st, const char *service,
		       const struct vigil_endpoint *backend, enum vigil_admin_state admin,
		       size_t *matched)
{
	for (size_t i = 0; i < st->n_services; i++) {
		const struct vigil_cli_service_row *svc = &st->services[i];
		struct vigil_svc_backend_key key;
		int ret;

		if (strncmp(svc->info.name, service, VIGIL_NAME_LEN) != 0)
			continue;
		memset(&key, 0, sizeof(key));
		key.vip = svc->vip;
		key.backend = *backend;
		if (!has_backend(st, &key))
			continue;
		ret = admin_write(f, &key, admin);
		if (!ret)
			ret = republish_set(f, st, svc);
		if (ret)
			return ret;
		(*matched)++;
	}
	return 0;
}

int vigil_cli_set_admin(const char *pin_dir, const char *service, const struct vigil_endpoint *backend,
		       enum vigil_admin_state admin, char *err, size_t errlen)
{
	struct vigil_cli_state st;
	struct vigil_svc_maps f;
	size_t matched = 0;
	int ret = vigil_cli_state_read(pin_dir, &st, err, errlen);

	if (ret)
		return ret;
	ret = vigil_svc_maps_open(pin_dir, &f, err, errlen);
	if (!ret) {
		ret = apply_admin(&f, &st, service, backend, admin, &matched);
		vigil_svc_maps_close(&f);
		if (ret)
			snprintf(err, errlen, "writing the admin state failed: %s", strerror(-ret));
	}
	vigil_cli_state_free(&st);
	if (!ret && matched == 0) {
		snprintf(err, errlen, "service '%s' has no such backend: see 'vigilctl backends %s' "
			 "for its backends", service, service);
		ret = -ENOENT;
	}
	return ret;
}
