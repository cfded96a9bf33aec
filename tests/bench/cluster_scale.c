/* SPDX-License-Identifier: MIT */
/*
 * cluster_scale: how etcd carries vigil's cluster mode for a fleet
 * (docs/cluster.md, "Scale"). Against a running etcd cluster, with vigild's
 * own etcd client (user/vigild/etcd.c) and key layout (docs/cluster.md):
 *
 *   - WATCHERS threads each hold a watch on the verdict prefix of one of
 *     SERVICES services, as the hosts using that service would (a host
 *     watches the services it uses; see docs/cluster.md for why not the whole
 *     prefix);
 *   - writers put verdicts the way HOSTS hosts x BACKENDS backends would:
 *     a steady rate (STEADY_PER_S verdicts per second fleet-wide), then a
 *     mass failure (MASS_BACKENDS backends fail at once; each is reported by
 *     REPORTERS hosts, a suspect and then a hard verdict each);
 *   - every put carries its wall-clock time; each watcher records the delay
 *     from the put to its delivery: one host's verdict -> another host's
 *     reaction, minus vigild's own handling (tens of microseconds).
 *
 * Prints put latency and delivery delay percentiles for both phases, the
 * events delivered and the burst's duration. Figures, no assertions.
 * Usage: cluster_scale ENDPOINTS [key=value ...] (defaults below).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "etcd.h"

static struct {
	int watchers, services, hosts, backends, steady_per_s, steady_s, mass_backends, reporters,
	    writers;
} P = { .watchers = 200, .services = 100, .hosts = 1000, .backends = 10000, .steady_per_s = 20,
	.steady_s = 5, .mass_backends = 100, .reporters = 20, .writers = 8 };

static struct vigil_etcd_opts opts = { .timeout_ms = 2000 };
static const char *prefix = "/vigil-scale/";
static volatile bool stop;

/* Delivery delays (us), appended by the watchers. */
static pthread_mutex_t lat_lock = PTHREAD_MUTEX_INITIALIZER;
static double *delays;
static size_t n_delays, cap_delays;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void record(double *buf, size_t *n, size_t *cap, double v)
{
	pthread_mutex_lock(&lat_lock);
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 1 << 16;
		delays = buf == delays ? realloc(delays, *cap * sizeof(double)) : buf;
	}
	if (delays)
		delays[(*n)++] = v;
	pthread_mutex_unlock(&lat_lock);
}

static void on_event(const struct vigil_etcd_kv *kv, void *arg)
{
	double sent;

	(void)arg;
	if (kv->deleted || sscanf(kv->value, "{\"t\":%lf", &sent) != 1)
		return;
	record(delays, &n_delays, &cap_delays, now_us() - sent);
}

