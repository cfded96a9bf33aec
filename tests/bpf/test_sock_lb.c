// SPDX-License-Identifier: MIT
/*
 * The socket-level load balancer (bpf/sock_lb.bpf.c) with real sockets, in
 * the style of the kernel's BPF selftests for connect hooks
 * (prog_tests/connect_force_port.c): the process moves into its own cgroup v2
 * directory and its own network namespace, every test loads a fresh
 * sock_lb skeleton, publishes a service the way vigild does (backend set
 * from vigil_det_select() written by vigil_set_write(), backend_health
 * entries with the fast-path threshold), attaches connect4/6 and getpeername4/6 to the cgroup, and
 * connects to the virtual address with listening backends behind it.
 *
 *   test_sock_lb [NAME...]   run all tests, or the named ones
 * Output: "PASS name" / "FAIL name" per test, then "sock_lb: N passed, M failed".
 * Exit 0 when all pass, 1 otherwise, 77 (skip) when not root or no cgroup v2
 * hierarchy is mounted. Creates a network namespace: run it under
 * flock /tmp/vigil-net.lock.
 *
 * Addresses: 10.231.0.0/24 and fd00:231::/64, on lo of the test's own
 * network namespace (unshare: it has no name and goes away with the
 * process); no other test uses these subnets. The cgroup is
 * <cgroup2 root>/vigil-test-sock-lb-<pid>, removed on exit (normal, failed
 * init, SIGINT/SIGTERM/SIGHUP); links are not pinned, so they go with the
 * process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <vigil/abi.h>

#include "detector.h"
#include "helpers.h"
#include "sock_lb.skel.h"
#include "svc_maps.h"

#define CGROUP2_MAGIC 0x63677270
#define TRIES 32 /* connects per check: all on one of two equal backends is 2^-31 */

/* ---- addresses ------------------------------------------------------------------- */

struct addr {
	int family; /* AF_INET / AF_INET6 */
	struct sockaddr_storage ss;
	socklen_t len;
	struct vigil_endpoint ep; /* as the maps key it (IPv4 v4-mapped) */
};

static struct addr mk(const char *ip, uint16_t port)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a.ss;

		a.family = s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, ip, &s6->sin6_addr) != 1)
			abort();
		a.len = sizeof(*s6);
		memcpy(a.ep.addr, &s6->sin6_addr, 16);
		a.ep.family = VIGIL_AF_INET6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a.ss;

		a.family = s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		if (inet_pton(AF_INET, ip, &s4->sin_addr) != 1)
			abort();
		a.len = sizeof(*s4);
		a.ep.addr[10] = a.ep.addr[11] = 0xff;
		memcpy(&a.ep.addr[12], &s4->sin_addr, 4);
		a.ep.family = VIGIL_AF_INET;
	}
	a.ep.port = port;
	return a;
}

/* a as an IPv6 socket sees it: an IPv4 address v4-mapped. */
static struct addr as_v6(const struct addr *a)
{
	struct addr m = *a;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&m.ss;

	if (a->family == AF_INET6)
		return m;
	memset(&m.ss, 0, sizeof(m.ss));
	m.family = s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(a->ep.port);
	memcpy(&s6->sin6_addr, a->ep.addr, 16);
	m.len = sizeof(*s6);
	return m;
}

static const char *fmt(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)ss;

		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(s->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)ss;

		inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(s->sin6_port));
	} else {
		snprintf(buf, len, "(family %u)", ss->ss_family);
	}
	return buf;
}

/* Family, address and port of ss equal want's. */
static bool same_sockaddr(const struct sockaddr_storage *ss, const struct addr *want)
{
	if (ss->ss_family != want->family)
		return false;
	if (want->family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ss, *b = (const void *)&want->ss;

		return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *a = (const void *)ss, *b = (const void *)&want->ss;

	return a->sin6_port == b->sin6_port &&
	       memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) == 0;
}

#define ASSERT_SOCKADDR(got, want)                                                        \
	({                                                                                \
		char _g[64], _w[64];                                                      \
		bool _ok = same_sockaddr((got), (want));                                  \
		if (!_ok)                                                                 \
			printf("  %s:%d: ASSERT_SOCKADDR(%s, %s) failed: %s vs %s\n", __FILE__, \
			       __LINE__, #got, #want, fmt((got), _g, sizeof(_g)),         \
			       fmt(&(want)->ss, _w, sizeof(_w)));                         \
		_ok;                                                                      \
	})

