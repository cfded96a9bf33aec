/* SPDX-License-Identifier: MIT */
/* user/lib/addr.c: endpoint and prefix parsing, formatting, rejections. */
#include <errno.h>
#include <string.h>

#include "addr.h"
#include "suites.h"

static const __u8 v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* ---- endpoints ---------------------------------------------------------- */

/* An endpoint of each family: the key bytes, port, family and both formats. */
static const struct {
	const char *in;
	__u8 addr[16];
	__u16 port, family;
	const char *addr_text;
} ep_good[] = {
	{ "10.0.0.1:80", { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1 }, 80, VIGIL_AF_INET,
	  "10.0.0.1" },
	{ "[fd00::1]:8080", { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 }, 8080, VIGIL_AF_INET6,
	  "fd00::1" },
};

START_TEST(endpoint_family)
{
	struct vigil_endpoint ep;
	char buf[VIGIL_ENDPOINT_STRLEN];

	ck_assert_int_eq(vigil_endpoint_parse(ep_good[_i].in, &ep), 0);
	ck_assert_mem_eq(ep.addr, ep_good[_i].addr, 16);
	ck_assert_uint_eq(ep.port, ep_good[_i].port);
	ck_assert_uint_eq(ep.family, ep_good[_i].family);
	ck_assert_uint_eq(ep.pad, 0);
	ck_assert_str_eq(vigil_endpoint_format(&ep, buf, sizeof(buf)), ep_good[_i].in);
	ck_assert_str_eq(vigil_addr_format(&ep, buf, sizeof(buf)), ep_good[_i].addr_text);
}
END_TEST

/* Text that parses and formats back to itself (or to a canonical form). */
static const struct {
	const char *in, *out;
} ep_roundtrip[] = {
	{ "10.0.0.1:80", "10.0.0.1:80" },
	{ "0.0.0.0:1", "0.0.0.0:1" },
	{ "255.255.255.255:65535", "255.255.255.255:65535" },
	{ "[::1]:443", "[::1]:443" },
	{ "[FD00:0:0::2]:80", "[fd00::2]:80" },
	{ "[2001:db8:1:2:3:4:5:6]:9090", "[2001:db8:1:2:3:4:5:6]:9090" },
	{ "[::ffff:10.0.0.2]:80", "10.0.0.2:80" }, /* v4-mapped is IPv4 */
	{ "10.0.0.1:080", "10.0.0.1:80" },
};

START_TEST(endpoint_roundtrip)
{
	struct vigil_endpoint ep;
	char buf[VIGIL_ENDPOINT_STRLEN];

	ck_assert_int_eq(vigil_endpoint_parse(ep_roundtrip[_i].in, &ep), 0);
	ck_assert_str_eq(vigil_endpoint_format(&ep, buf, sizeof(buf)), ep_roundtrip[_i].out);
}
END_TEST

START_TEST(endpoint_v4_mapped_is_v4)
{
	struct vigil_endpoint a, b;

	ck_assert_int_eq(vigil_endpoint_parse("10.0.0.2:80", &a), 0);
	ck_assert_int_eq(vigil_endpoint_parse("[::ffff:10.0.0.2]:80", &b), 0);
	ck_assert_uint_eq(b.family, VIGIL_AF_INET);
	ck_assert_mem_eq(&a, &b, sizeof(a));
}
END_TEST

