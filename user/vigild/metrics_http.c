/* SPDX-License-Identifier: MIT */
/* vigild's HTTP endpoint (libmicrohttpd): /metrics, /healthz, /readyz, served
 * by one thread of the normal policy with CAP_BPF only (metrics_http.h). */
#include "metrics_http.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "caps.h"
#include "clock.h"
#include "log.h"
#include "maps.h"
#include "metrics.h"
#include "normal_thread.h"
#include "version.h"
#include "vigil_commit.h" /* generated: VIGIL_COMMIT */

#define LISTEN_BACKLOG 16
#define MAX_CONNECTIONS 16
#define CONNECTION_TIMEOUT_S 10
#define POLL_MS 200 /* how soon the thread notices a stop */

struct vigil_metrics_http {
	struct MHD_Daemon *mhd;
	pthread_t thread;
	atomic_bool stop;
	struct vigil_metrics_state *state;
	struct vigil_metrics_view view; /* the thread's copy of the state */
	__u64 last_read_warning_ns;
};

static enum MHD_Result respond(struct MHD_Connection *c, unsigned int status, const char *type,
			       char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned int status,
				    const char *text)
{
	char *body = strdup(text);

	return body ? respond(c, status, "text/plain; charset=utf-8", body, strlen(body))
		    : MHD_NO;
}

/* The monitor's maps unreadable (removed under vigild, say): the scrape
 * goes on without their metrics; said at most once a minute. */
static void warn_unreadable(struct vigil_metrics_http *h, const char *err)
{
	__u64 now = vigil_now_ns();

	if (h->last_read_warning_ns && now - h->last_read_warning_ns < 60 * 1000000000ull)
		return;
	h->last_read_warning_ns = now;
	pr_warn("metrics: %s: the monitor's counters are left out of /metrics", err);
}

static enum MHD_Result serve_metrics(struct vigil_metrics_http *h, struct MHD_Connection *c)
{
	const struct vigil_metrics_view *v = &h->view;
	__u64 xdp[VIGIL_XDP_COUNTERS], drops[VIGIL_DROP_REASONS];
	struct vigil_snapshot snap;
	char err[512], why[512];
	struct vigil_metrics_input in = { .board = &v->board, .daemon = &v->fig,
					  .version = VIGIL_VERSION, .commit = VIGIL_COMMIT };
	char *body = NULL;
	size_t len = 0;
	FILE *out;
	int ret;

	if (vigil_snapshot_read(v->pin_dir, &snap, err, sizeof(err)) == 0)
		in.snap = &snap;
	else
		warn_unreadable(h, err);
	if (vigil_percpu_sum(v->pin_dir, VIGIL_PIN_XDP_STATS, VIGIL_XDP_COUNTERS, xdp, err,
			     sizeof(err)) == 0 &&
	    vigil_percpu_sum(v->pin_dir, VIGIL_PIN_XDP_DROPS, VIGIL_DROP_REASONS, drops, err,
			     sizeof(err)) == 0) {
		in.xdp_counters = xdp;
		in.xdp_drops = drops;
	}
	in.hooks_detached = vigil_hooks_check(&v->hooks, why, sizeof(why));
	out = open_memstream(&body, &len);
	ret = out ? vigil_metrics_write(out, &in) : -ENOMEM;
	if (out)
		fclose(out);
	if (in.snap)
		vigil_snapshot_free(&snap);
	if (ret) {
		free(body);
		return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	}
	return respond(c, MHD_HTTP_OK, VIGIL_METRICS_CONTENT_TYPE, body, len);
}

static enum MHD_Result serve_healthz(struct vigil_metrics_http *h, struct MHD_Connection *c)
{
	const struct vigil_metrics_view *v = &h->view;
	char hooks[512], body[768];
	__u64 now = vigil_now_ns();
	int status;

	vigil_hooks_check(&v->hooks, hooks, sizeof(hooks));
	status = vigil_healthz(v->ready == VIGIL_READY_STARTING,
			       now > v->alive_mono_ns ? now - v->alive_mono_ns : 0, v->tick_ms, hooks,
			       body, sizeof(body));
	return respond_text(c, (unsigned int)status, body);
}