/* The scenario: VIPs with nothing behind them but the hooks (except the
 * listener on VIP4 itself, which a rewritten connect must never reach),
 * primaries B1 B2, backup BK, an IPv4-only and an IPv6-only non-service
 * listener, the same for IPv6. */
static struct addr VIP4, VIP4_OTHER_PORT, B1, B2, BK, OTHER4;
static struct addr VIP6, B61, B62, BK6, OTHER6;

static void addresses(void)
{
	VIP4 = mk("10.231.0.100", 80);
	VIP4_OTHER_PORT = mk("10.231.0.100", 81);
	B1 = mk("10.231.0.1", 8001);
	B2 = mk("10.231.0.2", 8002);
	BK = mk("10.231.0.3", 8003);
	OTHER4 = mk("10.231.0.4", 8004);
	VIP6 = mk("fd00:231::100", 80);
	B61 = mk("fd00:231::1", 8001);
	B62 = mk("fd00:231::2", 8002);
	BK6 = mk("fd00:231::3", 8003);
	OTHER6 = mk("fd00:231::4", 8004);
}

/* ---- environment: cgroup and network namespace (once) ----------------------------- */

static struct {
	char dir[256];       /* our cgroup; "" until created */
	char orig_procs[600]; /* cgroup.procs of the cgroup we came from */
	char pid[16];
	int fd;
} CG = { .fd = -1 };

static bool is_cgroup2(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && (unsigned long)st.f_type == CGROUP2_MAGIC;
}

static bool write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n = -1;

	if (fd >= 0) {
		n = write(fd, text, strlen(text));
		close(fd);
	}
	return n == (ssize_t)strlen(text);
}

/* Back to the original cgroup, then remove ours. Async-signal-safe: only
 * open/write/close/rmdir on prepared strings. */
static void cgroup_cleanup(void)
{
	if (!CG.dir[0])
		return;
	if (CG.fd >= 0)
		close(CG.fd);
	CG.fd = -1;
	write_file(CG.orig_procs, CG.pid);
	rmdir(CG.dir);
	CG.dir[0] = '\0';
}

static void on_signal(int sig)
{
	cgroup_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* The cgroup v2 path of this process ("0::/path" in /proc/self/cgroup). */
static bool own_cgroup(char *path, size_t len)
{
	FILE *f = fopen("/proc/self/cgroup", "r");
	char line[512];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		if (strncmp(line, "0::", 3) == 0) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(path, len, "%s", line + 3);
			found = true;
		}
	fclose(f);
	return found;
}

