// SPDX-License-Identifier: MIT
/*
 * Verdicts of other nodes (cluster mode, docs/cluster.md; detector.h). They
 * change a backend's state outside vigil_det_evaluate(), so, like a probe
 * result, the change is kept pending and reported by the next evaluate.
 */
#define VIGIL_DETECTOR_INTERNAL
#include "detector.h"

static void remember(struct vigil_det_backend *b, enum vigil_backend_state from)
{
	/* An earlier change still unreported keeps its from-state: the two
	 * collapse into one reported change. */
	if (!b->pending_probe)
		b->pending_from = from;
	b->pending_probe = true;
	b->pending_to = b->state;
	b->pending_rule = b->last_rule;
	b->pending_evidence = b->last_evidence;
}

static struct vigil_det_backend *healthy_backend(struct vigil_det_service *svc, size_t idx)
{
	struct vigil_det_backend *b;

	if (idx >= svc->n_backends)
		return NULL;
	b = &svc->backends[idx];
	return b->state == VIGIL_STATE_HEALTHY && b->admin != VIGIL_ADMIN_DISABLED ? b : NULL;
}

bool vigil_det_remote_hard(struct vigil_det_service *svc, size_t idx, __u32 reporters,
			   __u64 now_ns)
{
	struct vigil_det_backend *b = healthy_backend(svc, idx);
	struct vigil_evidence ev = { .failures = reporters };

	if (!b)
		return false;
	vigil_det_touch(svc, now_ns);
	vigil_det_record(b, VIGIL_STATE_PROBING, VIGIL_RULE_REMOTE_HARD, &ev, now_ns);
	b->remote_check = true;
	b->probe_ok_streak = 0;
	b->next_probe_ns = now_ns;
	remember(b, VIGIL_STATE_HEALTHY);
	return true;
}

bool vigil_det_remote_outlier(struct vigil_det_service *svc, size_t idx, __u32 reporters,
			      __u32 live_nodes, double quorum, __u64 now_ns)
{
	struct vigil_det_backend *b = healthy_backend(svc, idx);
	struct vigil_evidence ev = { .failures = reporters, .threshold = live_nodes };
	size_t n_primaries, out;

	if (!b || b->role == VIGIL_ROLE_BACKUP || !live_nodes ||
	    (double)reporters < quorum * (double)live_nodes)
		return false;
	out = vigil_det_primaries_out(svc, &n_primaries);
	if (out >= vigil_det_outlier_limit(&svc->params, n_primaries))
		return false;
	vigil_det_touch(svc, now_ns);
	vigil_det_eject(&svc->params, b, VIGIL_RULE_REMOTE_OUTLIER, &ev, now_ns);
	remember(b, VIGIL_STATE_HEALTHY);
	return true;
}