/* Every rejection class with the reason the config loader will print. */
static const struct {
	const char *in, *why;
} ep_bad[] = {
	{ "", "empty endpoint" },
	{ "10.0.0.1", "missing port" },
	{ "[fd00::1]", "missing port" },
	{ "10.0.0.1:", "port is not a number" },
	{ "[fd00::1]:", "port is not a number" },
	{ "10.0.0.1:0", "port must be 1-65535" },
	{ "[fd00::1]:0", "port must be 1-65535" },
	{ "10.0.0.1:65536", "port must be 1-65535" },
	{ "10.0.0.1:99999999999999999999999", "port must be 1-65535" },
	{ "10.0.0.1:80x", "port is not a number" },
	{ "10.0.0.1:-1", "port is not a number" },
	{ "10.0.0.1:+80", "port is not a number" },
	{ "10.0.0.1:80 ", "port is not a number" },
	{ " 10.0.0.1:80", "not a valid IPv4 address" },
	{ "10.0.0.256:80", "not a valid IPv4 address" },
	{ "10.0.0:80", "not a valid IPv4 address" },
	{ "backend.example:80", "host names are not resolved" },
	{ ":80", "missing address" },
	{ "fd00::1", "IPv6 addresses need brackets" },
	{ "fd00::1:80", "IPv6 addresses need brackets" },
	{ "[fd00::1]80", "unexpected text after ']'" },
	{ "[fd00::1:80", "missing ']'" },
	{ "[]:80", "missing address" },
	{ "[fd00::g]:80", "not a valid IPv6 address" },
	{ "[fe80::1%eth0]:80", "not a valid IPv6 address" },
	{ "[10.0.0.1]:80", "IPv4 addresses are written without brackets" },
	{ "[0123456789012345678901234567890123456789012345678901234567890123456789]:80",
	  "too long" },
};

START_TEST(endpoint_reject)
{
	struct vigil_endpoint ep;
	const char *why = NULL;

	memset(&ep, 0xaa, sizeof(ep));
	ck_assert_int_eq(vigil_endpoint_parse_why(ep_bad[_i].in, &ep, &why), -EINVAL);
	ck_assert_ptr_nonnull(why);
	ck_assert_msg(strstr(why, ep_bad[_i].why), "\"%s\": why \"%s\", want \"%s\"",
		      ep_bad[_i].in, why, ep_bad[_i].why);
	/* The caller's struct is untouched on error. */
	ck_assert_uint_eq(ep.port, 0xaaaa);
	ck_assert_int_eq(vigil_endpoint_parse(ep_bad[_i].in, &ep), -EINVAL);
}
END_TEST

START_TEST(endpoint_reject_null)
{
	struct vigil_endpoint ep;

	ck_assert_int_eq(vigil_endpoint_parse(NULL, &ep), -EINVAL);
}
END_TEST

START_TEST(endpoint_make_v4)
{
	const __u8 raw[4] = { 192, 168, 1, 20 };
	struct vigil_endpoint ep, parsed;
	char buf[VIGIL_ENDPOINT_STRLEN];

	memset(&ep, 0xff, sizeof(ep));
	vigil_endpoint_make(&ep, VIGIL_AF_INET, raw, 5432);
	ck_assert_mem_eq(ep.addr, v4_mapped, 12);
	ck_assert_mem_eq(ep.addr + 12, raw, 4);
	ck_assert_uint_eq(ep.pad, 0);
	ck_assert_str_eq(vigil_endpoint_format(&ep, buf, sizeof(buf)), "192.168.1.20:5432");
	ck_assert_int_eq(vigil_endpoint_parse("192.168.1.20:5432", &parsed), 0);
	ck_assert_mem_eq(&ep, &parsed, sizeof(ep));
}
END_TEST

START_TEST(endpoint_make_v6)
{
	const __u8 raw[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42 };
	const __u8 mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3 };
	struct vigil_endpoint ep;
	char buf[VIGIL_ENDPOINT_STRLEN];

	vigil_endpoint_make(&ep, VIGIL_AF_INET6, raw, 443);
	ck_assert_uint_eq(ep.family, VIGIL_AF_INET6);
	ck_assert_str_eq(vigil_endpoint_format(&ep, buf, sizeof(buf)), "[2001:db8::42]:443");
	/* Same rule as the BPF side: v4-mapped is an IPv4 endpoint. */
	vigil_endpoint_make(&ep, VIGIL_AF_INET6, mapped, 80);
	ck_assert_uint_eq(ep.family, VIGIL_AF_INET);
	ck_assert_str_eq(vigil_endpoint_format(&ep, buf, sizeof(buf)), "10.1.2.3:80");
}
END_TEST