static int cgroup_enter(void)
{
	const char *root = is_cgroup2("/sys/fs/cgroup")		? "/sys/fs/cgroup"
			   : is_cgroup2("/sys/fs/cgroup/unified") ? "/sys/fs/cgroup/unified"
								  : NULL;
	char orig[512], procs[300];

	if (!root) {
		printf("SKIP sock_lb: no cgroup v2 hierarchy mounted (/sys/fs/cgroup or /sys/fs/cgroup/unified)\n");
		return 77;
	}
	if (!own_cgroup(orig, sizeof(orig))) {
		printf("sock_lb: no cgroup v2 line in /proc/self/cgroup\n");
		return 1;
	}
	snprintf(CG.orig_procs, sizeof(CG.orig_procs), "%s%s/cgroup.procs", root,
		 strcmp(orig, "/") ? orig : "");
	snprintf(CG.pid, sizeof(CG.pid), "%d", getpid());
	snprintf(CG.dir, sizeof(CG.dir), "%s/vigil-test-sock-lb-%d", root, getpid());
	atexit(cgroup_cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	if (mkdir(CG.dir, 0755)) {
		printf("sock_lb: mkdir %s: %s\n", CG.dir, strerror(errno));
		CG.dir[0] = '\0';
		return 1;
	}
	CG.fd = open(CG.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", CG.dir);
	if (CG.fd < 0 || !write_file(procs, CG.pid)) {
		printf("sock_lb: cannot enter cgroup %s: %s\n", CG.dir, strerror(errno));
		return 1;
	}
	return 0;
}

static int netns_enter(void)
{
	static const char *const cmds[] = {
		"ip link set lo up",
		"ip addr add 10.231.0.1/32 dev lo",
		"ip addr add 10.231.0.2/32 dev lo",
		"ip addr add 10.231.0.3/32 dev lo",
		"ip addr add 10.231.0.4/32 dev lo",
		"ip addr add 10.231.0.100/32 dev lo",
		"ip -6 addr add fd00:231::1/128 dev lo nodad",
		"ip -6 addr add fd00:231::2/128 dev lo nodad",
		"ip -6 addr add fd00:231::3/128 dev lo nodad",
		"ip -6 addr add fd00:231::4/128 dev lo nodad",
	};

	if (unshare(CLONE_NEWNET)) {
		printf("sock_lb: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		if (system(cmds[i]) != 0) {
			printf("sock_lb: test network namespace: '%s' failed\n", cmds[i]);
			return 1;
		}
	return 0;
}

/* ---- listeners (once, for every test) ---------------------------------------------- */

enum { L_B1, L_B2, L_BK, L_OTHER4, L_VIP4, L_VIP4_OTHER, L_B61, L_B62, L_BK6, L_OTHER6, L_N };
static const char *const L_NAME[L_N] = { "B1", "B2", "BK", "OTHER4", "VIP4", "VIP4:81",
					 "B61", "B62", "BK6", "OTHER6" };
static int LFD[L_N];

static int listen_on(const struct addr *a)
{
	int fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) || listen(fd, 128)) {
		printf("sock_lb: listen on %s: %s\n", fmt(&a->ss, (char[64]){ 0 }, 64),
		       strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int listeners(void)
{
	const struct addr *at[L_N] = { &B1, &B2, &BK, &OTHER4, &VIP4, &VIP4_OTHER_PORT,
				       &B61, &B62, &BK6, &OTHER6 };

	for (int i = 0; i < L_N; i++)
		if ((LFD[i] = listen_on(at[i])) < 0)
			return 1;
	return 0;
}

static int suite_init(void)
{
	int rc;

	addresses();
	rc = cgroup_enter();
	if (!rc)
		rc = netns_enter();
	if (!rc)
		rc = listeners();
	return rc;
}

/* ---- fixture: one skeleton per test, attached to the cgroup ------------------------- */

static struct {
	struct sock_lb_bpf *skel;
	struct bpf_link *links[4];
	int sets, health, sock_state;
} S;

static bool setup(void)
{
	memset(&S, 0, sizeof(S));
	S.skel = sock_lb_bpf__open();
	if (!ASSERT_OPENED_UNPINNED(S.skel))
		return false;
	if (!ASSERT_EQ(sock_lb_bpf__load(S.skel), 0))
		return false;
	S.links[0] = bpf_program__attach_cgroup(S.skel->progs.vigil_connect4, CG.fd);
	S.links[1] = bpf_program__attach_cgroup(S.skel->progs.vigil_connect6, CG.fd);
	S.links[2] = bpf_program__attach_cgroup(S.skel->progs.vigil_getpeername4, CG.fd);
	S.links[3] = bpf_program__attach_cgroup(S.skel->progs.vigil_getpeername6, CG.fd);
	for (int i = 0; i < 4; i++)
		if (!ASSERT_TRUE(S.links[i] != NULL)) {
			printf("  attach to %s: %s\n", CG.dir, strerror(errno));
			return false;
		}
	S.sets = bpf_map__fd(S.skel->maps.service_sets);
	S.health = bpf_map__fd(S.skel->maps.backend_health);
	S.sock_state = bpf_map__fd(S.skel->maps.sock_state);
	return true;
}

static void teardown(void)
{
	for (int i = 0; i < 4; i++)
		bpf_link__destroy(S.links[i]); /* detaches: the link is not pinned */
	sock_lb_bpf__destroy(S.skel);
	memset(&S, 0, sizeof(S));
}

/* ---- publishing (what vigild writes) ------------------------------------------------ */

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

/* One service as the detector holds it: backends in config order, all
 * HEALTHY. Big (a window per backend): static. */
static struct vigil_det_service DET;

static bool det_service(const struct addr *const *primaries, size_t np,
			const struct addr *const *backups, size_t nb)
{
	struct vigil_det_params p;

	vigil_det_params_defaults(&p);
	vigil_det_init(&DET, &p);
	for (size_t i = 0; i < np; i++)
		T(ASSERT_EQ(vigil_det_add_backend(&DET, &primaries[i]->ep, 1, VIGIL_ROLE_PRIMARY,
						  now_ns()), 0));
	for (size_t i = 0; i < nb; i++)
		T(ASSERT_EQ(vigil_det_add_backend(&DET, &backups[i]->ep, 1, VIGIL_ROLE_BACKUP,
						  now_ns()), 0));
	return true;
}

/* vigil_publish_thresholds: a backend_health entry per backend with the
 * fast-path threshold; then the detector's serving set written by vigild's
 * one backend-set writer, vigil_set_write. */
static bool publish(const struct addr *vip, struct vigil_backend_set *out)
{
	struct vigil_svc_maps m = { .service_sets = S.sets, .services = -1, .backend_info = -1,
				    .admin = -1, .history = -1, .backend_health = S.health };
	struct vigil_backend_set set;

	for (size_t i = 0; i < DET.n_backends; i++) {
		struct vigil_backend_health h = { .threshold = DET.params.consecutive_failures };

		T(ASSERT_EQ(bpf_map_update_elem(S.health, &DET.backends[i].ep, &h, BPF_ANY), 0));
	}
	vigil_det_select(&DET, &set);
	T(ASSERT_EQ(vigil_set_write(&m, &vip->ep, 1, VIGIL_DATAPATH_SOCKET, 1, 0, &set), 0));
	if (out)
		*out = set;
	return ASSERT_EQ(set.version, 1);
}

/* The monitor's fast path (bpf/signals.h) reaching the threshold, or vigild
 * re-admitting the backend (vigil_publish_readmit). */
static bool set_down(const struct addr *b, bool down)
{
	struct vigil_backend_health h;

	T(ASSERT_EQ(bpf_map_lookup_elem(S.health, &b->ep, &h), 0));
	h.consecutive_failures = down ? h.threshold : 0;
	h.down = down;
	h.down_since_ns = down ? now_ns() : 0;
	return ASSERT_EQ(bpf_map_update_elem(S.health, &b->ep, &h, BPF_ANY), 0);
}

/* ---- connecting ---------------------------------------------------------------------- */

struct conn {
	int fd;       /* client socket */
	int accepted; /* listener index (L_*) that accepted it, -1: none */
	struct sockaddr_storage peer;  /* client getpeername() */
	struct sockaddr_storage local; /* client getsockname() */
};

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Accept the connection whose client port is port on whichever listener
 * has it; closes what it accepts. The listener index or -1. */
static int accepted_by(uint16_t port)
{
	struct pollfd p[L_N];

	for (int i = 0; i < L_N; i++)
		p[i] = (struct pollfd){ .fd = LFD[i], .events = POLLIN };
	for (int round = 0; round < 20; round++) {
		if (poll(p, L_N, 100) < 0)
			return -1;
		for (int i = 0; i < L_N; i++) {
			struct sockaddr_storage ss;
			socklen_t len = sizeof(ss);
			int fd;

			if (!(p[i].revents & POLLIN))
				continue;
			while ((fd = accept4(LFD[i], (struct sockaddr *)&ss, &len, SOCK_CLOEXEC)) >= 0) {
				uint16_t pp = ss.ss_family == AF_INET
						      ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
						      : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);

				close(fd);
				if (pp == port)
					return i;
				len = sizeof(ss); /* a leftover of an earlier check: drop it */
			}
		}
	}
	return -1;
}

/* A TCP connect from a socket of family to dst (2 s timeout), then which
 * listener accepted it and what the client sees as peer and local address. */
static bool tcp_connect(int family, const struct addr *dst, struct conn *c)
{
	struct pollfd p;
	socklen_t len;
	int err = 0;
	uint16_t port;

	memset(c, 0, sizeof(*c));
	c->accepted = -1;
	c->fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	T(ASSERT_OK_CALL(c->fd));
	if (connect(c->fd, (const struct sockaddr *)&dst->ss, dst->len) && errno != EINPROGRESS) {
		printf("  connect to %s: %s\n", fmt(&dst->ss, (char[64]){ 0 }, 64), strerror(errno));
		return false;
	}
	p = (struct pollfd){ .fd = c->fd, .events = POLLOUT };
	T(ASSERT_EQ(poll(&p, 1, 2000), 1));
	len = sizeof(err);
	T(ASSERT_OK_CALL(getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len)));
	if (!ASSERT_EQ(err, 0)) {
		printf("  connect to %s: %s\n", fmt(&dst->ss, (char[64]){ 0 }, 64), strerror(err));
		return false;
	}
	len = sizeof(c->peer);
	T(ASSERT_OK_CALL(getpeername(c->fd, (struct sockaddr *)&c->peer, &len)));
	len = sizeof(c->local);
	T(ASSERT_OK_CALL(getsockname(c->fd, (struct sockaddr *)&c->local, &len)));
	port = c->local.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&c->local)->sin_port)
					      : ntohs(((struct sockaddr_in6 *)&c->local)->sin6_port);
	c->accepted = accepted_by(port);
	return ASSERT_GE(c->accepted, 0);
}

