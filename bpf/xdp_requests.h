/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* Request signals of the packet load balancer, read from the packets of its
 * established flows (both directions pass through the LB host) into the maps
 * the socket monitor fills, so the same rules judge both datapaths:
 *
 *   client data after the backend's last data   opens a request: its time
 *                                               and the sequence number its
 *                                               data ends at
 *   a backend ACK covering that data            acknowledges it
 *   backend data                                answers it: request latency
 *                                               (backend_stats.requests,
 *                                               request_lat_us)
 *   backend FIN or RST                          ends it without a sample
 *   client data that does not advance the       a retransmission
 *   client's sequence number                    (backend_stats.data_retrans)
 *
 * Whether client data follows backend data is read from the client's own
 * acknowledgment number, which moves only when the client has received
 * backend data: a client packet tells a new request from more of the same
 * one, or from a retransmission, with its forward entry alone. The request
 * waiting for its answer lives in the reverse entry, which every backend
 * packet looks up anyway; only the opening of a request looks the reverse
 * entry up from the client side. pending_requests[backend id] gets one
 * update per request boundary (opened, acknowledged, answered) for vigild's
 * stuck-request rules, which therefore never scan the flow tables.
 *
 * Cost: a client packet without payload, and a backend packet of a flow
 * with no request waiting, pay a test each.
 *
 * Needs xdp_parse.h (struct pkt, make_reverse_key), lb_maps.h, maps_signals.h
 * and signals.h; used by lb_core.h.
 */
#ifndef VIGIL_BPF_XDP_REQUESTS_H
#define VIGIL_BPF_XDP_REQUESTS_H

/* Sequence number a is after b (RFC 793 modular comparison). */
static __always_inline bool seq_after(__u32 a, __u32 b)
{
	return (__s32)(a - b) > 0;
}

/* TCP payload bytes of a parsed packet; 0 when its headers claim more than
 * the IP length (the parser checked the headers, not the length fields). */
static __always_inline __u32 tcp_payload_len(const struct pkt *p)
{
	__u32 ip_len, hdrs = p->tcp->doff * 4;

	if (p->ip4) {
		ip_len = bpf_ntohs(p->ip4->tot_len);
		hdrs += p->ip4->ihl * 4;
	} else if (p->ip6) {
		ip_len = bpf_ntohs(p->ip6->payload_len);
	} else {
		return 0;
	}
	return ip_len > hdrs ? ip_len - hdrs : 0;
}

/* ---- per backend: pending_requests ------------------------------------------- */

/* A span is empty once the backend made progress after its first request:
 * progress writes only its own time, the next opening starts the span anew. */
static __always_inline void span_open(struct vigil_pending_span *s, __u64 progress_ns, __u64 now)
{
	if (s->first_ns <= progress_ns) {
		s->first_ns = now;
		s->count = 1;
	} else {
		s->count++;
	}
	s->last_ns = now;
}

static __always_inline void pending_opened(__u32 backend_id, __u64 now)
{
	struct vigil_pending_requests *s = bpf_map_lookup_elem(&pending_requests, &backend_id);

	if (!s)
		return;
	span_open(&s->unacked, s->acked_ns, now);
	span_open(&s->unanswered, s->answered_ns, now);
}

/* The backend acknowledged request data (answered false), or answered or
 * took in more of a request (answered true, which implies the former). */
static __always_inline void pending_progress(__u32 backend_id, __u64 now, bool answered)
{
	struct vigil_pending_requests *s = bpf_map_lookup_elem(&pending_requests, &backend_id);

	if (!s)
		return;
	s->acked_ns = now;
	if (answered)
		s->answered_ns = now;
}

/* ---- client side --------------------------------------------------------------- */

/* New client data after backend data: the flow's request is now this one. */
static __always_inline void request_opened(const struct pkt *p, const struct vigil_endpoint *backend,
					   __u32 backend_id, __u32 seq_end)
{
	struct vigil_rev_flow *rev;
	struct vigil_flow_key rk;
	__u64 now;

	make_reverse_key(p, backend, &rk);
	rev = bpf_map_lookup_elem(&xdp_rev_flows, &rk);
	if (!rev)
		return;
	now = bpf_ktime_get_ns();
	rev->req.seq = seq_end;
	rev->req.acked = 0;
	rev->req.touched = 0; /* no jiffies read here: the first move is never held back */
	rev->req.start_ns = now; /* last: a backend packet reads it first */
	pending_opened(backend_id, now);
}

