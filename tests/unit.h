// SPDX-License-Identifier: ISC
#ifndef COFFER_TESTS_UNIT_H
#define COFFER_TESTS_UNIT_H

/*
 * A minimal unit test harness in the style of OpenSSH's regress/unittests:
 * TEST_START("name") ... TEST_DONE(), ASSERT_* that report file:line and
 * the values, and unit_finish() that prints "N passed, N failed" for this
 * program and returns the exit status.
 */

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int unit_failed_cases, unit_passed_cases, unit_case_failed;
static const char *unit_case = "(none)";

#define TEST_START(name)                                                                           \
	do {                                                                                       \
		unit_case = (name);                                                                \
		unit_case_failed = 0;                                                              \
	} while (0)

#define TEST_DONE()                                                                                \
	do {                                                                                       \
		if (unit_case_failed)                                                              \
			unit_failed_cases++;                                                       \
		else                                                                               \
			unit_passed_cases++;                                                       \
	} while (0)

#define UNIT_FAIL(fmt, ...)                                                                        \
	do {                                                                                       \
		fprintf(stderr, "FAIL %s (%s:%d): " fmt "\n", unit_case, __FILE__, __LINE__,       \
			##__VA_ARGS__);                                                            \
		unit_case_failed = 1;                                                              \
	} while (0)

#define ASSERT_TRUE(x)                                                                             \
	do {                                                                                       \
		if (!(x))                                                                          \
			UNIT_FAIL("%s is false", #x);                                              \
	} while (0)
#define ASSERT_FALSE(x) ASSERT_TRUE(!(x))
#define ASSERT_INT_EQ(a, b)                                                                        \
	do {                                                                                       \
		long long a_ = (long long)(a), b_ = (long long)(b);                                \
		if (a_ != b_)                                                                      \
			UNIT_FAIL("%s == %lld, expected %s == %lld", #a, a_, #b, b_);              \
	} while (0)
#define ASSERT_INT_NE(a, b)                                                                        \
	do {                                                                                       \
		long long a_ = (long long)(a), b_ = (long long)(b);                                \
		if (a_ == b_)                                                                      \
			UNIT_FAIL("%s == %lld, expected it to differ", #a, a_);                    \
	} while (0)
#define ASSERT_SIZE_EQ(a, b) ASSERT_INT_EQ((long long)(a), (long long)(b))
#define ASSERT_U64_EQ(a, b)                                                                        \
	do {                                                                                       \
		uint64_t a_ = (a), b_ = (b);                                                       \
		if (a_ != b_)                                                                      \
			UNIT_FAIL("%s == %" PRIu64 ", expected %" PRIu64, #a, a_, b_);             \
	} while (0)
#define ASSERT_STR_EQ(a, b)                                                                        \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                               \
			UNIT_FAIL("%s == \"%s\", expected \"%s\"", #a, a_ ? a_ : "(null)",         \
				  b_ ? b_ : "(null)");                                             \
	} while (0)
#define ASSERT_MEM_EQ(a, b, n)                                                                     \
	do {                                                                                       \
		if (memcmp((a), (b), (n)) != 0)                                                    \
			UNIT_FAIL("%s and %s differ in their first %zu bytes", #a, #b, (size_t)(n)); \
	} while (0)
#define ASSERT_PTR_NE(a, b) ASSERT_TRUE((const void *)(a) != (const void *)(b))
#define ASSERT_PTR_EQ(a, b) ASSERT_TRUE((const void *)(a) == (const void *)(b))

/* The first cap-1 bytes of the file at path, NUL-terminated; the length
 * (0 for a missing or empty file). */
static inline size_t unit_read_file(const char *path, char *out, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, out, cap - 1) : -1;

	if (fd >= 0)
		close(fd);
	out[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

static inline int unit_finish(const char *prog)
{
	printf("%s: %d cases passed, %d failed\n", prog, unit_passed_cases, unit_failed_cases);
	return unit_failed_cases == 0 ? 0 : 1;
}

#endif