/* The VIP in the socket's storage, looked up as user space can: by socket fd. */
static bool sock_vip_of(int fd, struct vigil_endpoint *vip)
{
	struct vigil_sock_state st;

	if (bpf_map_lookup_elem(S.sock_state, &fd, &st) || !st.vip.family)
		return false;
	*vip = st.vip;
	return true;
}

/* TRIES connects from family to vip: each accepted by one of the listeners in
 * allowed (bitmask of L_*), getpeername() the VIP as the socket's family
 * shows it; hits[] counts per listener. */
static bool connect_many(int family, const struct addr *vip, unsigned allowed, int hits[L_N])
{
	struct addr to = family == AF_INET6 ? as_v6(vip) : *vip; /* also what getpeername shows */
	bool ok = true;

	memset(hits, 0, sizeof(int) * L_N);
	for (int i = 0; i < TRIES && ok; i++) {
		struct conn c;

		ok = tcp_connect(family, &to, &c) && ASSERT_SOCKADDR(&c.peer, &to);
		if (ok) {
			hits[c.accepted]++;
			if (!(allowed & 1u << c.accepted)) {
				printf("  connect %d to the VIP reached %s\n", i, L_NAME[c.accepted]);
				ok = false;
			}
		}
		conn_close(&c);
	}
	if (ok) {
		printf("  info: %d connects:", TRIES);
		for (int i = 0; i < L_N; i++)
			if (hits[i])
				printf(" %s %d", L_NAME[i], hits[i]);
		printf("\n");
	}
	return ok;
}

