/* SPDX-License-Identifier: MIT */
/*
 * The publisher: the one place vigild writes the decided state of its
 * services to the datapaths and to the state vigilctl reads. It takes the
 * desired state of a service (desired.h, a value the detector returned) and
 * writes the backend set to the socket datapath (through vigil_set_write,
 * the writer vigilctl uses too), flow policies and Maglev tables to the
 * packet datapath (pkt_dp.h), and the change history, backend and service
 * records. It calls nothing in the engine or the detector; it reads the
 * config and the clock.
 */
#ifndef VIGIL_PUBLISH_H
#define VIGIL_PUBLISH_H

#include <stdbool.h>
#include <vigil/abi.h>

#include "config.h"
#include "desired.h"
#include "maperr.h"
#include "svc_maps.h"

struct vigil_pkt_dp;
struct vigil_lbfeeds;

/* The maps the publisher writes, for the accounting of failed writes. */
enum vigil_pub_map {
	VIGIL_PUB_SETS, VIGIL_PUB_HEALTH, VIGIL_PUB_HISTORY, VIGIL_PUB_BACKEND_INFO,
	VIGIL_PUB_SERVICES, VIGIL_PUB_ADMIN, VIGIL_PUB_XDP_BACKENDS, VIGIL_PUB_XDP_TABLES,
	VIGIL_PUB_PENDING, VIGIL_PUB_N_MAPS
};

struct vigil_publisher {
	const struct vigil_config *cfg; /* the services being published */
	struct vigil_svc_maps maps;
	struct vigil_pkt_dp *pkt;       /* NULL when no service uses the packet datapath */
	struct vigil_lbfeeds *feeds;    /* load balancers fed (lbfeeds.h), NULL: none */
	__u64 history_seq;              /* of the last change record written */
	/* failed writes per map: counted, logged at most once a second each */
	struct vigil_map_err errs[VIGIL_PUB_N_MAPS];
};

/* What the publisher last wrote for one service. The engine keeps one per
 * service, carries it across reloads and passes it to every publish. */
struct vigil_published {
	struct vigil_backend_set set; /* stamped with the service id and version */
	__u64 set_wall_ns;            /* when set was written */
	bool valid;                   /* set was written, successfully, for the current config */
	bool force;                   /* (re)write the packet datapath tables even if
				       * the set is unchanged */
};

/* Start publishing cfg into maps (and pkt); change records continue the
 * sequence found in the history map. */
void vigil_publisher_init(struct vigil_publisher *p, const struct vigil_config *cfg,
			  const struct vigil_svc_maps *maps, struct vigil_pkt_dp *pkt);

/* Config reload: publish the services of cfg, the packet datapath pkt. */
void vigil_publisher_switch(struct vigil_publisher *p, const struct vigil_config *cfg,
			    struct vigil_pkt_dp *pkt);

/* Failed map writes since the publisher started, all maps together. */
__u64 vigil_publish_failures(const struct vigil_publisher *p);

/* True when the service must be published even without a change. */
bool vigil_publish_due(const struct vigil_published *last);

/* Write want, the desired state of service svc (numbered id), in this order:
 * the backend set when it differs from last->set (so new connections follow
 * before anything slower happens), packet-datapath flow policies and, when
 * the set changed or last->force, its Maglev tables; the load balancers fed
 * (p->feeds), which push at once what changed; a change record per
 * change (and the re-admitted backends' health and pending-request resets);
 * backend records; the
 * service record. last is updated. */
void vigil_publish_service(struct vigil_publisher *p, const struct vigil_service_cfg *svc, __u32 id,
			   struct vigil_published *last, const struct vigil_desired *want);

/* Fast-path thresholds in backend_health: per endpoint, the strictest
 * consecutive_failures of the services using it (counters and the down flag
 * are kept). Returns 0 or -errno. */
int vigil_publish_thresholds(struct vigil_publisher *p);

/* Clear the kernel's failure count and down flag of a re-admitted backend. */
void vigil_publish_readmit(struct vigil_publisher *p, const struct vigil_endpoint *ep);

/* Services or backends no longer configured leave the datapath and the
 * published state; admin states of removed backends are dropped too. */
void vigil_publish_remove_stale(struct vigil_publisher *p);

/* After a reload that changed the first VIP of svc from old_vip: the drains
 * and disables written under old_vip are copied to every VIP of svc (an
 * entry already under a new VIP, vigilctl ran since, wins). */
void vigil_publish_move_admin(struct vigil_publisher *p, const struct vigil_endpoint *old_vip,
			      const struct vigil_service_cfg *svc);

/* After a reload: a backend of the packet datapath in old that no service
 * of the new config serves there is in no Maglev table: its flow policy
 * says so. */
void vigil_publish_retire_pkt_backends(struct vigil_publisher *p,
				       const struct vigil_config *old);

/* History record of a restart (rule VIGIL_RULE_RESTART, all-zero key): what
 * vigild found: backends out of service (evidence.failures), fast-path down
 * flags (evidence.errors), sockets waiting since before (evidence.requests). */
void vigil_publish_restart(struct vigil_publisher *p, __u32 restored_out, __u32 kernel_down,
			   __u32 waiting);

#endif