START_TEST(endpoint_format_truncates)
{
	struct vigil_endpoint ep;
	char buf[8];

	ck_assert_int_eq(vigil_endpoint_parse("10.200.30.4:8080", &ep), 0);
	ck_assert_str_eq(vigil_endpoint_format(&ep, buf, sizeof(buf)), "10.200.");
	ck_assert_str_eq(vigil_addr_format(&ep, buf, 4), "10.");
	ck_assert_ptr_eq(vigil_endpoint_format(&ep, buf, 0), buf); /* writes nothing */
}
END_TEST

START_TEST(endpoint_format_longest)
{
	struct vigil_endpoint ep;
	char buf[VIGIL_ENDPOINT_STRLEN];
	const char *text = "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535";

	ck_assert_int_eq(vigil_endpoint_parse(text, &ep), 0);
	ck_assert_str_eq(vigil_endpoint_format(&ep, buf, sizeof(buf)), text);
}
END_TEST

/* ---- prefixes ----------------------------------------------------------- */

/* A prefix of each family, with and without a port: the key bytes too. */
static const struct {
	const char *in;
	__u8 addr[16];
	__u32 prefixlen;
	__u16 port;
} px_key[] = {
	{ "10.0.0.0/8", { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 0 }, 96 + 8, 0 },
	{ "10.0.0.0/8:443", { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 0 }, 104, 443 },
	{ "fd00::/64", { 0xfd }, 64, 0 },
	{ "[fd00::/64]:443", { 0xfd }, 64, 443 },
	{ "[fd00::/64]", { 0xfd }, 64, 0 },
};

START_TEST(prefix_family)
{
	struct vigil_prefix_key key;
	__u16 port = 1;

	ck_assert_int_eq(vigil_prefix_parse(px_key[_i].in, &key, &port), 0);
	ck_assert_uint_eq(key.prefixlen, px_key[_i].prefixlen);
	ck_assert_mem_eq(key.addr, px_key[_i].addr, 16);
	ck_assert_uint_eq(port, px_key[_i].port);
}
END_TEST

static const struct {
	const char *in, *out;
	__u32 prefixlen;
	__u16 port;
} px_good[] = {
	{ "10.0.0.0/8", "10.0.0.0/8", 104, 0 },
	{ "10.2.0.0/16:443", "10.2.0.0/16", 112, 443 },
	{ "10.2.0.0/16:0", "10.2.0.0/16", 112, 0 },
	{ "10.0.0.1/32", "10.0.0.1/32", 128, 0 },
	{ "0.0.0.0/0", "0.0.0.0/0", 96, 0 },
	{ "192.168.128.0/17:65535", "192.168.128.0/17", 113, 65535 },
	{ "fd00::/64", "fd00::/64", 64, 0 },
	{ "[fd00::/64]:443", "fd00::/64", 64, 443 },
	{ "[FD00:AB::/32]:8080", "fd00:ab::/32", 32, 8080 },
	{ "::/0", "::/0", 0, 0 },
	{ "fd00::1/128", "fd00::1/128", 128, 0 },
	{ "::ffff:10.0.0.0/104", "10.0.0.0/8", 104, 0 }, /* same key as 10.0.0.0/8 */
};

START_TEST(prefix_roundtrip)
{
	struct vigil_prefix_key key;
	char buf[64];
	__u16 port = 1234;

	ck_assert_int_eq(vigil_prefix_parse(px_good[_i].in, &key, &port), 0);
	ck_assert_uint_eq(key.prefixlen, px_good[_i].prefixlen);
	ck_assert_uint_eq(port, px_good[_i].port);
	ck_assert_str_eq(vigil_prefix_format(&key, buf, sizeof(buf)), px_good[_i].out);
}
END_TEST