#define BIT(l) (1u << (l))

/* ---- tests ----------------------------------------------------------------------------- */

/* connect() to the VIP reaches the primaries, both of them over TRIES
 * connects, never the listener on the VIP itself. */
BPF_TEST(connect4_to_backend)
{
	const struct addr *prim[] = { &B1, &B2 };
	int hits[L_N];

	T(det_service(prim, 2, NULL, 0) && publish(&VIP4, NULL));
	T(connect_many(AF_INET, &VIP4, BIT(L_B1) | BIT(L_B2), hits));
	return ASSERT_GT(hits[L_B1], 0) && ASSERT_GT(hits[L_B2], 0);
}

/* The application sees the VIP as its peer (getpeername4, from the socket's
 * storage) while the connection is to a backend: the
 * accepting side sees the client's own address and port. */
BPF_TEST(getpeername4_vip)
{
	const struct addr *prim[] = { &B1 };
	struct vigil_endpoint vip;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct conn c;
	bool ok;

	T(det_service(prim, 1, NULL, 0) && publish(&VIP4, NULL));
	T(tcp_connect(AF_INET, &VIP4, &c));
	ok = ASSERT_EQ(c.accepted, L_B1) && ASSERT_SOCKADDR(&c.peer, &VIP4) &&
	     ASSERT_TRUE(sock_vip_of(c.fd, &vip)) &&
	     ASSERT_MEM(&vip, &VIP4.ep, sizeof(vip));
	/* the local address is the real one towards B1 (not rewritten) */
	ok = ok && ASSERT_OK_CALL(getsockname(c.fd, (struct sockaddr *)&ss, &len)) &&
	     ASSERT_EQ(ss.ss_family, AF_INET) &&
	     ASSERT_EQ(((struct sockaddr_in *)&ss)->sin_addr.s_addr,
		       ((struct sockaddr_in *)&B1.ss)->sin_addr.s_addr);
	conn_close(&c);
	return ok;
}

