/* SPDX-License-Identifier: MIT */
/*
 * Endpoint and prefix text <-> ABI structs. Pure: only inet_pton/inet_ntop
 * and string functions. Parsers fill a local copy and write the caller's
 * struct only on success.
 */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Longest address text we accept (an IPv6 address with an embedded IPv4
 * address is at most 45 characters, plus "/128"). */
#define ADDR_TEXT_MAX 64

#define EP_SYNTAX "write ADDR:PORT, e.g. 10.0.0.1:80 or [fd00::1]:80"
#define PFX_SYNTAX "write ADDR/LEN[:PORT], e.g. 10.0.0.0/8, 10.0.0.0/8:443, fd00::/64 " \
	"or [fd00::/64]:443"

static const __u8 v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* A host part split out of the text: NUL-terminated, brackets removed. */
struct host_part {
	char text[ADDR_TEXT_MAX];
	bool bracketed;
	const char *port; /* points into the input; NULL when absent */
};

static int fail(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return -EINVAL;
}

/* Decimal digits only, no sign or spaces: 0 ok, -1 not a number, -2 > max. */
static int parse_num(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v <= max)
			v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v > max)
		return -2;
	*out = v;
	return 0;
}

static int copy_host(struct host_part *h, const char *start, size_t len, const char **why)
{
	if (len == 0)
		return fail(why, "missing address: " EP_SYNTAX);
	if (len >= sizeof(h->text))
		return fail(why, "address is too long: not an IPv4 or IPv6 address");
	memcpy(h->text, start, len);
	h->text[len] = '\0';
	return 0;
}

/* "[host]", "[host]:port", "host", "host:port" (host without ':' inside). */
static int split_host(const char *text, struct host_part *h, const char **why)
{
	const char *end, *colon;

	memset(h, 0, sizeof(*h));
	if (text[0] == '[') {
		end = strchr(text, ']');
		if (!end)
			return fail(why, "missing ']' after the IPv6 address: " EP_SYNTAX);
		if (end[1] != '\0' && end[1] != ':')
			return fail(why, "unexpected text after ']': " EP_SYNTAX);
		h->bracketed = true;
		h->port = end[1] == ':' ? end + 2 : NULL;
		return copy_host(h, text + 1, (size_t)(end - text - 1), why);
	}
	colon = strchr(text, ':');
	if (colon && strchr(colon + 1, ':'))
		return fail(why, "IPv6 addresses need brackets: " EP_SYNTAX);
	h->port = colon ? colon + 1 : NULL;
	return copy_host(h, text, colon ? (size_t)(colon - text) : strlen(text), why);
}

/* Address text -> 16 bytes (IPv4 v4-mapped) and VIGIL_AF_*. */
static int parse_ip(const char *s, __u8 addr[16], int *family)
{
	if (inet_pton(AF_INET, s, addr + 12) == 1) {
		memcpy(addr, v4_mapped, sizeof(v4_mapped));
		*family = VIGIL_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*family = VIGIL_AF_INET6;
		return 0;
	}
	return -EINVAL;
}

static int parse_ep_host(const struct host_part *h, __u8 addr[16], int *family,
			 const char **why)
{
	if (parse_ip(h->text, addr, family))
		return fail(why, h->bracketed ?
			    "not a valid IPv6 address: " EP_SYNTAX :
			    "not a valid IPv4 address (host names are not resolved): " EP_SYNTAX);
	if (h->bracketed && *family == VIGIL_AF_INET)
		return fail(why, "IPv4 addresses are written without brackets: "
			    "e.g. 10.0.0.1:80");
	if (!h->bracketed && *family == VIGIL_AF_INET6)
		return fail(why, "IPv6 addresses need brackets: " EP_SYNTAX);
	/* [::ffff:a.b.c.d] is the IPv4 endpoint a.b.c.d: one key for both. */
	if (*family == VIGIL_AF_INET6 && vigil_addr_is_v4_mapped(addr))
		*family = VIGIL_AF_INET;
	return 0;
}

int vigil_endpoint_parse_why(const char *text, struct vigil_endpoint *ep, const char **why)
{
	struct host_part h;
	struct vigil_endpoint tmp;
	unsigned long port;
	int family, err;

	if (!text || !*text)
		return fail(why, "empty endpoint: " EP_SYNTAX);
	err = split_host(text, &h, why);
	if (err)
		return err;
	memset(&tmp, 0, sizeof(tmp));
	err = parse_ep_host(&h, tmp.addr, &family, why);
	if (err)
		return err;
	if (!h.port)
		return fail(why, "missing port: " EP_SYNTAX);
	err = parse_num(h.port, 65535, &port);
	if (err == -1)
		return fail(why, "port is not a number: " EP_SYNTAX);
	if (err || port == 0)
		return fail(why, "port must be 1-65535");
	tmp.port = (__u16)port;
	tmp.family = (__u8)family;
	*ep = tmp;
	return 0;
}