static __always_inline void client_retransmitted(const struct vigil_endpoint *backend)
{
	struct vigil_backend_stats *st = backend_of(backend);

	if (st)
		COUNT(st->data_retrans, 1);
}

/* A client packet of a flow that keeps its backend (backend_id, backend);
 * fl is its forward entry. */
static __always_inline void requests_from_client(const struct pkt *p, __u32 backend_id,
						 const struct vigil_endpoint *backend,
						 struct vigil_flow *fl)
{
	struct vigil_flow_client *cl = &fl->client;
	__u32 len = tcp_payload_len(p), seq_end, ack;
	bool opens;

#ifdef VIGIL_MUTANT_XDP_REQUESTS
	/* Mutation smoke test (see tests/mutants.sh): the packet datapath tracks
	 * no request (no latency, nothing pending, no retransmission). */
	return;
#endif
	if (!len || p->tcp->syn || p->tcp->rst)
		return;
	seq_end = bpf_ntohl(p->tcp->seq) + len;
	if (cl->next_seq && !seq_after(seq_end, cl->next_seq)) {
		client_retransmitted(backend);
		return;
	}
	ack = bpf_ntohl(p->tcp->ack_seq);
	opens = !cl->next_seq || ack != cl->ack;
	cl->next_seq = seq_end ? seq_end : 1; /* 0 means "no data yet" */
	cl->ack = ack;
	if (opens)
		request_opened(p, backend, backend_id, seq_end);
}

/* ---- backend side -------------------------------------------------------------- */

/* The waiting request ends: answered (a latency sample) or closed by the
 * backend. The exchange makes one CPU the one that records it. */
static __always_inline void request_ended(struct vigil_flow_request *rq, __u32 backend_id,
					  const struct vigil_endpoint *backend, bool answered)
{
	__u64 start = __sync_lock_test_and_set(&rq->start_ns, 0), now;
	struct vigil_backend_stats *st;

	if (!start)
		return;
	now = bpf_ktime_get_ns();
	pending_progress(backend_id, now, true);
	if (!answered)
		return;
	st = backend_of(backend);
	if (!st)
		return;
	COUNT(st->requests, 1);
	hist_add(st->request_lat_us, &st->request_lat_sum_ns, now - start);
}

/* An ACK for the waiting request's data. The first is network progress.
 * One beyond the data known at the opening means the client sent more of
 * the request (an upload): it is still being sent, so its time moves on
 * (as the socket monitor times a request from its last send), at most once
 * a jiffy. */
static __always_inline void request_acked(struct vigil_flow_request *rq, __u32 backend_id,
					  __u32 ack)
{
	bool first = !rq->acked, more = seq_after(ack, rq->seq);
	__u16 now_jiffies;
	__u64 now;

	if (!first && !more)
		return;
	rq->acked = 1;
	if (!more) {
		pending_progress(backend_id, bpf_ktime_get_ns(), false);
		return;
	}
	rq->seq = ack;
	now_jiffies = (__u16)bpf_jiffies64();
	if (!first && now_jiffies == rq->touched)
		return;
	now = bpf_ktime_get_ns();
	rq->touched = now_jiffies;
	rq->start_ns = now;
	pending_progress(backend_id, now, true);
}

/* A backend packet of a tracked flow; rev is its reverse entry. */
static __always_inline void requests_from_backend(const struct pkt *p, struct vigil_rev_flow *rev,
						  const struct vigil_endpoint *backend)
{
	struct vigil_flow_request *rq = &rev->req;
	__u32 len;

	if (!rq->start_ns)
		return;
	len = tcp_payload_len(p);
	if (len || p->tcp->fin || p->tcp->rst)
		request_ended(rq, rev->backend_id, backend, len && !p->tcp->rst);
	else if (p->tcp->ack)
		request_acked(rq, rev->backend_id, bpf_ntohl(p->tcp->ack_seq));
}

#endif