/* A backend the fast path marked down is skipped by the very next connect;
 * re-admitted, it is chosen again. */
BPF_TEST(connect4_skips_down)
{
	const struct addr *prim[] = { &B1, &B2 };
	int hits[L_N];

	T(det_service(prim, 2, NULL, 0) && publish(&VIP4, NULL));
	T(set_down(&B1, true));
	T(connect_many(AF_INET, &VIP4, BIT(L_B2), hits));
	T(ASSERT_EQ(hits[L_B2], TRIES));
	T(set_down(&B1, false));
	T(connect_many(AF_INET, &VIP4, BIT(L_B1) | BIT(L_B2), hits));
	return ASSERT_GT(hits[L_B1], 0);
}

/* The set carries healthy backups as a fallback tier after the preferred
 * entries: unused while a primary is up, used by the kernel alone when the
 * fast path has marked every primary down; with the backups down too the
 * connect still goes to a primary rather than failing. */
BPF_TEST(connect4_backup_tier)
{
	const struct addr *prim[] = { &B1, &B2 }, *back[] = { &BK };
	struct vigil_backend_set set;
	int hits[L_N];

	T(det_service(prim, 2, back, 1) && publish(&VIP4, &set));
	T(ASSERT_EQ(set.count, 3) && ASSERT_EQ(set.n_preferred, 2) && ASSERT_EQ(set.flags, 0));
	T(connect_many(AF_INET, &VIP4, BIT(L_B1) | BIT(L_B2), hits));
	T(set_down(&B1, true));
	T(connect_many(AF_INET, &VIP4, BIT(L_B2), hits));
	T(set_down(&B2, true));
	T(connect_many(AF_INET, &VIP4, BIT(L_BK), hits));
	T(ASSERT_EQ(hits[L_BK], TRIES));
	T(set_down(&BK, true));
	return connect_many(AF_INET, &VIP4, BIT(L_B1) | BIT(L_B2), hits);
}

/* vigild ejected every primary: the set it publishes holds the backups
 * (VIGIL_SET_BACKUPS), and connects go there. */
BPF_TEST(connect4_backups_published)
{
	const struct addr *prim[] = { &B1, &B2 }, *back[] = { &BK };
	struct vigil_backend_set set;
	int hits[L_N];

	T(det_service(prim, 2, back, 1));
	DET.backends[0].state = VIGIL_STATE_EJECTED;
	DET.backends[1].state = VIGIL_STATE_EJECTED;
	T(publish(&VIP4, &set));
	T(ASSERT_EQ(set.flags, VIGIL_SET_BACKUPS) && ASSERT_EQ(set.n_preferred, 1));
	T(connect_many(AF_INET, &VIP4, BIT(L_BK), hits));
	return ASSERT_EQ(hits[L_BK], TRIES);
}

/* connect4 rewrites only to IPv4 backends: an IPv6 entry of the set is never
 * chosen for an IPv4 socket. */
BPF_TEST(connect4_skips_ipv6_backend)
{
	const struct addr *prim[] = { &B61, &B1 };
	int hits[L_N];

	T(det_service(prim, 2, NULL, 0) && publish(&VIP4, NULL));
	T(connect_many(AF_INET, &VIP4, BIT(L_B1), hits));
	return ASSERT_EQ(hits[L_B1], TRIES);
}

/* Not a service: another address, the VIP on another port, a UDP socket to
 * the VIP: connected where they asked, getpeername() the real peer, no
 * VIP in the socket's storage. */