int vigil_endpoint_parse(const char *text, struct vigil_endpoint *ep)
{
	return vigil_endpoint_parse_why(text, ep, NULL);
}

static bool host_bits_set(const __u8 addr[16], unsigned int prefixlen)
{
	for (unsigned int bit = prefixlen; bit < 128; bit++)
		if (addr[bit / 8] & (0x80 >> (bit % 8)))
			return true;
	return false;
}

/* "ADDR/LEN" (already split from brackets and port) -> key. */
static int parse_cidr(char *s, bool bracketed, struct vigil_prefix_key *key, const char **why)
{
	char *slash = strchr(s, '/');
	unsigned long len = 0;
	int family, max, err;

	if (!slash)
		return fail(why, "missing prefix length: " PFX_SYNTAX);
	*slash = '\0';
	if (parse_ip(s, key->addr, &family))
		return fail(why, "not a valid IPv4 or IPv6 address: " PFX_SYNTAX);
	if (bracketed && family == VIGIL_AF_INET)
		return fail(why, "IPv4 prefixes are written without brackets: e.g. 10.0.0.0/8:443");
	max = family == VIGIL_AF_INET ? 32 : 128;
	err = parse_num(slash + 1, 128, &len);
	if (err == -1)
		return fail(why, "prefix length is not a number: " PFX_SYNTAX);
	if (err || len > (unsigned long)max)
		return fail(why, family == VIGIL_AF_INET ?
			    "prefix length must be 0-32 for IPv4" :
			    "prefix length must be 0-128 for IPv6");
	key->prefixlen = (__u32)len + (family == VIGIL_AF_INET ? 96 : 0);
	if (host_bits_set(key->addr, key->prefixlen))
		return fail(why, "host bits are set beyond the prefix length: use the network "
			    "address, e.g. 10.1.0.0/16 rather than 10.1.2.3/16");
	return family;
}

/* Splits "[cidr]:port", "[cidr]", "cidr:port", "cidr" into buf and *port_s. */
static int split_prefix(const char *text, char *buf, size_t size, bool *bracketed,
			const char **port_s, const char **why)
{
	const char *end = text + strlen(text), *colon;

	*bracketed = text[0] == '[';
	*port_s = NULL;
	if (*bracketed) {
		end = strchr(text, ']');
		if (!end)
			return fail(why, "missing ']' after the IPv6 prefix: " PFX_SYNTAX);
		if (end[1] != '\0' && end[1] != ':')
			return fail(why, "unexpected text after ']': " PFX_SYNTAX);
		*port_s = end[1] == ':' ? end + 2 : NULL;
		text++;
	} else if (strchr(text, '/')) {
		colon = strchr(strchr(text, '/'), ':');
		if (colon) {
			*port_s = colon + 1;
			end = colon;
		}
	}
	if ((size_t)(end - text) >= size)
		return fail(why, "prefix is too long: " PFX_SYNTAX);
	memcpy(buf, text, (size_t)(end - text));
	buf[end - text] = '\0';
	return 0;
}

int vigil_prefix_parse_why(const char *text, struct vigil_prefix_key *key, __u16 *port,
			   const char **why)
{
	char buf[ADDR_TEXT_MAX];
	struct vigil_prefix_key tmp;
	const char *port_s;
	unsigned long p = 0;
	bool bracketed;
	int family;

	if (!text || !*text)
		return fail(why, "empty prefix: " PFX_SYNTAX);
	if (split_prefix(text, buf, sizeof(buf), &bracketed, &port_s, why))
		return -EINVAL;
	memset(&tmp, 0, sizeof(tmp));
	family = parse_cidr(buf, bracketed, &tmp, why);
	if (family < 0)
		return family;
	if (port_s && !bracketed && family == VIGIL_AF_INET6)
		return fail(why, "an IPv6 prefix with a port needs brackets: e.g. [fd00::/64]:443");
	if (port_s && parse_num(port_s, 65535, &p))
		return fail(why, "port must be 0-65535 (0 or no port = every port)");
	*key = tmp;
	*port = (__u16)p;
	return 0;
}

int vigil_prefix_parse(const char *text, struct vigil_prefix_key *key, __u16 *port)
{
	return vigil_prefix_parse_why(text, key, port, NULL);
}

