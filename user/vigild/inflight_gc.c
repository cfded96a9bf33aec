/* SPDX-License-Identifier: MIT */
#include "inflight_gc.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inflight_gc.skel.h"
#include "maps.h"
#include "netns.h"

/* Keys of the monitor are kernel addresses (top bit set); the XDP
 * datapath's are flow hashes with it clear (bpf/maps_signals.h). */
#define SOCKET_KEY (1ull << 63)

struct keys {
	__u64 *v;
	size_t n;
};

static int add_key(struct keys *k, __u64 key)
{
	if (vigil_grow_rows((void **)&k->v, k->n, sizeof(*k->v)))
		return -ENOMEM;
	k->v[k->n++] = key;
	return 0;
}

static int cmp_key(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/* The socket keys in the map now, sorted. */
static int socket_keys(int fd, struct keys *out)
{
	__u64 key, prev, *p = NULL;
	int ret = 0;

	while (!ret && bpf_map_get_next_key(fd, p, &key) == 0) {
		prev = key;
		p = &prev;
		if (key & SOCKET_KEY)
			ret = add_key(out, key);
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_key);
	return ret;
}

struct listing {
	int link_fd;      /* the attached iterator */
	struct keys live; /* keys of tracked sockets that exist */
	int err;
	char ns[128];     /* where it failed */
};

/* In one namespace (vigil_netns_visit_fn): an iterator created here lists
 * this namespace's sockets. */
static int list_namespace(const char *ns, void *arg)
{
	struct listing *l = arg;
	__u64 buf[512];
	ssize_t n;
	int fd = bpf_iter_create(l->link_fd), ret = 0;

	if (fd < 0) {
		ret = -errno;
	} else {
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			for (size_t i = 0; !ret && i < (size_t)n / sizeof(buf[0]); i++)
				ret = add_key(&l->live, buf[i]);
		if (n < 0 && !ret)
			ret = -errno;
		close(fd);
	}
	if (ret)
		snprintf(l->ns, sizeof(l->ns), "%s", ns);
	return ret;
}

/* The keys of tracked sockets that exist, in every namespace, sorted. */
static int list_live(struct inflight_gc_bpf *skel, struct listing *l, char *err, size_t errlen)
{
	struct bpf_link *link = bpf_program__attach_iter(skel->progs.vigil_tracked_sockets, NULL);
	int ret, enter_err;

	if (!link) {
		ret = -errno;
		snprintf(err, errlen, "cannot attach the TCP socket iterator: %s", strerror(-ret));
		return ret;
	}
	l->link_fd = bpf_link__fd(link);
	ret = vigil_netns_for_each(list_namespace, l, &enter_err);
	bpf_link__destroy(link);
	if (ret == VIGIL_NETNS_STRANDED)
		ret = -EIO;
	else if (!ret)
		ret = enter_err; /* a namespace not listed: its sockets would look dead */
	if (ret)
		snprintf(err, errlen, "cannot list the TCP sockets of %s: %s",
			 l->ns[0] ? l->ns : "every network namespace", strerror(-ret));
	else if (l->live.n)
		qsort(l->live.v, l->live.n, sizeof(*l->live.v), cmp_key);
	return ret;
}

static int load(struct inflight_gc_bpf **out, int inflight_fd, char *err, size_t errlen)
{
	struct inflight_gc_bpf *skel = inflight_gc_bpf__open();
	int ret = skel ? bpf_map__reuse_fd(skel->maps.inflight, inflight_fd) : -errno;

	if (!ret)
		ret = inflight_gc_bpf__load(skel);
	if (ret) {
		snprintf(err, errlen, "cannot load the TCP socket iterator (iter/tcp, Linux 5.9+): %s",
			 strerror(-ret));
		inflight_gc_bpf__destroy(skel);
		return ret;
	}
	*out = skel;
	return 0;
}

int vigil_inflight_drop_dead(int inflight_fd, char *err, size_t errlen)
{
	struct keys before = { 0 };
	struct listing l = { 0 };
	struct inflight_gc_bpf *skel = NULL;
	int ret, dropped = 0;

	/* Taken first: a socket created during the listing is not in it, and
	 * must not be taken for a dead one. */
	ret = socket_keys(inflight_fd, &before);
	if (!ret && before.n)
		ret = load(&skel, inflight_fd, err, errlen);
	if (!ret && before.n)
		ret = list_live(skel, &l, err, errlen);
	if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory reading the in-flight map");
	for (size_t i = 0; !ret && i < before.n; i++) {
		bool live = l.live.n &&
			    bsearch(&before.v[i], l.live.v, l.live.n, sizeof(*l.live.v), cmp_key);

		if (!live && bpf_map_delete_elem(inflight_fd, &before.v[i]) == 0)
			dropped++;
	}
	inflight_gc_bpf__destroy(skel);
	free(before.v);
	free(l.live.v);
	return ret ? ret : dropped;
}
