/* SPDX-License-Identifier: MIT */
#include "watch_ports.h"

#include <string.h>

static void set_port(__u64 *ports, __u16 p)
{
	ports[p / 64] |= 1ull << (p % 64);
}

bool vigil_port_bit(const __u64 *ports, __u16 p)
{
	return ports[p / 64] >> (p % 64) & 1;
}

void vigil_watch_settings(const struct vigil_config *cfg, struct vigil_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->watch_all = cfg->watch_all;
	s->watch_all_local = cfg->watch_all_local;
	for (size_t i = 0; i < cfg->n_backends; i++)
		set_port(s->remote_ports, cfg->backends[i].port);
	for (size_t i = 0; i < cfg->n_services; i++)
		for (size_t b = 0; b < cfg->services[i].n_backends; b++)
			set_port(s->remote_ports, cfg->services[i].backends[b].ep.port);
	for (size_t i = 0; i < cfg->n_prefixes; i++) {
		if (cfg->prefixes[i].port == 0)
			s->remote_any_port = 1;
		set_port(s->remote_ports, cfg->prefixes[i].port);
	}
	for (size_t i = 0; i < cfg->n_local_ports; i++)
		set_port(s->local_ports, cfg->local_ports[i]);
}