static void *watcher(void *arg)
{
	long svc = (long)arg;
	char p[128];
	struct vigil_etcd e;

	snprintf(p, sizeof(p), "%sverdicts/svc%ld/", prefix, svc);
	if (vigil_etcd_open(&e, &opts))
		return NULL;
	while (!stop)
		vigil_etcd_watch_prefix(&e, p, 0, on_event, NULL, &stop);
	vigil_etcd_close(&e);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void percentiles(const char *what, double *v, size_t n)
{
	if (!n) {
		printf("%-34s none\n", what);
		return;
	}
	qsort(v, n, sizeof(*v), cmp_double);
	printf("%-34s n=%-8zu p50=%8.2f ms  p99=%8.2f ms  max=%8.2f ms\n", what, n,
	       v[n / 2] / 1e3, v[(size_t)((double)n * 0.99)] / 1e3, v[n - 1] / 1e3);
}

/* One verdict put: svc, backend and host chosen by the caller. */
static int put_verdict(struct vigil_etcd *e, int svc, int backend, int host, const char *kind)
{
	char key[192], value[128];

	snprintf(key, sizeof(key), "%sverdicts/svc%d/10.%d.%d.%d:8080/h%d", prefix, svc,
		 backend / 65536 % 256, backend / 256 % 256, backend % 256, host);
	snprintf(value, sizeof(value), "{\"t\":%.0f,\"kind\":\"%s\"}", now_us(), kind);
	return vigil_etcd_put(e, key, value, 0);
}

struct writer_job {
	int first, count; /* mass failure: backends [first, first + count) */
	double *put_us;
	size_t n_put;
};

static void *mass_writer(void *arg)
{
	struct writer_job *j = arg;
	struct vigil_etcd e;

	if (vigil_etcd_open(&e, &opts))
		return NULL;
	j->put_us = calloc((size_t)j->count * (size_t)P.reporters * 2, sizeof(double));
	for (int b = j->first; b < j->first + j->count && j->put_us; b++) {
		for (int r = 0; r < P.reporters; r++) {
			for (int k = 0; k < 2; k++) {
				double t0 = now_us();

				if (!put_verdict(&e, b % P.services, b, (b * 7 + r) % P.hosts,
						 k ? "hard" : "suspect"))
					j->put_us[j->n_put++] = now_us() - t0;
			}
		}
	}
	vigil_etcd_close(&e);
	return NULL;
}

static void steady_phase(void)
{
	struct vigil_etcd e;
	double *put_us = calloc((size_t)(P.steady_per_s * P.steady_s) + 1, sizeof(double));
	size_t n = 0;

	if (!put_us || vigil_etcd_open(&e, &opts))
		return;
	for (int i = 0; i < P.steady_per_s * P.steady_s; i++) {
		double t0 = now_us();

		if (!put_verdict(&e, rand() % P.services, rand() % P.backends, rand() % P.hosts,
				 "hard"))
			put_us[n++] = now_us() - t0;
		usleep((useconds_t)(1e6 / P.steady_per_s));
	}
	vigil_etcd_close(&e);
	percentiles("steady: put (one host's write)", put_us, n);
	free(put_us);
}

static void mass_phase(void)
{
	pthread_t t[64];
	struct writer_job jobs[64] = { 0 };
	double t0 = now_us(), *all;
	size_t n = 0;
	int per = (P.mass_backends + P.writers - 1) / P.writers;

	for (int w = 0; w < P.writers; w++) {
		jobs[w].first = w * per;
		jobs[w].count = w * per + per > P.mass_backends ? P.mass_backends - w * per : per;
		pthread_create(&t[w], NULL, mass_writer, &jobs[w]);
	}
	for (int w = 0; w < P.writers; w++) {
		pthread_join(t[w], NULL);
		n += jobs[w].n_put;
	}
	printf("mass failure: %d backends x %d reporters x 2 verdicts = %zu puts in %.2f s "
	       "(%d writer connections)\n", P.mass_backends, P.reporters, n, (now_us() - t0) / 1e6,
	       P.writers);
	all = calloc(n + 1, sizeof(double));
	n = 0;
	for (int w = 0; w < P.writers; w++) {
		if (all && jobs[w].put_us)
			memcpy(all + n, jobs[w].put_us, jobs[w].n_put * sizeof(double));
		n += jobs[w].n_put;
		free(jobs[w].put_us);
	}
	percentiles("mass: put", all, n);
	free(all);
}

static void take_delays(const char *what)
{
	double *v;
	size_t n;

	pthread_mutex_lock(&lat_lock);
	v = delays;
	n = n_delays;
	delays = NULL;
	n_delays = cap_delays = 0;
	pthread_mutex_unlock(&lat_lock);
	percentiles(what, v, n);
	free(v);
}

static void parse_args(int argc, char **argv)
{
	char *eps = strdup(argv[1]);

	for (char *tok = strtok(eps, ","); tok && opts.n_endpoints < VIGIL_ETCD_MAX_ENDPOINTS;
	     tok = strtok(NULL, ","))
		opts.endpoints[opts.n_endpoints++] = tok;
	for (int i = 2; i < argc; i++) {
		int v;
		char k[32];

		if (sscanf(argv[i], "%31[a-z_]=%d", k, &v) != 2)
			continue;
#define SET(f) if (!strcmp(k, #f)) P.f = v
		SET(watchers); SET(services); SET(hosts); SET(backends); SET(steady_per_s);
		SET(steady_s); SET(mass_backends); SET(reporters); SET(writers);
	}
	if (P.writers > 64)
		P.writers = 64;
}

int main(int argc, char **argv)
{
	pthread_attr_t attr;
	pthread_t *w;

	if (argc < 2) {
		fprintf(stderr, "usage: cluster_scale ENDPOINTS [watchers=N services=N hosts=N "
			"backends=N steady_per_s=N steady_s=N mass_backends=N reporters=N writers=N]\n");
		return 2;
	}
	parse_args(argc, argv);
	printf("cluster_scale: %d watchers over %d services (a watcher = a host's watch of one "
	       "service), fleet of %d hosts x %d backends, %zu etcd endpoints\n", P.watchers,
	       P.services, P.hosts, P.backends, opts.n_endpoints);
	w = calloc((size_t)P.watchers, sizeof(*w));
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (long i = 0; i < P.watchers; i++)
		pthread_create(&w[i], &attr, watcher, (void *)(i % P.services));
	sleep(2); /* every watch established */
	steady_phase();
	sleep(1);
	take_delays("steady: put -> other host's watch");
	mass_phase();
	sleep(3);
	take_delays("mass: put -> other host's watch");
	stop = true;
	for (int i = 0; i < P.watchers; i++)
		pthread_join(w[i], NULL);
	free(w);
	return 0;
}
