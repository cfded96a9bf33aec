/* SPDX-License-Identifier: MIT */
/* Parsing and formatting of endpoints and prefixes (pure, no syscalls). */
#ifndef VIGIL_ADDR_H
#define VIGIL_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <vigil/abi.h>

/* "a.b.c.d:port" or "[v6]:port" -> endpoint; IPv4 stored v4-mapped.
 * Returns 0 or -EINVAL. */
int vigil_endpoint_parse(const char *text, struct vigil_endpoint *ep);

/* "a.b.c.d/len", "a.b.c.d/len:port", "v6/len", "[v6/len]:port".
 * port 0 means every port. Host bits beyond len must be zero.
 * Returns 0 or -EINVAL. */
int vigil_prefix_parse(const char *text, struct vigil_prefix_key *key, __u16 *port);

/* Same as the two above; on error *why (if not NULL) points to a static
 * "what is wrong: how to fix" text such as "port must be 1-65535". */
int vigil_endpoint_parse_why(const char *text, struct vigil_endpoint *ep, const char **why);
int vigil_prefix_parse_why(const char *text, struct vigil_prefix_key *key, __u16 *port,
			   const char **why);

/* Why ep cannot be a TCP peer (a service address or a backend): the
 * unspecified address (0.0.0.0, ::), multicast or the IPv4 broadcast address;
 * NULL if it can. The text says what is wrong and how to fix it. */
const char *vigil_endpoint_unusable(const struct vigil_endpoint *ep);

/* Whether 16 address bytes are an IPv4 address as vigil stores one
 * (::ffff:a.b.c.d). */
bool vigil_addr_is_v4_mapped(const __u8 addr[16]);

/* Endpoint from raw address bytes in network order; family VIGIL_AF_*. */
void vigil_endpoint_make(struct vigil_endpoint *ep, int family, const void *addr, __u16 port);

/* The socket address of ep (AF_INET or AF_INET6) in ss; returns its length. */
socklen_t vigil_endpoint_sockaddr(const struct vigil_endpoint *ep, struct sockaddr_storage *ss);

/* "10.0.0.1:80" or "[fd00::1]:80" into buf (at least VIGIL_ENDPOINT_STRLEN). */
/* "10.0.0.1:80" or "[fd00::1]:80" into buf (at least VIGIL_ENDPOINT_STRLEN);
 * "-" for an endpoint of family 0 (no address, vigil_name_key). */
#define VIGIL_ENDPOINT_STRLEN 56
const char *vigil_endpoint_format(const struct vigil_endpoint *ep, char *buf, size_t len);

/* Address only, without port ("10.0.0.1" / "fd00::1"). */
const char *vigil_addr_format(const struct vigil_endpoint *ep, char *buf, size_t len);

/* The key of something that has a name but no address (a service with
 * datapath none and no vip, abi.h): family 0, port 0, the address a 128-bit
 * hash of name. Stable across restarts, so pinned records keyed by it are
 * found again. */
void vigil_name_key(const char *name, struct vigil_endpoint *ep);

/* Prefix as the user wrote it ("10.0.0.0/8", "fd00::/64"). */
const char *vigil_prefix_format(const struct vigil_prefix_key *key, char *buf, size_t len);

#endif