BPF_TEST(non_service_untouched)
{
	const struct addr *prim[] = { &B1 };
	const struct addr *dst[] = { &OTHER4, &VIP4_OTHER_PORT, &OTHER6 };
	const int lst[] = { L_OTHER4, L_VIP4_OTHER, L_OTHER6 };
	struct vigil_endpoint vip;
	bool ok = true;

	T(det_service(prim, 1, NULL, 0) && publish(&VIP4, NULL));
	for (size_t i = 0; i < ARRAY_SIZE(dst) && ok; i++) {
		struct conn c;

		ok = tcp_connect(dst[i]->family, dst[i], &c) && ASSERT_EQ(c.accepted, lst[i]) &&
		     ASSERT_SOCKADDR(&c.peer, dst[i]) && ASSERT_TRUE(!sock_vip_of(c.fd, &vip));
		conn_close(&c);
	}
	T(ok);
	/* UDP: the hooks handle SOCK_STREAM only */
	{
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		T(ASSERT_OK_CALL(fd));
		ok = ASSERT_OK_CALL(connect(fd, (const struct sockaddr *)&VIP4.ss, VIP4.len)) &&
		     ASSERT_OK_CALL(getpeername(fd, (struct sockaddr *)&ss, &len)) &&
		     ASSERT_SOCKADDR(&ss, &VIP4) && ASSERT_TRUE(!sock_vip_of(fd, &vip));
		close(fd);
	}
	return ok;
}

BPF_TEST(connect6_to_backend)
{
	const struct addr *prim[] = { &B61, &B62 };
	struct vigil_endpoint vip;
	struct conn c;
	int hits[L_N];
	bool ok;

	T(det_service(prim, 2, NULL, 0) && publish(&VIP6, NULL));
	T(connect_many(AF_INET6, &VIP6, BIT(L_B61) | BIT(L_B62), hits));
	T(ASSERT_GT(hits[L_B61], 0) && ASSERT_GT(hits[L_B62], 0));
	T(tcp_connect(AF_INET6, &VIP6, &c));
	ok = ASSERT_SOCKADDR(&c.peer, &VIP6) && ASSERT_TRUE(sock_vip_of(c.fd, &vip)) &&
	     ASSERT_MEM(&vip, &VIP6.ep, sizeof(vip));
	conn_close(&c);
	return ok;
}

BPF_TEST(connect6_skips_down_and_backups)
{
	const struct addr *prim[] = { &B61, &B62 }, *back[] = { &BK6 };
	int hits[L_N];

	T(det_service(prim, 2, back, 1) && publish(&VIP6, NULL));
	T(set_down(&B61, true));
	T(connect_many(AF_INET6, &VIP6, BIT(L_B62), hits));
	T(set_down(&B62, true));
	T(connect_many(AF_INET6, &VIP6, BIT(L_BK6), hits));
	return ASSERT_EQ(hits[L_BK6], TRIES);
}

/* An IPv6 socket to an IPv6 VIP whose backend is IPv4: connected to the
 * v4-mapped address (the IPv4 listener accepts), getpeername6 the VIP. */
BPF_TEST(connect6_ipv4_backend)
{
	const struct addr *prim[] = { &B1 };
	int hits[L_N];

	T(det_service(prim, 1, NULL, 0) && publish(&VIP6, NULL));
	T(connect_many(AF_INET6, &VIP6, BIT(L_B1), hits));
	return ASSERT_EQ(hits[L_B1], TRIES);
}

/* An IPv6 (dual-stack) socket connecting to the IPv4 VIP spelled v4-mapped
 * (::ffff:10.231.0.100) is balanced like an IPv4 connect (docs/config.md: a
 * v4-mapped address is the IPv4 endpoint); getpeername6 shows the mapped VIP. */
BPF_TEST(connect6_mapped_ipv4_vip)
{
	const struct addr *prim[] = { &B1, &B2 };
	struct addr mapped = as_v6(&VIP4);
	int hits[L_N];
	struct conn c;
	bool ok;

	T(det_service(prim, 2, NULL, 0) && publish(&VIP4, NULL));
	T(connect_many(AF_INET6, &VIP4, BIT(L_B1) | BIT(L_B2), hits));
	T(ASSERT_EQ(hits[L_B1] + hits[L_B2], TRIES));
	T(tcp_connect(AF_INET6, &mapped, &c));
	ok = ASSERT_TRUE(c.accepted == L_B1 || c.accepted == L_B2) &&
	     ASSERT_SOCKADDR(&c.peer, &mapped);
	conn_close(&c);
	return ok;
}

int main(int argc, char **argv)
{
	const struct bpf_test_suite suite = {
		.name = "sock_lb",
		.init = suite_init, .setup = setup, .teardown = teardown,
		.skip_why = "needs root (loads and attaches BPF programs)",
	};

	return bpf_test_main(&suite, argc, argv);
}