bool vigil_addr_is_v4_mapped(const __u8 addr[16])
{
	return memcmp(addr, v4_mapped, sizeof(v4_mapped)) == 0;
}

void vigil_endpoint_make(struct vigil_endpoint *ep, int family, const void *addr, __u16 port)
{
	memset(ep, 0, sizeof(*ep));
	if (family == VIGIL_AF_INET) {
		memcpy(ep->addr, v4_mapped, sizeof(v4_mapped));
		memcpy(ep->addr + 12, addr, 4);
	} else {
		memcpy(ep->addr, addr, 16);
	}
	ep->port = port;
	ep->family = (__u8)family;
	/* Same rule as the BPF side: a v4-mapped peer is an IPv4 endpoint. */
	if (family == VIGIL_AF_INET6 && vigil_addr_is_v4_mapped(ep->addr))
		ep->family = VIGIL_AF_INET;
}

static bool is_v4_prefix(const struct vigil_prefix_key *key)
{
	return key->prefixlen >= 96 && key->prefixlen <= 128 &&
	       vigil_addr_is_v4_mapped(key->addr);
}

const char *vigil_addr_format(const struct vigil_endpoint *ep, char *buf, size_t len)
{
	char tmp[INET6_ADDRSTRLEN] = "?";

	if (ep->family == VIGIL_AF_INET)
		inet_ntop(AF_INET, ep->addr + 12, tmp, sizeof(tmp));
	else
		inet_ntop(AF_INET6, ep->addr, tmp, sizeof(tmp));
	if (len)
		snprintf(buf, len, "%s", tmp);
	return buf;
}

const char *vigil_endpoint_format(const struct vigil_endpoint *ep, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	if (ep->family == 0) { /* no address: a name key (vigil_name_key) */
		if (len)
			snprintf(buf, len, "-");
		return buf;
	}
	vigil_addr_format(ep, addr, sizeof(addr));
	if (len)
		snprintf(buf, len, ep->family == VIGIL_AF_INET ? "%s:%u" : "[%s]:%u", addr,
			 (unsigned int)ep->port);
	return buf;
}

const char *vigil_prefix_format(const struct vigil_prefix_key *key, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN] = "?";
	bool v4 = is_v4_prefix(key);

	if (v4)
		inet_ntop(AF_INET, key->addr + 12, addr, sizeof(addr));
	else
		inet_ntop(AF_INET6, key->addr, addr, sizeof(addr));
	if (len)
		snprintf(buf, len, "%s/%u", addr, (unsigned int)(key->prefixlen - (v4 ? 96 : 0)));
	return buf;
}

const char *vigil_endpoint_unusable(const struct vigil_endpoint *ep)
{
	static const __u8 zero[16];
	const __u8 *a = ep->addr;

	if (ep->family == VIGIL_AF_INET) {
		if (!memcmp(a + 12, zero, 4))
			return "0.0.0.0 is no host (\"any address\"): write the address of the host";
		if (a[12] >= 224 && a[12] <= 239)
			return "a multicast address cannot take TCP connections: write a unicast "
			       "address";
		if (a[12] == 255 && a[13] == 255 && a[14] == 255 && a[15] == 255)
			return "the broadcast address cannot take TCP connections: write a unicast "
			       "address";
		return NULL;
	}
	if (!memcmp(a, zero, 16))
		return ":: is no host (\"any address\"): write the address of the host";
	if (a[0] == 0xff)
		return "a multicast address (ff00::/8) cannot take TCP connections: write a "
		       "unicast address";
	return NULL;
}

socklen_t vigil_endpoint_sockaddr(const struct vigil_endpoint *ep, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (ep->family == VIGIL_AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(ep->port);
		memcpy(&sin->sin_addr, ep->addr + 12, 4);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(ep->port);
	memcpy(&sin6->sin6_addr, ep->addr, 16);
	return sizeof(*sin6);
}

/* FNV-1a, 64 bits, from basis: two bases give the 128 bits of a name key. */
static __u64 fnv1a64(const char *s, __u64 basis)
{
	__u64 h = basis;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

void vigil_name_key(const char *name, struct vigil_endpoint *ep)
{
	__u64 a = fnv1a64(name, 0xcbf29ce484222325ull), b = fnv1a64(name, 0x84222325cbf29ce4ull);

	memset(ep, 0, sizeof(*ep));
	memcpy(ep->addr, &a, sizeof(a));
	memcpy(ep->addr + 8, &b, sizeof(b));
}
