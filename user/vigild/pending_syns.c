/* SPDX-License-Identifier: MIT */
#include "pending_syns.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pkt_dp.h"

#define INFLIGHT_BATCH 256

struct vigil_pkt_inflight *vigil_pending_syns_read(int inflight_fd, size_t *n_out)
{
	size_t cap = INFLIGHT_BATCH, n = 0;
	struct vigil_pkt_inflight *vals = malloc(cap * sizeof(*vals));
	__u64 *keys = malloc(cap * sizeof(*keys)), in_batch = 0, out_batch;
	bool first = true;

	while (vals && keys) {
		__u32 count = INFLIGHT_BATCH;
		int ret = bpf_map_lookup_batch(inflight_fd, first ? NULL : &in_batch, &out_batch,
					       keys, vals + n, &count, NULL);

		n += count;
		if (ret < 0)
			break; /* ENOENT: end of map */
		first = false;
		in_batch = out_batch;
		cap += INFLIGHT_BATCH;
		void *grown = realloc(vals, cap * sizeof(*vals));
		void *grown_keys = realloc(keys, cap * sizeof(*keys));

		if (grown)
			vals = grown;
		if (grown_keys)
			keys = grown_keys;
		if (!grown || !grown_keys)
			break;
	}
	free(keys);
	*n_out = vals ? n : 0;
	return vals;
}

bool vigil_pending_syn_waits_on(const struct vigil_pkt_inflight *e,
				const struct vigil_endpoint *backend)
{
	return e->fl.role == VIGIL_ROLE_CLIENT && memcmp(&e->fl.peer, backend, sizeof(*backend)) == 0;
}

/* The VIP of vips whose flow from the SYN's client is still placed on the
 * backend with id backend_id; NULL if none (answered meanwhile, evicted, or
 * already moved). */
static const struct vigil_endpoint *flow_vip(const struct vigil_pkt_dp *xl,
					     const struct vigil_syn_copy *syn, __u32 backend_id,
					     const struct vigil_endpoint *vips, size_t n_vips)
{
	for (size_t v = 0; v < n_vips; v++) {
		struct vigil_flow_key k = { .sport = syn->client_port, .dport = vips[v].port,
					    .family = vips[v].family, .proto = IPPROTO_TCP };
		__u32 id;

		memcpy(k.src, syn->client, 16);
		memcpy(k.dst, vips[v].addr, 16);
		if (vigil_pkt_dp_flow_backend(xl, &k, &id) == 0 && id == backend_id)
			return &vips[v];
	}
	return NULL;
}

unsigned vigil_pending_syns_replay(struct vigil_pkt_dp *xl, const struct vigil_endpoint *backend,
				   const struct vigil_endpoint *vips, size_t n_vips,
				   const struct vigil_pkt_inflight *fls, size_t n)
{
	int id = vigil_pkt_dp_id_of(xl, backend);
	unsigned replayed = 0;

	for (size_t i = 0; id >= 0 && i < n; i++) {
		const struct vigil_endpoint *vip;

		if (!fls[i].syn.ifindex || !vigil_pending_syn_waits_on(&fls[i], backend))
			continue;
		vip = flow_vip(xl, &fls[i].syn, (__u32)id, vips, n_vips);
		if (!vip)
			continue;
		int ret = vigil_pkt_dp_replay_syn(xl, &fls[i].syn, vip);

		if (ret == -EOPNOTSUPP)
			break;
		if (ret)
			pr_debug("a pending SYN could not be replayed: %s", strerror(-ret));
		else
			replayed++;
	}
	return replayed;
}