static const struct {
	const char *in, *why;
} px_bad[] = {
	{ "", "empty prefix" },
	{ "10.0.0.0", "missing prefix length" },
	{ "10.0.0.0:443", "missing prefix length" },
	{ "10.0.0.0/", "prefix length is not a number" },
	{ "10.0.0.0/-1", "prefix length is not a number" },
	{ "10.0.0.0/8x", "prefix length is not a number" },
	{ "10.0.0.0/33", "prefix length must be 0-32 for IPv4" },
	{ "10.0.0.0/99999999999999999999", "prefix length must be 0-32" },
	{ "fd00::/129", "prefix length must be 0-128 for IPv6" },
	{ "10.0.0.0/8:", "port must be 0-65535" },
	{ "10.0.0.0/8:65536", "port must be 0-65535" },
	{ "10.0.0.0/8:http", "port must be 0-65535" },
	{ "10.0.0.0/8:443:1", "port must be 0-65535" },
	{ "10.1.2.0/16", "host bits are set" },
	{ "10.0.0.1/31", "host bits are set" },
	{ "fd00::1/64", "host bits are set" },
	{ "fd00::/64:443", "needs brackets" },
	{ "[10.0.0.0/8]:443", "IPv4 prefixes are written without brackets" },
	{ "[fd00::/64", "missing ']'" },
	{ "[fd00::]/64", "unexpected text after ']'" },
	{ "[fd00::/64]x", "unexpected text after ']'" },
	{ "garbage/8", "not a valid IPv4 or IPv6 address" },
	{ "10.0.0.256/8", "not a valid IPv4 or IPv6 address" },
	{ "/8", "not a valid IPv4 or IPv6 address" },
	{ "0123456789012345678901234567890123456789012345678901234567890123456789/8",
	  "too long" },
};

START_TEST(prefix_reject)
{
	struct vigil_prefix_key key;
	const char *why = NULL;
	__u16 port = 77;

	memset(&key, 0xaa, sizeof(key));
	ck_assert_int_eq(vigil_prefix_parse_why(px_bad[_i].in, &key, &port, &why), -EINVAL);
	ck_assert_ptr_nonnull(why);
	ck_assert_msg(strstr(why, px_bad[_i].why), "\"%s\": why \"%s\", want \"%s\"",
		      px_bad[_i].in, why, px_bad[_i].why);
	ck_assert_uint_eq(port, 77);
	ck_assert_uint_eq(key.prefixlen, 0xaaaaaaaa);
	ck_assert_int_eq(vigil_prefix_parse(px_bad[_i].in, &key, &port), -EINVAL);
}
END_TEST

START_TEST(prefix_key_is_zero_padded)
{
	struct vigil_prefix_key a, b;
	__u16 port;

	memset(&a, 0x55, sizeof(a));
	memset(&b, 0xaa, sizeof(b));
	ck_assert_int_eq(vigil_prefix_parse("10.1.0.0/16", &a, &port), 0);
	ck_assert_int_eq(vigil_prefix_parse("10.1.0.0/16:80", &b, &port), 0);
	ck_assert_mem_eq(&a, &b, sizeof(a));
}
END_TEST


Suite *addr_suite(void)
{
	Suite *s = suite_create("addr");

	UNIT_TCASE(s, "endpoint", { endpoint_family, N(ep_good) },
		   { endpoint_roundtrip, N(ep_roundtrip) }, { endpoint_v4_mapped_is_v4 },
		   { endpoint_reject, N(ep_bad) }, { endpoint_reject_null },
		   { endpoint_make_v4 }, { endpoint_make_v6 }, { endpoint_format_truncates },
		   { endpoint_format_longest });
	UNIT_TCASE(s, "prefix", { prefix_family, N(px_key) }, { prefix_roundtrip, N(px_good) },
		   { prefix_reject, N(px_bad) }, { prefix_key_is_zero_padded });
	return s;
}
