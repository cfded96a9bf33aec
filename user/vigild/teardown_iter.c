/* SPDX-License-Identifier: MIT */
/* bpf/sock_iter.bpf.c from user space: probe, load, one pass per namespace. */
#include "teardown_iter.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "netns.h"
#include "sock_iter.skel.h"

struct vigil_sock_iter {
	struct sock_iter_bpf *skel;
	struct bpf_link *link;
	int map_fd;
	/* the pass in progress */
	unsigned namespaces; /* visited */
	int read_err;        /* first failed iterator read (-errno) */
};

/* The kfunc is looked up before loading so that a kernel without it gets a
 * clear reason instead of a verifier log. */
static int kfunc_present(char *why, size_t whylen)
{
	struct btf *btf = btf__load_vmlinux_btf();
	int id;

	if (!btf) {
		snprintf(why, whylen, "cannot read the kernel BTF: %s", strerror(errno));
		return -errno;
	}
	id = btf__find_by_name_kind(btf, "bpf_sock_destroy", BTF_KIND_FUNC);
	btf__free(btf);
	if (id < 0) {
		snprintf(why, whylen, "the kernel has no bpf_sock_destroy() (Linux 6.5 or newer)");
		return -EOPNOTSUPP;
	}
	return 0;
}

int vigil_sock_iter_open(struct vigil_sock_iter **out, char *why, size_t whylen)
{
	struct vigil_sock_iter *it = calloc(1, sizeof(*it));
	int ret;

	*out = NULL;
	if (!it)
		return -ENOMEM;
	ret = kfunc_present(why, whylen);
	if (ret)
		goto fail;
	it->skel = sock_iter_bpf__open_and_load();
	if (!it->skel) {
		ret = -errno;
		snprintf(why, whylen, "loading bpf/sock_iter.bpf.c failed: %s", strerror(errno));
		goto fail;
	}
	it->link = bpf_program__attach_iter(it->skel->progs.vigil_teardown_iter, NULL);
	if (!it->link) {
		ret = -errno;
		snprintf(why, whylen, "attaching the TCP socket iterator failed: %s", strerror(errno));
		goto fail;
	}
	it->map_fd = bpf_map__fd(it->skel->maps.teardown);
	*out = it;
	return 0;
fail:
	vigil_sock_iter_close(it);
	return ret;
}

/* One pass over the namespace the thread is in (a vigil_netns_visit_fn):
 * the program prints nothing, so the first read runs the whole iteration. A
 * failed pass is noted and the walk goes on. */
static int iter_visit(const char *ns, void *arg)
{
	struct vigil_sock_iter *it = arg;
	char buf[64];
	ssize_t n;
	int fd = bpf_iter_create(bpf_link__fd(it->link));

	it->namespaces++;
	if (fd < 0) {
		pr_warn("teardown: creating the socket iterator in %s failed: %s", ns, strerror(errno));
		if (!it->read_err)
			it->read_err = -errno;
		return 0;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n < 0) {
		pr_warn("teardown: reading the socket iterator in %s failed: %s", ns, strerror(errno));
		if (!it->read_err)
			it->read_err = -errno;
	}
	close(fd);
	return 0;
}

int vigil_sock_iter_run(struct vigil_sock_iter *it, struct vigil_teardown_target *targets,
			size_t n, unsigned *namespaces, char *err, size_t errlen)
{
	int rc, enter_err;

	it->read_err = 0;
	it->namespaces = 0;
	for (size_t i = 0; i < n; i++) {
		struct vigil_teardown_req req = { .kind = targets[i].kind, .flags = targets[i].flags };

		targets[i].destroyed = 0;
		if (bpf_map_update_elem(it->map_fd, &targets[i].ep, &req, BPF_ANY) < 0)
			pr_warn("teardown: queueing a backend for the iterator failed: %s",
				strerror(errno));
	}
	rc = vigil_netns_for_each(iter_visit, it, &enter_err);
	*namespaces = it->namespaces;
	for (size_t i = 0; i < n; i++) {
		struct vigil_teardown_req req;

		if (bpf_map_lookup_elem(it->map_fd, &targets[i].ep, &req) == 0)
			targets[i].destroyed = req.destroyed;
		bpf_map_delete_elem(it->map_fd, &targets[i].ep);
	}
	if (rc == VIGIL_NETNS_STRANDED)
		snprintf(err, errlen, "cannot return to the original network namespace; "
			 "this thread is now in another one");
	else if (rc && !it->namespaces)
		snprintf(err, errlen, "cannot open /proc/thread-self/ns/net: %s (is /proc mounted?)",
			 strerror(-rc));
	else if (it->read_err)
		snprintf(err, errlen, "the socket iterator failed in a namespace: %s",
			 strerror(-(rc = it->read_err)));
	else if (enter_err)
		snprintf(err, errlen, "entering other network namespaces failed: %s (needs "
			 "CAP_SYS_ADMIN)", strerror(-(rc = enter_err)));
	return rc > 0 ? -EIO : rc;
}

void vigil_sock_iter_close(struct vigil_sock_iter *it)
{
	if (!it)
		return;
	bpf_link__destroy(it->link);
	sock_iter_bpf__destroy(it->skel);
	free(it);
}