static enum MHD_Result serve_readyz(struct vigil_metrics_http *h, struct MHD_Connection *c)
{
	const struct vigil_metrics_view *v = &h->view;
	char body[1024];
	int status = vigil_readyz(v->ready, v->config_path, v->why, body, sizeof(body));

	return respond_text(c, (unsigned int)status, body);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct vigil_metrics_http *h = cls;

	(void)version;
	(void)upload_data;
	(void)con_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	if (*upload_data_size) { /* a GET with a body: ignore the body */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (vigil_metrics_state_read(h->state, &h->view))
		pr_debug("metrics: out of memory copying the board: served without it");
	if (strcmp(url, "/metrics") == 0)
		return serve_metrics(h, c);
	if (strcmp(url, "/healthz") == 0)
		return serve_healthz(h, c);
	if (strcmp(url, "/readyz") == 0)
		return serve_readyz(h, c);
	return respond_text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics, /healthz or /readyz\n");
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[256];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	pr_debug("metrics: libmicrohttpd: %s", line);
}

static void *serve(void *arg)
{
	struct vigil_metrics_http *h = arg;
	char err[256];

	if (vigil_caps_thread_bpf_only(err, sizeof(err)))
		pr_warn("metrics: %s: the metrics thread keeps vigild's capabilities", err);
	while (!atomic_load(&h->stop))
		if (MHD_run_wait(h->mhd, POLL_MS) != MHD_YES)
			usleep(POLL_MS * 1000); /* never a busy loop on a broken daemon */
	return NULL;
}

/* A listening TCP socket on ep, or -errno with the reason and fix in err. */
static int listen_on(const struct vigil_endpoint *ep, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len = vigil_endpoint_sockaddr(ep, &ss);
	char name[VIGIL_ENDPOINT_STRLEN];
	int one = 1, ret;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
	    bind(fd, (struct sockaddr *)&ss, len) == 0 && listen(fd, LISTEN_BACKLOG) == 0)
		return fd;
	ret = -errno;
	snprintf(err, errlen, "metrics.listen %s: %s: %s",
		 vigil_endpoint_format(ep, name, sizeof(name)), strerror(-ret),
		 ret == -EADDRINUSE ? "another process (or another vigild) listens there: pick "
				      "another port, or set metrics.enabled: false"
				    : "fix metrics.listen");
	if (fd >= 0)
		close(fd);
	return ret;
}

int vigil_metrics_http_start(struct vigil_metrics_http **out, const struct vigil_endpoint *listen,
			     struct vigil_metrics_state *state, char *err, size_t errlen)
{
	struct vigil_metrics_http *h = calloc(1, sizeof(*h));
	int fd, ret;

	*out = NULL;
	if (!h) {
		snprintf(err, errlen, "metrics: out of memory");
		return -ENOMEM;
	}
	h->state = state;
	fd = listen_on(listen, err, errlen);
	if (fd < 0) {
		free(h);
		return fd;
	}
	/* No polling thread of its own: ours (serve) runs it, at the normal
	 * policy, whatever vigild's. MHD owns fd from here on. */
	h->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
				  (listen->family == VIGIL_AF_INET6 ? MHD_USE_IPv6 : 0),
				  0, NULL, NULL, on_request, h,
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				  MHD_OPTION_LISTEN_SOCKET, fd,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned int)MAX_CONNECTIONS,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_S,
				  MHD_OPTION_END);
	if (!h->mhd) {
		close(fd);
		free(h);
		snprintf(err, errlen, "metrics: libmicrohttpd could not start on the listening "
			 "socket (vigild --log-level debug says why)");
		return -EIO;
	}
	ret = vigil_normal_thread_start(&h->thread, serve, h);
	if (ret) {
		MHD_stop_daemon(h->mhd);
		free(h);
		snprintf(err, errlen, "metrics: cannot start its thread: %s", strerror(ret));
		return -ret;
	}
	*out = h;
	return 0;
}

void vigil_metrics_http_stop(struct vigil_metrics_http *h)
{
	if (!h)
		return;
	atomic_store(&h->stop, true);
	pthread_join(h->thread, NULL);
	MHD_stop_daemon(h->mhd);
	vigil_metrics_view_free(&h->view);
	free(h);
}
