/* SPDX-License-Identifier: MIT */
/*
 * Shared by every tests/bpf/test_*.c (and tests/bench): ASSERT-style checks
 * in the spirit of the kernel's BPF selftests, and the runner.
 *
 * An ASSERT_* is an expression: it evaluates to true when the check holds,
 * otherwise it prints the file, line, expression and both values, and
 * evaluates to false. Tests return false on the first failed check with T().
 * Ordering checks compare mathematically (a negative signed value is below
 * any unsigned one), so ASSERT_GE(fd, 0) fails for fd == -1.
 */
#ifndef VIGIL_TESTS_BPF_HELPERS_H
#define VIGIL_TESTS_BPF_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* 1 when x has a signed type (constant; x is not evaluated). */
#define ASSERT_SIGNED_TYPE(x) ((__typeof__(x))-1 < (__typeof__(x))1)

/* <0, 0, >0 as a compares to b, values given as (signedness, bits). */
int bpf_test_cmp(bool sa, unsigned long long a, bool sb, unsigned long long b);
void bpf_test_op_failed(const char *file, int line, const char *an, const char *op,
			const char *bn, bool sa, unsigned long long a, bool sb,
			unsigned long long b);
bool bpf_test_assert_mem(const char *file, int line, const char *an, const char *bn,
			 const void *a, const void *b, size_t n);

#define ASSERT_OP(a, op, b)                                                                   \
	({                                                                                    \
		__typeof__(a) _a = (a);                                                       \
		__typeof__(b) _b = (b);                                                       \
		bool _sa = ASSERT_SIGNED_TYPE(_a), _sb = ASSERT_SIGNED_TYPE(_b);              \
		bool _ok = bpf_test_cmp(_sa, (unsigned long long)_a, _sb,                     \
					(unsigned long long)_b) op 0;                         \
		if (!_ok)                                                                     \
			bpf_test_op_failed(__FILE__, __LINE__, #a, #op, #b, _sa,              \
					   (unsigned long long)_a, _sb, (unsigned long long)_b); \
		_ok;                                                                          \
	})
#define ASSERT_EQ(a, b) ASSERT_OP(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_OP(a, !=, b)
#define ASSERT_GT(a, b) ASSERT_OP(a, >, b)
#define ASSERT_GE(a, b) ASSERT_OP(a, >=, b)
#define ASSERT_LT(a, b) ASSERT_OP(a, <, b)
#define ASSERT_TRUE(c)                                                                        \
	({                                                                                    \
		bool _ok = (c);                                                               \
		if (!_ok)                                                                     \
			fprintf(stdout, "  %s:%d: ASSERT_TRUE(%s) failed\n", __FILE__, __LINE__, #c); \
		_ok;                                                                          \
	})
/* A system call or libbpf call that returns >= 0 on success, -1/-errno and
 * errno on failure: prints the error text. */
#define ASSERT_OK_CALL(x)                                                                     \
	({                                                                                    \
		long _r = (long)(x);                                                          \
		bool _ok = _r >= 0;                                                           \
		if (!_ok)                                                                     \
			fprintf(stdout, "  %s:%d: %s failed: %ld (%m)\n", __FILE__, __LINE__, #x, _r); \
		_ok;                                                                          \
	})
/* n bytes equal; on a difference, both buffers as hex with the first one marked. */
#define ASSERT_MEM(a, b, n) bpf_test_assert_mem(__FILE__, __LINE__, #a, #b, (a), (b), (n))

/* A skeleton just opened (xxx_bpf__open(); NULL: it failed, errno says why):
 * on success every map of it gets an empty pin path, so the test loads fresh
 * maps and pins nothing (LIBBPF_PIN_BY_NAME would pin in /sys/fs/bpf). False,
 * with the error, when the open or an unpinning failed. */
#define ASSERT_OPENED_UNPINNED(skel) \
	bpf_test_opened_unpinned(__FILE__, __LINE__, #skel, (skel) ? (skel)->obj : NULL)
struct bpf_object;
bool bpf_test_opened_unpinned(const char *file, int line, const char *what,
			      struct bpf_object *obj);

/* Tests return false on the first failed assertion. */
#define T(x)                          \
	do {                          \
		if (!(x))             \
			return false; \
	} while (0)

/* ---- runner ---------------------------------------------------------------- */

struct bpf_test {
	const char *name;
	bool (*fn)(void);
	int line;       /* where BPF_TEST() stands: the tests run in this order */
};

/*
 * BPF_TEST(name) { ... return ok; } defines the test function test_<name>
 * and registers it (a pointer in the bpf_tests section of the binary), so
 * bpf_test_main() runs it: a test file has no table of its tests.
 */
#define BPF_TEST(name)                                                                        \
	static bool test_##name(void);                                                        \
	static const struct bpf_test bpf_test_##name = { #name, test_##name, __LINE__ };       \
	static const struct bpf_test *const bpf_test_ptr_##name                               \
		__attribute__((used, section("bpf_tests"))) = &bpf_test_##name;               \
	static bool test_##name(void)

struct bpf_test_suite {
	const char *name;             /* prefix of the summary line */
	int (*init)(void);            /* once before the first test (0: ok), or NULL */
	bool (*setup)(void);          /* before each test, or NULL */
	void (*teardown)(void);       /* after each test, or NULL */
	const char *skip_why;         /* SKIP message when not root; NULL: the
				       * BPF_PROG_TEST_RUN one */
};

/*
 * test_x [NAME...]: runs every registered test (BPF_TEST) of the binary, or
 * the named ones.
 * Output: "PASS name" / "FAIL name" per test, then "<suite>: N passed, M failed".
 * Returns the exit status: 0 all passed, 1 a failure (or init failed),
 * 77 (skip) when not root or when init returns 77 (it prints why).
 * libbpf's debug output is silenced.
 */
int bpf_test_main(const struct bpf_test_suite *suite, int argc, char **argv);

/* libbpf prints warnings and errors only (bpf_test_main does this itself). */
void bpf_test_quiet_libbpf(void);

#endif
