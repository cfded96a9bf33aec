// SPDX-License-Identifier: MIT
/* Assertion reporting and the test runner of tests/bpf (see helpers.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>

#include "helpers.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

int bpf_test_cmp(bool sa, unsigned long long a, bool sb, unsigned long long b)
{
	bool na = sa && (long long)a < 0, nb = sb && (long long)b < 0;

	if (na != nb)
		return na ? -1 : 1;
	if (na) /* both negative */
		return (long long)a < (long long)b ? -1 : (long long)a > (long long)b;
	return a < b ? -1 : a > b;
}

static void print_value(bool is_signed, unsigned long long v)
{
	if (is_signed && (long long)v < 0)
		fprintf(stdout, "%lld", (long long)v);
	else
		fprintf(stdout, "%llu (0x%llx)", v, v);
}

void bpf_test_op_failed(const char *file, int line, const char *an, const char *op,
			const char *bn, bool sa, unsigned long long a, bool sb,
			unsigned long long b)
{
	fprintf(stdout, "  %s:%d: ASSERT(%s %s %s) failed: ", file, line, an, op, bn);
	print_value(sa, a);
	fprintf(stdout, " vs ");
	print_value(sb, b);
	fprintf(stdout, "\n");
}

static void hexdump(const char *what, const uint8_t *p, size_t n, size_t mark)
{
	printf("    %s:", what);
	for (size_t i = 0; i < n; i++)
		printf("%s%s%02x", i % 16 ? "" : "\n      ", i == mark ? ">" : " ", p[i]);
	printf("\n");
}

bool bpf_test_assert_mem(const char *file, int line, const char *an, const char *bn,
			 const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;

	for (size_t i = 0; i < n; i++) {
		if (x[i] == y[i])
			continue;
		fprintf(stdout, "  %s:%d: ASSERT_MEM(%s, %s, %zu) failed: first difference at byte %zu: 0x%02x vs 0x%02x\n",
			file, line, an, bn, n, i, x[i], y[i]);
		hexdump(an, x, n, i);
		hexdump(bn, y, n, i);
		return false;
	}
	return true;
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void bpf_test_quiet_libbpf(void)
{
	libbpf_set_print(libbpf_quiet);
}

bool bpf_test_opened_unpinned(const char *file, int line, const char *what,
			      struct bpf_object *obj)
{
	struct bpf_map *m;

	if (!obj) {
		printf("  %s:%d: opening %s failed: %s\n", file, line, what, strerror(errno));
		return false;
	}
	bpf_object__for_each_map(m, obj)
		if (!ASSERT_EQ(bpf_map__set_pin_path(m, NULL), 0))
			return false;
	return true;
}

static bool selected(const char *name, int argc, char **argv)
{
	if (argc <= 1)
		return true;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return true;
	return false;
}

static bool run_one(const struct bpf_test_suite *suite, const struct bpf_test *t)
{
	bool ok = (!suite->setup || suite->setup()) && t->fn();

	if (suite->teardown)
		suite->teardown();
	return ok;
}

/* The registered tests (BPF_TEST): weak, so a binary without any (the bench
 * tool) still links. */
extern const struct bpf_test *const __start_bpf_tests[] __attribute__((weak));
extern const struct bpf_test *const __stop_bpf_tests[] __attribute__((weak));

static int by_line(const void *a, const void *b)
{
	const struct bpf_test *x = *(const struct bpf_test *const *)a;
	const struct bpf_test *y = *(const struct bpf_test *const *)b;

	return (x->line > y->line) - (x->line < y->line);
}

int bpf_test_main(const struct bpf_test_suite *suite, int argc, char **argv)
{
	size_t n = __start_bpf_tests ? (size_t)(__stop_bpf_tests - __start_bpf_tests) : 0;
	const struct bpf_test *tests[n ? n : 1];
	int passed = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	bpf_test_quiet_libbpf();
	if (geteuid() != 0) {
		printf("SKIP %s: %s\n", suite->name,
		       suite->skip_why ? suite->skip_why : "BPF_PROG_TEST_RUN needs root");
		return 77;
	}
	if (suite->init) {
		int rc = suite->init();

		if (rc)
			return rc == 77 ? 77 : 1;
	}
	/* the section holds them in no defined order: the file's order */
	memcpy(tests, __start_bpf_tests, n * sizeof(tests[0]));
	qsort(tests, n, sizeof(tests[0]), by_line);
	for (size_t i = 0; i < n; i++) {
		const struct bpf_test *t = tests[i];
		bool ok;

		if (!selected(t->name, argc, argv))
			continue;
		ok = run_one(suite, t);
		printf("%s %s\n", ok ? "PASS" : "FAIL", t->name);
		if (ok)
			passed++;
		else
			failed++;
	}
	printf("%s: %d passed, %d failed\n", suite->name, passed, failed);
	return failed ? 1 : 0;
}
