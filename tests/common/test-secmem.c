// SPDX-License-Identifier: ISC
#include "secmem.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "unit.h"

/*
 * Run fn in a child; 1 if it died (a signal, or the non-zero exit a
 * sanitizer's own SEGV handler makes of it), 0 if it returned normally.
 */
static int crashes(void (*fn)(void))
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		log_set_level(LOG_LEVEL_ERROR);
		/* No core files from the expected crashes. */
		if (secmem_harden_process() != 0)
			_exit(3);
		fn();
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0);
}

static void overrun(void)
{
	volatile uint8_t *p = secmem_alloc(32);
	size_t i;
	/* The allocation ends at a guard page: the first byte past it faults. */
	for (i = 0; i < 4096 * 2; i++)
		p[i] = 1;
}

static void underrun(void)
{
	uint8_t *p = secmem_alloc(32);
	p[-1] ^= 0xff; /* always changes the last byte of the header canary */
	secmem_free(p);
}

int main(void)
{
	uint8_t *p, *q;
	size_t sizes[] = {0, 1, 15, 16, 17, 4000, 4096, 4097, 100000}, i;
	static const uint8_t zero[64];

	log_init("test-secmem", LOG_LEVEL_ERROR);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		TEST_START("alloc, use the whole area, free");
		p = secmem_alloc(sizes[i]);
		ASSERT_PTR_NE(p, NULL);
		ASSERT_SIZE_EQ(secmem_size(p), sizes[i]);
		ASSERT_INT_EQ(((uintptr_t)p) % 16, 0);
		if (sizes[i] > 0) {
			ASSERT_INT_EQ(p[0], 0);
			memset(p, 0xa5, sizes[i]);
		}
		secmem_free(p);
		TEST_DONE();
	}
	secmem_free(NULL);

	TEST_START("constant-time compare");
	p = secmem_alloc(64);
	q = secmem_alloc(64);
	ASSERT_TRUE(secmem_eq(p, q, 64));
	q[63] = 1;
	ASSERT_FALSE(secmem_eq(p, q, 64));
	ASSERT_TRUE(secmem_eq(p, zero, 64));
	secmem_zero(q, 64);
	ASSERT_TRUE(secmem_eq(q, zero, 64));
	secmem_free(p);
	secmem_free(q);
	TEST_DONE();

	TEST_START("overrun hits the guard page");
	ASSERT_TRUE(crashes(overrun));
	TEST_DONE();

	TEST_START("underrun is caught on free");
	ASSERT_TRUE(crashes(underrun));
	TEST_DONE();

	TEST_START("process hardening");
	ASSERT_INT_EQ(secmem_harden_process(), 0);
	TEST_DONE();
	return unit_finish("common/secmem");
}
